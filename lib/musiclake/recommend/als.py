"""Implicit-feedback ALS (Spark MLlib) on playlist x track interactions, top-k, popularity, similar tracks.

Playlists are the users and tracks the items; ``weight`` (times a track is in the playlist) is the implicit
rating, so the confidence of a pair is ``1 + alpha * weight`` (Hu, Koren & Volinsky 2008, as Spark implements
it, with ``regParam`` scaled by each row's number of interactions - ALS-WR).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake.recommend.tables import PLAYLIST_IDX, RANK, SCORE, TRACK_IDX, WEIGHT

log = logging.getLogger("musiclake.recommend.als")

SEEN = "seen"
N_SEEN = "n_seen"
CANDIDATES = "candidates"
ALS_SCORE = "rating"  # the score field name in Spark's recommendForAll* output
MIN_SEEN_BUCKET = 16
INTERACTIONS_PER_BLOCK = 100_000  # more blocks than this only add shuffle overhead (see bench/als_bench.py)
MIN_BLOCKS = 2  # one block leaves a core idle: 2 blocks fit demo-sized data ~2x faster than 1
CHECKPOINT_INTERVAL = 5
MAX_BROADCAST_FACTORS = 32_000_000  # item factors scored with numpy in every task (128 MB as float32)
SCORE_BLOCK = 4_000_000  # playlist x track scores held at once per task (16 MB as float32)


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
    """

    rank: int = 64
    reg_param: float = 0.2
    alpha: float = 5.0
    max_iter: int = 10
    seed: int = 42

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
    data fewer blocks are much faster (RECSYS.md: MovieLens-100k fits in ~13 s with 10 blocks, ~2-3 s with 2).
    """
    parallelism = spark.sparkContext.defaultParallelism
    by_size = math.ceil(n_interactions / INTERACTIONS_PER_BLOCK)
    return max(1, min(parallelism, max(MIN_BLOCKS, by_size)))


def fit_als(interactions: DataFrame, params: AlsParams, *, num_blocks: int | None = None) -> ALSModel:
    """Fit implicit ALS on ``playlist_idx, track_idx, weight``.

    Parameters
    ----------
    interactions
        One row per (playlist, track); should be cached or checkpointed (Spark requires deterministic input).
    num_blocks
        User and item blocks; default :func:`num_blocks_for` the input size.

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
            "overflow the stack; call musiclake.recommend.als.ensure_checkpoint_dir first"
        )
    blocks = num_blocks or num_blocks_for(spark, interactions.count())
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


def seen_lists(interactions: DataFrame) -> DataFrame:
    """Each playlist's known tracks: ``playlist_idx, seen array<int>, n_seen``."""
    return interactions.groupBy(PLAYLIST_IDX).agg(
        F.collect_set(TRACK_IDX).alias(SEEN), F.count(F.lit(1)).alias(N_SEEN)
    )


def _seen_bucket(n_seen: Column) -> Column:
    """Smallest power of two >= n_seen (at least MIN_SEEN_BUCKET): playlists of similar length share a call."""
    power = F.ceil(F.log2(F.greatest(n_seen, F.lit(1)).cast("double")))
    return F.greatest(F.lit(MIN_SEEN_BUCKET), F.pow(F.lit(2), power).cast("int"))


def top_unseen(k: int) -> Callable[[DataFrame], DataFrame]:
    """Keep the best ``k`` candidates not in ``seen`` and explode them to ranked rows.

    Returns
    -------
    A transform: ``playlist_idx, candidates array<struct<track_idx, rating>> (best first), seen array<int>``
    -> ``playlist_idx, track_idx, rank, score``.
    """

    def transform(df: DataFrame) -> DataFrame:
        unseen = F.filter(CANDIDATES, lambda c: ~F.array_contains(F.col(SEEN), c[TRACK_IDX]))
        best = df.select(PLAYLIST_IDX, F.slice(unseen, 1, k).alias(CANDIDATES))
        exploded = best.select(PLAYLIST_IDX, F.posexplode(CANDIDATES).alias("position", "candidate"))
        return exploded.select(
            PLAYLIST_IDX,
            F.col("candidate")[TRACK_IDX].alias(TRACK_IDX),
            (F.col("position") + 1).cast("int").alias(RANK),
            F.col("candidate")[ALS_SCORE].cast("double").alias(SCORE),
        )

    return transform


