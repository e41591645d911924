"""Flatten Million Playlist Dataset playlists: parsed playlists -> ``playlists`` rows and item rows.

Each body is parsed once, typed (:mod:`~musiclake.transforms.strict`). A playlist the parser flags is parsed a
second time with its tracks as raw JSON text, so a problem in one track quarantines that track only: a wrong-typed
or impossible playlist-level field (``"modified_at": "yesterday"``) quarantines the whole playlist, a wrong-typed
track field (``"duration_ms": "abc"``) only the track.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake import schemas
from musiclake.transforms import strict
from musiclake.transforms.columns import api_timestamp, first_problem, spotify_id_from_uri
from musiclake.transforms.envelopes import LINE_COLUMN, REASON, RECORD, TYPED_BODY_COLUMN, is_entity, of_entity
from musiclake.transforms.items import ENVELOPE_KEEP, null_of, select_item_columns


def _with_tracks(element: T.DataType) -> T.StructType:
    """The MPD playlist schema with ``tracks`` as a list of ``element``."""
    return T.StructType([T.StructField(f.name, T.ArrayType(element) if f.name == "tracks" else f.dataType, True)
                         for f in schemas.MPD_PLAYLIST.fields])


_TYPED = _with_tracks(strict.with_corrupt(schemas.MPD_TRACK))  # the one parse of a clean playlist
# The body schema the reader may parse MPD lines with (see with_typed_body): the parse's own type, its corrupt-record
# field (null) included.
BODY = strict.with_corrupt(_TYPED)
_LISTED = _with_tracks(T.StringType())  # a flagged playlist: tracks as raw JSON text, checked one by one
_PROBLEM = "_mpd_problem"  # the playlist-level problem :func:`with_typed_body` adds


def _playlist_rules(p: Column) -> list[strict.Rule]:
    fetched = F.unix_timestamp(api_timestamp(F.col("fetched_at")))
    counts = ("num_tracks", "num_albums", "num_artists", "num_followers", "num_edits", "duration_ms")
    return [
        strict.at_least(p, "pid", 0),
        strict.at_least(p, "modified_at", 0),
        strict.not_after_fetch("modified_at", p.getField("modified_at"), fetched),
        *(strict.at_least(p, c, 0) for c in counts),
        strict.Rule("collaborative", F.lower(p.getField("collaborative")).isin("true", "false"),
                    "expected true or false"),  # the slices' text: anything else would be curated as false
    ]


def parse_playlists(envelopes: DataFrame) -> DataFrame:
    """MPD envelopes -> one row per playlist: ``_p`` (typed), ``_tracks`` (typed, one struct per track, each
    with :data:`strict.CORRUPT` set when it did not parse), ``_reason`` (playlist-level problems) and ``_record``
    (the body of a bad playlist). Envelopes already through :func:`with_typed_body` are not parsed again."""
    typed = envelopes if _PROBLEM in envelopes.columns else with_typed_body(envelopes)
    return (
        typed.transform(of_entity("mpd", "playlists"))
        .withColumnRenamed(_PROBLEM, REASON)
        .withColumn(RECORD, F.when(F.col(REASON).isNotNull(), F.col("body")))
    )


def with_typed_body(envelopes: DataFrame) -> DataFrame:
    """Parse every MPD playlist body once: adds ``_p``, ``_tracks`` and the playlist-level problem (null for
    other envelopes), and drops the body text of a playlist with no problem (it is not needed again).

    A body the reader parsed already (:data:`TYPED_BODY_COLUMN`, from ``load_envelopes(..., typed=...)`` with
    :data:`BODY`: a line whose every value had its type) is taken as it is; the record of such a playlist with a
    problem is the body from its line (:data:`LINE_COLUMN`)."""
    body = F.col("body")
    selected = is_entity("mpd", "playlists")
    parsed = strict.parse(body, _TYPED)
    if TYPED_BODY_COLUMN in envelopes.columns:
        parsed = F.coalesce(F.col(TYPED_BODY_COLUMN), parsed)
        body = F.coalesce(body, F.get_json_object(F.col(LINE_COLUMN), "$.body"))
    typed = envelopes.withColumn("_p", F.when(selected, parsed))
    flagged = F.col("_p").getField(strict.CORRUPT).isNotNull()
    listed = strict.with_parsed(typed, "_l", _LISTED, body, where=flagged)
    p, lst = F.col("_p"), F.col("_l")
    problem = first_problem(
        F.when(flagged, strict.problem("_l", _LISTED, body)),  # only playlist-level fields: tracks are text here
        F.when(p.getField("pid").isNull(), F.lit("missing required field pid")),
        F.when(p.getField("tracks").isNull() & lst.getField("tracks").isNull(),
               F.lit("missing required field tracks")),
        *(rule.problem(p) for rule in _playlist_rules(p)),
    )
    tracks = F.when(~flagged, p.getField("tracks")).otherwise(
        F.transform(lst.getField("tracks"), lambda raw: strict.parse(raw, schemas.MPD_TRACK))
    )
    return (
        listed.withColumn(_PROBLEM, F.when(selected, problem))
        .withColumn("_tracks", F.when(selected & F.col(_PROBLEM).isNull(), tracks))
        .withColumn("body", F.when(~selected | F.col(_PROBLEM).isNotNull(), body))
        .withColumn("_p", F.col("_p").dropFields("tracks"))
        .drop("_l", strict.shadow_column("_l"), TYPED_BODY_COLUMN, LINE_COLUMN)
    )


def _observed_at(modified: Column) -> Column:
    return F.coalesce(modified, api_timestamp(F.col("fetched_at")))


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
        F.size("_tracks").alias("num_tracks"),
        F.col("_p.num_followers").alias("num_followers"),
        modified.alias("modified_at"),
        F.lit("mpd").alias("source"),
        _observed_at(modified).alias("observed_at"),
        F.col("run_id"),
    )


def item_rows(parsed: DataFrame) -> DataFrame:
    """Valid parsed MPD playlists -> item rows, one per track; bad tracks carry ``_reason`` and ``_record``."""
    exploded = parsed.select(
        F.concat(F.lit("mpd:"), F.col("_p.pid").cast("string")).alias("playlist_id"),
        _observed_at(F.timestamp_seconds(F.col("_p.modified_at"))).alias("observed_at"),
        *ENVELOPE_KEEP,
        F.posexplode("_tracks").alias("position", "_t"),
    )
    exploded = strict.with_shadow(exploded, "_t", schemas.MPD_TRACK, F.col("_t").getField(strict.CORRUPT))
    t = F.col("_t")
    uri = t.getField("track_uri")
    # a column of its own: the reason and the output both read it, and a regular expression per item is not free
    exploded = exploded.withColumn("_track_id", spotify_id_from_uri(uri, "track"))
    track_id = F.col("_track_id")
    rules = [strict.at_least(t, "duration_ms", 0), strict.at_least(t, "pos", 0),
             strict.spotify_uri(t, "artist_uri", "artist"), strict.spotify_uri(t, "album_uri", "album")]
    reason = first_problem(
        F.when(t.isNull(), F.lit("missing required field track_uri")),
        strict.problem("_t", schemas.MPD_TRACK, t.getField(strict.CORRUPT), rules),
        F.when(uri.isNull(), F.lit("missing required field track_uri")),
        F.when(track_id.isNull(), F.lit("track_uri is not a spotify:track URI")),
    )
    # Only a bad track needs its text: the raw text when it did not parse, else the parsed track (null: "null").
    record = F.coalesce(t.getField(strict.CORRUPT), F.to_json(t), F.lit("null"))
    return exploded.withColumn(REASON, reason).select(
        "playlist_id",
        F.col("position").cast("int").alias("position"),
        F.lit("track").alias("item_type"),
        track_id.alias("track_id"),
        uri.alias("item_uri"),
        null_of("timestamp").alias("added_at"),
        null_of().alias("added_by"),
        null_of().alias("snapshot_id"),
        uri.alias("track_uri"),
        t.getField("track_name").alias("track_name"),
        t.getField("artist_uri").alias("artist_uri"),
        t.getField("artist_name").alias("artist_name"),
        t.getField("album_uri").alias("album_uri"),
        t.getField("album_name").alias("album_name"),
        null_of().alias("album_type"),
        null_of().alias("release_date"),
        t.getField("duration_ms").alias("duration_ms"),
        null_of("boolean").alias("explicit"),
        null_of().alias("isrc"),
        F.lit("mpd").alias("source"),
        "observed_at", "run_id", "entity", "source_file",
        REASON,
        F.when(F.col(REASON).isNotNull(), record).alias(RECORD),
    ).transform(with_uri_ids).transform(select_item_columns)


# The item columns an MPD track only names by URI, each a function of its URI column (see with_uri_ids).
URI_IDS = {"artist_id": ("artist_uri", "artist"), "album_id": ("album_uri", "album")}


def with_uri_ids(rows: DataFrame) -> DataFrame:
    """Add :data:`URI_IDS` (``artist_id``, ``album_id``) from their URIs: null for a missing URI (a malformed one
    quarantines its track in :func:`item_rows`). Functions of a column of the rows, they can be left out of an
    aggregation over the URIs and added after it, to the few rows it leaves
    (:func:`musiclake.transforms.curate.dimension_updates`)."""
    return rows.withColumns({name: spotify_id_from_uri(F.col(uri), kind) for name, (uri, kind) in URI_IDS.items()})
