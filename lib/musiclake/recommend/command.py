"""``musiclake recommend``: print recommendations for a known playlist or for seed tracks.

Examples
--------
``musiclake recommend --playlist mpd:123 --k 20``
    The playlist's precomputed list from the latest model.
``musiclake recommend --tracks 4uLU6hMCjMI75M1A2tKUQC,spotify:track:7GhIk7Il098yCjg4BQjzvb``
    A new playlist folded into the trained item factors (no retraining).
"""

from __future__ import annotations

import argparse
import sys

NAME = "recommend"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``recommend`` to the ``musiclake`` parser."""
    parser = subparsers.add_parser(
        NAME,
        parents=[common],
        help="recommend tracks for a playlist or seed tracks",
        description="Recommend tracks with the latest trained ALS model. Unknown playlists and seeds the model "
        "does not know fall back to the most popular tracks (the output says so).",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--playlist", metavar="ID", help="a playlist id the model was trained on (e.g. mpd:123)")
    target.add_argument(
        "--tracks", metavar="ID,ID,...",
        help="seed tracks of a new playlist: Spotify track ids, spotify:track: URIs or open.spotify.com links",
    )
    parser.add_argument("--k", type=_positive, default=20, help="number of tracks (default: %(default)s)")
    parser.add_argument("--model", metavar="URI", help="a model folder models/als/v=... (default: the latest)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Open the model, serve the list, print it with track names and artists."""
    from musiclake import runtime
    from musiclake.recommend import serve

    spark = runtime.local_spark_session(app_name="musiclake-recommend")
    try:
        model = serve.open_model(spark, args.lake_path, args.model)
    except FileNotFoundError as exc:
        print(f"musiclake recommend: {exc}", file=sys.stderr)
        return 1
    if args.playlist is not None:
        served = serve.for_playlist(model, args.playlist, args.k)
    else:
        served = serve.for_tracks(model, serve.parse_track_ids(args.tracks), args.k)
    print(serve.format_served(serve.with_names(model, served)))
    return 0