def recommend_top_k(model: ALSModel, seen: DataFrame, k: int, playlists: DataFrame | None = None) -> DataFrame:
    """Top ``k`` tracks per playlist by ALS score, never a track the playlist already has.

    Parameters
    ----------
    model
        Fitted on (a superset of) ``seen``'s interactions.
    seen
        :func:`seen_lists` of the training interactions.
    playlists
        Optional ``playlist_idx`` subset to recommend for (e.g. the evaluation playlists).

    Returns
    -------
    ``playlist_idx, track_idx, rank (1 = best), score``; playlists the model does not know get no rows.

    Notes
    -----
    When the item factors fit in a broadcast (``n_tracks x rank <= MAX_BROADCAST_FACTORS``, 2.26M MPD tracks at
    rank 64 is 145M: the blockified path), every task scores its playlists against all tracks with one numpy
    matrix product per block of playlists, masks the playlist's own tracks and keeps the best ``k`` with
    ``argpartition`` (:func:`top_k_scores`). That replaces Spark's ``recommendForUserSubset`` with ``k + |seen|``
    candidates, a second pass over the seen lists and an array filter (bench/als_compare.py, top-500 for 10k
    playlists on 2 cores: 56.5 s -> 8.3 s). Larger catalogs use :func:`recommend_top_k_blockified`.
    """
    if playlists is not None:
        seen = seen.join(playlists.select(PLAYLIST_IDX).distinct(), on=PLAYLIST_IDX, how="left_semi")
    n_items = model.itemFactors.count()
    if n_items * model.rank > MAX_BROADCAST_FACTORS:
        return recommend_top_k_blockified(model, seen, k)
    items = model.itemFactors.toPandas()  # small by construction: bounded by MAX_BROADCAST_FACTORS floats
    if items.empty:
        return _empty_recommendations(seen.sparkSession)
    order = np.argsort(items["id"].to_numpy())
    item_ids = items["id"].to_numpy()[order].astype(np.int32)
    factors = np.stack(items["features"].to_numpy())[order].astype(np.float32)
    shared = seen.sparkSession.sparkContext.broadcast((item_ids, factors))
    users = model.userFactors.select(F.col("id").alias(PLAYLIST_IDX), F.col("features")).join(
        seen.select(PLAYLIST_IDX, SEEN), on=PLAYLIST_IDX, how="inner"
    )

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        ids, item_factors = shared.value
        for batch in batches:
            if len(batch):
                yield top_k_scores(batch, ids, item_factors, k)

    return users.mapInPandas(
        score_batches, f"{PLAYLIST_IDX} int, {TRACK_IDX} int, {RANK} int, {SCORE} double"
    )


