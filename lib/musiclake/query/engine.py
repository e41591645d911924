"""Athena SQL on the lake without AWS: DuckDB over the Delta tables (read by delta-rs as Arrow), no Spark.

The SQL is written in Athena's dialect (Trino): :class:`LocalEngine` parses it with sqlglot, resolves the table
names against the lake, and runs the DuckDB translation. Tables are the Delta tables found under the lake path
(whatever the jobs wrote), reachable by plain name (``tracks``) or qualified as Athena users write them
(``musiclake.tracks``, ``awsdatacatalog.musiclake.tracks``); the raw landing zone is the table ``raw``.

Only the tables a query names are opened: each is registered in DuckDB as a lazy pyarrow dataset, so DuckDB
reads just the columns it needs and pushes filters (and partition pruning) down into the Parquet scan.

The engine sees the lake's tables and nothing else. The Delta tables (and an S3 raw zone) reach DuckDB as Arrow
objects that delta-rs/pyarrow/boto3 read, not as files DuckDB opens; so before any SQL runs the connection is
locked down (:func:`_lock_down`): external access off (no file, URL or Python-variable scans, no ``ATTACH``,
``COPY``, ``INSTALL``/``LOAD``), extension autoinstall/autoload off (the extensions it needs are statically linked
in the duckdb wheel and loaded explicitly first), the only readable directories the local landing zone behind the
``raw`` view and DuckDB's private spill folder, and the configuration locked so that no statement can undo any of
it. Statements other than queries are refused before they reach DuckDB (:data:`_REFUSED_STATEMENTS`). A refusal
is an :class:`~musiclake.query.errors.AccessDeniedError` saying the engine only reads the lake's tables.

Example
-------
>>> with LocalEngine(".musiclake/demo/lake") as engine:          # doctest: +SKIP
...     engine.execute("SELECT count(*) AS n FROM musiclake.tracks").to_pylist()
[{'n': 3000}]
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from deltalake import DeltaTable
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from musiclake.query import catalog, raw
from musiclake.query.errors import (
    AccessDeniedError,
    LakeNotFoundError,
    QueryError,
    SqlParseError,
    UnknownTableError,
)

log = logging.getLogger("musiclake.query")
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to Command" warnings are ours to word

READ_DIALECT = "trino"  # Athena engine v3
WRITE_DIALECT = "duckdb"
INFORMATION_SCHEMA = "information_schema"
_SHOW_TABLES = re.compile(r"^\s*SHOW\s+TABLES\b", re.IGNORECASE)
_SHOW_COLUMNS = re.compile(r"^\s*SHOW\s+COLUMNS\s+(?:FROM|IN)\s+(?P<table>\S+?)\s*;?\s*$", re.IGNORECASE)
_WIDE_INTEGERS = ("HUGEINT", "UHUGEINT")  # DuckDB's sum(bigint); Athena answers bigint
_RAW_ARROW = "__musiclake_raw_arrow"
READ_ONLY = "the local engine only reads the lake's tables"
# Built into the duckdb wheel (STATICALLY_LINKED): loaded explicitly before autoload is switched off.
# core_functions: most scalar/aggregate functions; json: the JSON type and json_extract*; icu: time zones.
REQUIRED_EXTENSIONS = ("core_functions", "json", "icu")
# Statements refused by their first keyword, before parsing (sqlglot does not parse all of DuckDB's, e.g. ATTACH):
# none of them is a query, and several would reach outside the lake (files, extensions, settings, databases).
_REFUSED_STATEMENTS = frozenset((
    "ALTER", "ANALYZE", "ATTACH", "BEGIN", "CALL", "CHECKPOINT", "COMMENT", "COMMIT", "COPY", "CREATE", "DEALLOCATE",
    "DELETE", "DETACH", "DROP", "EXECUTE", "EXPORT", "FORCE", "GRANT", "IMPORT", "INSERT", "INSTALL", "LOAD",
    "MERGE", "MSCK", "PRAGMA", "PREPARE", "REPLACE", "RESET", "REVOKE", "ROLLBACK", "SET", "START", "TRUNCATE",
    "UNLOAD", "UPDATE", "UPSERT", "USE", "VACUUM",
))


class LocalEngine:
    """Run Athena-dialect SQL on a lake's Delta tables (and raw zone) with embedded DuckDB.

    Parameters
    ----------
    lake_path
        Lake root, a local folder or ``s3://bucket/prefix``: every sub-folder with a ``_delta_log`` is a table.
    raw_path
        Landing-zone root exposed as table ``raw``; by default the ``landing`` folder next to a local lake.
    storage_options
        delta-rs storage options for S3; by default built from the AWS environment
        (:func:`musiclake.query.catalog.storage_options_from_env`).

    Raises
    ------
    LakeNotFoundError
        If there is neither a Delta table under ``lake_path`` nor raw data under ``raw_path``.
    """

    def __init__(
        self, lake_path: str, raw_path: str | None = None, *, storage_options: dict[str, str] | None = None
    ) -> None:
        self.lake_path = catalog.normalize(lake_path)
        self.raw_path = catalog.normalize(raw_path) if raw_path else catalog.sibling_landing(self.lake_path)
        if raw_path and not catalog.is_s3(self.raw_path) and not Path(self.raw_path).is_dir():
            raise LakeNotFoundError(f"raw landing zone not found: {raw_path} (pass the landing folder as --raw_path)")
        self._storage_options = storage_options
        self._locations = catalog.discover_delta_tables(self.lake_path)
        self._raw_available = bool(self.raw_path) and (
            catalog.is_s3(self.raw_path) or raw.has_local_data(self.raw_path)
        )
        if not self._locations and not self._raw_available:
            raise LakeNotFoundError(
                f"no Delta tables found under {lake_path}: build the demo lake with `make demo`, or pass the lake "
                "root with --lake_path (or MUSICLAKE_LAKE_PATH)"
            )
        self._spill = tempfile.TemporaryDirectory(prefix="musiclake-duckdb-")  # removed on close (or exit)
        self._con = duckdb.connect(":memory:")
        try:
            self._con.execute("SET TimeZone = 'UTC'")  # timestamps come and go as UTC, like the Spark session's
            readable = [self.raw_path] if self._raw_available and not catalog.is_s3(self.raw_path) else []
            _lock_down(self._con, readable_dirs=readable, spill_dir=self._spill.name)
        except BaseException:
            self.close()
            raise
        self._registered: set[str] = set()

    # -- context manager -------------------------------------------------------------------------------------
    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the DuckDB connection and its spill folder (the engine is unusable afterwards)."""
        self._con.close()
        self._spill.cleanup()

    # -- public API ------------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """The queryable table names: the lake's Delta tables, plus ``raw`` when a landing zone is attached."""
        names = list(self._locations)
        if self._raw_available:
            names.append(raw.TABLE)
        return sorted(names)

    def transpile(self, sql: str) -> str:
        """The DuckDB SQL that :meth:`execute` would run for ``sql`` (statements separated by ``;``)."""
        statements = []
        for statement in self._parse(sql):
            if isinstance(statement, _ShowTables):
                statements.append("SHOW TABLES")
                continue
            statements.append(self._translate(statement, register=False))
        return ";\n".join(statements)

    def execute(self, sql: str) -> pa.Table:
        """Run Athena (Trino) SQL and return the result of its last statement as an Arrow table.

        Parameters
        ----------
        sql
            One or more statements separated by ``;``: ``SELECT``/``WITH`` queries, ``DESCRIBE
            <table>`` and ``SHOW TABLES``. The lake is read-only here, and nothing but its tables is readable.

        Raises
        ------
        SqlParseError
            The SQL does not parse (the message gives line and column).
        UnknownTableError
            A table is not in the lake (the message lists the available ones).
        AccessDeniedError
            The SQL is not a query, or reaches beyond the lake's tables (a file, a URL, an extension, a setting).
        QueryError
            DuckDB rejected or failed the query (its message, on one line).
        """
        result: pa.Table | None = None
        for statement in self._parse(sql):
            result = self._run(statement)
        if result is None:
            raise QueryError("no SQL statement given")
        return result

    # -- internals -------------------------------------------------------------------------------------------
    def _parse(self, sql: str) -> list[exp.Expression | _ShowTables]:
        statements: list[exp.Expression | _ShowTables] = []
        _refuse_non_queries(sql)
        try:
            parsed = sqlglot.parse(sql, read=READ_DIALECT)
        except ParseError as error:
            raise SqlParseError(_parse_message(error)) from error
        except TokenError as error:
            raise SqlParseError(f"SQL parse error: {error}") from error
        for statement in parsed:
            if statement is None:
                continue
            if isinstance(statement, exp.Command):
                text = statement.sql(dialect=READ_DIALECT)
                if _SHOW_TABLES.match(text):
                    statements.append(_ShowTables())
                    continue
                if show_columns := _SHOW_COLUMNS.match(text):  # Athena's spelling of DESCRIBE
                    statements.append(exp.Describe(this=exp.to_table(show_columns["table"], dialect=READ_DIALECT)))
                    continue
                raise QueryError(
                    f"'{statement.name} ...' is not supported locally: use SELECT/WITH, DESCRIBE <table> or "
                    "SHOW TABLES (or run it on Athena with --athena)"
                )
            if not isinstance(statement, exp.Query | exp.Describe):
                raise AccessDeniedError(_refusal(statement.key.upper()))
            statements.append(statement)
        return statements

    def _run(self, statement: exp.Expression | _ShowTables) -> pa.Table:
        if isinstance(statement, _ShowTables):
            return pa.table({"tab_name": pa.array(self.tables(), pa.string())})
        duck_sql = self._translate(statement, register=True)
        log.info("duckdb: %s", duck_sql)
        try:
            relation = self._con.sql(duck_sql)
            table = relation.fetch_arrow_table()
            types = [str(t) for t in relation.types]
        except duckdb.Error as error:
            message = _duckdb_message(error)
            if _is_refusal(error, message):
                raise AccessDeniedError(
                    f"refused: {READ_ONLY} ({', '.join(self.tables())}), no other file, URL, extension or "
                    f"setting; DuckDB said: {message}"
                ) from error
            raise QueryError(message) from error
        return _narrow_wide_integers(table, types)

    def _translate(self, statement: exp.Expression, *, register: bool) -> str:
        """The statement in DuckDB's dialect, its tables resolved (and opened when ``register``)."""
        self._bind(statement, register=register)
        _name_columns_like_athena(statement)
        _keep_trino_semantics(statement)
        return statement.sql(dialect=WRITE_DIALECT)

    def _bind(self, statement: exp.Expression, *, register: bool) -> None:
        """Resolve the statement's table names against the lake: open the tables it reads, drop qualifiers."""
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        known = self._known_names()
        unknown: list[str] = []
        for table in list(statement.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):  # a table function (UNNEST is not an exp.Table)
                continue
            name, database = table.name.lower(), table.db.lower()
            if database == INFORMATION_SCHEMA:
                if register:
                    for each in known:
                        self._register(each)
                continue
            if not database and name in ctes:
                continue
            if name not in known:
                unknown.append(table.sql(dialect=READ_DIALECT))
                continue
            if register:
                self._register(name)
            table.set("db", None)  # musiclake.tracks / awsdatacatalog.musiclake.tracks -> tracks
            table.set("catalog", None)
        for column in statement.find_all(exp.Column):
            if column.args.get("db"):  # musiclake.tracks.track_id -> tracks.track_id
                column.set("db", None)
                column.set("catalog", None)
        if unknown:
            hint = "" if self._raw_available else " (no raw landing zone attached: pass --raw_path to query raw)"
            raise UnknownTableError(
                f"unknown table {', '.join(dict.fromkeys(unknown))}; the lake has: {', '.join(self.tables())}{hint}"
            )

    def _known_names(self) -> list[str]:
        names = list(self._locations)
        if self._raw_available:
            names.append(raw.TABLE)
        return names

    def _register(self, name: str) -> None:
        if name in self._registered:
            return
        if name == raw.TABLE:
            self._register_raw()
        else:
            self._register_delta(name)
        self._registered.add(name)

    def _register_delta(self, name: str) -> None:
        location = self._locations[name]
        options = self._storage_options
        if options is None and catalog.is_s3(location):
            options = self._storage_options = catalog.storage_options_from_env()
        try:
            dataset = DeltaTable(location, storage_options=options or None).to_pyarrow_dataset()
        except Exception as error:  # delta-rs raises several types (protocol, storage, missing table)
            raise QueryError(f"cannot read Delta table {name} at {location}: {_one_line(str(error))}") from error
        log.info("registered %s (%s)", name, location)
        self._con.register(name, dataset)

    def _register_raw(self) -> None:
        if catalog.is_s3(self.raw_path):
            self._con.register(_RAW_ARROW, raw.read_arrow(self.raw_path))
            view = raw.arrow_view_sql(_RAW_ARROW)
        else:
            view = raw.local_view_sql(self.raw_path)
        self._con.execute(f"CREATE OR REPLACE VIEW {raw.TABLE} AS {view}")


