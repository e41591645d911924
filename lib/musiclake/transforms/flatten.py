"""Flatten raw MPD playlists and Spotify API responses into one curated model.

Both sources become the same intermediate: *playlist rows* and *item rows* (one per playlist position, with the
track/artist/album attributes carried along). Item rows that cannot be curated carry a ``_reason`` and are
split off for quarantine by the caller; nothing is dropped silently.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake import schemas
from musiclake.transforms.columns import (
    api_timestamp,
    field_problem,
    first_problem,
    spotify_id_from_uri,
    valid_spotify_id,
)
from musiclake.transforms.envelopes import REASON, RECORD, of_entity

ENVELOPE_KEEP = ("run_id", "source", "entity", "source_file", "fetched_at")

# The columns every item row has, whatever its source.
ITEM_COLUMNS = (
    "playlist_id", "position", "item_type", "track_id", "item_uri", "added_at", "added_by", "snapshot_id",
    "track_uri", "track_name", "artist_id", "artist_uri", "artist_name", "album_id", "album_uri", "album_name",
    "album_type", "release_date", "duration_ms", "explicit", "isrc",
    "source", "observed_at", "run_id", "entity", "source_file", REASON, RECORD,
)


def _with_raw_list(schema: T.StructType, field: str) -> T.StructType:
    """``schema`` with ``field`` re-declared as an array of raw JSON strings (kept verbatim for quarantine)."""
    return T.StructType(
        [T.StructField(f.name, T.ArrayType(T.StringType()) if f.name == field else f.dataType, True)
         for f in schema.fields]
    )


def _null(dtype: str = "string") -> Column:
    return F.lit(None).cast(dtype)


# --- Million Playlist Dataset --------------------------------------------------------------------------------

_MPD_RAW = _with_raw_list(schemas.MPD_PLAYLIST, "tracks")


def parse_mpd_playlists(envelopes: DataFrame) -> DataFrame:
    """MPD envelopes -> one row per playlist: ``_p`` (parsed, tracks as raw JSON strings) and ``_reason``."""
    parsed = envelopes.transform(of_entity("mpd", "playlists")).withColumn("_p", F.from_json("body", _MPD_RAW))
    reason = first_problem(
        field_problem(F.col("body"), F.col("_p.pid"), "pid"),
        field_problem(F.col("body"), F.col("_p.tracks"), "tracks"),
    )
    return parsed.withColumn(REASON, reason).withColumn(RECORD, F.col("body"))


def mpd_playlist_rows(parsed: DataFrame) -> DataFrame:
    """Valid parsed MPD playlists -> ``playlists`` rows (``playlist_id`` = ``mpd:<pid>``)."""
    modified = F.timestamp_seconds(F.col("_p.modified_at"))
    return parsed.select(
        F.concat(F.lit("mpd:"), F.col("_p.pid").cast("string")).alias("playlist_id"),
        F.col("_p.name").alias("name"),
        F.col("_p.description").alias("description"),
        _null().alias("owner_id"),
        (F.lower(F.col("_p.collaborative")) == "true").alias("collaborative"),
        _null().alias("snapshot_id"),
        F.size("_p.tracks").alias("num_tracks"),
        F.col("_p.num_followers").alias("num_followers"),
        modified.alias("modified_at"),
        F.lit("mpd").alias("source"),
        F.coalesce(modified, api_timestamp(F.col("fetched_at"))).alias("observed_at"),
        F.col("run_id"),
    )


def mpd_item_rows(parsed: DataFrame) -> DataFrame:
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
        _null("timestamp").alias("added_at"),
        _null().alias("added_by"),
        _null().alias("snapshot_id"),
        F.col("_t.track_uri").alias("track_uri"),
        F.col("_t.track_name").alias("track_name"),
        spotify_id_from_uri(F.col("_t.artist_uri"), "artist").alias("artist_id"),
        F.col("_t.artist_uri").alias("artist_uri"),
        F.col("_t.artist_name").alias("artist_name"),
        spotify_id_from_uri(F.col("_t.album_uri"), "album").alias("album_id"),
        F.col("_t.album_uri").alias("album_uri"),
        F.col("_t.album_name").alias("album_name"),
        _null().alias("album_type"),
        _null().alias("release_date"),
        F.col("_t.duration_ms").alias("duration_ms"),
        _null("boolean").alias("explicit"),
        _null().alias("isrc"),
        F.lit("mpd").alias("source"),
        "observed_at", "run_id", "entity", "source_file",
        reason.alias(REASON),
        F.coalesce(F.col("_raw"), F.lit("null")).alias(RECORD),  # a null track is quarantined too (record is required)
    )


# --- Spotify Web API -----------------------------------------------------------------------------------------

_PAGE_RAW = schemas.paging(T.StringType())
_PLAYLIST_RAW = T.StructType(
    [T.StructField(f.name, _PAGE_RAW if f.name in ("items", "tracks") else f.dataType, True)
     for f in schemas.API_PLAYLIST.fields]
)
_ITEMS_PATH = r"/playlists/([^/?]+)/items"


def parse_api_playlists(envelopes: DataFrame) -> DataFrame:
    """``playlists`` envelopes (GET /playlists/{id}) -> parsed rows with ``_reason``.

    The first page of items comes embedded under ``items`` (2026) or the deprecated ``tracks`` key.
    """
    parsed = envelopes.transform(of_entity("spotify", "playlists")).withColumn("_p", F.from_json("body", _PLAYLIST_RAW))
    reason = field_problem(F.col("body"), F.col("_p.id"), "id")
    return (
        parsed.withColumn("_page", F.coalesce(F.col("_p.items"), F.col("_p.tracks")))
        .withColumn("playlist_id", F.col("_p.id"))
        .withColumn(REASON, reason)
        .withColumn(RECORD, F.col("body"))
    )


def api_playlist_rows(parsed: DataFrame) -> DataFrame:
    """Valid parsed API playlists -> ``playlists`` rows."""
    return parsed.select(
        F.col("_p.id").alias("playlist_id"),
        F.col("_p.name").alias("name"),
        F.col("_p.description").alias("description"),
        F.col("_p.owner.id").alias("owner_id"),
        F.col("_p.collaborative").alias("collaborative"),
        F.col("_p.snapshot_id").alias("snapshot_id"),
        F.col("_page.total").alias("num_tracks"),
        F.col("_p.followers.total").alias("num_followers"),
        _null("timestamp").alias("modified_at"),
        F.lit("spotify").alias("source"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
        F.col("run_id"),
    )


def parse_api_item_pages(envelopes: DataFrame) -> DataFrame:
    """``playlist_items`` envelopes (GET /playlists/{id}/items pages) -> parsed pages with ``_reason``."""
    parsed = envelopes.transform(of_entity("spotify", "playlist_items")).withColumn(
        "_page", F.from_json("body", _PAGE_RAW)
    )
    from_url = F.regexp_extract(F.col("request_url"), _ITEMS_PATH, 1)
    playlist_id = F.coalesce(F.col("key"), F.when(from_url != "", from_url))
    reason = first_problem(
        F.when(playlist_id.isNull(), F.lit("items page without a playlist id (key or request URL)")),
        field_problem(F.col("body"), F.col("_page.items"), "items"),
    )
    return (
        parsed.withColumn("_playlist_id", playlist_id)
        .withColumn(REASON, reason)
        .withColumn(RECORD, F.col("body"))
    )


def _page_items(pages: DataFrame, playlist_id: Column) -> DataFrame:
    """One row per raw item of each page, positioned at the page's ``offset`` + index."""
    return pages.select(
        playlist_id.alias("playlist_id"),
        F.coalesce(F.col("_page.offset"), F.lit(0)).alias("_offset"),
        *ENVELOPE_KEEP,
        F.posexplode("_page.items").alias("_index", "_raw"),
    ).withColumn("position", (F.col("_offset") + F.col("_index")).cast("int"))


