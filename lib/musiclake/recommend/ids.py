"""String ids -> dense int32 indices for ALS, deterministic and stable.

ALS needs integer user/item columns. An index is the position of the id in ascending order, so the same ids
always get the same indices whatever the input's row order or partitioning. When a previous map is given
(the ETL's ``playlist_ids`` / ``track_ids`` tables), its ids keep their indices and only new ids are appended
after the largest one, again in id order: a growing lake never renumbers what it already had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from musiclake.recommend.tables import PLAYLIST_ID, PLAYLIST_IDX, TRACK_ID, TRACK_IDX, WEIGHT


class InteractionsSchemaError(ValueError):
    """The interactions input lacks a required column; the message names it."""


def require_columns(df: DataFrame, columns: Iterable[str], what: str = "interactions") -> None:
    """Fail fast, naming every missing column.

    Raises
    ------
    InteractionsSchemaError
        If any of ``columns`` is not in ``df``.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InteractionsSchemaError(
            f"{what} input is missing column(s) {missing}; it has {df.columns}. Expected at least "
            f"{PLAYLIST_ID} (string) and {TRACK_ID} (string), optionally {WEIGHT} (double)."
        )


def clean_interactions(raw: DataFrame) -> DataFrame:
    """Shape any playlist x track input into one row per pair: ``playlist_id, track_id, weight``.

    Parameters
    ----------
    raw
        Rows with ``playlist_id`` and ``track_id`` (strings) and optionally ``weight`` (times the track is
        in the playlist; 1 per row when absent).

    Returns
    -------
    One row per (playlist_id, track_id) with ``weight`` the sum of the pair's weights.

    Notes
    -----
    Rows with a null id, or a null or non-positive weight, carry no preference and are dropped; duplicate
    pairs (a track listed twice) add up, which is what the ETL's ``weight`` means.
    """
    require_columns(raw, (PLAYLIST_ID, TRACK_ID))
    weight = F.col(WEIGHT).cast("double") if WEIGHT in raw.columns else F.lit(1.0)
    has_ids = F.col(PLAYLIST_ID).isNotNull() & F.col(TRACK_ID).isNotNull()
    has_preference = F.col(WEIGHT).isNotNull() & (F.col(WEIGHT) > 0)
    return (
        raw.select(F.col(PLAYLIST_ID).cast("string"), F.col(TRACK_ID).cast("string"), weight.alias(WEIGHT))
        .where(has_ids & has_preference)
        .groupBy(PLAYLIST_ID, TRACK_ID)
        .agg(F.sum(WEIGHT).alias(WEIGHT))
    )


def assign_indices(ids: DataFrame, id_col: str, idx_col: str, existing: DataFrame | None = None) -> DataFrame:
    """Map every distinct non-null ``id_col`` value to an int index.

    Parameters
    ----------
    ids
        Any DataFrame with ``id_col`` (duplicates and nulls allowed).
    existing
        An earlier map (``id_col``, ``idx_col``) whose assignments are kept; new ids get
        ``max(existing index) + 1, + 2, ...`` in ascending id order. Without it indices start at 0.

    Returns
    -------
    The map ``id_col string, idx_col int``: existing rows plus the new ids.

    Notes
    -----
    The numbering window has no partition key, so Spark ranks the *new distinct ids* in one task. That is
    a sort of at most a few million short strings (MPD: 2.26M tracks, 1M playlists) and is what makes the
    result independent of partitioning.
    """
    distinct_ids = ids.select(F.col(id_col).cast("string").alias(id_col)).where(F.col(id_col).isNotNull()).distinct()
    offset = 0
    if existing is not None:
        existing = existing.select(F.col(id_col).cast("string").alias(id_col), F.col(idx_col).cast("int"))
        distinct_ids = distinct_ids.join(existing.select(id_col), on=id_col, how="left_anti")
        largest = existing.agg(F.max(idx_col)).first()[0]  # one number
        offset = 0 if largest is None else int(largest) + 1
    numbered = distinct_ids.select(
        id_col, (F.row_number().over(Window.orderBy(id_col)) - 1 + F.lit(offset)).cast("int").alias(idx_col)
    )
    return numbered if existing is None else existing.unionByName(numbered)


def with_indices(playlist_map: DataFrame, track_map: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Add ``playlist_idx`` and ``track_idx`` to cleaned interactions from the two id maps.

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
