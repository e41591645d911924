"""Ranking metrics against values computed by hand, and the Spark aggregation against the pure functions."""

from __future__ import annotations

import math
import random

import pytest

from musiclake.recommend import metrics

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "d", "z"}  # z is never recommended
LOG3, LOG5 = math.log2(3), math.log2(5)
IDCG_3 = 1 + 1 / LOG3 + 1 / 2  # three relevant tracks at ranks 1, 2, 3


def test_precision_and_recall_at_k_by_hand():
    assert metrics.precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)  # b
    assert metrics.recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)
    assert metrics.precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)  # b, d
    assert metrics.recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)


def test_ndcg_at_k_by_hand():
    assert metrics.ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / LOG3) / IDCG_3)
    assert metrics.ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx((1 / LOG3 + 1 / LOG5) / IDCG_3)
    assert metrics.ndcg_at_k(["b", "d"], {"b", "d"}, 10) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(["x", "b"], {"b"}, 2) == pytest.approx(1 / LOG3)


def test_average_precision_at_k_by_hand():
    # hits at ranks 2 and 4: precision 1/2 and 2/4, divided by min(k, |G|)
    assert metrics.average_precision_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / 2) / 3)
    assert metrics.average_precision_at_k(RANKED, RELEVANT, 5) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert metrics.average_precision_at_k(["b", "x"], {"b", "q", "r"}, 2) == pytest.approx(1 / 2)


def test_r_precision_looks_at_as_many_tracks_as_are_relevant():
    assert metrics.r_precision(RANKED, RELEVANT) == pytest.approx(1 / 3)  # top 3 hold b
    assert metrics.r_precision(["d", "b", "x"], {"b", "d"}) == pytest.approx(1.0)


def test_clicks_counts_pages_of_ten_before_the_first_relevant_track():
    filler = [f"x{i}" for i in range(30)]
    assert metrics.clicks(RANKED, RELEVANT) == 0.0
    assert metrics.clicks([*filler[:9], "b"], {"b"}) == 0.0  # rank 10: first page
    assert metrics.clicks([*filler[:10], "b"], {"b"}) == 1.0  # rank 11: one refresh
    assert metrics.clicks(filler, {"b"}) == 51.0
    assert metrics.clicks(filler, {"b"}, n=20) == 3.0


def _rows(lists: dict[int, list[int]]) -> list[tuple[int, int, int]]:
    return [(p, t, rank) for p, ranked in lists.items() for rank, t in enumerate(ranked, start=1)]


def test_spark_metrics_match_the_hand_computed_ones(spark):
    # playlist 1 is the example above (a..e -> 1..5, z -> 99); playlist 2 has no recommendations at all
    recommendations = spark.createDataFrame(_rows({1: [1, 2, 3, 4, 5]}), "playlist_idx int, track_idx int, rank int")
    holdout = spark.createDataFrame([(1, 2), (1, 4), (1, 99), (2, 7)], "playlist_idx int, track_idx int")

    per_playlist = {
        row["playlist_idx"]: row.asDict()
        for row in metrics.per_playlist_metrics(recommendations, holdout, k=3, n=5).collect()
    }

    first = per_playlist[1]
    assert first["n_relevant"] == 3
    assert first["precision_at_3"] == pytest.approx(1 / 3)
    assert first["recall_at_3"] == pytest.approx(1 / 3)
    assert first["ndcg_at_3"] == pytest.approx((1 / LOG3) / IDCG_3)
    assert first["map_at_3"] == pytest.approx((1 / 2) / 3)
    assert first["r_precision"] == pytest.approx(1 / 3)
    assert first["ndcg_at_5"] == pytest.approx((1 / LOG3 + 1 / LOG5) / IDCG_3)
    assert first["clicks"] == 0.0
    assert per_playlist[2] == {
        "playlist_idx": 2, "n_relevant": 1, "precision_at_3": 0.0, "recall_at_3": 0.0, "ndcg_at_3": 0.0,
        "map_at_3": 0.0, "r_precision": 0.0, "ndcg_at_5": 0.0, "clicks": 1.0,  # n // 10 + 1
    }


def test_spark_metrics_equal_the_pure_functions_on_random_lists(spark):
    rng = random.Random(5)
    lists, relevant = {}, {}
    for playlist in range(30):
        lists[playlist] = rng.sample(range(200), 60)
        relevant[playlist] = set(rng.sample(range(200), rng.randint(1, 40)))
    recommendations = spark.createDataFrame(_rows(lists), "playlist_idx int, track_idx int, rank int")
    holdout = spark.createDataFrame(
        [(p, t) for p, tracks in relevant.items() for t in tracks], "playlist_idx int, track_idx int"
    )

    means = metrics.ranking_metrics(recommendations, holdout, k=10, n=50)

    expected = {name: 0.0 for name in metrics.metric_names(10, 50)}
    for playlist, ranked in lists.items():
        for name, value in metrics.playlist_metrics(ranked, relevant[playlist], 10, 50).items():
            expected[name] += value / len(lists)
    assert means["n_playlists"] == 30
    for name, value in expected.items():
        assert means[name] == pytest.approx(value), name
