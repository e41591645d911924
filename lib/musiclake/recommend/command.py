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

from musiclake.serve.command import positive, run_recommend

NAME = "recommend"


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
    parser.add_argument("--k", type=positive, default=20, help="number of tracks (default: %(default)s)")
    parser.add_argument("--model", metavar="URI", help="a model folder models/als/v=... (default: the latest)")
    parser.set_defaults(handler=run_recommend)  # the read path: numpy and delta-rs, no JVM
