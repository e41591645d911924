"""Flatten Spotify Web API responses: playlists, their item pages, and track/artist/album objects."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake import schemas
from musiclake.transforms import strict
from musiclake.transforms.columns import (
    api_timestamp,
    field_problem,
    first_problem,
    spotify_id_from_uri,
    valid_spotify_id,
)
from musiclake.transforms.envelopes import REASON, RECORD, is_entity, of_entity
from musiclake.transforms.items import ENVELOPE_KEEP, null_of, select_item_columns

_PAGE_RAW = schemas.paging(T.StringType())
_PLAYLIST_RAW = T.StructType(
    [T.StructField(f.name, _PAGE_RAW if f.name in ("items", "tracks") else f.dataType, True)
     for f in schemas.API_PLAYLIST.fields]
)
_ITEMS_PATH = r"/playlists/([^/?]+)/items"


def parse_playlists(envelopes: DataFrame) -> DataFrame:
    """``playlists`` envelopes (GET /playlists/{id}) -> parsed rows with ``_reason``.

    The first page of items comes embedded under ``items`` (2026) or the deprecated ``tracks`` key.
    """
    parsed = strict.with_parsed(envelopes.transform(of_entity("spotify", "playlists")), "_p", _PLAYLIST_RAW,
                                F.col("body"))
    p = F.col("_p")
    rules = [strict.at_least(p, "followers.total", 0),
             *(strict.at_least(p, f"{key}.{n}", 0) for key in ("items", "tracks") for n in ("total", "offset"))]
    playlist_id = F.col("_p.id")
    reason = first_problem(
        strict.problem("_p", _PLAYLIST_RAW, F.col("body"), rules),
        field_problem(F.col("body"), playlist_id, "id"),
        F.when(valid_spotify_id(playlist_id).isNull(),
               F.format_string("playlist id %s is not a Spotify id (22 base62 characters)", playlist_id)),
    )
    return (
        parsed.withColumn("_page", F.coalesce(F.col("_p.items"), F.col("_p.tracks")))
        .withColumn("playlist_id", F.col("_p.id"))
        .withColumn(REASON, reason)
        .withColumn(RECORD, F.col("body"))
    )


def playlist_rows(parsed: DataFrame) -> DataFrame:
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
        null_of("timestamp").alias("modified_at"),
        F.lit("spotify").alias("source"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
        F.col("run_id"),
    )


def parse_item_pages(envelopes: DataFrame) -> DataFrame:
    """``playlist_items`` envelopes (GET /playlists/{id}/items pages) -> parsed pages with ``_reason``."""
    parsed = strict.with_parsed(envelopes.transform(of_entity("spotify", "playlist_items")), "_page", _PAGE_RAW,
                                F.col("body"))
    page = F.col("_page")
    from_url = F.regexp_extract(F.col("request_url"), _ITEMS_PATH, 1)
    playlist_id = F.coalesce(F.col("key"), F.when(from_url != "", from_url))
    reason = first_problem(
        F.when(playlist_id.isNull(), F.lit("items page without a playlist id (key or request URL)")),
        strict.problem("_page", _PAGE_RAW, F.col("body"), [strict.at_least(page, "total", 0),
                                                        strict.at_least(page, "offset", 0)]),
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


def _primary_artist_rules(parsed: Column, prefix: str = "") -> list[strict.Rule]:
    """The impossible values of the ``artists`` of a track or an album at ``prefix`` in ``parsed``, whose first is
    curated as the primary artist: a null artist, a malformed id of the first."""
    return [strict.no_nulls(parsed, f"{prefix}artists"), strict.spotify_id(parsed, f"{prefix}artists[0].id")]


def _track_rules(parsed: Column, prefix: str = "") -> list[strict.Rule]:
    """The impossible values of a TrackObject at ``prefix`` (``item.``) in ``parsed``, among the fields
    :func:`_track_attributes` curates: a negative number, its :func:`_primary_artist_rules`, a malformed id of
    its album, a release date that is no date."""
    return [*(strict.at_least(parsed, f"{prefix}{n}", 0) for n in ("duration_ms", "disc_number", "track_number")),
            *_primary_artist_rules(parsed, prefix),
            strict.spotify_id(parsed, f"{prefix}album.id"),
            strict.release_date(parsed, f"{prefix}album.release_date")]


def _track_attributes(track: Column) -> list[Column]:
    """A TrackObject's name, primary artist, album, duration, explicit flag and ISRC as item columns."""
    artist = track.getField("artists").getItem(0)
    album = track.getField("album")
    return [
        track.getField("name").alias("track_name"),
        valid_spotify_id(artist.getField("id")).alias("artist_id"),
        artist.getField("uri").alias("artist_uri"),
        artist.getField("name").alias("artist_name"),
        valid_spotify_id(album.getField("id")).alias("album_id"),
        album.getField("uri").alias("album_uri"),
        album.getField("name").alias("album_name"),
        album.getField("album_type").alias("album_type"),
        album.getField("release_date").alias("release_date"),
        track.getField("duration_ms").alias("duration_ms"),
        track.getField("explicit").alias("explicit"),
        track.getField("external_ids").getField("isrc").alias("isrc"),
    ]