def api_item_rows(playlists: DataFrame, pages: DataFrame) -> DataFrame:
    """Item rows from embedded first pages (``playlists``) and further pages (``pages``), both parsed and valid.

    Every item gets its playlist's ``snapshot_id`` and ``observed_at`` from the playlist fetched in the same run.
    Item types: ``track``, ``episode``, ``local`` (local file: no Spotify id) and ``unavailable`` (null item).
    """
    raw_items = _page_items(playlists, F.col("_p.id")).unionByName(_page_items(pages, F.col("_playlist_id")))
    snapshot = playlists.select(
        F.col("_p.id").alias("playlist_id"),
        "run_id",
        F.col("_p.snapshot_id").alias("snapshot_id"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
    )
    items = raw_items.join(snapshot, on=["playlist_id", "run_id"], how="left").withColumn(
        "_i", F.from_json("_raw", schemas.API_PLAYLIST_ITEM)
    )
    payload = F.coalesce(F.col("_i.item"), F.col("_i.track"))
    uri = payload.getField("uri")
    is_local = F.coalesce(F.col("_i.is_local"), payload.getField("is_local"), F.lit(False)) | F.coalesce(
        uri.startswith("spotify:local:"), F.lit(False)
    )
    kind = payload.getField("type")
    item_type = (
        F.when(F.col("_raw").isNull() | payload.isNull(), F.lit("unavailable"))
        .when(is_local, F.lit("local"))
        .when(kind == "episode", F.lit("episode"))
        .when((kind == "track") | uri.startswith("spotify:track:"), F.lit("track"))
    )
    track_id = F.when(
        item_type == "track",
        F.coalesce(valid_spotify_id(payload.getField("id")), spotify_id_from_uri(uri, "track")),
    )
    artist = payload.getField("artists").getItem(0)
    album = payload.getField("album")
    reason = first_problem(
        F.when(F.col("observed_at").isNull(), F.lit("items page without its playlist in the same run")),
        F.when(item_type.isNull(), F.lit("item of unknown type")),
        F.when((item_type == "track") & track_id.isNull(), F.lit("track item without a valid id or URI")),
    )
    return items.select(
        "playlist_id",
        "position",
        item_type.alias("item_type"),
        track_id.alias("track_id"),
        uri.alias("item_uri"),
        api_timestamp(F.col("_i.added_at")).alias("added_at"),
        F.col("_i.added_by.id").alias("added_by"),
        "snapshot_id",
        F.when(track_id.isNotNull(), uri).alias("track_uri"),
        payload.getField("name").alias("track_name"),
        valid_spotify_id(artist.getField("id")).alias("artist_id"),
        artist.getField("uri").alias("artist_uri"),
        artist.getField("name").alias("artist_name"),
        valid_spotify_id(album.getField("id")).alias("album_id"),
        album.getField("uri").alias("album_uri"),
        album.getField("name").alias("album_name"),
        album.getField("album_type").alias("album_type"),
        album.getField("release_date").alias("release_date"),
        payload.getField("duration_ms").alias("duration_ms"),
        payload.getField("explicit").alias("explicit"),
        payload.getField("external_ids").getField("isrc").alias("isrc"),
        F.lit("spotify").alias("source"),
        "observed_at", "run_id", "entity", "source_file",
        reason.alias(REASON),
        F.coalesce(F.col("_raw"), F.lit("null")).alias(RECORD),
    )


def with_incomplete_snapshots(items: DataFrame, playlists: DataFrame) -> DataFrame:
    """Flag the items of API playlist snapshots that did not land whole (e.g. a later page answered 403).

    A partial snapshot must not replace a playlist's membership, so its items get a ``_reason`` instead.
    """
    totals = playlists.select(F.col("_p.id").alias("playlist_id"), "run_id", F.col("_page.total").alias("_total"))
    landed = items.groupBy("playlist_id", "run_id").agg(F.count(F.lit(1)).alias("_landed"))
    incomplete = F.when(
        F.col("_total").isNotNull() & (F.col("_landed") != F.col("_total")),
        F.concat(
            F.lit("incomplete playlist snapshot: "), F.col("_landed").cast("string"), F.lit(" of "),
            F.col("_total").cast("string"), F.lit(" items landed"),
        ),
    )
    return (
        items.join(landed, on=["playlist_id", "run_id"], how="left")
        .join(totals, on=["playlist_id", "run_id"], how="left")
        .withColumn(REASON, F.coalesce(F.col(REASON), incomplete))
        .drop("_landed", "_total")
    )


def api_track_objects(envelopes: DataFrame) -> DataFrame:
    """Track objects outside playlists -> item-shaped rows for the dimension tables (no playlist/position).

    Sources: ``tracks`` (GET /tracks/{id}), ``saved_tracks`` (/me/tracks), ``recently_played`` and
    ``top_tracks`` (/me/top/tracks).
    """
    single = envelopes.transform(of_entity("spotify", "tracks")).withColumn(
        "_t", F.from_json("body", schemas.API_TRACK)
    )
    wrapped = envelopes.filter(F.col("entity").isin("saved_tracks", "recently_played")).transform(
        lambda df: df.filter(F.coalesce(F.col("http_status"), F.lit(200)) == 200)
    ).withColumn("_pg", F.from_json("body", schemas.API_SAVED_TRACKS_PAGE)).select(
        "*", F.explode("_pg.items.track").alias("_t")
    ).drop("_pg")
    top = envelopes.transform(of_entity("spotify", "top_tracks")).withColumn(
        "_pg", F.from_json("body", schemas.API_TRACKS_PAGE)
    ).select("*", F.explode("_pg.items").alias("_t")).drop("_pg")
    tracks = single.unionByName(wrapped).unionByName(top)
    artist = F.col("_t.artists").getItem(0)
    track_id = F.coalesce(valid_spotify_id(F.col("_t.id")), spotify_id_from_uri(F.col("_t.uri"), "track"))
    return tracks.select(
        track_id.alias("track_id"),
        F.col("_t.uri").alias("track_uri"),
        F.col("_t.name").alias("track_name"),
        valid_spotify_id(artist.getField("id")).alias("artist_id"),
        artist.getField("uri").alias("artist_uri"),
        artist.getField("name").alias("artist_name"),
        valid_spotify_id(F.col("_t.album.id")).alias("album_id"),
        F.col("_t.album.uri").alias("album_uri"),
        F.col("_t.album.name").alias("album_name"),
        F.col("_t.album.album_type").alias("album_type"),
        F.col("_t.album.release_date").alias("release_date"),
        F.col("_t.duration_ms").alias("duration_ms"),
        F.col("_t.explicit").alias("explicit"),
        F.col("_t.external_ids.isrc").alias("isrc"),
        F.lit("spotify").alias("source"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
        "run_id", "entity", "source_file",
        F.when(track_id.isNull(), F.lit("track object without a valid id")).alias(REASON),
        F.coalesce(F.to_json(F.col("_t")), F.lit("null")).alias(RECORD),  # a null object in a page too
    )


def api_artist_objects(envelopes: DataFrame) -> DataFrame:
    """``artists`` (GET /artists/{id}) and ``top_artists`` bodies -> artist rows with ``_reason``."""
    single = envelopes.transform(of_entity("spotify", "artists")).withColumn(
        "_a", F.from_json("body", schemas.API_ARTIST)
    )
    top = envelopes.transform(of_entity("spotify", "top_artists")).withColumn(
        "_pg", F.from_json("body", schemas.API_ARTISTS_PAGE)
    ).select("*", F.explode("_pg.items").alias("_a")).drop("_pg")
    artist_id = valid_spotify_id(F.col("_a.id"))
    return single.unionByName(top).select(
        artist_id.alias("artist_id"),
        F.col("_a.uri").alias("artist_uri"),
        F.col("_a.name").alias("artist_name"),
        F.lit("spotify").alias("source"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
        "run_id", "entity", "source_file",
        F.when(artist_id.isNull(), F.lit("artist object without a valid id")).alias(REASON),
        F.coalesce(F.to_json(F.col("_a")), F.lit("null")).alias(RECORD),  # a null object in a page too
    )


def api_album_objects(envelopes: DataFrame) -> DataFrame:
    """``albums`` (GET /albums/{id}) bodies -> album rows with ``_reason``."""
    albums = envelopes.transform(of_entity("spotify", "albums")).withColumn(
        "_a", F.from_json("body", schemas.API_ALBUM)
    )
    album_id = valid_spotify_id(F.col("_a.id"))
    return albums.select(
        album_id.alias("album_id"),
        F.col("_a.uri").alias("album_uri"),
        F.col("_a.name").alias("album_name"),
        F.col("_a.album_type").alias("album_type"),
        F.col("_a.release_date").alias("release_date"),
        valid_spotify_id(F.col("_a.artists").getItem(0).getField("id")).alias("artist_id"),
        F.lit("spotify").alias("source"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
        "run_id", "entity", "source_file",
        F.when(album_id.isNull(), F.lit("album object without a valid id")).alias(REASON),
        F.col("body").alias(RECORD),
    )


# --- dimensions from item-shaped rows ------------------------------------------------------------------------

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
