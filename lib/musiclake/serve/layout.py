"""Where the read path finds things: the model folder layout and the lake's tables, without importing pyspark.

The names are those of :mod:`musiclake.recommend.store` (model folders) and :mod:`musiclake.schemas` (tables,
columns), which import pyspark; ``tests/serve/test_layout.py`` checks that both spell them the same.
"""

from __future__ import annotations

from musiclake import storage

# --- the model folder (musiclake.recommend.store) -----------------------------------------------------------------
MODELS_DIR = ("models", "als")
LATEST = "LATEST"
METADATA = "metadata.json"
GRAM = "item_gram.npy"
POPULAR_TRACKS = "popular_tracks"
SPARK_MODEL = "model"  # ALSModel.save: itemFactors/ and userFactors/ hold ``id int, features array<float>``
ITEM_FACTORS = "itemFactors"
USER_FACTORS = "userFactors"
PLAYLIST_IDS = "playlist_ids"
TRACK_IDS = "track_ids"

# --- column names (musiclake.schemas) ------------------------------------------------------------------------------
PLAYLIST_ID = "playlist_id"
TRACK_ID = "track_id"
PLAYLIST_IDX = "playlist_idx"
TRACK_IDX = "track_idx"
WEIGHT = "weight"
RANK = "rank"
SCORE = "score"

# --- the lake's tables: name -> partition columns, in the order of musiclake.schemas.TABLES ----------------------
TABLE_PARTITIONS: dict[str, tuple[str, ...]] = {
    "playlists": ("source",),
    "playlist_tracks": ("source",),
    "tracks": (),
    "artists": (),
    "albums": (),
    "quarantine": ("quarantined_date",),
    "job_runs": (),
    "processed_runs": (),
    "interactions": (),
    "playlist_ids": (),
    "track_ids": (),
    "evaluations": (),
    "recommendations": (),
    "similar_tracks": (),
}
TRACKS = "tracks"
PLAYLISTS = "playlists"
JOB_RUNS = "job_runs"
SIMILAR_MIN_PLAYLISTS = 2  # musiclake.recommend.training.TrainConfig.similar_min_playlists (not a job option)


def models_root(lake_path: str) -> str:
    """``<lake_path>/models/als``: every model version and the ``LATEST`` pointer."""
    return storage.join(lake_path, *MODELS_DIR)


def latest_folder(lake_path: str) -> str:
    """The newest complete model's folder name (``v=<version>``), from the ``LATEST`` pointer.

    Raises
    ------
    FileNotFoundError
        If no model was trained under this lake yet (the message says how to train one).
    """
    pointer = storage.join(models_root(lake_path), LATEST)
    try:
        return storage.get_bytes(pointer).decode().strip()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no trained ALS model under {models_root(lake_path)} (missing {LATEST}); run glue_jobs/v1/train_als.py"
        ) from None


def table_path(lake_path: str, name: str) -> str:
    """Where a lake table lives: ``<lake_path>/<name>``."""
    return storage.join(lake_path, name)
