"""Synthetic playlists with real structure, shared by the recommender tests.

Three taste clusters of 30 tracks each; every playlist draws 8-14 tracks from one cluster (popular tracks of
the cluster more often) plus, sometimes, one track from another cluster. Cluster 0 has the most playlists,
so popularity recommends cluster-0 tracks to everyone while ALS can tell the clusters apart.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from pyspark.sql import functions as F

from musiclake.recommend import fit, split, topk
from musiclake.recommend.fit import AlsParams
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, RANK, SCORE, TRACK_ID, TRACK_IDX, WEIGHT
from musiclake.transforms.ids import assign_indices, with_indices
from musiclake.transforms.interactions import clean_interactions

TRACKS_PER_CLUSTER = 30
PLAYLISTS_PER_CLUSTER = (40, 25, 15)
# small data wants a small model; the job's defaults are for real playlist data
SMALL_PARAMS = AlsParams(rank=8, reg_param=0.05, alpha=10.0, max_iter=8, seed=1)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def spotify_like_id(text: str) -> str:
    """A deterministic 22-character base62 id, shaped like a Spotify track id."""
    number = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def track_id(cluster: int, position: int) -> str:
    return spotify_like_id(f"track-{cluster}-{position}")


def clustered_rows(seed: int = 7) -> list[tuple[str, str, float]]:
    """(playlist_id, track_id, weight) rows; ``mpd:<c><nnn>`` playlists belong to cluster ``c``."""
    rng = random.Random(seed)
    popularity = [1.0 / (position + 1) ** 0.7 for position in range(TRACKS_PER_CLUSTER)]
    rows = []
    for cluster, n_playlists in enumerate(PLAYLISTS_PER_CLUSTER):
        for number in range(n_playlists):
            playlist = f"mpd:{cluster}{number:03d}"
            chosen: set[int] = set()
            size = rng.randint(8, 14)
            while len(chosen) < size:
                chosen.add(rng.choices(range(TRACKS_PER_CLUSTER), weights=popularity)[0])
            for position in sorted(chosen):
                rows.append((playlist, track_id(cluster, position), 2.0 if rng.random() < 0.05 else 1.0))
            if rng.random() < 0.3:
                other = rng.choice([c for c in range(len(PLAYLISTS_PER_CLUSTER)) if c != cluster])
                rows.append((playlist, track_id(other, rng.randrange(TRACKS_PER_CLUSTER)), 1.0))
    return rows


@pytest.fixture(scope="session")
def raw_interactions(spark):
    """The clustered rows as a string-id DataFrame (``playlist_id, track_id, weight``)."""
    return spark.createDataFrame(clustered_rows(), "playlist_id string, track_id string, weight double")


@pytest.fixture(scope="session")
def interactions(spark, raw_interactions):
    """Indexed interactions ``playlist_idx, track_idx, playlist_id, track_id, weight``, checkpointed."""
    cleaned = clean_interactions(raw_interactions)
    playlist_map = assign_indices(cleaned, PLAYLIST_ID, PLAYLIST_IDX)
    track_map = assign_indices(cleaned, TRACK_ID, TRACK_IDX)
    return cleaned.transform(with_indices(playlist_map, track_map)).checkpoint(eager=True)


@pytest.fixture(scope="session")
def small_params() -> AlsParams:
    return SMALL_PARAMS


@pytest.fixture(scope="session")
def cluster_of_track() -> dict[str, int]:
    """Each synthetic track id's taste cluster."""
    return {track_id(c, p): c for c in range(len(PLAYLISTS_PER_CLUSTER)) for p in range(TRACKS_PER_CLUSTER)}


@pytest.fixture(scope="session")
def clustered_rows_factory():
    """:func:`clustered_rows`, for tests that write the data themselves."""
    return clustered_rows


@pytest.fixture(scope="session")
def train_holdout(interactions):
    """The job's 20 % per-playlist holdout split of the interactions (``playlist_idx, track_idx, weight``)."""
    train, holdout = split.holdout_split(interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT), 0.2, seed=42)
    return train.cache(), holdout.cache()


@pytest.fixture(scope="session")
def model(train_holdout, small_params):
    """ALS fitted once on the training part of :func:`train_holdout` (read-only: no test changes it)."""
    return fit.fit_als(train_holdout[0], small_params)


@pytest.fixture(scope="session")
def seen(train_holdout):
    """:func:`~musiclake.recommend.topk.seen_lists` of the training part."""
    return topk.seen_lists(train_holdout[0]).cache()


def _assert_ranked_lists_without_seen(recommendations, train, k: int, n_playlists: int) -> None:
    assert recommendations.join(train, on=[PLAYLIST_IDX, TRACK_IDX], how="inner").count() == 0
    shape = recommendations.groupBy(PLAYLIST_IDX).agg(
        F.count(F.lit(1)).alias("n"), F.countDistinct(TRACK_IDX).alias("tracks"),
        F.min(RANK).alias("first"), F.max(RANK).alias("last"),
    )
    assert shape.count() == n_playlists
    assert shape.where((F.col("n") != k) | (F.col("tracks") != k) | (F.col("first") != 1) | (F.col("last") != k))\
        .count() == 0
    by_rank = recommendations.orderBy(PLAYLIST_IDX, RANK).collect()
    for before, after in zip(by_rank, by_rank[1:], strict=False):
        if before[PLAYLIST_IDX] == after[PLAYLIST_IDX]:
            assert before[SCORE] >= after[SCORE]


@pytest.fixture(scope="session")
def assert_ranked_lists_without_seen():
    """``check(recommendations, train, k, n_playlists)``: every playlist has exactly ``k`` distinct tracks ranked
    1..k by descending score, none of them in its ``train`` tracks."""
    return _assert_ranked_lists_without_seen
