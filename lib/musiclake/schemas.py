"""The data model: raw schemas, column names, and every table of the lake in one registry (:data:`TABLES`).

Raw data is never schema-inferred: the envelope is read with :data:`ENVELOPE`, whose ``body`` is the raw JSON
text of the record, and each entity's body is parsed with its own schema below. Tables are declared as
:class:`TableSpec` with a comment on every column (they become catalog column comments); :class:`musiclake.lake.Lake`
creates, reads and writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyspark.sql import types as T

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableSpec:
    """A lake table: its name, schema (column comments in field metadata), key and partitioning.

    Parameters
    ----------
    name
        Table name, also its folder under the lake root.
    schema
        The table's columns; ``StructField.metadata["comment"]`` becomes the catalog column comment.
    keys
        The primary key MERGEs match on (unique, not null).
    partition_by
        Partition columns (chosen for how the table is queried).
    partition_follows_key
        True when a row's partition values are a function of its key, so a key never moves to another partition
        (``mpd:<pid>`` is always ``source=mpd``): a MERGE may then scan only the partitions its batch touches
        (:meth:`musiclake.lake.Lake.merge`). Leave it false otherwise (``quarantine``: the same record quarantined
        again on a later day moves to that day).
    comment
        The table comment in the catalog.
    path
        Optional explicit location overriding ``<lake root>/<name>`` (e.g. a job's ``--recommendations_path``).
    """

    name: str
    schema: T.StructType
    keys: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    partition_follows_key: bool = False
    comment: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    path: str | None = None

    def qualified(self, database: str) -> str:
        """``database.name``, both checked to be plain identifiers."""
        return f"{checked_identifier(database)}.{checked_identifier(self.name)}"


def checked_identifier(identifier: str) -> str:
    """``identifier`` if it is a plain SQL identifier (letters, digits, _); else ValueError."""
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"invalid database/table name {identifier!r}: use letters, digits and _")
    return identifier


# --- column names shared by the ETL and the recommender ---------------------------------------------------------
PLAYLIST_ID = "playlist_id"
TRACK_ID = "track_id"
PLAYLIST_IDX = "playlist_idx"
TRACK_IDX = "track_idx"
WEIGHT = "weight"
RANK = "rank"
SCORE = "score"

S, L, INT, B, D, TS = T.StringType(), T.LongType(), T.IntegerType(), T.BooleanType(), T.DoubleType(), T.TimestampType()


def _c(name: str, dtype: T.DataType, comment: str, nullable: bool = True) -> T.StructField:
    return T.StructField(name, dtype, nullable, {"comment": comment})


def _raw(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(n, t, True) for n, t in fields])


# --- raw landing zone ----------------------------------------------------------------------------------------
CORRUPT_COLUMN = "_corrupt_record"

ENVELOPE = _raw(
    ("run_id", S), ("source", S), ("entity", S), ("key", S), ("request_url", S), ("http_status", INT),
    ("fetched_at", S), ("body", S), (CORRUPT_COLUMN, S),
)

MPD_TRACK = _raw(
    ("pos", INT), ("artist_name", S), ("artist_uri", S), ("track_name", S), ("track_uri", S), ("album_name", S),
    ("album_uri", S), ("duration_ms", L),
)
MPD_PLAYLIST = _raw(
    ("pid", L), ("name", S), ("collaborative", S), ("modified_at", L), ("num_tracks", INT), ("num_albums", INT),
    ("num_artists", INT), ("num_followers", INT), ("num_edits", INT), ("duration_ms", L), ("description", S),
    ("tracks", T.ArrayType(MPD_TRACK)),
)

API_ARTIST_REF = _raw(("id", S), ("uri", S), ("name", S), ("type", S))
API_ALBUM = _raw(
    ("id", S), ("uri", S), ("name", S), ("album_type", S), ("release_date", S), ("release_date_precision", S),
    ("total_tracks", INT), ("artists", T.ArrayType(API_ARTIST_REF)), ("type", S),
)
API_SHOW_REF = _raw(("id", S), ("uri", S), ("name", S), ("publisher", S))
# A playlist item's payload: a TrackObject or an EpisodeObject (told apart by ``type``).
API_TRACK = _raw(
    ("id", S), ("uri", S), ("name", S), ("type", S), ("duration_ms", L), ("explicit", B), ("is_local", B),
    ("disc_number", INT), ("track_number", INT), ("external_ids", _raw(("isrc", S))),
    ("album", API_ALBUM), ("artists", T.ArrayType(API_ARTIST_REF)), ("show", API_SHOW_REF),
)
API_ARTIST = _raw(("id", S), ("uri", S), ("name", S), ("type", S))
API_PLAYLIST_ITEM = _raw(
    ("added_at", S), ("added_by", _raw(("id", S))), ("is_local", B), ("item", API_TRACK), ("track", API_TRACK),
)


def paging(item: T.DataType) -> T.StructType:
    """Spotify's paging object around ``item``."""
    return _raw(("href", S), ("items", T.ArrayType(item)), ("limit", INT), ("next", S), ("offset", INT), ("total", INT))


API_PLAYLIST_PAGE = paging(API_PLAYLIST_ITEM)
API_PLAYLIST = _raw(
    ("id", S), ("uri", S), ("name", S), ("description", S), ("public", B), ("collaborative", B),
    ("snapshot_id", S), ("owner", _raw(("id", S), ("display_name", S))),
    ("followers", _raw(("total", INT))),
    ("items", API_PLAYLIST_PAGE), ("tracks", API_PLAYLIST_PAGE),
)
# /me/tracks and /me/player/recently-played wrap tracks as {"track": ...}; /me/top/tracks pages TrackObjects.
API_SAVED_TRACKS_PAGE = paging(_raw(("added_at", S), ("played_at", S), ("track", API_TRACK)))
API_TRACKS_PAGE = paging(API_TRACK)
API_ARTISTS_PAGE = paging(API_ARTIST)

# --- curated tables ------------------------------------------------------------------------------------------
_OBSERVED = [
    _c("source", S, "where the row came from: spotify (Web API) or mpd (Million Playlist Dataset)", False),
    _c("observed_at", TS, "when this version was observed (API fetch time; MPD playlist modified_at)", False),
    _c("run_id", S, "landing run the row was read from", False),
]
# Optimized writes (few, large files per write); no auto compaction: its check after every write computes the new
# snapshot's file list (a Spark job per write), and compacting is housekeeping's scheduled OPTIMIZE (docs/etl.md).
_AUTO = {"delta.autoOptimize.optimizeWrite": "true"}

PLAYLISTS = TableSpec(
    name="playlists",
    comment="One current row per playlist (latest observation), both sources",
    keys=("playlist_id",),
    partition_by=("source",),
    partition_follows_key=True,  # source=mpd for mpd:<pid>, spotify for a Spotify id
    properties=_AUTO,
    schema=T.StructType([
        _c("playlist_id", S, "Spotify playlist id, or mpd:<pid> for the Million Playlist Dataset", False),
        _c("name", S, "playlist name"),
        _c("description", S, "playlist description"),
        _c("owner_id", S, "Spotify user id of the owner (null for MPD)"),
        _c("collaborative", B, "whether others can edit it"),
        _c("snapshot_id", S, "Spotify snapshot id of the version stored (null for MPD)"),
        _c("num_tracks", INT, "number of items in the stored version"),
        _c("num_followers", INT, "followers (MPD only; no longer served by the API)"),
        _c("modified_at", TS, "last modification (MPD modified_at; null for the API)"),
        *_OBSERVED,
    ]),
)

PLAYLIST_TRACKS = TableSpec(
    name="playlist_tracks",
    comment="Membership: the items of each playlist's latest snapshot, one row per position",
    keys=("playlist_id", "position"),
    partition_by=("source",),
    partition_follows_key=True,  # source=mpd for mpd:<pid>, spotify for a Spotify id
    # the change data feed tells build_interactions which playlists changed since its last run
    properties={**_AUTO, "delta.enableChangeDataFeed": "true"},
    schema=T.StructType([
        _c("playlist_id", S, "playlist (see playlists.playlist_id)", False),
        _c("position", INT, "0-based position in the playlist", False),
        _c("item_type", S, "track, episode, local (local file) or unavailable (null item)", False),
        _c("track_id", S, "Spotify track id (null unless item_type = track)"),
        _c("item_uri", S, "item URI as given (spotify:track:..., spotify:episode:..., spotify:local:...)"),
        _c("added_at", TS, "when the item was added (API; null for MPD)"),
        _c("added_by", S, "user id who added it (null for MPD and very old playlists)"),
        _c("snapshot_id", S, "snapshot of the playlist this membership belongs to (null for MPD)"),
        *_OBSERVED,
    ]),
)

TRACKS = TableSpec(
    name="tracks",
    comment="One current row per Spotify track",
    keys=("track_id",),
    properties=_AUTO,
    schema=T.StructType([
        _c("track_id", S, "Spotify track id (22 characters, base62)", False),
        _c("track_uri", S, "spotify:track:<id>"),
        _c("track_name", S, "track name"),
        _c("artist_id", S, "primary (first) artist's id"),
        _c("artist_name", S, "primary artist's name"),
        _c("album_id", S, "album id"),
        _c("album_name", S, "album name"),
        _c("duration_ms", L, "duration in milliseconds"),
        _c("explicit", B, "explicit lyrics (API only)"),
        _c("isrc", S, "ISRC from external_ids (API only)"),
        *_OBSERVED,
    ]),
)

ARTISTS = TableSpec(
    name="artists",
    comment="One current row per Spotify artist",
    keys=("artist_id",),
    properties=_AUTO,
    schema=T.StructType([
        _c("artist_id", S, "Spotify artist id", False),
        _c("artist_uri", S, "spotify:artist:<id>"),
        _c("artist_name", S, "artist name"),
        *_OBSERVED,
    ]),
)

ALBUMS = TableSpec(
    name="albums",
    comment="One current row per Spotify album",
    keys=("album_id",),
    properties=_AUTO,
    schema=T.StructType([
        _c("album_id", S, "Spotify album id", False),
        _c("album_uri", S, "spotify:album:<id>"),
        _c("album_name", S, "album name"),
        _c("album_type", S, "album, single or compilation (API only)"),
        _c("release_date", S, "release date as given (precision varies; API only)"),
        _c("artist_id", S, "primary artist's id"),
        *_OBSERVED,
    ]),
)

QUARANTINE = TableSpec(
    name="quarantine",
    comment="Raw records (or items of records) that could not be curated, with the reason",
    keys=("quarantine_id",),
    partition_by=("quarantined_date",),
    schema=T.StructType([
        _c("quarantine_id", S, "sha256 of source file, record and reason: the same bad input is kept once", False),
        _c("run_id", S, "landing run (null if the envelope itself is unreadable)"),
        _c("source", S, "spotify or mpd (null if unreadable)"),
        _c("entity", S, "entity of the envelope (null if unreadable)"),
        _c("source_file", S, "landing file the record came from", False),
        _c("reason", S, "why it was quarantined", False),
        _c("record", S, "the raw line, or the offending item as JSON", False),
        _c("occurrences", L, "how many times this exact record was read in the batch (identical lines count here)",
           False),
        _c("job_run_id", S, "job run that quarantined it", False),
        _c("quarantined_date", S, "partition: UTC date of quarantine (YYYY-MM-DD)", False),
    ]),
)

JOB_RUNS = TableSpec(
    name="job_runs",
    comment="One row per job run: what it read, wrote and quarantined",
    keys=("job_run_id",),
    schema=T.StructType([
        _c("job_run_id", S, "unique id of the job run", False),
        _c("job_name", S, "Glue job name", False),
        _c("status", S, "succeeded, skipped (nothing new) or failed", False),
        _c("started_at", TS, "start (UTC)", False),
        _c("finished_at", TS, "end (UTC)", False),
        _c("landing_runs", T.ArrayType(S), "landing runs processed"),
        _c("records_read", L, "raw records (envelopes and items) read"),
        _c("records_written", T.MapType(S, L), "rows inserted or updated per table"),
        _c("records_quarantined", L, "records sent to quarantine"),
        _c("input_versions", T.MapType(S, L), "Delta versions of the input tables read (derived jobs)"),
        _c("message", S, "error or note"),
        _c("input_table_ids", T.MapType(S, S),
           "Delta table ids of the input tables read: a table deleted and created again has a new one"),
    ]),
)

PROCESSED_RUNS = TableSpec(
    name="processed_runs",
    comment="Landing runs already curated: a scheduled job skips them (--reprocess true rebuilds from all raw)",
    keys=("run_id",),
    schema=T.StructType([
        _c("run_id", S, "landing run id", False),
        _c("source", S, "spotify or mpd", False),
        _c("records", L, "records the run's manifest lists"),
        _c("job_run_id", S, "job run that processed it", False),
        _c("processed_at", TS, "when (UTC)", False),
    ]),
)

INTERACTIONS = TableSpec(
    name="interactions",
    comment="Implicit feedback for the recommender: one row per playlist x track",
    keys=("playlist_idx", "track_idx"),
    properties=_AUTO,
    schema=T.StructType([
        _c("playlist_idx", INT, "stable integer id of the playlist (playlist_ids)", False),
        _c("track_idx", INT, "stable integer id of the track (track_ids)", False),
        _c("playlist_id", S, "playlist id", False),
        _c("track_id", S, "Spotify track id", False),
        _c("weight", D, "times the track appears in the playlist (>= 1)", False),
    ]),
)

PLAYLIST_IDS = TableSpec(
    name="playlist_ids",
    comment="Stable integer ids of playlists: an id, once given, never changes",
    keys=("playlist_id",),
    schema=T.StructType([
        _c("playlist_id", S, "playlist id", False),
        _c("playlist_idx", INT, "dense integer id (0-based, in order of first appearance, then by id)", False),
    ]),
)

TRACK_IDS = TableSpec(
    name="track_ids",
    comment="Stable integer ids of tracks: an id, once given, never changes",
    keys=("track_id",),
    schema=T.StructType([
        _c("track_id", S, "Spotify track id", False),
        _c("track_idx", INT, "dense integer id (0-based, in order of first appearance, then by id)", False),
    ]),
)


# --- recommender outputs (train_als) ----------------------------------------------------------------------------
EVALUATIONS = TableSpec(
    name="evaluations",
    comment="Offline evaluation of the ALS recommender against a popularity baseline, one row per metric",
    keys=("model_version", "split", "model", "params", "metric", "fold"),
    schema=T.StructType([
        _c("model_version", S, "model version (folder v=<version> under models/als)", False),
        _c("split", S, "test: evaluation holdout; validation: tuning split carved from train; "
                       "new_playlists_<first|random>_<seeds>: playlists held out whole, seeds revealed (RecSys 2018)",
           False),
        _c("model", S, "als, popularity (the baseline) or title (new playlists without seeds: title cold start)",
           False),
        _c("params", S, "ALS parameters as JSON ({} for popularity)", False),
        _c("metric", S, "precision_at_10, recall_at_10, ndcg_at_10, map_at_10, r_precision, ndcg_at_500 or clicks "
                        "(see musiclake.recommend.metrics)", False),
        _c("k", INT, "cut-off of the metric (list length for r_precision/clicks)", False),
        _c("value", D, "mean over the evaluated playlists (clicks: lower is better)", False),
        _c("n_playlists", L, "playlists with held-out tracks that were evaluated", False),
        _c("evaluated_at", TS, "when the evaluation ran (UTC)", False),
        # tuning trials (split = validation); null on other rows and on rows written before they existed
        _c("trial", INT, "tuning: sampled configuration number (params holds its weighting and iterations)"),
        _c("rung", INT, "tuning: successive-halving rung (0 = fewest ALS iterations)"),
        _c("fold", INT, "tuning: validation split (0 = the one every rung uses; finalists also on 1, 2, ...)"),
        _c("seconds", D, "tuning: wall time of the trial's fit and scoring"),
    ]),
)

RECOMMENDATIONS = TableSpec(
    name="recommendations",
    comment="Top-k track recommendations per playlist from the latest ALS model",
    keys=(PLAYLIST_ID, RANK),
    schema=T.StructType([
        _c(PLAYLIST_ID, S, "playlist id (mpd:<pid> or a Spotify playlist id)", False),
        _c(TRACK_ID, S, "recommended Spotify track id, never one already in the playlist", False),
        _c(RANK, INT, "1 = best", False),
        _c(SCORE, D, "ALS preference score (dot product of factors); higher is better", False),
        _c("model_version", S, "model version that produced the list", False),
    ]),
)

SIMILAR_TRACKS = TableSpec(
    name="similar_tracks",
    comment="Most similar tracks per track by cosine similarity of ALS item factors",
    keys=(TRACK_ID, RANK),
    schema=T.StructType([
        _c(TRACK_ID, S, "Spotify track id", False),
        _c("similar_track_id", S, "a similar track (never the track itself)", False),
        _c(RANK, INT, "1 = most similar", False),
        _c("similarity", D, "cosine similarity of the ALS item factors, in [-1, 1]", False),
        _c("model_version", S, "model version that produced the list", False),
    ]),
)

# --- the registry -----------------------------------------------------------------------------------------------
CURATED_TABLES = (PLAYLISTS, PLAYLIST_TRACKS, TRACKS, ARTISTS, ALBUMS)
BOOKKEEPING_TABLES = (QUARANTINE, JOB_RUNS, PROCESSED_RUNS)
RECOMMENDER_TABLES = (INTERACTIONS, PLAYLIST_IDS, TRACK_IDS, EVALUATIONS, RECOMMENDATIONS, SIMILAR_TRACKS)
TABLES: dict[str, TableSpec] = {t.name: t for t in (*CURATED_TABLES, *BOOKKEEPING_TABLES, *RECOMMENDER_TABLES)}
"""Every table of the lake by name: what the jobs write, ``musiclake tables`` lists and ``musiclake query`` sees."""