def top_k_scores(users: pd.DataFrame, item_ids: np.ndarray, item_factors: np.ndarray, k: int) -> pd.DataFrame:
    """Best ``k`` unseen items per user, by ``user_factors . item_factors``, in blocks of bounded memory.

    Parameters
    ----------
    users
        ``playlist_idx``, ``features`` (rank floats), ``seen`` (item ids to exclude).
    item_ids, item_factors
        All items: ids in ascending order and their factors (n_items x rank, float32).

    Returns
    -------
    ``playlist_idx, track_idx, rank, score`` (rank 1 = best; fewer than ``k`` rows when fewer items are unseen).
    """
    n_items = len(item_ids)
    kk = min(k, n_items)
    rows_per_block = max(1, SCORE_BLOCK // max(1, n_items))
    out = []
    for start in range(0, len(users), rows_per_block):
        part = users.iloc[start : start + rows_per_block]
        scores = np.stack(part["features"].to_numpy()).astype(np.float32) @ item_factors.T
        seen = [np.asarray(s if s is not None else [], dtype=np.int64) for s in part[SEEN]]
        flat = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int64)
        row = np.repeat(np.arange(len(part)), [len(s) for s in seen])
        column = np.minimum(np.searchsorted(item_ids, flat), n_items - 1)
        known = item_ids[column] == flat
        scores[row[known], column[known]] = -np.inf
        best = np.argpartition(-scores, kk - 1, axis=1)[:, :kk] if kk < n_items else np.tile(
            np.arange(n_items), (len(part), 1)
        )
        best_scores = np.take_along_axis(scores, best, axis=1)
        ranked = np.argsort(-best_scores, axis=1, kind="stable")
        best = np.take_along_axis(best, ranked, axis=1)
        best_scores = np.take_along_axis(best_scores, ranked, axis=1)
        keep = np.isfinite(best_scores).ravel()  # seen items sort last: the kept ranks stay 1..m
        out.append(pd.DataFrame({
            PLAYLIST_IDX: np.repeat(part[PLAYLIST_IDX].to_numpy(np.int32), kk)[keep],
            TRACK_IDX: item_ids[best].ravel()[keep],
            RANK: np.tile(np.arange(1, kk + 1, dtype=np.int32), len(part))[keep],
            SCORE: best_scores.astype(np.float64).ravel()[keep],
        }))
    return pd.concat(out, ignore_index=True)


def recommend_top_k_blockified(
    model: ALSModel, seen: DataFrame, k: int, playlists: DataFrame | None = None
) -> DataFrame:
    """Top ``k`` tracks per playlist with Spark's ``recommendForUserSubset`` (any catalog size; slower).

    Parameters
    ----------
    model
        Fitted on (a superset of) ``seen``'s interactions.
    seen
        :func:`seen_lists` of the training interactions.
    playlists
        Optional ``playlist_idx`` subset to recommend for (e.g. the evaluation playlists).

    Returns
    -------
    ``playlist_idx, track_idx, rank (1 = best), score``.

    Notes
    -----
    Spark's blockified ``recommendForUserSubset`` scores every track; to still have ``k`` left after removing a
    playlist's own tracks it needs ``k + |seen|`` candidates. Playlists are grouped by the next power of two
    above ``|seen|`` so that a few 250-track playlists do not make every playlist fetch 250 extra candidates;
    the seen tracks are then removed with array functions on the joined seen list (no per-pair join).
    """
    if playlists is not None:
        seen = seen.join(playlists.select(PLAYLIST_IDX).distinct(), on=PLAYLIST_IDX, how="left_semi")
    bucketed = seen.withColumn("bucket", _seen_bucket(F.col(N_SEEN))).cache()
    buckets = [row["bucket"] for row in bucketed.select("bucket").distinct().collect()]  # a handful of ints
    parts = [
        model.recommendForUserSubset(bucketed.where(F.col("bucket") == bucket).select(PLAYLIST_IDX), k + bucket)
        for bucket in sorted(buckets)
    ]
    if not parts:
        return _empty_recommendations(seen.sparkSession)
    candidates = reduce(DataFrame.unionByName, parts).select(
        PLAYLIST_IDX, F.col("recommendations").alias(CANDIDATES)
    )
    return candidates.join(bucketed.select(PLAYLIST_IDX, SEEN), on=PLAYLIST_IDX, how="inner").transform(
        top_unseen(k)
    )


def _empty_recommendations(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], f"{PLAYLIST_IDX} int, {TRACK_IDX} int, {RANK} int, {SCORE} double")


def popularity(interactions: DataFrame) -> DataFrame:
    """The popularity baseline's scores: ``track_idx, score`` = number of playlists containing the track."""
    return interactions.groupBy(TRACK_IDX).agg(F.count(F.lit(1)).cast("double").alias(SCORE))


