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


# ---- agreement with Spark's own RankingEvaluator (pyspark.ml.evaluation) ------------------------------------------

EVALUATOR_METRICS = {  # RankingEvaluator metricName -> our metric at the same k
    "precisionAtK": metrics.precision_at_k,
    "recallAtK": metrics.recall_at_k,
    "ndcgAtK": metrics.ndcg_at_k,
    "meanAveragePrecisionAtK": metrics.average_precision_at_k,
}


@pytest.fixture(scope="module")
def random_lists():
    """60 playlists: ranked lists of 0-80 tracks (some shorter than k, one empty) and 1-40 relevant tracks."""
    rng = random.Random(11)
    lists, relevant = {}, {}
    for playlist in range(60):
        length = 0 if playlist == 0 else rng.choice([3, 8, 25, 80])
        lists[playlist] = rng.sample(range(300), length)
        # half the relevant tracks drawn from the list itself, so that hits land at every depth
        from_list = rng.sample(lists[playlist], min(len(lists[playlist]), rng.randint(0, 10)))
        relevant[playlist] = set(from_list) | set(rng.sample(range(300), rng.randint(1, 30)))
    return lists, relevant


def _spark_evaluator(spark, lists, relevant, metric_name: str, k: int | None = None) -> float:
    from pyspark.ml.evaluation import RankingEvaluator

    rows = [([float(t) for t in lists[p]], [float(t) for t in sorted(relevant[p])]) for p in sorted(relevant)]
    frame = spark.createDataFrame(rows, "prediction array<double>, label array<double>")
    evaluator = RankingEvaluator(metricName=metric_name, predictionCol="prediction", labelCol="label")
    if k is not None:
        evaluator.setK(k)
    return evaluator.evaluate(frame)


def _mean_of(function, lists, relevant, k: int) -> float:
    return math.fsum(function(lists[p], relevant[p], k) for p in relevant) / len(relevant)


EXACT = {"rel": 1e-12, "abs": 1e-15}  # the same sums in another order: equal up to float rounding


@pytest.mark.parametrize("k", [1, 5, 10, 50])
def test_pure_metrics_equal_sparks_ranking_evaluator(spark, random_lists, k):
    lists, relevant = random_lists
    for metric_name, ours in EVALUATOR_METRICS.items():
        expected = _spark_evaluator(spark, lists, relevant, metric_name, k)
        assert _mean_of(ours, lists, relevant, k) == pytest.approx(expected, **EXACT), (metric_name, k)


def test_spark_ranking_metrics_equal_sparks_ranking_evaluator(spark, random_lists):
    lists, relevant = random_lists
    recommendations = spark.createDataFrame(_rows(lists), "playlist_idx int, track_idx int, rank int")
    holdout = spark.createDataFrame(
        [(p, t) for p, tracks in relevant.items() for t in tracks], "playlist_idx int, track_idx int"
    )

    ours = metrics.ranking_metrics(recommendations, holdout, k=10, n=50)

    assert ours["n_playlists"] == 60  # the playlist without recommendations counts, as a row with [] does there
    assert ours["precision_at_10"] == pytest.approx(_spark_evaluator(spark, lists, relevant, "precisionAtK", 10),
                                                    **EXACT)
    assert ours["recall_at_10"] == pytest.approx(_spark_evaluator(spark, lists, relevant, "recallAtK", 10), **EXACT)
    assert ours["ndcg_at_10"] == pytest.approx(_spark_evaluator(spark, lists, relevant, "ndcgAtK", 10), **EXACT)
    assert ours["map_at_10"] == pytest.approx(
        _spark_evaluator(spark, lists, relevant, "meanAveragePrecisionAtK", 10), **EXACT)
    assert ours["ndcg_at_50"] == pytest.approx(_spark_evaluator(spark, lists, relevant, "ndcgAtK", 50), **EXACT)


def test_map_normalisation_matches_spark_with_and_without_a_cutoff(spark, random_lists):
    """AP@k divides by min(k, |G|) (Spark >= 3.0's meanAveragePrecisionAtK); with k at least as long as every list
    and every relevant set it is Spark's uncut meanAveragePrecision, which divides by |G|."""
    lists, relevant = random_lists
    longest = max(max(len(r) for r in relevant.values()), max(len(x) for x in lists.values()))

    uncut = _spark_evaluator(spark, lists, relevant, "meanAveragePrecision")

    assert _mean_of(metrics.average_precision_at_k, lists, relevant, longest) == pytest.approx(uncut, **EXACT)


