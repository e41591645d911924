"""The shared item shape both sources flatten into, and the curated rows derived from item-shaped rows.

An *item row* is one playlist position with the track/artist/album attributes carried along; ``mpd.item_rows``
and ``spotify_api.item_rows`` both end in :func:`select_item_columns`, so :data:`ITEM_SCHEMA` is the contract
between the sources and the curated model, checked where the rows are made. Item rows that cannot be curated
carry a ``_reason`` and are split off for quarantine by the caller; nothing is dropped silently.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake.transforms.columns import require_columns
from musiclake.transforms.envelopes import REASON, RECORD

# Envelope columns every flattened row keeps (lineage: which run and file it came from).
ENVELOPE_KEEP = ("run_id", "source", "entity", "source_file", "fetched_at")

_S, _TS = T.StringType(), T.TimestampType()
ITEM_SCHEMA = T.StructType([
    T.StructField(name, dtype, True)
    for name, dtype in (
        ("playlist_id", _S), ("position", T.IntegerType()), ("item_type", _S), ("track_id", _S), ("item_uri", _S),
        ("added_at", _TS), ("added_by", _S), ("snapshot_id", _S), ("track_uri", _S), ("track_name", _S),
        ("artist_id", _S), ("artist_uri", _S), ("artist_name", _S), ("album_id", _S), ("album_uri", _S),
        ("album_name", _S), ("album_type", _S), ("release_date", _S), ("duration_ms", T.LongType()),
        ("explicit", T.BooleanType()), ("isrc", _S), ("source", _S), ("observed_at", _TS), ("run_id", _S),
        ("entity", _S), ("source_file", _S), (REASON, _S), (RECORD, _S),
    )
])
ITEM_COLUMNS = tuple(ITEM_SCHEMA.fieldNames())


def null_of(dtype: str = "string") -> Column:
    """A typed null: for a column a source does not have."""
    return F.lit(None).cast(dtype)


def select_item_columns(rows: DataFrame) -> DataFrame:
    """Exactly the item columns, in order, cast to :data:`ITEM_SCHEMA`: the item contract of every source.

    Raises
    ------
    MissingColumnsError
        If a source's rows lack an item column (a bug in that source's flattening, caught where it happens).
    """
    require_columns(rows, ITEM_COLUMNS, "item rows")
    return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in ITEM_SCHEMA.fields])


QUARANTINE_ONLY = ("entity", "source_file")  # item columns only a quarantined item needs


def without_quarantine_lineage(rows: DataFrame) -> DataFrame:
    """Item rows with :data:`QUARANTINE_ONLY` nulled on the rows without a ``_reason``: nothing curated reads
    them, and the same landing file's path repeated on every item is most of what a kept batch holds (~0.7 GB
    of 5.9 million items)."""
    bad = F.col(REASON).isNotNull()
    return rows.select(*[F.when(bad, F.col(c)).alias(c) if c in QUARANTINE_ONLY else F.col(c) for c in rows.columns])


# The item columns the dimension tables read, ``observed_at`` aside (see musiclake.transforms.curate.dimension_updates).
DIMENSION_COLUMNS = (
    "track_id", "track_uri", "track_name", "artist_id", "artist_uri", "artist_name", "album_id", "album_uri",
    "album_name", "album_type", "release_date", "duration_ms", "explicit", "isrc", "source", "run_id",
)


def track_rows(items: DataFrame) -> DataFrame:
    """Valid item-shaped rows with a track id -> ``tracks`` candidates (one per observation)."""
    return items.filter(F.col("track_id").isNotNull()).select(
        "track_id", "track_uri", "track_name", "artist_id", "artist_name", "album_id", "album_name",
        F.col("duration_ms").cast("long").alias("duration_ms"), "explicit", "isrc", "source", "observed_at", "run_id",
    )


def artist_rows(items: DataFrame) -> DataFrame:
    """Item-shaped rows -> ``artists`` candidates (primary artists with an id)."""
    return items.filter(F.col("artist_id").isNotNull()).select(
        "artist_id", "artist_uri", "artist_name", "source", "observed_at", "run_id"
    )


def album_rows(items: DataFrame) -> DataFrame:
    """Item-shaped rows -> ``albums`` candidates (albums with an id)."""
    return items.filter(F.col("album_id").isNotNull()).select(
        "album_id", "album_uri", "album_name", "album_type", "release_date", "artist_id", "source", "observed_at",
        "run_id",
    )


def membership_rows(items: DataFrame) -> DataFrame:
    """Valid item rows -> ``playlist_tracks`` rows."""
    return items.select(
        "playlist_id", "position", "item_type", "track_id", "item_uri", "added_at", "added_by", "snapshot_id",
        "source", "observed_at", "run_id",
    )