def item_rows(playlists: DataFrame, pages: DataFrame) -> DataFrame:
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
    items = strict.with_parsed(raw_items.join(snapshot, on=["playlist_id", "run_id"], how="left"), "_i",
                               schemas.API_PLAYLIST_ITEM, F.col("_raw"))
    i = F.col("_i")
    item_rules = [strict.iso_timestamp(i, "added_at"),
                  strict.not_after_fetch("added_at", api_timestamp(i.getField("added_at")).cast("long"),
                                         F.col("observed_at").cast("long")),
                  *_track_rules(i, "item."), *_track_rules(i, "track.")]
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
    reason = first_problem(
        F.when(F.col("observed_at").isNull(), F.lit("items page without its playlist in the same run")),
        strict.problem("_i", schemas.API_PLAYLIST_ITEM, F.col("_raw"), item_rules),
        F.when(item_type.isNull(), F.lit("item of unknown type")),
        F.when((item_type == "track") & track_id.isNull(), F.lit("track item without a valid id or URI")),
        F.when(item_type == "track", id_against_uri(payload, "track")),
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
        *_track_attributes(payload),
        F.lit("spotify").alias("source"),
        "observed_at", "run_id", "entity", "source_file",
        reason.alias(REASON),
        F.coalesce(F.col("_raw"), F.lit("null")).alias(RECORD),
    ).transform(select_item_columns)


def id_against_uri(obj: Column, kind: str) -> Column:
    """The problem of an object whose ``id`` and ``uri`` name two different Spotify objects (both valid), or null:
    which one the row is about cannot be told."""
    object_id, of_uri = valid_spotify_id(obj.getField("id")), spotify_id_from_uri(obj.getField("uri"), kind)
    return F.when(object_id != of_uri, F.format_string(f"{kind} id %s does not match its URI %s", object_id,
                                                        obj.getField("uri")))


def with_incomplete_snapshots(items: DataFrame, playlists: DataFrame) -> DataFrame:
    """Flag the items of API playlist snapshots that did not land whole (e.g. a later page answered 403), or landed
    more items than the snapshot's ``total`` (pages of two snapshots mixed).

    Such a snapshot must not replace a playlist's membership, so its items get a ``_reason`` instead.
    """
    totals = playlists.select(F.col("_p.id").alias("playlist_id"), "run_id", F.col("_page.total").alias("_total"))
    landed = items.groupBy("playlist_id", "run_id").agg(F.count(F.lit(1)).alias("_landed"))
    landed_count, total = F.col("_landed"), F.col("_total")
    incomplete = (
        F.when(landed_count < total, F.format_string("incomplete playlist snapshot: %d of %d items landed",
                                                     landed_count, total))
        .when(landed_count > total, F.format_string("playlist snapshot with more items than its total: %d landed, "
                                                    "total %d", landed_count, total))
    )
    return (
        items.join(landed, on=["playlist_id", "run_id"], how="left")
        .join(totals, on=["playlist_id", "run_id"], how="left")
        .withColumn(REASON, F.coalesce(F.col(REASON), incomplete))
        .drop("_landed", "_total")
    )


def _object_lineage(reason: Column, record: Column) -> list[Column]:
    """The columns every API object row ends with: source, observation time, lineage, ``_reason``, ``_record``."""
    return [
        F.lit("spotify").alias("source"),
        api_timestamp(F.col("fetched_at")).alias("observed_at"),
        F.col("run_id"), F.col("entity"), F.col("source_file"),
        reason.alias(REASON),
        record.alias(RECORD),
    ]


def _json_of(parsed: str) -> Column:
    """A parsed object back as JSON text for the quarantine (``null`` for a null object in a page)."""
    return F.coalesce(F.to_json(F.col(parsed)), F.lit("null"))


def _objects(envelopes: DataFrame, entity: str, schema: T.StructType, column: str,
             page: T.StructType | None = None, wrapped: str | None = None) -> DataFrame:
    """The objects of one entity's bodies, one row each in ``column`` with ``_problem`` for a body that did not
    parse strictly (then one row for the whole body, its object null).

    ``page``: the body is a paging object of them (``wrapped``: each item holds the object under that key).
    """
    bodies = envelopes.filter(is_entity("spotify", entity))
    if page is None:
        parsed = strict.with_parsed(bodies, column, schema, F.col("body"))
        return parsed.withColumn("_problem", strict.problem(column, schema, F.col("body"))).withColumn(
            column, F.col(column).dropFields(strict.CORRUPT)
        ).drop(strict.shadow_column(column))
    parsed = strict.with_parsed(bodies, "_pg", page, F.col("body"))
    problem = strict.problem("_pg", page, F.col("body"))
    items = F.col("_pg.items")
    objects = F.transform(items, lambda item: item.getField(wrapped)) if wrapped else items
    # A body with a problem becomes one row (null object, the problem): never a silent empty explode.
    return parsed.withColumn("_problem", problem).select(
        "*", F.explode(F.when(F.col("_problem").isNull(), objects).otherwise(F.array(F.lit(None)))).alias(column)
    ).drop("_pg", strict.shadow_column("_pg"))


