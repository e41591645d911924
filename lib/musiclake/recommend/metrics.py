r"""Ranking metrics for playlist continuation, as pure Python functions and as one Spark aggregation.

For a playlist, ``G`` is the set of its held-out (relevant) tracks and ``R = r_1, r_2, ...`` the ranked
recommendations, which never contain a track the model saw in the playlist. ``rel_i = 1`` if ``r_i`` is in
``G``, else 0. Every metric is computed per playlist and averaged over the playlists that have held-out
tracks; a playlist without recommendations scores 0 (clicks: 51).

* ``precision@K = sum_{i<=K} rel_i / K``
* ``recall@K = sum_{i<=K} rel_i / |G|``
* ``NDCG@K = DCG@K / IDCG@K`` with ``DCG@K = sum_{i<=K} rel_i / log2(i + 1)`` and
  ``IDCG@K = sum_{i<=min(K, |G|)} 1 / log2(i + 1)`` (the DCG of a perfect list)
* ``MAP@K``: mean of ``AP@K = sum_{i<=K} precision@i * rel_i / min(K, |G|)`` (as Spark's RankingMetrics)
* RecSys Challenge 2018 (Spotify's reference code, track level, lists capped at N = 500):
  ``R-precision = |G ∩ R[:|G|]| / |G|``; ``NDCG@500`` as above with K = 500;
  ``clicks = floor((i* - 1) / 10)`` for ``i*`` the rank of the first relevant track in the 500, else 51.

Clicks is the only metric where lower is better. The challenge also gives artist matches partial credit in
R-precision; this module scores exact tracks only (the track-level variant the project's RecSys notes define).

precision/recall/NDCG/MAP@K are Spark's ``pyspark.ml.evaluation.RankingEvaluator`` metrics ``precisionAtK``,
``recallAtK``, ``ndcgAtK`` and ``meanAveragePrecisionAtK`` (Spark >= 3.0 normalisation ``min(K, |G|)``), and
R-precision is its ``precisionAtK`` at ``K = |G|``; ``tests/recommend/test_metrics.py`` holds them equal.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from musiclake.schemas import PLAYLIST_IDX, RANK, TRACK_IDX

CHALLENGE_LIST_LENGTH = 500
CLICKS_PAGE = 10


def metric_names(k: int = 10, n: int = CHALLENGE_LIST_LENGTH) -> tuple[str, ...]:
    """Names of the metrics :func:`ranking_metrics` reports, in display order."""
    return (f"precision_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}", f"map_at_{k}", "r_precision", f"ndcg_at_{n}",
            "clicks")


def metric_cutoffs(k: int = 10, n: int = CHALLENGE_LIST_LENGTH) -> dict[str, int]:
    """The list length each metric looks at (``k`` of the evaluations table)."""
    return dict(zip(metric_names(k, n), (k, k, k, k, n, n, n), strict=True))


# ---- pure reference implementations (one playlist) -------------------------------------------------------

def precision_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Share of the top ``k`` recommendations that are relevant (the denominator is always ``k``)."""
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Share of the relevant tracks found in the top ``k``."""
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def _ideal_dcg(n_relevant: int, k: int) -> float:
    return sum(1.0 / math.log2(i + 1) for i in range(1, min(k, n_relevant) + 1))


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """DCG of the top ``k`` divided by the DCG of a perfect top ``k`` (gain 1 per relevant track)."""
    dcg = sum(1.0 / math.log2(i + 1) for i, item in enumerate(ranked[:k], start=1) if item in relevant)
    return dcg / _ideal_dcg(len(relevant), k)


def average_precision_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Mean of precision@i over the ranks i <= k that hold a relevant track, divided by ``min(k, |G|)``."""
    hits, total = 0, 0.0
    for i, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / i
    return total / min(k, len(relevant))


def r_precision(ranked: Sequence[Hashable], relevant: Collection[Hashable]) -> float:
    """Share of the relevant tracks found in the top ``|G|`` (precision at the number of relevant tracks)."""
    return sum(1 for item in ranked[: len(relevant)] if item in relevant) / len(relevant)


