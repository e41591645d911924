"""Serve recommendations from a trained model: a known playlist, or a new one given seed tracks.

* A known playlist gets its precomputed list from the ``recommendations`` table.
* Seed tracks are folded into the model's item factors (:mod:`~musiclake.recommend.foldin`): no retraining.
* An unknown playlist, or seeds none of which the model knows, get the most popular tracks - and are told so.

Everything collected to the driver here is at most ``k`` rows or one playlist's seed tracks. This is the Spark
path, the reference that the JVM-free read path :mod:`musiclake.serve` (what ``musiclake recommend`` and the HTTP
API use) is tested against; both answer in :mod:`musiclake.serve.answer`'s types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake import schemas, storage
from musiclake.recommend import foldin, store
from musiclake.schemas import PLAYLIST_ID, RANK, SCORE, TRACK_ID, TRACK_IDX, TableSpec
from musiclake.serve.answer import Recommended, Served, format_served, parse_track_ids  # noqa: F401 - re-exported
from musiclake.serve.confidence import seed_weights, trained_weighting


@dataclass(frozen=True)
class ServingModel:
    """A trained model folder, opened for serving."""

    spark: SparkSession
    lake_path: str
    path: str
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @cached_property
    def track_map(self) -> DataFrame:
        """``track_id, track_idx`` the model's indices refer to."""
        return self.spark.read.parquet(storage.join(self.path, schemas.TRACK_IDS.name))

    @cached_property
    def popular_tracks(self) -> DataFrame:
        """The top 1000 tracks by number of playlists: ``track_id, track_idx, score, rank``."""
        return self.spark.read.parquet(storage.join(self.path, store.POPULAR_TRACKS))

    @cached_property
    def item_factors(self) -> DataFrame:
        """``id, features`` of every track the model knows."""
        return ALSModel.load(storage.join(self.path, "model")).itemFactors


def open_model(spark: SparkSession, lake_path: str, model_path: str | None = None) -> ServingModel:
    """Open ``model_path``, or the latest model trained under ``lake_path``."""
    path = model_path or store.latest_model_path(lake_path)
    return ServingModel(spark, lake_path, path, store.load_metadata(path))


def _popular(model: ServingModel, k: int, exclude: Sequence[str] = ()) -> list[Recommended]:
    rows = (
        model.popular_tracks
        .where(~F.col(TRACK_ID).isin(list(exclude)))
        .orderBy(RANK)
        .limit(k)
        .collect()
    )
    return [Recommended(i, row[TRACK_ID], float(row[SCORE])) for i, row in enumerate(rows, start=1)]


def for_playlist(model: ServingModel, playlist_id: str, k: int = 20) -> Served:
    """The precomputed top ``k`` of a playlist the model was trained on; popularity when it is unknown."""
    location = model.metadata["outputs"]["recommendations"]
    rows = (
        model.spark.read.format("delta")
        .load(location)
        .where((F.col(PLAYLIST_ID) == playlist_id) & (F.col("model_version") == model.version))
        .where(F.col(RANK) <= k)
        .orderBy(RANK)
        .collect()
    )
    if rows:
        name = _playlist_name(model, playlist_id)
        title = f"Recommendations for playlist {playlist_id}" + (f' "{name}"' if name else "")
        notes = [] if len(rows) == k else [f"the model keeps {len(rows)} recommendations per playlist"]
        tracks = [Recommended(row[RANK], row[TRACK_ID], float(row[SCORE])) for row in rows]
        return Served("als", title, tracks, notes)
    return Served(
        "popularity",
        f"Playlist {playlist_id} is unknown to model v={model.version}: falling back to the {k} most popular tracks "
        "(score: number of playlists)",
        _popular(model, k),
    )


def for_tracks(model: ServingModel, track_ids: Sequence[str], k: int = 20) -> Served:
    """Recommendations for a new playlist made of ``track_ids``, folded into the trained item factors.

    Seed tracks the model does not know are ignored (and listed); with none known, or no seeds at all, the
    most popular tracks not among the seeds are served instead.
    """
    weights = Counter(track_ids)  # a track listed twice weighs 2, as in training
    known = {
        row[TRACK_ID]: int(row[TRACK_IDX])
        for row in model.track_map.where(F.col(TRACK_ID).isin(list(weights))).collect()
    }
    unknown = [t for t in weights if t not in known]
    notes = [f"unknown to the model, ignored: {', '.join(unknown)}"] if unknown else []
    factors = foldin.collect_seed_factors(model.item_factors, list(known.values())) if known else {}
    usable = [t for t in weights if t in known and known[t] in factors]
    if not usable:
        reason = "no seed tracks given" if not track_ids else "none of the seed tracks is known to the model"
        title = f"New playlist: {reason}: falling back to the {k} most popular tracks (score: number of playlists)"
        return Served("popularity", title, _popular(model, k, exclude=list(weights)), notes)

    params = model.metadata["params"]
    vector = foldin.fold_in(
        np.stack([factors[known[t]] for t in usable]),
        seed_weights(np.array([weights[t] for t in usable], dtype=np.float64), trained_weighting(params)),
        store.load_item_gram(model.path),
        reg_param=float(params["reg_param"]),
        alpha=float(params["alpha"]),
    )
    best = foldin.score_tracks(model.item_factors, vector, [known[t] for t in usable], k)
    rows = best.join(model.track_map, on=TRACK_IDX, how="inner").orderBy(RANK).collect()
    tracks = [Recommended(row[RANK], row[TRACK_ID], float(row[SCORE])) for row in rows]
    title = (
        f"New playlist from {len(usable)} seed track(s), folded into ALS model v={model.version} (no retraining)"
    )
    return Served("fold-in", title, tracks, notes)


def _optional_delta(spark: SparkSession, lake_path: str, spec: TableSpec) -> DataFrame | None:
    from delta.tables import DeltaTable

    path = storage.join(lake_path, spec.name)
    return spark.read.format("delta").load(path) if DeltaTable.isDeltaTable(spark, path) else None


def _playlist_name(model: ServingModel, playlist_id: str) -> str | None:
    playlists = _optional_delta(model.spark, model.lake_path, schemas.PLAYLISTS)
    if playlists is None or "name" not in playlists.columns:
        return None
    row = playlists.where(F.col(PLAYLIST_ID) == playlist_id).select("name").first()
    return row["name"] if row else None


def with_names(model: ServingModel, served: Served) -> Served:
    """Fill in track and artist names from the lake's ``tracks`` table (left as they are when it is absent)."""
    tracks = _optional_delta(model.spark, model.lake_path, schemas.TRACKS)
    wanted = [t.track_id for t in served.tracks]
    if tracks is None or not wanted or not {"track_name", "artist_name"} <= set(tracks.columns):
        return served
    names = {
        row[TRACK_ID]: (row["track_name"], row["artist_name"])
        for row in tracks.where(F.col(TRACK_ID).isin(wanted)).select(TRACK_ID, "track_name", "artist_name").collect()
    }
    named = [
        Recommended(t.rank, t.track_id, t.score, *names.get(t.track_id, (None, None))) for t in served.tracks
    ]
    return Served(served.source, served.title, named, served.notes)
