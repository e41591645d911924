"""Similar tracks: each track's nearest tracks by cosine similarity of the ALS item factors."""

from __future__ import annotations

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake.recommend.topk import ALS_SCORE
from musiclake.schemas import RANK, TRACK_IDX

SIMILAR_TRACK_IDX = "similar_track_idx"
SIMILAR_TRACK_ID = "similar_track_id"  # the column of the similar_tracks table, once indices are mapped to ids
SIMILARITY = "similarity"


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
    java_model.setUserCol(TRACK_IDX).setItemCol(SIMILAR_TRACK_IDX)
    ranked = ALSModel(java_model).recommendForAllUsers(k + 1)
    others = F.filter("recommendations", lambda c: c[SIMILAR_TRACK_IDX] != F.col(TRACK_IDX))
    exploded = ranked.select(TRACK_IDX, F.posexplode(F.slice(others, 1, k)).alias("position", "similar"))
    return exploded.select(
        TRACK_IDX,
        F.col("similar")[SIMILAR_TRACK_IDX].alias(SIMILAR_TRACK_IDX),
        (F.col("position") + 1).cast("int").alias(RANK),
        F.col("similar")[ALS_SCORE].cast("double").alias(SIMILARITY),
    )
