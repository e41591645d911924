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
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

import musiclake
from musiclake import schemas, storage
from musiclake.lake import Lake
from musiclake.recommend import metrics
from musiclake.recommend.training import TrainResult
from musiclake.runtime import small_frame
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, TRACK_ID, TRACK_IDX
from musiclake.transforms.ids import assign_indices, with_indices
from musiclake.transforms.interactions import clean_interactions

log = logging.getLogger("musiclake.recommend.store")

MODELS_DIR = ("models", "als")
LATEST = "LATEST"
METADATA = "metadata.json"
GRAM = "item_gram.npy"
POPULAR_TRACKS = "popular_tracks"


@dataclass(frozen=True)
class InteractionsInput:
    """The indexed interactions and where they came from (recorded in the model's metadata)."""

    interactions: DataFrame  # playlist_idx, track_idx, playlist_id, track_id, weight; checkpointed
    path: str
    format: str
    delta_version: int | None
    id_maps: str  # "input" (the ETL's indices), "lake" (extended ETL maps) or "new"


def _read(lake: Lake, path: str) -> tuple[DataFrame, str, int | None]:
    """The dataset at ``path``: a Delta table pinned to its current version, else Parquet."""
    table = dataclasses.replace(schemas.INTERACTIONS, path=path)
    if lake.exists(table):
        version = lake.version(table)
        return lake.load(table, version=version), "delta", version
    return lake.spark.read.parquet(path), "parquet", None


def load_interactions(lake: Lake, interactions_path: str | None = None) -> InteractionsInput:
    """Read the interactions (Delta or Parquet), clean them and give every id its int index.

    Parameters
    ----------
    interactions_path
        Any dataset with ``playlist_id``, ``track_id`` and optionally ``weight``; default the lake's
        ``interactions`` table (built by ``build_interactions``).

    Returns
    -------
    The interactions checkpointed (ALS requires a deterministic input; this also cuts the lineage).

    Notes
    -----
    Indices come from the input itself when it has ``playlist_idx``/``track_idx`` (the ETL table); otherwise
    from the lake's ``playlist_ids``/``track_ids`` maps when they exist, extended for new ids; otherwise they
    are assigned afresh (:func:`musiclake.transforms.ids.assign_indices`).
    """
    path = interactions_path or lake.location(schemas.INTERACTIONS)
    raw, fmt, version = _read(lake, path)
    cleaned = clean_interactions(raw)
    if {PLAYLIST_IDX, TRACK_IDX} <= set(raw.columns):
        playlist_map = raw.select(PLAYLIST_ID, F.col(PLAYLIST_IDX).cast("int")).distinct()
        track_map = raw.select(TRACK_ID, F.col(TRACK_IDX).cast("int")).distinct()
        source = "input"
    else:
        known_playlists = lake.load_optional(schemas.PLAYLIST_IDS)
        known_tracks = lake.load_optional(schemas.TRACK_IDS)
        playlist_map = assign_indices(cleaned, PLAYLIST_ID, PLAYLIST_IDX, known_playlists)
        track_map = assign_indices(cleaned, TRACK_ID, TRACK_IDX, known_tracks)
        source = "lake" if known_playlists is not None or known_tracks is not None else "new"
    indexed = cleaned.transform(with_indices(playlist_map, track_map)).checkpoint(eager=True)
    log.info("loaded interactions from %s (%s, version %s, id maps: %s)", path, fmt, version, source)
    return InteractionsInput(indexed, path, fmt, version, source)


def new_model_version(now: datetime | None = None) -> str:
    """A sortable version name: the UTC time, e.g. ``20261126T101500Z``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def models_root(lake_path: str) -> str:
    """``<lake_path>/models/als``: every model version and the ``LATEST`` pointer (no Spark needed)."""
    return storage.join(lake_path, *MODELS_DIR)


def version_folder(version: str) -> str:
    """A model version's folder name under :func:`models_root`, as the ``LATEST`` pointer holds it."""
    return f"v={version}"


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
    no_trial: dict[str, Any] = {"trial": None, "rung": None, "fold": None, "seconds": None}
    runs = [
        ("test", "als", result.params.to_json(), ev.als, test_cutoffs, no_trial),
        ("test", "popularity", "{}", ev.popularity, test_cutoffs, no_trial),
    ]
    if result.tuning:
        cutoffs = metrics.metric_cutoffs(ev.k, result.tuning.list_length)
        runs += [
            ("validation", "als", t.params.to_json(), t.metrics, cutoffs,
             {"trial": t.trial, "rung": t.rung, "fold": t.fold, "seconds": round(t.seconds, 2)})
            for t in result.tuning.trials
        ]
    rows = []
    for split_name, model, params, values, cutoffs, trial in runs:
        for metric, cutoff in cutoffs.items():
            rows.append(
                {
                    "model_version": version, "split": split_name, "model": model, "params": params,
                    "metric": metric, "k": cutoff, "value": float(values[metric]),
                    "n_playlists": int(values["n_playlists"]), "evaluated_at": evaluated_at, **trial,
                }
            )
    return rows


