"""``musiclake-sim``: the local stand-ins for Spotify and the MPD (demo, tests, benchmarks; never shipped).

Subcommands::

    musiclake-sim spotify --port 0 --url-file /tmp/fake.url      # a local Spotify Web API until interrupted
    musiclake-sim generate-mpd --out /tmp/mpd --playlists 10000  # synthetic MPD slices, seeded

Exit codes: 0 done, 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from musiclake_sim import __version__, fake_server


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``musiclake-sim`` with its subcommands ``spotify`` and ``generate-mpd``."""
    parser = argparse.ArgumentParser(
        prog="musiclake-sim",
        description="Local stand-ins for the Spotify Web API and the Million Playlist Dataset (seeded, synthetic).",
    )
    parser.add_argument("--version", action="version", version=f"musiclake-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    spotify = sub.add_parser(
        "spotify",
        help="serve a local Spotify Web API (2026 semantics, synthetic catalog) until interrupted",
        description=(fake_server.__doc__ or "").split("\n\n")[0],
    )
    fake_server.add_arguments(spotify)
    spotify.set_defaults(handler=fake_server.serve)

    gen = sub.add_parser(
        "generate-mpd", help="write synthetic MPD-format slices at any scale, slice by slice (seeded)"
    )
    gen.add_argument("--out", required=True, help="folder to write mpd.slice.*.json into")
    gen.add_argument("--playlists", type=int, default=10_000)
    gen.add_argument("--tracks", type=int, default=None, help="catalog tracks (default: 2 x playlists)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--per-slice", type=int, default=1000, help="playlists per slice file (default: 1000)")
    gen.set_defaults(handler=generate_mpd)
    return parser


def generate_mpd(args: argparse.Namespace) -> int:
    """Handler of ``musiclake-sim generate-mpd``: write the slices, print a one-line summary."""
    from musiclake_sim.synthetic_mpd import write_synthetic_mpd

    stats = write_synthetic_mpd(args.out, args.playlists, args.tracks, args.seed, args.per_slice)
    print(
        f"wrote {len(stats.files)} slice file(s) with {stats.playlists} playlists and {stats.items} items "
        f"to {args.out} in {stats.seconds:.1f}s"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``musiclake-sim`` console script; returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
