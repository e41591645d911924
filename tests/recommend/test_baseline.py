"""The popularity baseline: the most popular unseen tracks, and clearly beaten by ALS on clustered playlists."""

from __future__ import annotations

from musiclake.recommend import baseline, metrics, topk
from musiclake.schemas import PLAYLIST_IDX, RANK, SCORE, TRACK_IDX


def test_popularity_baseline_recommends_the_most_popular_unseen_tracks(spark):
    train = spark.createDataFrame(
        [(0, 1, 1.0), (1, 1, 1.0), (2, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (2, 3, 1.0), (1, 4, 1.0)],
        "playlist_idx int, track_idx int, weight double",
    )

    recommendations = baseline.recommend_popular(baseline.popularity(train), topk.seen_lists(train), k=2)

    lists = {}
    for row in recommendations.orderBy(PLAYLIST_IDX, RANK).collect():
        lists.setdefault(row[PLAYLIST_IDX], []).append((row[TRACK_IDX], row[SCORE]))
    # popularity: 1 -> 3 playlists, 2 -> 2, 3 and 4 -> 1 (tie broken by the lower index)
    assert lists == {0: [(3, 1.0), (4, 1.0)], 1: [(3, 1.0)], 2: [(2, 2.0), (4, 1.0)]}


def test_popularity_baseline_lists_are_complete_and_exclude_seen_tracks(
    train_holdout, seen, assert_ranked_lists_without_seen
):
    train, holdout = train_holdout
    n_playlists = holdout.select(PLAYLIST_IDX).distinct().count()

    recommendations = baseline.recommend_popular(baseline.popularity(train), seen, k=25, playlists=holdout)

    assert_ranked_lists_without_seen(recommendations, train, 25, n_playlists)


def test_als_beats_popularity_clearly_on_clustered_playlists(model, seen, train_holdout):
    train, holdout = train_holdout

    als_scores = metrics.ranking_metrics(topk.recommend_top_k(model, seen, 500, playlists=holdout), holdout)
    popular_scores = metrics.ranking_metrics(
        baseline.recommend_popular(baseline.popularity(train), seen, 500, playlists=holdout), holdout
    )

    assert als_scores["ndcg_at_10"] > 1.5 * popular_scores["ndcg_at_10"]
    assert als_scores["r_precision"] > 1.5 * popular_scores["r_precision"]
    assert als_scores["clicks"] < popular_scores["clicks"]