def _record_of(column: str) -> Column:
    """The quarantine record: the body when the body did not parse, else the object as parsed."""
    return F.when(F.col("_problem").isNotNull(), F.col("body")).otherwise(_json_of(column))


# Where track and artist objects outside playlists come from: entity -> (paging schema of its body, key of the
# object in each item), ``(None, None)`` for a body that is the object itself. The planner reads the entities too.
TRACK_SOURCES: dict[str, tuple[T.StructType | None, str | None]] = {
    "tracks": (None, None),  # GET /tracks/{id}
    "saved_tracks": (schemas.API_SAVED_TRACKS_PAGE, "track"),  # /me/tracks
    "recently_played": (schemas.API_SAVED_TRACKS_PAGE, "track"),  # /me/player/recently-played
    "top_tracks": (schemas.API_TRACKS_PAGE, None),  # /me/top/tracks
}
ARTIST_SOURCES: dict[str, tuple[T.StructType | None, str | None]] = {
    "artists": (None, None),  # GET /artists/{id}
    "top_artists": (schemas.API_ARTISTS_PAGE, None),  # /me/top/artists
}


def _objects_of(envelopes: DataFrame, sources: dict[str, tuple[T.StructType | None, str | None]],
                schema: T.StructType, column: str) -> DataFrame:
    """:func:`_objects` of every entity in ``sources``, as one frame."""
    frames = [_objects(envelopes, entity, schema, column, page, wrapped) for entity, (page, wrapped) in sources.items()]
    return reduce(DataFrame.unionByName, frames)


def track_objects(envelopes: DataFrame) -> DataFrame:
    """Track objects outside playlists (:data:`TRACK_SOURCES`) -> item-shaped rows for the dimension tables (no
    playlist/position)."""
    tracks = _objects_of(envelopes, TRACK_SOURCES, schemas.API_TRACK, "_t")
    t = F.col("_t")
    track_id = F.coalesce(valid_spotify_id(t.getField("id")), spotify_id_from_uri(t.getField("uri"), "track"))
    reason = first_problem(
        F.col("_problem"),
        *(rule.problem(t) for rule in _track_rules(t)),
        F.when(track_id.isNull(), F.lit("track object without a valid id")),
        id_against_uri(t, "track"),
    )
    return tracks.select(
        track_id.alias("track_id"),
        t.getField("uri").alias("track_uri"),
        *_track_attributes(t),
        *_object_lineage(reason, _record_of("_t")),
    )


def artist_objects(envelopes: DataFrame) -> DataFrame:
    """Artist objects (:data:`ARTIST_SOURCES`) -> artist rows with ``_reason``."""
    artists = _objects_of(envelopes, ARTIST_SOURCES, schemas.API_ARTIST, "_a")
    artist_id = valid_spotify_id(F.col("_a.id"))
    reason = first_problem(F.col("_problem"), F.when(artist_id.isNull(), F.lit("artist object without a valid id")))
    return artists.select(
        artist_id.alias("artist_id"),
        F.col("_a.uri").alias("artist_uri"),
        F.col("_a.name").alias("artist_name"),
        *_object_lineage(reason, _record_of("_a")),
    )


def album_objects(envelopes: DataFrame) -> DataFrame:
    """``albums`` (GET /albums/{id}) bodies -> album rows with ``_reason``."""
    albums = _objects(envelopes, "albums", schemas.API_ALBUM, "_a")
    a = F.col("_a")
    album_id = valid_spotify_id(a.getField("id"))
    reason = first_problem(
        F.col("_problem"),
        *(rule.problem(a) for rule in (strict.at_least(a, "total_tracks", 0), strict.release_date(a, "release_date"),
                                        *_primary_artist_rules(a))),
        F.when(album_id.isNull(), F.lit("album object without a valid id")),
    )
    return albums.select(
        album_id.alias("album_id"),
        a.getField("uri").alias("album_uri"),
        a.getField("name").alias("album_name"),
        a.getField("album_type").alias("album_type"),
        a.getField("release_date").alias("release_date"),
        valid_spotify_id(a.getField("artists").getItem(0).getField("id")).alias("artist_id"),
        *_object_lineage(reason, F.col("body")),
    )
