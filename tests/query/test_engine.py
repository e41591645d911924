"""The local engine on a tiny lake written by delta-rs (no Spark): names, dialect, raw zone, errors."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from query_lake import LANDED, TRACKS

from musiclake import landing
from musiclake.query import raw
from musiclake.query.engine import LocalEngine
from musiclake.query.errors import LakeNotFoundError, QueryError, SqlParseError, UnknownTableError


@pytest.fixture(scope="module")
def engine(tiny_lake):
    with LocalEngine(tiny_lake.lake) as engine:
        yield engine


def test_tables_are_the_delta_folders_plus_raw_from_the_landing_folder_next_to_the_lake(engine, tiny_lake) -> None:
    assert engine.tables() == ["job_runs", "playlist_tracks", "raw", "tracks"]
    assert engine.raw_path == tiny_lake.landing


@pytest.mark.parametrize(
    "name", ["tracks", "musiclake.tracks", "awsdatacatalog.musiclake.tracks", '"awsdatacatalog"."musiclake"."TRACKS"']
)
def test_tables_answer_to_plain_and_athena_qualified_names(engine, name: str) -> None:
    result = engine.execute(f"SELECT count(*) AS n FROM {name}")
    assert result.to_pylist() == [{"n": len(TRACKS["track_id"])}]


def test_a_cte_named_like_a_table_shadows_it(engine) -> None:
    result = engine.execute("WITH tracks AS (SELECT 1 AS x) SELECT x FROM tracks")
    assert result.to_pylist() == [{"x": 1}]


def test_unnamed_columns_are_named_by_position_like_athena(engine) -> None:
    result = engine.execute("SELECT artist_name, count(*), max(duration_ms) + 1 FROM tracks GROUP BY 1 ORDER BY 1")
    assert result.column_names == ["artist_name", "_col1", "_col2"]


def test_sums_of_bigints_are_bigints_as_on_athena(engine) -> None:
    result = engine.execute("SELECT sum(duration_ms) AS total, count(*) AS n FROM tracks")
    assert result.schema.field("total").type == pa.int64()
    assert result.to_pylist() == [{"total": 620_500, "n": 4}]


def test_trino_functions_are_transpiled(engine) -> None:
    sql = (
        "SELECT job_run_id, cardinality(landing_runs) AS n, element_at(records_written, 'tracks') AS tracks, "
        "date_format(started_at, '%Y-%m-%d %H:%i') AS started, to_unixtime(started_at) AS epoch, "
        "array_join(landing_runs, '+') AS runs, job_run_id || '!' AS bang, try_cast('x' AS integer) AS bad "
        "FROM job_runs ORDER BY job_run_id"
    )
    assert engine.execute(sql).to_pylist() == [
        {"job_run_id": "r1", "n": 2, "tracks": 4, "started": "2026-11-26 10:00", "epoch": 1795687200.0,
         "runs": "run-a+run-b", "bang": "r1!", "bad": None},
        {"job_run_id": "r2", "n": 0, "tracks": None, "started": "2026-11-26 11:00", "epoch": 1795690800.0,
         "runs": "", "bang": "r2!", "bad": None},
    ]
    assert "APPROX_QUANTILE" in engine.transpile("SELECT approx_percentile(duration_ms, 0.5) FROM tracks")


def test_unnest_with_ordinality(engine) -> None:
    sql = "SELECT r, i FROM job_runs CROSS JOIN UNNEST(landing_runs) WITH ORDINALITY AS t(r, i) ORDER BY i"
    assert engine.execute(sql).to_pylist() == [{"r": "run-a", "i": 1}, {"r": "run-b", "i": 2}]


def test_partitioned_tables_filter_on_their_partition_column(engine) -> None:
    sql = "SELECT playlist_id, count(*) AS n FROM playlist_tracks WHERE source = 'mpd' GROUP BY 1"
    assert engine.execute(sql).to_pylist() == [{"playlist_id": "mpd:7", "n": 1}]


def test_show_tables_describe_and_show_columns(engine) -> None:
    assert engine.execute("SHOW TABLES").column("tab_name").to_pylist() == engine.tables()
    described = engine.execute("DESCRIBE tracks").column("column_name").to_pylist()
    assert described == list(TRACKS)
    assert engine.execute("SHOW COLUMNS FROM musiclake.tracks").column("column_name").to_pylist() == described


def test_several_statements_return_the_last_result(engine) -> None:
    assert engine.execute("SELECT 1 AS a; SELECT 2 AS b;").to_pylist() == [{"b": 2}]


# -- the raw landing zone --------------------------------------------------------------------------------------
def test_raw_counts_by_partition_match_the_landed_files(engine, tiny_lake) -> None:
    expected: Counter = Counter()
    for path in Path(tiny_lake.landing).rglob("*.jsonl.gz"):
        for record in landing.decode_records(path.read_bytes()):
            expected[(record["source"], record["entity"], record["run_id"])] += 1
    rows = engine.execute(
        "SELECT source, entity, ingest_date, run_id, count(*) AS n FROM raw GROUP BY 1, 2, 3, 4"
    ).to_pylist()
    assert {(r["source"], r["entity"], r["run_id"]): r["n"] for r in rows} == dict(expected)
    assert {r["ingest_date"] for r in rows} == {"2026-11-26"}
    assert sum(expected.values()) == sum(len(bodies) for bodies in LANDED.values())  # manifests, checkpoints: no


def test_raw_envelopes_keep_the_body_as_json_text(engine) -> None:
    sql = (
        "SELECT key, http_status, json_extract_scalar(body, '$.name') AS name, typeof(from_iso8601_timestamp("
        "fetched_at)) AS fetched FROM raw WHERE source = 'spotify' AND entity = 'tracks' ORDER BY key"
    )
    rows = engine.execute(sql).to_pylist()
    assert [(r["key"], r["http_status"], r["name"]) for r in rows] == [("t1", 200, "Alpha"), ("t2", 200, "Beta")]
    assert engine.execute("SELECT column_name FROM (DESCRIBE raw)").column(0).to_pylist() == [
        "key", "request_url", "http_status", "fetched_at", "body", "source", "entity", "ingest_date", "run_id"]


def test_no_raw_table_without_a_landing_zone(tmp_path, tiny_lake) -> None:
    shutil.copytree(tiny_lake.lake, tmp_path / "lake")
    with LocalEngine(str(tmp_path / "lake")) as engine:
        assert "raw" not in engine.tables()
        with pytest.raises(UnknownTableError, match="pass --raw_path"):
            engine.execute("SELECT * FROM raw")


def test_a_landed_file_that_cannot_be_read_is_named_when_the_raw_zone_is_read_in_python(tmp_path, tiny_lake) -> None:
    """The raw zone on S3 is read in Python (``raw.read_arrow``): a file cut short is named in the error."""
    shutil.copytree(tiny_lake.landing, tmp_path / "landing")
    uri = raw.data_files(str(tmp_path / "landing"))[0][0]
    Path(uri).write_bytes(Path(uri).read_bytes()[:20])
    with pytest.raises(ValueError, match=f"landed file {re.escape(uri)} cannot be read: truncated or corrupt gzip"):
        raw.read_arrow(str(tmp_path / "landing"))


# -- errors ----------------------------------------------------------------------------------------------------
def test_an_unknown_table_is_named_with_the_available_ones(engine) -> None:
    with pytest.raises(UnknownTableError) as error:
        engine.execute("SELECT * FROM musiclake.trakcs")
    assert str(error.value) == "unknown table musiclake.trakcs; the lake has: job_runs, playlist_tracks, raw, tracks"


def test_a_parse_error_gives_line_and_column(engine) -> None:
    with pytest.raises(SqlParseError, match=r"^SQL parse error at line 2, column \d+: "):
        engine.execute("SELECT track_id\nFROM tracks WHERE (")


def test_duckdb_errors_are_one_line(engine) -> None:
    with pytest.raises(QueryError) as error:
        engine.execute("SELECT no_such_column FROM tracks")
    assert "no_such_column" in str(error.value) and "\n" not in str(error.value)


def test_the_lake_is_read_only(engine) -> None:
    with pytest.raises(QueryError, match="only queries run locally"):
        engine.execute("DROP TABLE tracks")


def test_a_missing_lake_says_how_to_get_one(tmp_path) -> None:
    with pytest.raises(LakeNotFoundError, match="make demo"):
        LocalEngine(str(tmp_path / "nowhere"))


def test_only_the_tables_a_query_names_are_opened(tmp_path, tiny_lake) -> None:
    shutil.copytree(tiny_lake.lake, tmp_path / "lake")
    for log_file in (tmp_path / "lake" / "job_runs" / "_delta_log").iterdir():
        log_file.write_text("not a delta log")
    with LocalEngine(str(tmp_path / "lake")) as engine:
        assert engine.execute("SELECT count(*) AS n FROM tracks").to_pylist() == [{"n": 4}]
        with pytest.raises(QueryError, match="cannot read Delta table job_runs"):
            engine.execute("SELECT * FROM job_runs")


def test_date_diff_counts_whole_units_as_trino_does(engine) -> None:
    sql = ("SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00') AS d, "
           "date_diff('month', DATE '2026-01-31', DATE '2026-02-01') AS m, "
           "date_diff('hour', TIMESTAMP '2026-01-02 01:00:00', TIMESTAMP '2026-01-01 23:30:00') AS back")
    assert engine.execute(sql).to_pylist() == [{"d": 0, "m": 0, "back": -1}]
