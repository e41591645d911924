"""Top-k per playlist from a fitted ALS model, never a track the playlist already has.

Two paths, one contract (``playlist_idx, track_idx, rank, score``): :func:`recommend_top_k` scores with numpy
against broadcast item factors when they fit (``max_broadcast_factors``, by default derived from the executors'
and the driver's memory: :func:`broadcast_limit_for`), and falls back to Spark's blockified
``recommendForUserSubset`` (:func:`recommend_top_k_blockified`) for larger catalogs. The path taken is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from functools import reduce

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake.runtime import small_frame
from musiclake.schemas import PLAYLIST_IDX, RANK, SCORE, TRACK_IDX

SEEN = "seen"
N_SEEN = "n_seen"
CANDIDATES = "candidates"
ALS_SCORE = "rating"  # the score field name in Spark's recommendForAll* output
MIN_SEEN_BUCKET = 16
FACTOR_BYTES = 4  # float32
BROADCAST_MEMORY_DIVISOR = 16  # the broadcast factors may take 1/16 of the smaller of executor and driver memory
DEFAULT_MEMORY = "1g"  # Spark's default spark.driver.memory / spark.executor.memory
SCORE_BLOCK = 4_000_000  # playlist x track scores held at once per task (16 MB as float32)
RANKED_SCHEMA = f"{PLAYLIST_IDX} int, {TRACK_IDX} int, {RANK} int, {SCORE} double"
_MEMORY_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}

log = logging.getLogger("musiclake.recommend.topk")


def memory_bytes(setting: str) -> int:
    """Bytes of a Spark memory setting (``"4g"``, ``"10240m"``, ``"512k"``, ``"2gb"``; a bare number is bytes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*", setting.lower())
    if not match:
        raise ValueError(f"not a memory size: {setting!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def broadcast_limit_for(executor_memory: str | None, driver_memory: str | None) -> int:
    """The default ``max_broadcast_factors``: ``min(executor, driver memory) / 16 / 4 bytes`` factor floats.

    The item factors are collected on the driver (``toPandas`` and a float32 copy) and every Python worker of
    an executor holds one float32 copy while it scores; one sixteenth of the smaller memory leaves room for a
    few copies beside Spark's own use. A missing setting counts as Spark's default (1g); a local session has
    no executors, so only the driver's memory counts there.

    Examples
    --------
    >>> broadcast_limit_for("10g", "10g")  # Glue G.1X: 2.26M MPD tracks x rank 64 = 145M floats fit
    167772160
    >>> broadcast_limit_for(None, "4g")  # local[2], driver memory 4g
    67108864
    """
    memories = [memory_bytes(m) for m in (executor_memory, driver_memory) if m]
    return min(memories or [memory_bytes(DEFAULT_MEMORY)]) // (BROADCAST_MEMORY_DIVISOR * FACTOR_BYTES)


def default_broadcast_limit(spark: SparkSession) -> int:
    """:func:`broadcast_limit_for` the session's ``spark.executor.memory`` and ``spark.driver.memory``."""
    conf = spark.sparkContext.getConf()
    is_local = spark.sparkContext.master.startswith("local")
    executor = None if is_local else conf.get("spark.executor.memory", DEFAULT_MEMORY)
    return broadcast_limit_for(executor, conf.get("spark.driver.memory", DEFAULT_MEMORY))


def seen_lists(interactions: DataFrame) -> DataFrame:
    """Each playlist's known tracks: ``playlist_idx, seen array<int>, n_seen``."""
    return interactions.groupBy(PLAYLIST_IDX).agg(
        F.collect_set(TRACK_IDX).alias(SEEN), F.count(F.lit(1)).alias(N_SEEN)
    )


def only_playlists(playlists: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """Keep the rows of the playlists in ``playlists`` (any frame with ``playlist_idx``); all rows when None."""

    def transform(df: DataFrame) -> DataFrame:
        if playlists is None:
            return df
        return df.join(playlists.select(PLAYLIST_IDX).distinct(), on=PLAYLIST_IDX, how="left_semi")

    return transform


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


def recommend_top_k(
    model: ALSModel,
    seen: DataFrame,
    k: int,
    playlists: DataFrame | None = None,
    *,
    max_broadcast_factors: int | None = None,
) -> DataFrame:
    """Top ``k`` tracks per playlist by ALS score, never a track the playlist already has.

    Parameters
    ----------
    model
        Fitted on (a superset of) ``seen``'s interactions.
    seen
        :func:`seen_lists` of the training interactions.
    playlists
        Optional ``playlist_idx`` subset to recommend for (e.g. the evaluation playlists).
    max_broadcast_factors
        Largest ``n_tracks x rank`` scored against broadcast factors; default :func:`default_broadcast_limit`
        of the session (e.g. 168M floats with 10g executors and driver, as on Glue G.1X; 2.26M MPD tracks at
        rank 64 are 145M).

    Returns
    -------
    ``playlist_idx, track_idx, rank (1 = best), score``; playlists the model does not know get no rows.

    Notes
    -----
    When the item factors fit in a broadcast (``n_tracks x rank <= max_broadcast_factors``), every task scores
    its playlists against all tracks with one numpy matrix product per block of playlists, masks the playlist's
    own tracks and keeps the best ``k`` with ``argpartition`` (:func:`top_k_scores`). That replaces Spark's
    ``recommendForUserSubset`` with ``k + |seen|`` candidates, a second pass over the seen lists and an array
    filter (compared in bench/als_compare.py; figures in BENCHMARKS.md).
    Larger catalogs use :func:`recommend_top_k_blockified`.
    """
    seen = seen.transform(only_playlists(playlists))
    limit = max_broadcast_factors or default_broadcast_limit(seen.sparkSession)
    n_items = model.itemFactors.count()
    if n_items * model.rank > limit:
        log.info("top-%d: blockified path (%d tracks x rank %d = %d factors > broadcast limit %d)",
                 k, n_items, model.rank, n_items * model.rank, limit)
        return recommend_top_k_blockified(model, seen, k)
    log.info("top-%d: broadcast path (%d tracks x rank %d = %d factors <= broadcast limit %d)",
             k, n_items, model.rank, n_items * model.rank, limit)
    items = model.itemFactors.toPandas()  # small by construction: bounded by max_broadcast_factors floats
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

    return users.mapInPandas(score_batches, RANKED_SCHEMA)


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
    seen = seen.transform(only_playlists(playlists))
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
    return small_frame(spark, [], RANKED_SCHEMA)
