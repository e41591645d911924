"""Implicit-feedback ALS (Spark MLlib) on playlist x track interactions: parameters, fitting, ``Y^T Y``.

Playlists are the users and tracks the items; ``weight`` (times a track is in the playlist) is the implicit
rating, so the confidence of a pair is ``1 + alpha * weight`` (Hu, Koren & Volinsky 2008, as Spark implements
it, with ``regParam`` scaled by each row's number of interactions - ALS-WR). The weights can first be rescaled
(:func:`with_confidence_weights`): ``log`` gives ``1 + alpha * log(1 + weight / eps)``, ``bm25`` weighs each
pair by its track's inverse playlist frequency and its playlist's length (as ``implicit.nearest_neighbours``'s
``bm25_weight``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX, WEIGHT

# the confidence weightings (see with_confidence_weights); numbers shared with the fold-in of new playlists
from musiclake.serve.confidence import (
    BM25_B,
    BM25_K1,
    LINEAR,
    LOG,
    LOG_EPSILON,
    MIN_BM25_WEIGHT,
    WEIGHTINGS,
)

log = logging.getLogger("musiclake.recommend.fit")

INTERACTIONS_PER_BLOCK = 100_000  # more blocks than this only add shuffle overhead (see bench/als_bench.py)
MIN_BLOCKS = 2  # one block leaves a core idle (measured with `bench/als_bench.py blocks`)
CHECKPOINT_INTERVAL = 5


class CheckpointDirMissingError(RuntimeError):
    """ALS would silently ignore checkpointInterval (and overflow the stack on long runs) without one."""


@dataclass(frozen=True)
class AlsParams:
    """Hyper-parameters of implicit ALS. Defaults were chosen on synthetic MPD-like data (bench/als_bench.py).

    Parameters
    ----------
    rank
        Number of latent factors.
    reg_param
        L2 regularisation, multiplied by each playlist's/track's number of interactions (ALS-WR).
    alpha
        Confidence slope: a pair with weight w counts ``1 + alpha * w`` times as much as an absent pair.
    max_iter
        Alternating iterations (each solves items, then playlists).
    seed
        Factor initialisation seed.
    weighting
        How ``weight`` becomes the ALS rating before ``1 + alpha * rating``: ``linear`` (unchanged), ``log`` or
        ``bm25`` (:func:`with_confidence_weights`).
    """

    rank: int = 64
    reg_param: float = 0.2
    alpha: float = 5.0
    max_iter: int = 10
    seed: int = 42
    weighting: str = LINEAR

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown confidence weighting {self.weighting!r}; choose from {WEIGHTINGS}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Compact, key-sorted JSON: the ``params`` value of the evaluations table."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))


def ensure_checkpoint_dir(spark: SparkSession, fallback: str) -> str:
    """Keep the session's checkpoint directory, or set ``fallback`` when there is none; return the one in use."""
    current = spark.sparkContext.getCheckpointDir()
    if current:
        return current
    spark.sparkContext.setCheckpointDir(fallback)
    log.info("checkpoint directory set to %s", fallback)
    return fallback


def num_blocks_for(spark: SparkSession, n_interactions: int) -> int:
    """ALS user/item blocks: one per 100k interactions, at least 2, at most the default parallelism.

    On Glue the default parallelism is the executors' total cores, so large inputs use every core; on small
    data fewer blocks are much faster (measured with ``bench/als_bench.py blocks``).
    """
    parallelism = spark.sparkContext.defaultParallelism
    by_size = math.ceil(n_interactions / INTERACTIONS_PER_BLOCK)
    return max(1, min(parallelism, max(MIN_BLOCKS, by_size)))


