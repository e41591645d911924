"""Playlist x track implicit feedback and stable integer ids for the recommender."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def playlist_track_pairs(playlist_tracks: DataFrame) -> DataFrame:
    """Membership rows -> one row per (playlist_id, track_id) with ``weight`` = occurrences (>= 1).

    Only Spotify tracks count: episodes, local files and unavailable items have no track id to recommend.
    """
    is_track = (F.col("item_type") == "track") & F.col("track_id").isNotNull()
    return (
        playlist_tracks.filter(is_track)
        .groupBy("playlist_id", "track_id")
        .agg(F.count(F.lit(1)).cast("double").alias("weight"))
    )


def assign_new_ids(existing: DataFrame, id_col: str, idx_col: str) -> Callable[[DataFrame], DataFrame]:
    """Ids of the input not yet in ``existing`` -> rows (``id_col``, ``idx_col``) numbered after the largest index.

    Notes
    -----
    Existing ids keep their index forever; new ones are numbered in ``id_col`` order, so the same input gives the
    same numbers. The numbering uses one ordered window over the *new* ids only (small per run).
    """

    def transform(ids: DataFrame) -> DataFrame:
        start = existing.agg(F.coalesce(F.max(idx_col) + 1, F.lit(0)).alias("_start"))
        has_id = F.col(id_col).isNotNull()  # a null id gets no index (it would shift every new one)
        new = ids.select(id_col).filter(has_id).distinct().join(existing.select(id_col), on=id_col, how="left_anti")
        numbered = new.withColumn("_n", F.row_number().over(Window.orderBy(id_col)) - 1)
        return numbered.crossJoin(start).select(id_col, (F.col("_start") + F.col("_n")).cast("int").alias(idx_col))

    return transform


def with_indices(playlist_ids: DataFrame, track_ids: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Pairs -> interactions with ``playlist_idx`` and ``track_idx`` from the id maps (every id must be mapped)."""

    def transform(pairs: DataFrame) -> DataFrame:
        return (
            pairs.join(playlist_ids, on="playlist_id", how="inner")
            .join(track_ids, on="track_id", how="inner")
            .select("playlist_idx", "track_idx", "playlist_id", "track_id", "weight")
        )

    return transform