def test_r_precision_is_sparks_precision_at_the_number_of_relevant_tracks(spark):
    """R-precision = precision@|G|: per group of playlists with the same |G|, RankingEvaluator's precisionAtK."""
    rng = random.Random(3)
    lists = {p: rng.sample(range(100), 40) for p in range(45)}
    relevant = {p: set(rng.sample(lists[p], 2)) | set(rng.sample(range(100), 4 * (p % 3) + 1)) for p in lists}
    by_size: dict[int, list[int]] = {}
    for playlist, tracks in relevant.items():
        by_size.setdefault(len(tracks), []).append(playlist)

    total = 0.0
    for size, playlists in by_size.items():
        group = {p: relevant[p] for p in playlists}
        total += _spark_evaluator(spark, lists, group, "precisionAtK", size) * len(playlists)

    ours = math.fsum(metrics.r_precision(lists[p], relevant[p]) for p in relevant) / len(relevant)
    assert ours == pytest.approx(total / len(relevant), **EXACT)


# ---- the RecSys Challenge 2018 metrics on a hand-worked example --------------------------------------------------

def test_challenge_metrics_on_a_hand_worked_example(spark):
    """Three new playlists, lists of n = 30 (the challenge uses 500; the definitions do not depend on it).

    Playlist 1: G = {1, 2, 3, 4} (|G| = 4); list 9, 2, 8, 1, 3, then filler.
        R-precision: the top |G| = 4 (9, 2, 8, 1) hold 2 and 1 -> 2 / 4 = 0.5 (3 at rank 5 is past |G|).
        clicks: the first relevant track is at rank 2 -> floor((2 - 1) / 10) = 0.
        NDCG@30: DCG = 1/log2(3) + 1/log2(5) + 1/log2(6) = 0.63093 + 0.43068 + 0.38685 = 1.44846;
                 IDCG = 1 + 1/log2(3) + 1/log2(4) + 1/log2(5) = 1 + 0.63093 + 0.5 + 0.43068 = 2.56161;
                 NDCG = 1.44846 / 2.56161 = 0.56545.
    Playlist 2: G = {5, 6}; list: 20 non-relevant tracks, then 6 at rank 21 and 5 at rank 23.
        R-precision: nothing relevant in the top 2 -> 0.
        clicks: floor((21 - 1) / 10) = 2 (two refreshes of 10 before the page that shows track 6).
        NDCG@30: (1/log2(22) + 1/log2(24)) / (1 + 1/log2(3)) = (0.22424 + 0.21810) / 1.63093 = 0.27122.
    Playlist 3: G = {7}; none of the 30 is relevant -> R-precision 0, NDCG 0, clicks = 30 // 10 + 1 = 4
        (the challenge's 51 for n = 500).
    Means: R-precision 0.5 / 3 = 0.16667; NDCG@30 (0.56545 + 0.27122 + 0) / 3 = 0.27889; clicks 6 / 3 = 2.0.
    """
    filler = [100 + i for i in range(40)]
    lists = {1: [9, 2, 8, 1, 3, *filler[:25]], 2: [*filler[:20], 6, 40, 5, *filler[20:27]], 3: filler[:30]}
    relevant = {1: {1, 2, 3, 4}, 2: {5, 6}, 3: {7}}
    n = 30

    assert metrics.r_precision(lists[1], relevant[1]) == pytest.approx(0.5)
    assert metrics.clicks(lists[1], relevant[1], n) == 0.0
    assert metrics.ndcg_at_k(lists[1], relevant[1], n) == pytest.approx(1.44846 / 2.56161, abs=1e-5)
    assert metrics.r_precision(lists[2], relevant[2]) == 0.0
    assert metrics.clicks(lists[2], relevant[2], n) == 2.0
    assert metrics.ndcg_at_k(lists[2], relevant[2], n) == pytest.approx(0.27122, abs=1e-5)
    assert metrics.clicks(lists[3], relevant[3], n) == 4.0
    assert metrics.clicks(lists[3], relevant[3]) == 51.0  # n = 500: 500 // 10 + 1

    recommendations = spark.createDataFrame(_rows(lists), "playlist_idx int, track_idx int, rank int")
    holdout = spark.createDataFrame([(p, t) for p, g in relevant.items() for t in g], "playlist_idx int, track_idx int")
    means = metrics.ranking_metrics(recommendations, holdout, k=10, n=n)
    assert means["r_precision"] == pytest.approx(0.5 / 3)
    assert means[f"ndcg_at_{n}"] == pytest.approx((0.56545 + 0.27122) / 3, abs=1e-5)
    assert means["clicks"] == pytest.approx(2.0)
