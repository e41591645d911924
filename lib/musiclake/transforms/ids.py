"""String ids -> dense int32 indices, deterministic and stable: the one id mapping of musiclake.

ALS needs integer user/item columns. ``build_interactions`` keeps the lake's maps (``playlist_ids``,
``track_ids``) with :func:`new_indices`, and the recommender extends them the same way for inputs that bring no
indices (:func:`assign_indices`), so the two can never drift apart:

* an id, once given an index, keeps it forever;
* new ids are numbered after the largest existing index, in ascending id order, so the same input gives the same
  numbers whatever its row order or partitioning.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from musiclake.runtime import small_frame
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, TRACK_ID, TRACK_IDX, WEIGHT


def new_indices(existing: DataFrame, id_col: str, idx_col: str) -> Callable[[DataFrame], DataFrame]:
    """Ids of the input not yet in ``existing`` -> rows (``id_col``, ``idx_col``) numbered after its largest index.

    Parameters
    ----------
    existing
        The current map (``id_col``, ``idx_col``); may be empty.

    Returns
    -------
    A transform: any DataFrame with ``id_col`` (duplicates and nulls allowed) -> only the *new* map rows.

    Notes
    -----
    A null id gets no index (it would shift every new one). The numbering window has no partition key, so Spark
    ranks the new distinct ids in one task: a sort of at most a few million short strings, and what makes the
    result independent of partitioning.
    """

    def transform(ids: DataFrame) -> DataFrame:
        known = existing.select(F.col(id_col).cast("string").alias(id_col), F.col(idx_col).cast("int").alias(idx_col))
        start = known.agg(F.coalesce(F.max(idx_col) + 1, F.lit(0)).alias("_start"))
        has_id = F.col(id_col).isNotNull()
        new = (
            ids.select(F.col(id_col).cast("string").alias(id_col))
            .filter(has_id)
            .distinct()
            .join(known.select(id_col), on=id_col, how="left_anti")
        )
        numbered = new.withColumn("_n", F.row_number().over(Window.orderBy(id_col)) - 1)
        return numbered.crossJoin(start).select(id_col, (F.col("_start") + F.col("_n")).cast("int").alias(idx_col))

    return transform


def assign_indices(ids: DataFrame, id_col: str, idx_col: str, existing: DataFrame | None = None) -> DataFrame:
    """The complete map for the ids of ``ids``: ``existing`` (kept as is) plus :func:`new_indices` of the rest.

    Without ``existing`` indices start at 0.
    """
    spark = ids.sparkSession
    known = existing if existing is not None else small_frame(spark, [], f"{id_col} string, {idx_col} int")
    known = known.select(F.col(id_col).cast("string").alias(id_col), F.col(idx_col).cast("int").alias(idx_col))
    return known.unionByName(ids.transform(new_indices(known, id_col, idx_col)))


def with_indices(playlist_map: DataFrame, track_map: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Add ``playlist_idx`` and ``track_idx`` to interactions from the two id maps.

    Returns
    -------
    A transform: ``playlist_id, track_id, weight`` -> ``playlist_idx, track_idx, playlist_id, track_id, weight``
    (inner joins: every id of the interactions must be in its map, which :func:`assign_indices` guarantees).
    """

    def transform(interactions: DataFrame) -> DataFrame:
        return (
            interactions.join(playlist_map.select(PLAYLIST_ID, PLAYLIST_IDX), on=PLAYLIST_ID, how="inner")
            .join(track_map.select(TRACK_ID, TRACK_IDX), on=TRACK_ID, how="inner")
            .select(PLAYLIST_IDX, TRACK_IDX, PLAYLIST_ID, TRACK_ID, WEIGHT)
        )

    return transform
