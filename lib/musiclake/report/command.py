"""``musiclake report``: write a self-contained HTML report of the lake and print its path.

Examples
--------
``musiclake report --out .musiclake/demo/report --lake_path .musiclake/demo/lake``
    Playlist lengths, top tracks/artists/albums, the popularity long tail, artist diversity, catalog growth,
    pipeline health and recommender quality, in ``.musiclake/demo/report/report.html``.
"""

from __future__ import annotations

import argparse
import sys

from musiclake.runtime import musiclake_home

NAME = "report"


def default_out() -> str:
    """``$MUSICLAKE_HOME/report`` (``./.musiclake/report``)."""
    return str(musiclake_home() / "report")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``report`` to the ``musiclake`` parser."""
    parser = subparsers.add_parser(
        NAME,
        parents=[common],
        help="write an HTML report of the lake (charts of the analytics queries)",
        description="Run the packaged analytics queries (lib/musiclake/sql) on the lake with the embedded engine "
        "(no Spark, no AWS) and write a self-contained HTML report: one file, charts inlined, viewable offline.",
    )
    parser.add_argument("--out", metavar="DIR", default=default_out(),
                        help="folder to write report.html to (default: %(default)s)")
    parser.add_argument("--title", default="musiclake report", help="the report's title (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the report; print its path (exit 0), or why it could not be built (exit 1)."""
    from musiclake.query.errors import QueryError
    from musiclake.report.build import build_report

    try:
        path = build_report(args.lake_path, args.out, title=args.title)
    except QueryError as error:
        print(f"musiclake report: {error}", file=sys.stderr)
        return 1
    print(f"report: {path.resolve()}")
    return 0
