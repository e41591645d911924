"""ALS fitting, top-k without seen tracks, the popularity baseline, similar tracks and the item Gram matrix."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from musiclake.recommend import als, metrics, split
from musiclake.recommend.tables import PLAYLIST_IDX, RANK, SCORE, TRACK_ID, TRACK_IDX, WEIGHT


@pytest.fixture(scope="module")
def train_holdout(interactions):
    train, holdout = split.holdout_split(interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT), 0.2, seed=42)
    return train.cache(), holdout.cache()


@pytest.fixture(scope="module")
def model(train_holdout, small_params):
    return als.fit_als(train_holdout[0], small_params)


@pytest.fixture(scope="module")
def seen(train_holdout):
    return als.seen_lists(train_holdout[0]).cache()


def _cluster_of(interactions, cluster_of_track) -> dict[int, int]:
    rows = interactions.select(TRACK_IDX, TRACK_ID).distinct().collect()
    return {row[TRACK_IDX]: cluster_of_track[row[TRACK_ID]] for row in rows}


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


def test_als_recommendations_never_include_a_playlists_own_tracks(model, seen, train_holdout):
    train, _ = train_holdout
    n_playlists = train.select(PLAYLIST_IDX).distinct().count()

    recommendations = als.recommend_top_k(model, seen, k=20)

    _assert_ranked_lists_without_seen(recommendations, train, 20, n_playlists)


def test_top_k_gets_enough_candidates_for_playlists_longer_than_the_smallest_bucket(spark, model):
    # one playlist that already has 40 tracks (> MIN_SEEN_BUCKET): it still gets k unseen tracks
    rows = [(0, t, 1.0) for t in range(40)]
    long_playlist = spark.createDataFrame(rows, "playlist_idx int, track_idx int, weight double")

    recommendations = als.recommend_top_k(model, als.seen_lists(long_playlist), k=30)

    _assert_ranked_lists_without_seen(recommendations, long_playlist, 30, 1)


def test_blockified_top_k_for_large_catalogs_gives_the_same_lists_as_the_numpy_path(model, seen, train_holdout):
    # recommend_top_k takes the Spark path only above MAX_BROADCAST_FACTORS; both must agree on the lists
    train, _ = train_holdout
    n_playlists = train.select(PLAYLIST_IDX).distinct().count()

    blockified = als.recommend_top_k_blockified(model, seen, 20)
    broadcast = als.recommend_top_k(model, seen, 20)

    _assert_ranked_lists_without_seen(blockified, train, 20, n_playlists)
    tracks = {(r[PLAYLIST_IDX], r[TRACK_IDX]): r[SCORE] for r in blockified.collect()}
    expected = {(r[PLAYLIST_IDX], r[TRACK_IDX]): r[SCORE] for r in broadcast.collect()}
    assert tracks.keys() == expected.keys()
    assert all(abs(tracks[key] - expected[key]) < 1e-4 for key in tracks)


def test_popularity_baseline_recommends_the_most_popular_unseen_tracks(spark):
    train = spark.createDataFrame(
        [(0, 1, 1.0), (1, 1, 1.0), (2, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (2, 3, 1.0), (1, 4, 1.0)],
        "playlist_idx int, track_idx int, weight double",
    )

    recommendations = als.recommend_popular(als.popularity(train), als.seen_lists(train), k=2)

    lists = {}
    for row in recommendations.orderBy(PLAYLIST_IDX, RANK).collect():
        lists.setdefault(row[PLAYLIST_IDX], []).append((row[TRACK_IDX], row[SCORE]))
    # popularity: 1 -> 3 playlists, 2 -> 2, 3 and 4 -> 1 (tie broken by the lower index)
    assert lists == {0: [(3, 1.0), (4, 1.0)], 1: [(3, 1.0)], 2: [(2, 2.0), (4, 1.0)]}


def test_popularity_baseline_lists_are_complete_and_exclude_seen_tracks(interactions, train_holdout, seen):
    train, holdout = train_holdout
    n_playlists = holdout.select(PLAYLIST_IDX).distinct().count()

    recommendations = als.recommend_popular(als.popularity(train), seen, k=25, playlists=holdout)

    _assert_ranked_lists_without_seen(recommendations, train, 25, n_playlists)


def test_als_beats_popularity_clearly_on_clustered_playlists(model, seen, train_holdout):
    train, holdout = train_holdout

    als_scores = metrics.ranking_metrics(als.recommend_top_k(model, seen, 500, playlists=holdout), holdout)
    popular_scores = metrics.ranking_metrics(
        als.recommend_popular(als.popularity(train), seen, 500, playlists=holdout), holdout
    )

    assert als_scores["ndcg_at_10"] > 1.5 * popular_scores["ndcg_at_10"]
    assert als_scores["r_precision"] > 1.5 * popular_scores["r_precision"]
    assert als_scores["clicks"] < popular_scores["clicks"]


def test_similar_tracks_come_from_the_same_taste_cluster(interactions, model, cluster_of_track):
    cluster = _cluster_of(interactions, cluster_of_track)

    similar = als.similar_tracks(model, k=5).collect()

    same = [cluster[row[TRACK_IDX]] == cluster[row["similar_track_idx"]] for row in similar]
    assert all(row[TRACK_IDX] != row["similar_track_idx"] for row in similar)
    assert all(-1.0 - 1e-6 <= row["similarity"] <= 1.0 + 1e-6 for row in similar)
    assert sum(same) / len(same) > 0.8


def test_item_gram_is_the_item_factor_gramian(model):
    factors = np.array([row["features"] for row in model.itemFactors.collect()], dtype=np.float64)

    np.testing.assert_allclose(als.item_gram(model), factors.T @ factors, rtol=1e-9, atol=1e-9)


def test_fit_refuses_to_run_without_a_checkpoint_directory(spark, monkeypatch, train_holdout, small_params):
    monkeypatch.setattr(spark.sparkContext, "getCheckpointDir", lambda: None)

    with pytest.raises(als.CheckpointDirMissingError, match="setCheckpointDir"):
        als.fit_als(train_holdout[0], small_params)


def test_num_blocks_follow_the_data_size_up_to_the_default_parallelism(spark):
    parallelism = spark.sparkContext.defaultParallelism

    assert als.num_blocks_for(spark, 1_000) == min(als.MIN_BLOCKS, parallelism)
    assert als.num_blocks_for(spark, 10**9) == parallelism
