"""``musiclake query`` as a user runs it: the three output formats, the ways to give SQL, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from musiclake import cli

SQL = "SELECT track_id, track_name, duration_ms, explicit FROM tracks ORDER BY track_id"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["query", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_table_output_is_aligned_with_a_row_count(capsys, tiny_lake) -> None:
    status, out, err = run(capsys, "--lake_path", tiny_lake.lake, SQL)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split(" | ")[0].strip() == "track_id" and set(lines[1]) <= {"-", "+"}
    assert lines[2].startswith("t1       | Alpha") and lines[2].endswith("| true")
    assert "NULL" in lines[4]  # t3: no name, no duration
    assert lines[-1] == "(4 rows)"
    assert len({len(line) for line in lines[:2]}) == 1


def test_table_output_stops_at_max_rows(capsys, tiny_lake) -> None:
    status, out, _ = run(capsys, "--lake_path", tiny_lake.lake, "--max_rows", "2", SQL)
    assert status == 0
    assert out.splitlines()[-1] == "(2 of 4 rows shown; --max_rows N shows more)"
    assert len(out.splitlines()) == 2 + 2 + 1


def test_csv_output_round_trips(capsys, tiny_lake) -> None:
    status, out, _ = run(capsys, "--lake_path", tiny_lake.lake, "--format", "csv", SQL)
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[1] == {"track_id": "t2", "track_name": "Beta, with comma", "duration_ms": "180500", "explicit": "false"}
    assert rows[2]["track_name"] == "" and rows[3]["track_name"] == 'Delta "quoted"'


def test_json_output_is_an_array_of_typed_objects_with_nested_values(capsys, tiny_lake) -> None:
    sql = "SELECT job_run_id, landing_runs, records_written, started_at FROM job_runs ORDER BY 1"
    status, out, _ = run(capsys, "--lake_path", tiny_lake.lake, "--format", "json", sql)
    assert status == 0
    rows = json.loads(out)
    assert rows[0] == {"job_run_id": "r1", "landing_runs": ["run-a", "run-b"],
                       "records_written": {"tracks": 4, "playlists": 2}, "started_at": "2026-11-26T10:00:00+00:00"}
    assert rows[1]["landing_runs"] == [] and rows[1]["records_written"] == {}
    assert len(out.splitlines()) == 2 + len(rows)  # one row per line


def test_sql_from_a_file_or_stdin(capsys, tiny_lake, tmp_path, monkeypatch) -> None:
    path = tmp_path / "q.sql"
    path.write_text("-- how many tracks\nSELECT count(*) AS n FROM musiclake.tracks;\n")
    assert run(capsys, "--lake_path", tiny_lake.lake, "--format", "csv", "--file", str(path))[1] == "n\n4\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT 7 AS seven"))
    assert run(capsys, "--lake_path", tiny_lake.lake, "--format", "csv", "--file", "-")[1] == "seven\n7\n"


def test_raw_path_option_attaches_a_landing_zone(capsys, tiny_lake) -> None:
    sql = "SELECT entity, count(*) AS n FROM raw WHERE source = 'spotify' GROUP BY entity ORDER BY entity"
    status, out, _ = run(capsys, "--lake_path", tiny_lake.lake, "--raw_path", tiny_lake.landing, "--format", "csv", sql)
    assert status == 0 and out == "entity,n\nartists,1\ntracks,2\n"


def test_show_sql_prints_the_duckdb_translation_on_stderr(capsys, tiny_lake) -> None:
    status, _, err = run(capsys, "--lake_path", tiny_lake.lake, "--show_sql",
                         "SELECT approx_percentile(duration_ms, 0.5) AS p FROM awsdatacatalog.musiclake.tracks")
    assert status == 0 and err.strip() == "SELECT APPROX_QUANTILE(duration_ms, 0.5) AS p FROM tracks"


def test_list_queries_names_the_packaged_sql_files(capsys) -> None:
    from musiclake.query.sql_files import list_queries

    status, out, _ = run(capsys, "--list_queries")
    assert status == 0 and out.split() == list_queries()


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["SELECT * FROM trakcs"], 1,
         "error: unknown table trakcs; the lake has: job_runs, playlist_tracks, raw, tracks"),
        (["SELECT * FROM tracks WHERE ("], 1, "error: SQL parse error at line 1, column "),
        (["SELECT nope FROM tracks"], 1, "error: Binder Error: Referenced column \"nope\" not found"),
        (["--query", "no_such_query"], 2, "error: no packaged query 'no_such_query'; available: "),
        (["--file", "/no/such/file.sql"], 2, "error: cannot read --file /no/such/file.sql: "),
    ],
)
def test_errors_are_one_line_on_stderr_without_a_traceback(capsys, tiny_lake, argv, status, message) -> None:
    code, out, err = run(capsys, "--lake_path", tiny_lake.lake, *argv)
    assert code == status and out == ""
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_lake_tells_the_user_to_build_the_demo_or_pass_the_path(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "--lake_path", str(tmp_path / "none"), "SELECT 1")
    assert code == 1
    assert err.startswith("error: no Delta tables found under ") and "make demo" in err and "--lake_path" in err


def test_the_local_path_starts_no_spark(tiny_lake) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from musiclake import cli\n"
        f"status = cli.main(['query', '--lake_path', {tiny_lake.lake!r}, '--format', 'csv', 'SELECT count(*) AS n "
        "FROM tracks'])\n"
        "context = sys.modules.get('pyspark.context')\n"
        "assert context is None or context.SparkContext._active_spark_context is None, 'a SparkContext started'\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "n\n4\n"