def add_missing_columns(lake: Lake, spec: schemas.TableSpec) -> list[str]:
    """Add the columns ``spec`` has and the existing table lacks (nullable, with comments); return their names.

    Notes
    -----
    Tables only ever gain nullable columns (``evaluations``' tuning columns): a lake written before keeps
    its rows (null in the new columns) and every reader keeps working. No table yet: nothing to do.
    """
    if not lake.exists(spec):
        return []
    present = {name.lower() for name in lake.load(spec).columns}
    missing = [f for f in spec.schema.fields if f.name.lower() not in present]
    if missing:
        columns = ", ".join(
            f"`{f.name}` {f.dataType.simpleString()} COMMENT '{_sql_string(f.metadata.get('comment', ''))}'"
            for f in missing
        )
        lake.spark.sql(f"ALTER TABLE delta.`{lake.location(spec)}` ADD COLUMNS ({columns})")
        log.info("added columns %s to %s", [f.name for f in missing], spec.name)
    return [f.name for f in missing]


def _sql_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@dataclass(frozen=True)
class SavedRun:
    """Where a training run's outputs went."""

    version: str
    model_path: str
    recommendations_path: str
    metadata: dict[str, Any]


def save_run(
    lake: Lake,
    result: TrainResult,
    source: InteractionsInput,
    *,
    recommendations_path: str | None = None,
    options: dict[str, Any] | None = None,
    version: str | None = None,
    linear_algebra: dict[str, str] | None = None,
) -> SavedRun:
    """Save the model folder and the ``evaluations``, ``recommendations`` and ``similar_tracks`` tables.

    Parameters
    ----------
    recommendations_path
        Where the ``recommendations`` table lives when not under the lake root (registered there all the same).
    options
        The job's options, recorded in the model's metadata.
    version
        The model version (default: :func:`new_model_version` of now).
    linear_algebra
        The BLAS/LAPACK the fit ran on (``musiclake.runtime.linear_algebra``), recorded in the metadata.

    Notes
    -----
    The ``LATEST`` pointer is written last: a run that fails midway never becomes the served model.
    """
    started = datetime.now(UTC)
    version = version or new_model_version(started)
    folder = lake.path(*MODELS_DIR, version_folder(version))
    save_model(result, folder)

    evaluations = small_frame(lake.spark, _evaluation_rows(result, version, started), schemas.EVALUATIONS.schema)
    add_missing_columns(lake, schemas.EVALUATIONS)
    lake.merge(schemas.EVALUATIONS, evaluations)
    recommendations_spec = (
        dataclasses.replace(schemas.RECOMMENDATIONS, path=recommendations_path)
        if recommendations_path
        else schemas.RECOMMENDATIONS
    )
    with_version = F.lit(version).alias("model_version")
    lake.overwrite(recommendations_spec, result.recommendations.select("*", with_version))
    lake.overwrite(schemas.SIMILAR_TRACKS, result.similar_tracks.select("*", with_version))

    metadata = {
        "version": version,
        "created_at": started.isoformat(),
        "musiclake_version": musiclake.__version__,
        "spark_version": lake.spark.version,
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
            "recommendations": lake.location(recommendations_spec),
            "recommendations_table": schemas.RECOMMENDATIONS.qualified(lake.database),
            "similar_tracks": lake.location(schemas.SIMILAR_TRACKS),
            "evaluations": lake.location(schemas.EVALUATIONS),
        },
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "options": options or {},
        "linear_algebra": linear_algebra or {},
    }
    storage.put_bytes(storage.join(folder, METADATA), json.dumps(metadata, indent=2).encode(), overwrite=True)
    storage.put_bytes(lake.path(*MODELS_DIR, LATEST), f"{version_folder(version)}\n".encode(), overwrite=True)
    log.info("saved ALS model %s to %s", version, folder)
    return SavedRun(version, folder, lake.location(recommendations_spec), metadata)


def save_model(result: TrainResult, folder: str) -> None:
    """The model folder: the Spark model, the id maps its indices refer to, the popular tracks and ``Y^T Y``."""
    result.model.write().overwrite().save(storage.join(folder, "model"))
    result.playlist_map.write.mode("overwrite").parquet(storage.join(folder, schemas.PLAYLIST_IDS.name))
    result.track_map.write.mode("overwrite").parquet(storage.join(folder, schemas.TRACK_IDS.name))
    result.popular_tracks.coalesce(1).write.mode("overwrite").parquet(storage.join(folder, POPULAR_TRACKS))
    buffer = _bytes_io.BytesIO()
    np.save(buffer, result.item_gram, allow_pickle=False)
    storage.put_bytes(storage.join(folder, GRAM), buffer.getvalue(), overwrite=True)
