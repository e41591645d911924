"""I/O of the recommender: load interactions, save and find versioned models, write the output tables.

Model layout under ``<lake_path>/models/als/``::

    v=<YYYYMMDDTHHMMSSZ>/model/            Spark ALSModel (ALSModel.load), factors keyed by the int indices
    v=<...>/playlist_ids/, track_ids/      Parquet id maps the indices refer to
    v=<...>/popular_tracks/                Parquet top 1000 tracks by playlist count (serving fallback)
    v=<...>/item_gram.npy                  Y^T Y of the item factors (fold-in)
    v=<...>/metadata.json                  params, tuning grid and trials, metrics, input table + Delta version
    LATEST                                 the newest complete version's folder name, written last
"""

from __future__ import annotations

import dataclasses
import io as _bytes_io
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import musiclake
from musiclake import io, storage
from musiclake.recommend import ids, metrics
from musiclake.recommend.pipeline import TrainResult
from musiclake.recommend.tables import (
    EVALUATIONS,
    INTERACTIONS,
    PLAYLIST_ID,
    PLAYLIST_IDS,
    PLAYLIST_IDX,
    RECOMMENDATIONS,
    SIMILAR_TRACKS,
    TRACK_ID,
    TRACK_IDS,
    TRACK_IDX,
)

log = logging.getLogger("musiclake.recommend.store")

MODELS_DIR = ("models", "als")
LATEST = "LATEST"
METADATA = "metadata.json"
GRAM = "item_gram.npy"


@dataclass(frozen=True)
class InteractionsInput:
    """The indexed interactions and where they came from (recorded in the model's metadata)."""

    interactions: DataFrame  # playlist_idx, track_idx, playlist_id, track_id, weight; checkpointed
    path: str
    format: str
    delta_version: int | None
    id_maps: str  # "input" (the ETL's indices), "lake" (extended ETL maps) or "new"