def _lock_down(con: duckdb.DuckDBPyConnection, *, readable_dirs: list[str], spill_dir: str) -> None:
    """Make ``con`` unable to reach anything but what the engine registers in it, for good.

    * The extensions the SQL needs are loaded now (statically linked: no download, no file), then
      ``autoinstall_known_extensions``/``autoload_known_extensions`` go off: a URL or a function of an absent
      extension can no longer fetch or load one.
    * ``allowed_directories``: the local landing zone (the ``raw`` view reads its files when queried) and the spill
      folder; nothing else, not even DuckDB's default ``.tmp`` in the working directory.
    * ``enable_external_access = false``: no file or URL opened by SQL outside those folders (``read_text``,
      ``read_csv``, ``read_parquet``, ``glob``, ``FROM 'file'``), no ``ATTACH``/``COPY``/``EXPORT``, no
      ``INSTALL``/``LOAD``, no scan of Python variables by name. Arrow objects registered through the Python API
      (the Delta tables, the S3 raw zone) stay readable: their I/O is pyarrow's and delta-rs's.
    * ``lock_configuration = true`` last: every later ``SET``/``RESET`` fails, so none of the above can be undone.
    """
    for extension in REQUIRED_EXTENSIONS:
        try:
            con.execute(f"LOAD {extension}")
        except duckdb.Error as error:
            raise QueryError(
                f"the installed duckdb package lacks its built-in {extension} extension ({_duckdb_message(error)}); "
                "reinstall it: pip install 'musiclake[query]'"
            ) from error
    directories = [_directory(path) for path in (*readable_dirs, spill_dir)]
    con.execute(f"SET temp_directory = {_literal(spill_dir)}")
    con.execute(f"SET allowed_directories = [{', '.join(_literal(d) for d in directories)}]")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _directory(path: str) -> str:
    """``path`` with one trailing separator: ``allowed_directories`` entries are prefixes, and ``/lake/landing``
    must not also allow ``/lake/landing-old``."""
    return str(Path(path)).rstrip("/\\") + "/"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _refusal(what: str) -> str:
    return (
        f"only queries run locally: {READ_ONLY} (read-only, no files, URLs, extensions or settings); got {what}: "
        "use SELECT/WITH, DESCRIBE <table> or SHOW TABLES"
    )


