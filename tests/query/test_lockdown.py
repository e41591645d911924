"""The embedded engine reads the lake's tables and nothing else: no local file, no URL, no extension, no setting,
no attached database, no write; a refusal is one clear line (issue 14, item 2).

Each refusal is checked twice where it can be: through ``LocalEngine.execute`` (what a user reaches) and, for
defence in depth, straight on the engine's DuckDB connection, as if a statement had slipped past the engine's own
statement check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from query_lake import TRACKS

from musiclake import cli
from musiclake.query import engine as engine_module
from musiclake.query.engine import LocalEngine
from musiclake.query.errors import AccessDeniedError, QueryError

SECRET = "hunter2-do-not-leak"
REFUSED = "the local engine only reads the lake's tables"


@pytest.fixture()
def engine(tiny_lake) -> Iterator[LocalEngine]:
    with LocalEngine(tiny_lake.lake) as engine:
        yield engine


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A folder outside the lake holding a secret as text, CSV and Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    (tmp_path / "secret.csv").write_text(f"password\n{SECRET}\n", encoding="utf-8")
    pq.write_table(pa.table({"password": [SECRET]}), tmp_path / "secret.parquet")
    return tmp_path


def refused(engine: LocalEngine, sql: str) -> str:
    with pytest.raises(AccessDeniedError) as error:
        engine.execute(sql)
    message = str(error.value)
    assert REFUSED in message and "\n" not in message and SECRET not in message
    return message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT content FROM read_text('{dir}/secret.txt')",
        "SELECT content FROM read_blob('{dir}/secret.txt')",
        "SELECT * FROM read_csv('{dir}/secret.csv')",
        "SELECT * FROM read_csv_auto('{dir}/secret.csv')",
        "SELECT * FROM read_parquet('{dir}/secret.parquet')",
        "SELECT * FROM read_json('{dir}/secret.txt')",
        "SELECT * FROM parquet_metadata('{dir}/secret.parquet')",
        "SELECT * FROM sniff_csv('{dir}/secret.csv')",
        "SELECT content FROM read_text('/etc/passwd')",
        "DESCRIBE SELECT * FROM read_csv('{dir}/secret.csv')",
        "SELECT t.track_id FROM tracks AS t, read_text('{dir}/secret.txt') AS f",
    ],
)
def test_files_outside_the_lake_are_refused(engine, outside: Path, sql: str) -> None:
    refused(engine, sql.format(dir=outside))


def test_the_lakes_own_files_are_not_tables_either(engine, tiny_lake) -> None:
    """The Delta tables reach DuckDB as Arrow datasets: their Parquet files are not readable as files."""
    parquet = next(Path(tiny_lake.lake, "tracks").rglob("*.parquet"))
    refused(engine, f"SELECT * FROM read_parquet('{parquet}')")
    refused(engine, f"SELECT * FROM read_text('{Path(tiny_lake.lake, 'tracks', '_delta_log')}/*.json')")


def test_a_folder_next_to_the_landing_zone_is_not_inside_it(engine, tiny_lake) -> None:
    sibling = Path(f"{tiny_lake.landing}-old")
    sibling.mkdir(exist_ok=True)
    (sibling / "secret.txt").write_text(SECRET, encoding="utf-8")
    refused(engine, f"SELECT content FROM read_text('{sibling}/secret.txt')")
    refused(engine, f"SELECT content FROM read_text('{tiny_lake.landing}/../lake/tracks/_delta_log/*.json')")


def test_a_tmp_folder_in_the_working_directory_is_not_readable(tiny_lake, tmp_path, monkeypatch) -> None:
    """DuckDB allows its default spill folder ``.tmp``; the engine spills to a private folder instead."""
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.txt").write_text(SECRET, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with LocalEngine(tiny_lake.lake) as engine:
        refused(engine, "SELECT content FROM read_text('.tmp/secret.txt')")


def test_a_url_is_refused_without_a_request_or_an_extension_install(engine) -> None:
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"a\n1\n")

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/data.csv"
        refused(engine, f"SELECT * FROM read_csv('{url}')")
        refused(engine, f"SELECT content FROM read_text('{url}')")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    assert requests == []  # refused before any request, and autoinstall is off (no extension download either)


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET allowed_directories = ['/']",
        "RESET enable_external_access",
        "PRAGMA enable_external_access",
        "INSTALL httpfs",
        "FORCE INSTALL httpfs",
        "LOAD httpfs",
        "LOAD '/tmp/evil.duckdb_extension'",
        "ATTACH '{dir}/other.duckdb' AS other",
        "ATTACH '{dir}/secret.csv' AS other (TYPE sqlite)",
        "COPY (SELECT * FROM tracks) TO '{dir}/out.csv'",
        "COPY tracks TO '{dir}/out.parquet' (FORMAT parquet)",
        "EXPORT DATABASE '{dir}/export'",
        "CREATE TABLE copied AS SELECT * FROM tracks",
        "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')",
        "CALL pragma_version()",
        "SELECT 1; SET enable_external_access = true",
        "  -- a comment first\n  /* and another */ ATTACH '{dir}/other.duckdb'",
    ],
)
def test_statements_that_are_not_queries_are_refused(engine, outside: Path, sql: str) -> None:
    message = refused(engine, sql.format(dir=outside))
    assert message.startswith("only queries run locally")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv", "secret.parquet", "secret.txt"]


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "SET autoinstall_known_extensions = true",
        "SET autoload_known_extensions = true",
        "SET allowed_directories = ['/']",
        "SET temp_directory = '.tmp'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "ATTACH '{dir}/other.duckdb' AS other",
        "COPY (SELECT 42) TO '{dir}/out.csv'",
        "EXPORT DATABASE '{dir}/export'",
        "SELECT content FROM read_text('{dir}/secret.txt')",
        "SELECT * FROM '{dir}/secret.csv'",
        "SELECT * FROM glob('{dir}/*')",
        "SELECT * FROM duckdb_extensions()",  # it would look into ~/.duckdb
    ],
)
def test_the_connection_itself_is_locked_down(engine, outside: Path, sql: str) -> None:
    """Defence in depth: even a statement that reached DuckDB unchecked is refused by DuckDB."""
    with pytest.raises(duckdb.Error) as error:
        engine._con.execute(sql.format(dir=outside)).fetchall()
    assert isinstance(error.value, duckdb.PermissionException) or "locked" in str(error.value)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv", "secret.parquet", "secret.txt"]


def test_python_variables_are_not_tables(engine) -> None:
    """DuckDB's Python client would scan a variable of the calling code by name; not with external access off."""
    import pyarrow as pa

    private = pa.table({"secret": [SECRET]})  # noqa: F841 (what a replacement scan would find)
    with pytest.raises(duckdb.Error):
        engine._con.sql("SELECT * FROM private").fetchall()