def _is_delta(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def _read(spark: SparkSession, path: str) -> tuple[DataFrame, str, int | None]:
    if _is_delta(spark, path):
        version = DeltaTable.forPath(spark, path).history(1).select("version").first()[0]
        return spark.read.format("delta").load(path), "delta", int(version)
    return spark.read.parquet(path), "parquet", None


def load_interactions(spark: SparkSession, lake_path: str, interactions_path: str | None = None) -> InteractionsInput:
    """Read the interactions (Delta or Parquet), clean them and give every id its int index.

    Parameters
    ----------
    interactions_path
        Any dataset with ``playlist_id``, ``track_id`` and optionally ``weight``; default the ETL's
        ``<lake_path>/interactions``.

    Returns
    -------
    The interactions checkpointed (ALS requires a deterministic input; this also cuts the lineage).

    Notes
    -----
    Indices come from the input itself when it has ``playlist_idx``/``track_idx`` (the ETL table); otherwise
    from the lake's ``playlist_ids``/``track_ids`` maps when they exist, extended for new ids; otherwise they
    are assigned afresh (:func:`musiclake.recommend.ids.assign_indices`).
    """
    path = interactions_path or storage.join(lake_path, INTERACTIONS)
    raw, fmt, version = _read(spark, path)
    cleaned = ids.clean_interactions(raw)
    if {PLAYLIST_IDX, TRACK_IDX} <= set(raw.columns):
        playlist_map = raw.select(PLAYLIST_ID, F.col(PLAYLIST_IDX).cast("int")).distinct()
        track_map = raw.select(TRACK_ID, F.col(TRACK_IDX).cast("int")).distinct()
        source = "input"
    else:
        known_playlists = _optional_table(spark, lake_path, PLAYLIST_IDS)
        known_tracks = _optional_table(spark, lake_path, TRACK_IDS)
        playlist_map = ids.assign_indices(cleaned, PLAYLIST_ID, PLAYLIST_IDX, known_playlists)
        track_map = ids.assign_indices(cleaned, TRACK_ID, TRACK_IDX, known_tracks)
        source = "lake" if known_playlists is not None or known_tracks is not None else "new"
    indexed = cleaned.transform(ids.with_indices(playlist_map, track_map)).checkpoint(eager=True)
    log.info("loaded interactions from %s (%s, version %s, id maps: %s)", path, fmt, version, source)
    return InteractionsInput(indexed, path, fmt, version, source)


def _optional_table(spark: SparkSession, lake_path: str, name: str) -> DataFrame | None:
    path = storage.join(lake_path, name)
    return spark.read.format("delta").load(path) if _is_delta(spark, path) else None


def new_model_version(now: datetime | None = None) -> str:
    """A sortable version name: the UTC time, e.g. ``20261126T101500Z``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def models_root(lake_path: str) -> str:
    return storage.join(lake_path, *MODELS_DIR)


def model_path(lake_path: str, version: str) -> str:
    return storage.join(models_root(lake_path), f"v={version}")


def latest_model_path(lake_path: str) -> str:
    """The folder of the newest complete model (from the ``LATEST`` pointer).

    Raises
    ------
    FileNotFoundError
        If no model was trained under this lake yet.
    """
    pointer = storage.join(models_root(lake_path), LATEST)
    try:
        folder = storage.get_bytes(pointer).decode().strip()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no trained ALS model under {models_root(lake_path)} (missing {LATEST}); run glue_jobs/v1/train_als.py"
        ) from None
    return storage.join(models_root(lake_path), folder)


def load_metadata(path: str) -> dict[str, Any]:
    return json.loads(storage.get_bytes(storage.join(path, METADATA)))


def load_item_gram(path: str) -> np.ndarray:
    return np.load(_bytes_io.BytesIO(storage.get_bytes(storage.join(path, GRAM))), allow_pickle=False)


def _evaluation_rows(result: TrainResult, version: str, evaluated_at: datetime) -> list[dict[str, Any]]:
    ev = result.evaluation
    test_cutoffs = metrics.metric_cutoffs(ev.k)
    runs = [
        ("test", "als", result.params.to_json(), ev.als, test_cutoffs),
        ("test", "popularity", "{}", ev.popularity, test_cutoffs),
    ]
    if result.tuning:
        cutoffs = metrics.metric_cutoffs(ev.k, result.tuning.list_length)
        runs += [("validation", "als", t.params.to_json(), t.metrics, cutoffs) for t in result.tuning.trials]
    rows = []
    for split_name, model, params, values, cutoffs in runs:
        for metric, cutoff in cutoffs.items():
            rows.append(
                {
                    "model_version": version, "split": split_name, "model": model, "params": params,
                    "metric": metric, "k": cutoff, "value": float(values[metric]),
                    "n_playlists": int(values["n_playlists"]), "evaluated_at": evaluated_at,
                }
            )
    return rows


@dataclass(frozen=True)
class SavedRun:
    """Where a training run's outputs went."""

    version: str
    model_path: str
    recommendations_path: str
    metadata: dict[str, Any]


def save_run(
    spark: SparkSession,
    result: TrainResult,
    source: InteractionsInput,
    lake_path: str,
    database: str,
    *,
    recommendations_path: str | None = None,
    options: dict[str, Any] | None = None,
    version: str | None = None,
) -> SavedRun:
    """Save the model folder and the ``evaluations``, ``recommendations`` and ``similar_tracks`` tables.

    The ``LATEST`` pointer is written last: a run that fails midway never becomes the served model.
    """
    started = datetime.now(UTC)
    version = version or new_model_version(started)
    folder = model_path(lake_path, version)
    result.model.write().overwrite().save(storage.join(folder, "model"))
    result.playlist_map.write.mode("overwrite").parquet(storage.join(folder, PLAYLIST_IDS))
    result.track_map.write.mode("overwrite").parquet(storage.join(folder, TRACK_IDS))
    result.popular_tracks.coalesce(1).write.mode("overwrite").parquet(storage.join(folder, "popular_tracks"))
    buffer = _bytes_io.BytesIO()
    np.save(buffer, result.item_gram, allow_pickle=False)
    storage.put_bytes(storage.join(folder, GRAM), buffer.getvalue(), overwrite=True)

    io.merge_upsert(
        spark, EVALUATIONS, spark.createDataFrame(_evaluation_rows(result, version, started), EVALUATIONS.schema),
        lake_path, database,
    )
    recommendations_spec = (
        dataclasses.replace(RECOMMENDATIONS, path=recommendations_path) if recommendations_path else RECOMMENDATIONS
    )
    with_version = F.lit(version).alias("model_version")
    io.overwrite_table(
        spark, recommendations_spec, result.recommendations.select("*", with_version), lake_path, database
    )
    io.overwrite_table(spark, SIMILAR_TRACKS, result.similar_tracks.select("*", with_version), lake_path, database)

    metadata = {
        "version": version,
        "created_at": started.isoformat(),
        "musiclake_version": musiclake.__version__,
        "spark_version": spark.version,
        "params": result.params.as_dict(),
        "implicit_prefs": True,
        "rank": result.model.rank,
        "input": {
            "path": source.path, "format": source.format, "delta_version": source.delta_version,
            "id_maps": source.id_maps, **result.counts,
        },
        "evaluation": result.evaluation.as_dict(),
        "tuning": result.tuning.as_dict() if result.tuning else None,
        "outputs": {
            "recommendations": recommendations_spec.location(lake_path),
            "recommendations_table": f"{database}.{RECOMMENDATIONS.name}",
            "similar_tracks": SIMILAR_TRACKS.location(lake_path),
            "evaluations": EVALUATIONS.location(lake_path),
        },
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "options": options or {},
    }
    storage.put_bytes(storage.join(folder, METADATA), json.dumps(metadata, indent=2).encode(), overwrite=True)
    storage.put_bytes(storage.join(models_root(lake_path), LATEST), f"v={version}\n".encode(), overwrite=True)
    log.info("saved ALS model %s to %s", version, folder)
    return SavedRun(version, folder, recommendations_spec.location(lake_path), metadata)
