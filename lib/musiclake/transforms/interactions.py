"""Playlist x track implicit feedback: one row per pair with a ``weight``, from the lake or from any input."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake.schemas import PLAYLIST_ID, TRACK_ID, WEIGHT
from musiclake.transforms.columns import require_columns


def playlist_track_pairs(playlist_tracks: DataFrame) -> DataFrame:
    """Membership rows -> one row per (playlist_id, track_id) with ``weight`` = occurrences (>= 1).

    Only Spotify tracks count: episodes, local files and unavailable items have no track id to recommend.
    """
    is_track = (F.col("item_type") == "track") & F.col(TRACK_ID).isNotNull()
    return (
        playlist_tracks.filter(is_track)
        .groupBy(PLAYLIST_ID, TRACK_ID)
        .agg(F.count(F.lit(1)).cast("double").alias(WEIGHT))
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

    Raises
    ------
    MissingColumnsError
        If ``playlist_id`` or ``track_id`` is missing.

    Notes
    -----
    Rows with a null id, or a null or non-positive weight, carry no preference and are dropped; duplicate
    pairs (a track listed twice) add up, which is what the ETL's ``weight`` means.
    """
    require_columns(raw, (PLAYLIST_ID, TRACK_ID),
                    f"interactions input (needs {PLAYLIST_ID} and {TRACK_ID} strings, optionally {WEIGHT} double)")
    weight = F.col(WEIGHT).cast("double") if WEIGHT in raw.columns else F.lit(1.0)
    has_ids = F.col(PLAYLIST_ID).isNotNull() & F.col(TRACK_ID).isNotNull()
    has_preference = F.col(WEIGHT).isNotNull() & (F.col(WEIGHT) > 0)
    return (
        raw.select(F.col(PLAYLIST_ID).cast("string"), F.col(TRACK_ID).cast("string"), weight.alias(WEIGHT))
        .where(has_ids & has_preference)
        .groupBy(PLAYLIST_ID, TRACK_ID)
        .agg(F.sum(WEIGHT).alias(WEIGHT))
    )
