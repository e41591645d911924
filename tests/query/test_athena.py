"""``--athena``: the Athena API path against the moto server (start, poll, results, cancel, timeout).

Moto does not run SQL: results are seeded through its ``/moto-api/static/athena/query-results`` endpoint, and
its executions go QUEUED -> RUNNING -> SUCCEEDED (slowed down with the state manager to exercise polling). It
never produces FAILED, so that state is checked on a stubbed client with Athena's documented response shape.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime
from decimal import Decimal

import boto3
import pyarrow as pa
import pytest
from botocore.stub import Stubber

from musiclake import cli
from musiclake.query.athena import AthenaEngine, failure_message
from musiclake.query.errors import QueryError

REGION = "us-east-1"
COLUMNS = [
    ("track_id", "varchar"), ("plays", "bigint"), ("share", "double"), ("explicit", "boolean"),
    ("first_seen", "date"), ("observed_at", "timestamp"), ("price", "decimal"), ("runs", "array"),
]


def _post(endpoint: str, path: str, payload: dict) -> None:
    request = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 201)


def seed_results(endpoint: str, columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """Queue one result set on moto, shaped like Athena's: the header repeated as the first row."""
    info = [{"Name": n, "Label": n, "Type": t, "Precision": 10 if t == "decimal" else 0,
             "Scale": 2 if t == "decimal" else 0, "Nullable": "NULLABLE"} for n, t in columns]
    cells = [[{"VarCharValue": n} for n, _ in columns]] + [
        [{} if v is None else {"VarCharValue": v} for v in row] for row in rows
    ]
    payload = {"region": REGION, "results": [{"rows": [{"Data": row} for row in cells], "column_info": info}]}
    _post(endpoint, "/moto-api/static/athena/query-results", payload)


@pytest.fixture()
def athena(s3_server: str):
    return boto3.client("athena", region_name=REGION, endpoint_url=s3_server)


@pytest.fixture()
def slow_executions(s3_server: str):
    """Each execution state lasts ``ticks`` polls (instead of moto's immediate SUCCEEDED)."""
    def configure(ticks: int) -> None:
        _post(s3_server, "/moto-api/state-manager/set-transition",
              {"model_name": "athena::execution", "transition": {"progression": "manual", "times": ticks}})

    yield configure
    _post(s3_server, "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})


def test_results_come_back_typed_after_polling(s3_server, s3_bucket, athena, slow_executions) -> None:
    slow_executions(2)
    seed_results(s3_server, COLUMNS, [
        ["t1", "672", "0.25", "true", "2026-11-26", "2026-11-26 10:00:00.123", "1.50", "[a, b]"],
        ["t2", None, "NaN", "false", None, None, None, None],
    ])
    sleeps: list[float] = []
    engine = AthenaEngine("primary", "musiclake", f"s3://{s3_bucket}/athena/", client=athena, sleep=sleeps.append)
    result = engine.execute("SELECT * FROM top_tracks;")
    assert len(sleeps) >= 2 and sleeps == sorted(sleeps)  # QUEUED and RUNNING seen, waits growing
    assert result.schema.types == [pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32(),
                                   pa.timestamp("us"), pa.decimal128(10, 2), pa.string()]
    first, second = result.to_pylist()
    assert first == {"track_id": "t1", "plays": 672, "share": 0.25, "explicit": True, "first_seen": date(2026, 11, 26),
                     "observed_at": datetime(2026, 11, 26, 10, 0, 0, 123000), "price": Decimal("1.50"),
                     "runs": "[a, b]"}
    assert second["plays"] is None and second["explicit"] is False


def test_the_query_runs_in_the_given_database_workgroup_and_output_location(s3_server, s3_bucket, athena) -> None:
    seed_results(s3_server, [("n", "bigint")], [["3"]])
    engine = AthenaEngine("primary", "analytics", f"s3://{s3_bucket}/out", client=athena, sleep=lambda _: None)
    execution_id = engine.submit("SELECT count(*) AS n FROM tracks")
    execution = engine.wait(execution_id)
    assert execution["Query"] == "SELECT count(*) AS n FROM tracks"
    assert execution["QueryExecutionContext"]["Database"] == "analytics"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{s3_bucket}/out")
    assert engine.fetch(execution_id).to_pylist() == [{"n": 3}]


def test_a_cancelled_query_raises_with_the_state(s3_server, athena, slow_executions) -> None:
    slow_executions(1000)
    engine = AthenaEngine(None, "musiclake", "s3://results/", client=athena, sleep=lambda _: None)
    execution_id = engine.submit("SELECT 1")
    athena.stop_query_execution(QueryExecutionId=execution_id)
    with pytest.raises(QueryError, match=rf"^Athena query {execution_id} CANCELLED: .* run it again$"):
        engine.wait(execution_id)


def test_a_query_past_its_timeout_is_cancelled(s3_server, athena, slow_executions) -> None:
    slow_executions(1000)
    engine = AthenaEngine(None, "musiclake", "s3://results/", client=athena, timeout=0, sleep=lambda _: None)
    with pytest.raises(QueryError, match=r"still QUEUED after 0s: cancelled"):
        engine.execute("SELECT 1")
    last = athena.list_query_executions()["QueryExecutionIds"][-1]
    assert athena.get_query_execution(QueryExecutionId=last)["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_a_failed_query_names_athenas_reason_and_what_to_do() -> None:
    client = boto3.client("athena", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    status = {
        "State": "FAILED",
        "StateChangeReason": "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.musiclake.trakcs' does not exist",
        "AthenaError": {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False},
        "SubmissionDateTime": datetime(2026, 11, 26, tzinfo=UTC),
    }
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", {"QueryExecution": {"QueryExecutionId": "q-1", "Status": status}})
        engine = AthenaEngine("primary", "musiclake", "s3://results/", client=client, sleep=lambda _: None)
        with pytest.raises(QueryError) as error:
            engine.execute("SELECT * FROM trakcs")
    assert str(error.value) == (
        "Athena query q-1 FAILED: TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.musiclake.trakcs' does not exist"
        " - fix the SQL (Athena's dialect is Trino; unqualified tables resolve in database 'musiclake')"
    )
    assert failure_message("q-2", {"State": "FAILED", "AthenaError": {"ErrorCategory": 1, "Retryable": True,
                                                                      "ErrorMessage": "Internal"}}, "db") \
        == "Athena query q-2 FAILED: Internal - a transient Athena error: run it again"


def test_the_cli_runs_on_athena_with_settings_from_the_environment(capsys, s3_server, s3_bucket, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", s3_server)  # boto3's own per-service endpoint setting
    monkeypatch.setenv("MUSICLAKE_ATHENA_WORKGROUP", "primary")
    monkeypatch.setenv("MUSICLAKE_ATHENA_DATABASE", "musiclake")
    monkeypatch.setenv("MUSICLAKE_ATHENA_OUTPUT", f"s3://{s3_bucket}/athena/")
    seed_results(s3_server, [("source", "varchar"), ("n", "bigint")], [["mpd", "80"], ["spotify", "5"]])
    status = cli.main(["query", "--athena", "--format", "json",
                       "SELECT source, count(*) AS n FROM playlists GROUP BY 1 ORDER BY 1"])
    assert status == 0
    assert json.loads(capsys.readouterr().out) == [{"source": "mpd", "n": 80}, {"source": "spotify", "n": 5}]


def test_the_cli_reports_an_unreachable_athena_in_one_line(capsys, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert cli.main(["query", "--athena", "--database", "musiclake", "SELECT 1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not start the query on Athena: ") and err.count("\n") == 1
