"""The ``musiclake`` command line: one argparse app, one module per subcommand.

A subcommand lives in its own module, which exposes ``register(subparsers, common)``: it adds its parser
(with ``parents=[common]`` for the shared options) and sets ``handler``, a function ``Namespace -> int`` (the
exit status). To add a command (``query``, ``report``, ...) write such a module and list it in
:data:`SUBCOMMANDS`; modules are imported when the parser is built, so keep heavy imports (pyspark) inside
the handler.

Environment (read here, at the edge): ``MUSICLAKE_LAKE_PATH`` is the default ``--lake_path`` (else
``$MUSICLAKE_HOME/lake``, ``MUSICLAKE_HOME`` defaulting to ``./.musiclake`` as in the runtime).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

import musiclake
from musiclake.runtime import musiclake_home

SUBCOMMANDS: tuple[str, ...] = ("musiclake.recommend.command", "musiclake.serve.command",
                                 "musiclake.query.command", "musiclake.report.command")


def default_lake_path() -> str:
    """``$MUSICLAKE_LAKE_PATH``, else ``$MUSICLAKE_HOME/lake`` (``./.musiclake/lake``)."""
    return os.environ.get("MUSICLAKE_LAKE_PATH") or str(musiclake_home() / "lake")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="musiclake", description="Spotify-data lake and music recommender.")
    parser.add_argument("--version", action="version", version=f"musiclake {musiclake.__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--lake_path", "--lake-path", dest="lake_path", default=default_lake_path(), metavar="URI",
        help="lake root, local folder or s3://bucket/prefix (default: %(default)s)",
    )
    common.add_argument("--verbose", "-v", action="store_true", help="log progress on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMANDS:
        importlib.import_module(module_name).register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``musiclake`` console script; returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
