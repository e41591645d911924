"""``musiclake query``: Athena SQL on the lake - embedded locally (DuckDB over Delta, no Spark) or on Athena.

Environment (read here, at the edge): ``MUSICLAKE_RAW_PATH`` (default ``--raw_path``),
``MUSICLAKE_ATHENA_WORKGROUP``, ``MUSICLAKE_ATHENA_DATABASE`` (default ``musiclake``) and
``MUSICLAKE_ATHENA_OUTPUT`` (defaults of ``--workgroup``, ``--database``, ``--output_location``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from musiclake.query import FORMATS
from musiclake.query.errors import QueryError


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "query",
        parents=[common],
        help="run Athena SQL on the lake (embedded locally, or on Athena with --athena)",
        description=(
            "Run Athena (Trino) SQL on the curated and recommendation tables and on the raw landing zone "
            "(table raw). Locally the SQL is transpiled to DuckDB and runs over the Delta tables, with no Spark "
            "and no AWS account; with --athena the same SQL runs on Amazon Athena."
        ),
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("sql", nargs="?", help="the SQL (Athena dialect); several statements: the last one's rows")
    what.add_argument("--file", "-f", metavar="FILE", help="read the SQL from a file ('-' for standard input)")
    what.add_argument("--query", "-q", metavar="NAME", help="run a packaged analytics query (see --list_queries)")
    what.add_argument("--list_queries", "--list-queries", action="store_true", help="list the packaged queries")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument(
        "--max_rows", "--max-rows", "--limit", dest="max_rows", type=int, default=None, metavar="N",
        help="rows to print (default: 100 for table, all for csv/json)",
    )
    parser.add_argument(
        "--raw_path", "--raw-path", dest="raw_path", default=os.environ.get("MUSICLAKE_RAW_PATH"), metavar="URI",
        help="landing zone queried as table raw (default: the landing folder next to a local lake)",
    )
    parser.add_argument("--show_sql", "--show-sql", action="store_true",
                        help="print the DuckDB SQL the query is transpiled to (on stderr)")
    athena = parser.add_argument_group("Athena (with --athena)")
    athena.add_argument("--athena", action="store_true", help="run on Amazon Athena instead of locally")
    athena.add_argument("--workgroup", default=os.environ.get("MUSICLAKE_ATHENA_WORKGROUP"),
                        help="Athena workgroup (env MUSICLAKE_ATHENA_WORKGROUP; default: primary)")
    athena.add_argument("--database", default=os.environ.get("MUSICLAKE_ATHENA_DATABASE", "musiclake"),
                        help="Glue database (env MUSICLAKE_ATHENA_DATABASE; default: %(default)s)")
    athena.add_argument("--output_location", "--output-location", dest="output_location",
                        default=os.environ.get("MUSICLAKE_ATHENA_OUTPUT"), metavar="S3_URI",
                        help="s3:// prefix for results (env MUSICLAKE_ATHENA_OUTPUT; default: the workgroup's)")
    athena.add_argument("--region", default=None, help="AWS region (default: from the AWS configuration)")
    athena.add_argument("--timeout", type=float, default=900.0, help="seconds before the query is cancelled")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the SQL, run it on the chosen engine, print the result; one ``error:`` line on failure."""
    from musiclake.query import sql_files

    if args.list_queries:
        print("\n".join(sql_files.list_queries()))
        return 0
    try:
        sql = _read_sql(args, sql_files)
    except (KeyError, OSError) as error:
        return _fail(error.args[0] if isinstance(error, KeyError) else f"cannot read --file {args.file}: {error}", 2)
    try:
        result = _execute(args, sql)
    except ImportError as error:
        return _fail(f"musiclake query needs the 'query' extra ({error.name} is missing): "
                     "pip install 'musiclake[query]'", 2)
    except QueryError as error:
        return _fail(str(error), 1)
    from musiclake.query.output import render

    try:
        sys.stdout.write(render(result, args.format, args.max_rows))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: the reader has what it wanted
        sys.stderr.close()
    return 0


def _read_sql(args: argparse.Namespace, sql_files) -> str:
    if args.query:
        return sql_files.load_query(args.query)
    if args.file:
        return sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    return args.sql


def _execute(args: argparse.Namespace, sql: str):
    if args.athena:
        from musiclake.query.athena import AthenaEngine

        engine = AthenaEngine(args.workgroup, args.database, args.output_location, region=args.region,
                              timeout=args.timeout)
        return engine.execute(sql)
    from musiclake.query.engine import LocalEngine

    with LocalEngine(args.lake_path, args.raw_path) as engine:
        if args.show_sql:
            print(engine.transpile(sql), file=sys.stderr)
        return engine.execute(sql)


def _fail(message: str, status: int) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return status