def clicks(ranked: Sequence[Hashable], relevant: Collection[Hashable], n: int = CHALLENGE_LIST_LENGTH) -> float:
    """Pages of 10 a listener refreshes before a relevant track shows; ``n / 10 + 1`` (51) if none in ``n``."""
    for i, item in enumerate(ranked[:n], start=1):
        if item in relevant:
            return float((i - 1) // CLICKS_PAGE)
    return float(n // CLICKS_PAGE + 1)


def playlist_metrics(
    ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10, n: int = CHALLENGE_LIST_LENGTH
) -> dict[str, float]:
    """All metrics of :func:`metric_names` for one playlist (the reference for :func:`ranking_metrics`)."""
    values = (
        precision_at_k(ranked, relevant, k),
        recall_at_k(ranked, relevant, k),
        ndcg_at_k(ranked, relevant, k),
        average_precision_at_k(ranked, relevant, k),
        r_precision(ranked[:n], relevant),
        ndcg_at_k(ranked, relevant, n),
        clicks(ranked, relevant, n),
    )
    return dict(zip(metric_names(k, n), values, strict=True))


# ---- the same metrics over DataFrames ---------------------------------------------------------------------

def _discount(rank: Column) -> Column:
    return F.lit(1.0) / F.log2(rank.cast("double") + F.lit(1.0))


def _ideal_dcg_column(n_relevant: Column, k: int) -> Column:
    positions = F.sequence(F.lit(1), F.least(n_relevant, F.lit(k)).cast("int"))
    return F.aggregate(positions, F.lit(0.0), lambda total, i: total + _discount(i))


def per_playlist_metrics(
    recommendations: DataFrame, holdout: DataFrame, k: int = 10, n: int = CHALLENGE_LIST_LENGTH
) -> DataFrame:
    """Every metric of :func:`metric_names` for each playlist with held-out tracks.

    Parameters
    ----------
    recommendations
        ``playlist_idx, track_idx, rank`` (rank 1 = best, unique per playlist), at least ``max(k, n)`` deep
        for exact challenge metrics.
    holdout
        ``playlist_idx, track_idx``: the relevant tracks.

    Returns
    -------
    ``playlist_idx, n_relevant`` and one double column per metric name.

    Notes
    -----
    Only hits (recommended and relevant) are joined and aggregated, then left-joined to the holdout's
    playlists, so a playlist without any recommendation still counts (with zeros, clicks ``n/10 + 1``).
    """
    rank = F.col(RANK)
    relevant = holdout.select(PLAYLIST_IDX, TRACK_IDX).distinct()
    sizes = relevant.groupBy(PLAYLIST_IDX).agg(F.count(F.lit(1)).alias("n_relevant"))
    hits = (
        recommendations.where(rank <= max(k, n))
        .select(PLAYLIST_IDX, TRACK_IDX, RANK)
        .join(relevant, on=[PLAYLIST_IDX, TRACK_IDX], how="inner")
        .join(sizes, on=PLAYLIST_IDX, how="inner")
        .withColumn("hit_no", F.row_number().over(Window.partitionBy(PLAYLIST_IDX).orderBy(RANK)))
    )
    in_top_k = rank <= k
    in_top_n = rank <= n
    in_top_r = rank <= F.col("n_relevant")
    per_hit = hits.groupBy(PLAYLIST_IDX).agg(
        F.sum(F.when(in_top_k, 1.0)).alias("hits_k"),
        F.sum(F.when(in_top_k, _discount(rank))).alias("dcg_k"),
        F.sum(F.when(in_top_k, F.col("hit_no") / rank)).alias("precision_sum_k"),
        F.sum(F.when(in_top_r & in_top_n, 1.0)).alias("hits_r"),
        F.sum(F.when(in_top_n, _discount(rank))).alias("dcg_n"),
        F.min(F.when(in_top_n, rank)).alias("first_hit"),
    )
    n_relevant = F.col("n_relevant")
    names = metric_names(k, n)
    no_hit_clicks = float(n // CLICKS_PAGE + 1)
    return (
        sizes.join(per_hit, on=PLAYLIST_IDX, how="left")
        .na.fill(0.0, ["hits_k", "dcg_k", "precision_sum_k", "hits_r", "dcg_n"])
        .select(
            PLAYLIST_IDX,
            n_relevant,
            (F.col("hits_k") / k).alias(names[0]),
            (F.col("hits_k") / n_relevant).alias(names[1]),
            (F.col("dcg_k") / _ideal_dcg_column(n_relevant, k)).alias(names[2]),
            (F.col("precision_sum_k") / F.least(n_relevant, F.lit(k))).alias(names[3]),
            (F.col("hits_r") / n_relevant).alias(names[4]),
            (F.col("dcg_n") / _ideal_dcg_column(n_relevant, n)).alias(names[5]),
            F.coalesce(F.floor((F.col("first_hit") - 1) / CLICKS_PAGE).cast("double"), F.lit(no_hit_clicks))
            .alias(names[6]),
        )
    )


def ranking_metrics(
    recommendations: DataFrame, holdout: DataFrame, k: int = 10, n: int = CHALLENGE_LIST_LENGTH
) -> dict[str, float]:
    """Mean of each metric over the holdout's playlists, plus ``n_playlists``.

    Returns
    -------
    ``{"n_playlists": ..., "precision_at_10": ..., ...}``; collected from a one-row aggregate (small by
    construction).
    """
    names = metric_names(k, n)
    per_playlist = per_playlist_metrics(recommendations, holdout, k, n)
    row = per_playlist.agg(F.count(F.lit(1)).alias("n_playlists"), *[F.avg(name).alias(name) for name in names])
    values = row.first().asDict()
    return {"n_playlists": int(values["n_playlists"]), **{name: float(values[name] or 0.0) for name in names}}