def with_confidence_weights(weighting: str) -> Callable[[DataFrame], DataFrame]:
    """Rescale ``weight`` by a confidence weighting; ALS then uses ``1 + alpha * weight``.

    Parameters
    ----------
    weighting
        ``linear``: unchanged. ``log``: ``log(1 + weight / LOG_EPSILON)``. ``bm25``: with ``N`` playlists,
        ``df`` the playlists holding the track, ``len`` the playlist's summed weight and ``avg_len`` its mean
        over playlists, ``weight * (K1 + 1) / (K1 * ((1 - B) + B * len / avg_len) + weight) * idf`` where
        ``idf = log(N) - log(1 + df)`` (``K1 = 100``, ``B = 0.8``), at least ``MIN_BM25_WEIGHT``.

    Returns
    -------
    A transform over ``playlist_idx, track_idx, weight, ...`` (one row per pair) that keeps every column and
    replaces ``weight`` (double).

    Notes
    -----
    BM25 needs per-track and per-playlist aggregates of the same input: two ``groupBy`` joined back and one
    global aggregate (one row, broadcast).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown confidence weighting {weighting!r}; choose from {WEIGHTINGS}")

    def transform(interactions: DataFrame) -> DataFrame:
        columns = interactions.columns
        weight = F.col(WEIGHT).cast("double")
        if weighting == LINEAR:
            return interactions
        if weighting == LOG:
            return interactions.withColumn(WEIGHT, F.log1p(weight / F.lit(LOG_EPSILON)))
        track_playlists = interactions.groupBy(TRACK_IDX).agg(F.countDistinct(PLAYLIST_IDX).alias("_df"))
        playlist_lengths = interactions.groupBy(PLAYLIST_IDX).agg(F.sum(weight).alias("_len"))
        totals = playlist_lengths.agg(F.count(F.lit(1)).alias("_n"), F.avg("_len").alias("_avg_len"))
        idf = F.log(F.col("_n").cast("double")) - F.log1p(F.col("_df").cast("double"))
        length_norm = F.lit(1.0 - BM25_B) + F.lit(BM25_B) * F.col("_len") / F.col("_avg_len")
        saturated = weight * F.lit(BM25_K1 + 1.0) / (F.lit(BM25_K1) * length_norm + weight)
        bm25 = F.greatest(saturated * idf, F.lit(MIN_BM25_WEIGHT))
        return (
            interactions.join(track_playlists, on=TRACK_IDX, how="inner")
            .join(playlist_lengths, on=PLAYLIST_IDX, how="inner")
            .crossJoin(F.broadcast(totals))
            .withColumn(WEIGHT, bm25)
            .select(*columns)
        )

    return transform


def fit_als(
    interactions: DataFrame, params: AlsParams, *, num_blocks: int | None = None, weights_applied: bool = False
) -> ALSModel:
    """Fit implicit ALS on ``playlist_idx, track_idx, weight``.

    Parameters
    ----------
    interactions
        One row per (playlist, track); should be cached or checkpointed (Spark requires deterministic input).
    num_blocks
        User and item blocks; default :func:`num_blocks_for` the input size.
    weights_applied
        ``weight`` already went through :func:`with_confidence_weights` for ``params.weighting`` (tuning
        weighs its input once per weighting); otherwise it is applied here.

    Returns
    -------
    The fitted model (``coldStartStrategy="drop"``).

    Raises
    ------
    CheckpointDirMissingError
        If the session has no checkpoint directory (see :func:`ensure_checkpoint_dir`).
    """
    spark = interactions.sparkSession
    if not spark.sparkContext.getCheckpointDir():
        raise CheckpointDirMissingError(
            "ALS needs sparkContext.setCheckpointDir(...) or it ignores checkpointInterval and long runs "
            "overflow the stack; call musiclake.recommend.fit.ensure_checkpoint_dir first"
        )
    blocks = num_blocks or num_blocks_for(spark, interactions.count())
    if not weights_applied:
        interactions = interactions.transform(with_confidence_weights(params.weighting))
    estimator = ALS(
        userCol=PLAYLIST_IDX,
        itemCol=TRACK_IDX,
        ratingCol=WEIGHT,
        implicitPrefs=True,
        rank=params.rank,
        regParam=params.reg_param,
        alpha=params.alpha,
        maxIter=params.max_iter,
        seed=params.seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=CHECKPOINT_INTERVAL,
        coldStartStrategy="drop",
        nonnegative=False,
    )
    log.info("fitting ALS %s with %d blocks", params, blocks)
    return estimator.fit(interactions)


def item_gram(model: ALSModel) -> np.ndarray:
    """``Y^T Y`` of the item factors (rank x rank), the constant part of every fold-in solve.

    Each Arrow batch of factors contributes its own ``Y_b^T Y_b`` (numpy on the executors); the partial
    matrices are summed by Spark and only the rank x rank result reaches the driver.
    """
    rank = model.rank

    def partial_grams(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            factors = np.stack(batch["features"].to_numpy()).astype(np.float64) if len(batch) else np.zeros((0, rank))
            yield pd.DataFrame({"gram": [(factors.T @ factors).ravel()]})

    partials = model.itemFactors.select("features").mapInPandas(partial_grams, "gram array<double>")
    summed = partials.select(F.posexplode("gram").alias("i", "v")).groupBy("i").agg(F.sum("v").alias("v"))
    values = dict(summed.collect())  # rank * rank numbers
    return np.array([values.get(i, 0.0) for i in range(rank * rank)], dtype=np.float64).reshape(rank, rank)