def recommend_popular(popular: DataFrame, seen: DataFrame, k: int, playlists: DataFrame | None = None) -> DataFrame:
    """The popularity baseline: the ``k`` most popular tracks each playlist does not have yet.

    Parameters
    ----------
    popular
        :func:`popularity` of the training interactions.
    seen
        :func:`seen_lists` of the training interactions.

    Returns
    -------
    ``playlist_idx, track_idx, rank, score`` like :func:`recommend_top_k` (ties broken by lower track_idx).

    Notes
    -----
    The ``k + max |seen|`` most popular tracks are gathered into one array row (small by construction) and
    cross-joined, broadcast, to the playlists' seen lists.
    """
    if playlists is not None:
        seen = seen.join(playlists.select(PLAYLIST_IDX).distinct(), on=PLAYLIST_IDX, how="left_semi")
    longest = seen.agg(F.max(N_SEEN)).first()[0] or 0  # one number
    ordered = F.sort_array(
        F.collect_list(F.struct(F.col(SCORE).alias("s"), (-F.col(TRACK_IDX)).alias("t"), F.col(TRACK_IDX))),
        asc=False,
    )
    as_candidates = F.transform(
        ordered, lambda c: F.struct(c[TRACK_IDX].alias(TRACK_IDX), c["s"].alias(ALS_SCORE))
    )
    top = (
        popular.orderBy(F.col(SCORE).desc(), F.col(TRACK_IDX).asc())
        .limit(k + int(longest))
        .agg(as_candidates.alias(CANDIDATES))
    )
    return seen.select(PLAYLIST_IDX, SEEN).crossJoin(F.broadcast(top)).transform(top_unseen(k))


def _unit_factors(factors: DataFrame) -> DataFrame:
    """``id, features`` scaled to unit length (zero vectors dropped): dot products become cosines."""
    norm = F.sqrt(F.aggregate("features", F.lit(0.0), lambda total, x: total + x * x))
    return (
        factors.select("id", "features", norm.alias("norm"))
        .where(F.col("norm") > 0)
        .select("id", F.transform("features", lambda x: (x / F.col("norm")).cast("float")).alias("features"))
    )


def similar_tracks(model: ALSModel, k: int, tracks: DataFrame | None = None) -> DataFrame:
    """Each track's ``k`` most similar tracks by cosine similarity of the item factors.

    Parameters
    ----------
    tracks
        Optional ``track_idx`` subset: lists are made for, and only from, these tracks (the job passes the
        tracks in at least 2 playlists: half of the MPD's tracks are in one playlist only, and their factors
        carry little beyond that playlist; all-pairs work drops 4x).

    Returns
    -------
    ``track_idx, similar_track_idx, rank, similarity``.

    Notes
    -----
    Runs Spark's own blockified top-k (the engine of ``recommendForAllUsers``) on a factor model whose
    "users" and "items" are both the unit-length item factors. The model is built through the JVM constructor
    Spark's ALS itself uses, as PySpark has no public one.
    """
    spark = model.itemFactors.sparkSession
    factors = model.itemFactors
    if tracks is not None:
        factors = factors.join(tracks.select(F.col(TRACK_IDX).alias("id")), on="id", how="left_semi")
    unit = _unit_factors(factors).cache()
    java_model = spark._jvm.org.apache.spark.ml.recommendation.ALSModel(  # noqa: SLF001 - see Notes
        "similar_tracks", model.rank, unit._jdf, unit._jdf  # noqa: SLF001
    )
    java_model.setUserCol(TRACK_IDX).setItemCol("similar_track_idx")
    ranked = ALSModel(java_model).recommendForAllUsers(k + 1)
    others = F.filter("recommendations", lambda c: c["similar_track_idx"] != F.col(TRACK_IDX))
    exploded = ranked.select(TRACK_IDX, F.posexplode(F.slice(others, 1, k)).alias("position", "similar"))
    return exploded.select(
        TRACK_IDX,
        F.col("similar")["similar_track_idx"].alias("similar_track_idx"),
        (F.col("position") + 1).cast("int").alias(RANK),
        F.col("similar")[ALS_SCORE].cast("double").alias("similarity"),
    )


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
