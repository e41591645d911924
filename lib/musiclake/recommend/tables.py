"""Column names the recommender works with and the Delta tables it writes (with catalog column comments).

Inside the recommender every DataFrame uses the ETL's names: ``playlist_idx`` / ``track_idx`` (int32, what
ALS needs), ``playlist_id`` / ``track_id`` (strings), ``weight`` (double, times the track is in the playlist).
"""

from __future__ import annotations

from pyspark.sql.types import (
    DataType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from musiclake.io import TableSpec

PLAYLIST_ID = "playlist_id"
TRACK_ID = "track_id"
PLAYLIST_IDX = "playlist_idx"
TRACK_IDX = "track_idx"
WEIGHT = "weight"
RANK = "rank"
SCORE = "score"

INTERACTIONS = "interactions"
PLAYLIST_IDS = "playlist_ids"
TRACK_IDS = "track_ids"
TRACKS = "tracks"
PLAYLISTS = "playlists"


def _field(name: str, data_type: DataType, comment: str, nullable: bool = False) -> StructField:
    return StructField(name, data_type, nullable=nullable, metadata={"comment": comment})


EVALUATIONS = TableSpec(
    name="evaluations",
    schema=StructType(
        [
            _field("model_version", StringType(), "model version (folder v=<version> under models/als)"),
            _field("split", StringType(), "test: evaluation holdout; validation: tuning split carved from train"),
            _field("model", StringType(), "als or popularity (the baseline)"),
            _field("params", StringType(), "ALS parameters as JSON ({} for popularity)"),
            _field("metric", StringType(), "precision_at_10, recall_at_10, ndcg_at_10, map_at_10, r_precision, "
                                           "ndcg_at_500 or clicks (see musiclake.recommend.metrics)"),
            _field("k", IntegerType(), "cut-off of the metric (list length for r_precision/clicks)"),
            _field("value", DoubleType(), "mean over the evaluated playlists (clicks: lower is better)"),
            _field("n_playlists", LongType(), "playlists with held-out tracks that were evaluated"),
            _field("evaluated_at", TimestampType(), "when the evaluation ran (UTC)"),
        ]
    ),
    keys=("model_version", "split", "model", "params", "metric"),
    comment="Offline evaluation of the ALS recommender against a popularity baseline, one row per metric",
)

RECOMMENDATIONS = TableSpec(
    name="recommendations",
    schema=StructType(
        [
            _field(PLAYLIST_ID, StringType(), "playlist id (mpd:<pid> or a Spotify playlist id)"),
            _field(TRACK_ID, StringType(), "recommended Spotify track id, never one already in the playlist"),
            _field(RANK, IntegerType(), "1 = best"),
            _field(SCORE, DoubleType(), "ALS preference score (dot product of factors); higher is better"),
            _field("model_version", StringType(), "model version that produced the list"),
        ]
    ),
    keys=(PLAYLIST_ID, RANK),
    comment="Top-k track recommendations per playlist from the latest ALS model",
)

SIMILAR_TRACKS = TableSpec(
    name="similar_tracks",
    schema=StructType(
        [
            _field(TRACK_ID, StringType(), "Spotify track id"),
            _field("similar_track_id", StringType(), "a similar track (never the track itself)"),
            _field(RANK, IntegerType(), "1 = most similar"),
            _field("similarity", DoubleType(), "cosine similarity of the ALS item factors, in [-1, 1]"),
            _field("model_version", StringType(), "model version that produced the list"),
        ]
    ),
    keys=(TRACK_ID, RANK),
    comment="Most similar tracks per track by cosine similarity of ALS item factors",
)