def _refuse_non_queries(sql: str) -> None:
    """Refuse any statement whose first keyword names something other than a query (see :data:`_REFUSED_STATEMENTS`).

    Tokenised with sqlglot, so a keyword inside a string, a quoted name or a comment is not a statement start.
    """
    try:
        tokens = sqlglot.Dialect.get_or_raise(READ_DIALECT).tokenize(sql)
    except TokenError as error:
        raise SqlParseError(f"SQL parse error: {error}") from error
    at_start = True
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            at_start = True
            continue
        if at_start and token.token_type == TokenType.L_PAREN:
            continue  # (SELECT ...) UNION ...: keep looking for the first word
        if at_start and token.token_type not in (TokenType.STRING, TokenType.IDENTIFIER):  # not 'x' nor "x"
            word = token.text.upper()
            if word in _REFUSED_STATEMENTS:
                raise AccessDeniedError(_refusal(word))
        at_start = False


def _is_refusal(error: duckdb.Error, message: str) -> bool:
    """DuckDB refused because of the lock-down (not a mistake in the SQL)."""
    return isinstance(error, duckdb.PermissionException) or "configuration has been locked" in message


class _ShowTables:
    """Marker for ``SHOW TABLES`` (sqlglot parses it as an opaque command; answered from :meth:`tables`)."""