def test_the_settings_are_locked_down(engine) -> None:
    rows = engine.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
        "'autoinstall_known_extensions', 'autoload_known_extensions', 'lock_configuration')"
    ).to_pylist()
    assert {r["name"]: r["value"] for r in rows} == {
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "lock_configuration": "true",
    }


def test_the_lake_and_the_raw_zone_still_answer(engine) -> None:
    assert engine.execute("SELECT count(*) AS n FROM musiclake.tracks").to_pylist() == [{"n": len(TRACKS["track_id"])}]
    rows = engine.execute("SELECT entity, count(*) AS n FROM raw WHERE source = 'spotify' GROUP BY 1 ORDER BY 1")
    assert rows.to_pylist() == [{"entity": "artists", "n": 1}, {"entity": "tracks", "n": 2}]
    assert engine.execute("SELECT json_extract_scalar(body, '$.name') AS name FROM raw WHERE source = 'mpd'"
                          ).to_pylist() == [{"name": "road trip"}]
    assert engine.execute("SELECT date_format(TIMESTAMP '2026-01-02 03:04:05', '%Y-%m-%d %H:%i') AS d"
                          ).to_pylist() == [{"d": "2026-01-02 03:04"}]


def test_a_big_sort_spills_to_the_private_folder(tmp_path) -> None:
    """With external access off DuckDB still spills, to the engine's own folder."""
    con = duckdb.connect(":memory:")
    con.execute("SET memory_limit = '48MB'")
    con.execute("SET threads = 1")
    spill = tmp_path / "spill"
    spill.mkdir()
    engine_module._lock_down(con, readable_dirs=[], spill_dir=str(spill))
    sql = "SELECT count(*), min(m) FROM (SELECT md5(i::VARCHAR) AS m FROM range(2000000) t(i) ORDER BY m)"
    assert con.execute(sql).fetchone()[0] == 2_000_000
    con.close()


def test_the_cli_says_the_engine_reads_only_the_lake(capsys, tiny_lake, outside: Path) -> None:
    status = cli.main(["query", "--lake_path", tiny_lake.lake, f"SELECT * FROM read_csv('{outside}/secret.csv')"])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err.startswith("error: refused: the local engine only reads the lake's tables (job_runs, ")
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err and SECRET not in captured.err

    status = cli.main(["query", "--lake_path", tiny_lake.lake, "INSTALL httpfs"])
    captured = capsys.readouterr()
    assert status == 1 and captured.err.startswith("error: only queries run locally: " + REFUSED)


def test_a_refusal_is_a_query_error(engine) -> None:
    """Callers that handle QueryError (the CLI, the report) handle refusals too."""
    with pytest.raises(QueryError):
        engine.execute("SELECT content FROM read_text('/etc/hostname')")
