"""Flatten Million Playlist Dataset playlists: parsed playlists -> ``playlists`` rows and item rows."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake import schemas
from musiclake.transforms.columns import api_timestamp, field_problem, first_problem, spotify_id_from_uri
from musiclake.transforms.envelopes import REASON, RECORD, of_entity
from musiclake.transforms.items import ENVELOPE_KEEP, null_of, select_item_columns


def _with_raw_list(schema: T.StructType, field: str) -> T.StructType:
    """``schema`` with ``field`` re-declared as an array of raw JSON strings (kept verbatim for quarantine)."""
    return T.StructType(
        [T.StructField(f.name, T.ArrayType(T.StringType()) if f.name == field else f.dataType, True)
         for f in schema.fields]
    )


_MPD_RAW = _with_raw_list(schemas.MPD_PLAYLIST, "tracks")


def parse_playlists(envelopes: DataFrame) -> DataFrame:
    """MPD envelopes -> one row per playlist: ``_p`` (parsed, tracks as raw JSON strings) and ``_reason``."""
    parsed = envelopes.transform(of_entity("mpd", "playlists")).withColumn("_p", F.from_json("body", _MPD_RAW))
    reason = first_problem(
        field_problem(F.col("body"), F.col("_p.pid"), "pid"),
        field_problem(F.col("body"), F.col("_p.tracks"), "tracks"),
    )
    return parsed.withColumn(REASON, reason).withColumn(RECORD, F.col("body"))


def playlist_rows(parsed: DataFrame) -> DataFrame:
    """Valid parsed MPD playlists -> ``playlists`` rows (``playlist_id`` = ``mpd:<pid>``)."""
    modified = F.timestamp_seconds(F.col("_p.modified_at"))
    return parsed.select(
        F.concat(F.lit("mpd:"), F.col("_p.pid").cast("string")).alias("playlist_id"),
        F.col("_p.name").alias("name"),
        F.col("_p.description").alias("description"),
        null_of().alias("owner_id"),
        (F.lower(F.col("_p.collaborative")) == "true").alias("collaborative"),
        null_of().alias("snapshot_id"),
        F.size("_p.tracks").alias("num_tracks"),
        F.col("_p.num_followers").alias("num_followers"),
        modified.alias("modified_at"),
        F.lit("mpd").alias("source"),
        F.coalesce(modified, api_timestamp(F.col("fetched_at"))).alias("observed_at"),
        F.col("run_id"),
    )


def item_rows(parsed: DataFrame) -> DataFrame:
    """Valid parsed MPD playlists -> item rows, one per track; bad tracks carry ``_reason``."""
    modified = F.timestamp_seconds(F.col("_p.modified_at"))
    exploded = parsed.select(
        F.concat(F.lit("mpd:"), F.col("_p.pid").cast("string")).alias("playlist_id"),
        F.coalesce(modified, api_timestamp(F.col("fetched_at"))).alias("observed_at"),
        *ENVELOPE_KEEP,
        F.posexplode("_p.tracks").alias("position", "_raw"),
    ).withColumn("_t", F.from_json("_raw", schemas.MPD_TRACK))
    track_id = spotify_id_from_uri(F.col("_t.track_uri"), "track")
    reason = first_problem(
        field_problem(F.col("_raw"), F.col("_t.track_uri"), "track_uri"),
        F.when(track_id.isNull(), F.lit("track_uri is not a spotify:track URI")),
    )
    return exploded.select(
        "playlist_id",
        F.col("position").cast("int").alias("position"),
        F.lit("track").alias("item_type"),
        track_id.alias("track_id"),
        F.col("_t.track_uri").alias("item_uri"),
        null_of("timestamp").alias("added_at"),
        null_of().alias("added_by"),
        null_of().alias("snapshot_id"),
        F.col("_t.track_uri").alias("track_uri"),
        F.col("_t.track_name").alias("track_name"),
        spotify_id_from_uri(F.col("_t.artist_uri"), "artist").alias("artist_id"),
        F.col("_t.artist_uri").alias("artist_uri"),
        F.col("_t.artist_name").alias("artist_name"),
        spotify_id_from_uri(F.col("_t.album_uri"), "album").alias("album_id"),
        F.col("_t.album_uri").alias("album_uri"),
        F.col("_t.album_name").alias("album_name"),
        null_of().alias("album_type"),
        null_of().alias("release_date"),
        F.col("_t.duration_ms").alias("duration_ms"),
        null_of("boolean").alias("explicit"),
        null_of().alias("isrc"),
        F.lit("mpd").alias("source"),
        "observed_at", "run_id", "entity", "source_file",
        reason.alias(REASON),
        F.coalesce(F.col("_raw"), F.lit("null")).alias(RECORD),  # a null track is quarantined too (record is required)
    ).transform(select_item_columns)