def _name_columns_like_athena(statement: exp.Expression) -> None:
    """Name unnamed result columns ``_col0``, ``_col1``... by position, as Athena does (DuckDB would use the
    expression's text); column references keep their names."""
    select = statement
    while isinstance(select, exp.SetOperation | exp.Subquery):
        select = select.left if isinstance(select, exp.SetOperation) else select.this
    if not isinstance(select, exp.Select):
        return
    for index, projection in enumerate(list(select.expressions)):
        if not isinstance(projection, exp.Alias | exp.Column | exp.Star | exp.Dot):
            projection.replace(exp.alias_(projection.copy(), f"_col{index}"))


def _keep_trino_semantics(statement: exp.Expression) -> None:
    """Patch the few translations whose DuckDB result differs from Trino's on the same data.

    * ``array_join(empty array, sep)`` is ``''`` in Trino; DuckDB's ``array_to_string`` answers NULL.
    * ``date_diff(unit, a, b)`` counts whole units elapsed in Trino (23:00 to 01:00 is 0 days); DuckDB's
      ``date_diff`` counts boundaries crossed (1 day), its ``date_sub`` whole units: use that.
    """
    for node in list(statement.find_all(exp.DateDiff)):
        unit = exp.Literal.string((node.text("unit") or "day").lower())
        node.replace(exp.Anonymous(this="DATE_SUB", expressions=[unit, node.expression.copy(), node.this.copy()]))
    for node in list(statement.find_all(exp.ArrayToString)):
        if node.args.get("null"):
            continue
        empty_unless_null = exp.case().when(exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null())),
                                            exp.Literal.string(""))
        node.replace(exp.Coalesce(this=node.copy(), expressions=[empty_unless_null]))


def _parse_message(error: ParseError) -> str:
    if not error.errors:
        return f"SQL parse error: {_one_line(str(error))}"
    first = error.errors[0]
    near = "".join(first.get(part) or "" for part in ("start_context", "highlight", "end_context")).strip()
    return (
        f"SQL parse error at line {first.get('line')}, column {first.get('col')}: {first.get('description')}"
        + (f" (near '{_one_line(near)}')" if near else "")
    )


def _duckdb_message(error: duckdb.Error) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _narrow_wide_integers(table: pa.Table, types: list[str]) -> pa.Table:
    """DuckDB sums bigints into 128-bit integers (Arrow decimal128(38, 0)); Athena answers bigint: do the same."""
    for index, duck_type in enumerate(types):
        if duck_type in _WIDE_INTEGERS:
            try:
                table = table.set_column(index, table.field(index).name, pc.cast(table.column(index), pa.int64()))
            except pa.ArrowInvalid:  # a value beyond int64: keep the exact decimal
                continue
    return table
