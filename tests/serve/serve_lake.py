"""Hand-made model lakes for the read-path tests, written in the trained layout without Spark.

The writer is bench/serve_bench.py's :func:`write_model` (the bench's synthetic model is the same layout at scale).

``write_tiny_lake`` is a model small enough to check every answer by hand (rank 2, 6 tracks, 4 playlists)::

    track  factors       playlists          playlist  factors      tracks
    t0     ( 1.0, 0.0)   mpd:0, mpd:3       mpd:0     (1.0, 0.0)   t0
    t1     ( 0.9, 0.1)   mpd:3              mpd:1     (0.0, 1.0)   t2, t3
    t2     ( 0.0, 1.0)   mpd:1, mpd:3       mpd:2     (0.5, 0.5)   t4
    t3     ( 0.1, 0.9)   mpd:1, mpd:3       mpd:3     (0.2, 0.2)   t0, t1, t2, t3, t4
    t4     ( 0.5, 0.5)   mpd:2, mpd:3
    t5     (-1.0, 0.0)   -
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import serve_bench  # noqa: E402

TRACKS = [f"t{i}" for i in range(6)]
PLAYLISTS = [f"mpd:{i}" for i in range(4)]
ITEMS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.5, 0.5], [-1.0, 0.0]], dtype=np.float32)
USERS = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.2]], dtype=np.float32)
PAIRS = np.array([[0, 0], [1, 2], [1, 3], [2, 4], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]])
VERSION = "20260101T000000Z"


def write_tiny_lake(lake: Path, *, version: str = VERSION, items: np.ndarray = ITEMS, names: bool = True,
                    latest: bool = True) -> Path:
    """The model of the module docstring under ``lake`` (returns the model folder)."""
    return serve_bench.write_model(
        lake, item_factors=items, user_factors=USERS, pairs=PAIRS, track_ids=TRACKS, playlist_ids=PLAYLISTS,
        track_names=[f"Song {i}" for i in range(len(TRACKS))] if names else None,
        playlist_names=[f"List {i}" for i in range(len(PLAYLISTS))] if names else None,
        version=version, reg_param=0.1, alpha=10.0, latest=latest,
    )


def write_random_lake(lake: Path, playlists: int = 300, tracks: int = 5000, rank: int = 8, seed: int = 3,
                      **kwargs) -> Path:
    """A random model big enough for the grouped candidate search (5000 tracks, 300 playlists)."""
    return serve_bench.random_model(lake, playlists, tracks, rank, per_playlist=12, seed=seed, **kwargs)
