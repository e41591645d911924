"""Evaluate, refit, recommend: the logic of the ``train_als`` job (no I/O here; see ``store``).

1. Split each playlist's tracks into train and an evaluation holdout (:mod:`~musiclake.recommend.split`).
2. Optionally tune rank / regParam / alpha / weighting / iterations on validation splits of *train*
   (:mod:`~musiclake.recommend.tuning`: budgeted successive halving).
3. Fit ALS on train; rank every unseen track for the holdout playlists; score ALS and the popularity baseline
   side by side (:mod:`~musiclake.recommend.metrics`).
4. Refit on all interactions with the chosen parameters; top-k per playlist, similar tracks, ``Y^T Y``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from musiclake.recommend import baseline, fit, metrics, similar, split, topk, tuning
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, RANK, SCORE, TRACK_ID, TRACK_IDX, WEIGHT

POPULAR_TRACKS_KEPT = 1000  # the serving fallback's list, saved with the model


@dataclass(frozen=True)
class TrainConfig:
    """What the training job was asked to do (built from its options).

    Parameters
    ----------
    params
        ALS parameters used when not tuning (and max_iter / seed when tuning).
    search
        How ``tune`` searches (:class:`~musiclake.recommend.tuning.SearchConfig`: budgeted halving by default).
    max_broadcast_factors
        Top-k broadcast limit (``n_tracks x rank``); None: derived from the session's memory settings.
    holdout_fraction
        Share of each playlist's tracks held out for evaluation (and, within train, for validation).
    top_k
        Recommendations kept per playlist in the ``recommendations`` table.
    similar_k, similar_min_playlists
        Similar tracks kept per track, for (and from) the tracks in at least that many playlists.
    k
        Cut-off of precision/recall/NDCG/MAP.
    """

    params: fit.AlsParams = field(default_factory=fit.AlsParams)
    tune: bool = False
    search: tuning.SearchConfig = field(default_factory=tuning.SearchConfig)
    max_broadcast_factors: int | None = None
    holdout_fraction: float = 0.2
    seed: int = 42
    top_k: int = 500
    similar_k: int = 20
    similar_min_playlists: int = 2
    k: int = 10
    num_blocks: int | None = None
    tuning_metric: str = tuning.DEFAULT_METRIC


@dataclass(frozen=True)
class Evaluation:
    """Holdout metrics of ALS and of the popularity baseline (same split, same candidate rules)."""

    als: dict[str, float]
    popularity: dict[str, float]
    k: int
    holdout_fraction: float
    n_train: int
    n_holdout: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": f"per-playlist holdout of {self.holdout_fraction:.0%} of tracks (hash of seed, playlist, "
            "track); all unseen tracks ranked; seen tracks excluded",
            "k": self.k,
            "n_train_interactions": self.n_train,
            "n_holdout_interactions": self.n_holdout,
            "als": self.als,
            "popularity": self.popularity,
        }


@dataclass(frozen=True)
class TrainResult:
    """The final model and everything the job saves. The DataFrames are lazy; saving computes them."""

    params: fit.AlsParams
    model: ALSModel
    evaluation: Evaluation
    tuning: tuning.TuningResult | None
    recommendations: DataFrame  # playlist_id, track_id, rank, score
    similar_tracks: DataFrame  # track_id, similar_track_id, rank, similarity
    popular_tracks: DataFrame  # track_id, track_idx, score (playlist count), rank; the top 1000
    playlist_map: DataFrame  # playlist_id, playlist_idx
    track_map: DataFrame  # track_id, track_idx
    item_gram: np.ndarray
    counts: dict[str, int]
    seconds: dict[str, float]


def evaluate(interactions: DataFrame, config: TrainConfig) -> tuple[fit.AlsParams, tuning.TuningResult | None,
                                                                      Evaluation]:
    """Steps 1-3: split, optionally tune on train only, and score ALS against popularity on the holdout.

    Parameters
    ----------
    interactions
        ``playlist_idx, track_idx, weight`` (cached or checkpointed).

    Returns
    -------
    The parameters to refit with, the tuning record (None when not tuning) and the evaluation.
    """
    train, holdout = split.holdout_split(interactions, config.holdout_fraction, config.seed)
    train, holdout = train.cache(), holdout.cache()
    tuned = None
    if config.tune:
        tuned = tuning.tune_als(
            train,
            config.params,
            config.search,
            validation_fraction=config.holdout_fraction,
            seed=config.seed,
            k=config.k,
            metric=config.tuning_metric,
            num_blocks=config.num_blocks,
            max_broadcast_factors=config.max_broadcast_factors,
        )
    params = tuned.best if tuned else config.params
    model = fit.fit_als(train, params, num_blocks=config.num_blocks)
    seen = topk.seen_lists(train).cache()
    depth = max(config.k, metrics.CHALLENGE_LIST_LENGTH)
    als_lists = topk.recommend_top_k(model, seen, depth, playlists=holdout,
                                     max_broadcast_factors=config.max_broadcast_factors)
    popular_lists = baseline.recommend_popular(baseline.popularity(train), seen, depth, playlists=holdout)
    evaluation = Evaluation(
        als=metrics.ranking_metrics(als_lists, holdout, config.k),
        popularity=metrics.ranking_metrics(popular_lists, holdout, config.k),
        k=config.k,
        holdout_fraction=config.holdout_fraction,
        n_train=train.count(),
        n_holdout=holdout.count(),
    )
    for frame in (train, holdout, seen):
        frame.unpersist()
    return params, tuned, evaluation


def with_ids(
    playlist_map: DataFrame, track_map: DataFrame, track_col: str = TRACK_IDX, track_id_col: str = TRACK_ID
) -> Callable[[DataFrame], DataFrame]:
    """Replace int indices by string ids: ``playlist_idx`` -> ``playlist_id`` and ``track_col`` -> ``track_id_col``.

    Returns
    -------
    A transform (inner joins on the maps, broadcast-free: both maps can be millions of rows).
    """

    def transform(df: DataFrame) -> DataFrame:
        tracks = track_map.select(F.col(TRACK_IDX).alias(track_col), F.col(TRACK_ID).alias(track_id_col))
        out = df.join(tracks, on=track_col, how="inner").drop(track_col)
        if PLAYLIST_IDX in df.columns:
            out = out.join(playlist_map.select(PLAYLIST_IDX, PLAYLIST_ID), on=PLAYLIST_IDX, how="inner").drop(
                PLAYLIST_IDX
            )
        return out

    return transform


def train_evaluate_recommend(interactions: DataFrame, config: TrainConfig) -> TrainResult:
    """Run the whole training: evaluate (and tune), refit on all interactions, derive the outputs.

    Parameters
    ----------
    interactions
        ``playlist_idx, track_idx, playlist_id, track_id, weight``, one row per pair, checkpointed (ALS needs a
        deterministic input; see ``store.load_interactions``).

    Returns
    -------
    The final model and its outputs; the output DataFrames are lazy (saving computes them).
    """
    seconds: dict[str, float] = {}
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    with _timed(seconds, "evaluate"):
        params, tuned, evaluation = evaluate(pairs, config)
    with _timed(seconds, "final_fit"):
        model = fit.fit_als(pairs, params, num_blocks=config.num_blocks)
        gram = fit.item_gram(model)
    playlist_map, track_map = id_maps(interactions)
    popularity = baseline.popularity(pairs).cache()
    return TrainResult(
        params=params,
        model=model,
        evaluation=evaluation,
        tuning=tuned,
        recommendations=top_k_per_playlist(model, pairs, config.top_k, playlist_map, track_map,
                                           max_broadcast_factors=config.max_broadcast_factors),
        similar_tracks=similar_per_track(model, popularity, config, playlist_map, track_map),
        popular_tracks=most_popular(popularity, track_map),
        playlist_map=playlist_map,
        track_map=track_map,
        item_gram=gram,
        counts=interaction_counts(pairs),
        seconds=seconds,
    )


def id_maps(interactions: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The ``playlist_id, playlist_idx`` and ``track_id, track_idx`` maps the interactions' indices come from."""
    return (
        interactions.select(PLAYLIST_ID, PLAYLIST_IDX).distinct(),
        interactions.select(TRACK_ID, TRACK_IDX).distinct(),
    )


def top_k_per_playlist(
    model: ALSModel, pairs: DataFrame, k: int, playlist_map: DataFrame, track_map: DataFrame, *,
    max_broadcast_factors: int | None = None,
) -> DataFrame:
    """Every playlist's ``k`` best tracks it does not have yet: ``playlist_id, track_id, rank, score``."""
    lists = topk.recommend_top_k(model, topk.seen_lists(pairs), k, max_broadcast_factors=max_broadcast_factors)
    return lists.transform(with_ids(playlist_map, track_map)).select(PLAYLIST_ID, TRACK_ID, RANK, SCORE)


def similar_per_track(
    model: ALSModel, popularity: DataFrame, config: TrainConfig, playlist_map: DataFrame, track_map: DataFrame
) -> DataFrame:
    """``similar_k`` similar tracks for (and from) the tracks in at least ``similar_min_playlists`` playlists.

    Returns
    -------
    ``track_id, similar_track_id, rank, similarity``.
    """
    candidates = popularity.where(F.col(SCORE) >= config.similar_min_playlists)
    lists = similar.similar_tracks(model, config.similar_k, candidates)
    return (
        lists.transform(with_ids(playlist_map, track_map, similar.SIMILAR_TRACK_IDX, similar.SIMILAR_TRACK_ID))
        .transform(with_ids(playlist_map, track_map))
        .select(TRACK_ID, similar.SIMILAR_TRACK_ID, RANK, similar.SIMILARITY)
    )


def most_popular(popularity: DataFrame, track_map: DataFrame, n: int = POPULAR_TRACKS_KEPT) -> DataFrame:
    """The ``n`` tracks in the most playlists (ties: lower index first), the serving fallback's list.

    Returns
    -------
    ``track_id, track_idx, score (playlist count), rank``.
    """
    by_popularity = [F.col(SCORE).desc(), F.col(TRACK_IDX).asc()]
    return (
        popularity.orderBy(*by_popularity)
        .limit(n)
        .join(track_map, on=TRACK_IDX, how="inner")
        .withColumn(RANK, F.row_number().over(Window.orderBy(*by_popularity)).cast("int"))  # n rows
        .select(TRACK_ID, TRACK_IDX, SCORE, RANK)
    )


def interaction_counts(pairs: DataFrame) -> dict[str, int]:
    """Interactions, playlists and tracks of the training input (recorded in the model's metadata)."""
    return {
        "interactions": pairs.count(),
        "playlists": pairs.select(PLAYLIST_IDX).distinct().count(),
        "tracks": pairs.select(TRACK_IDX).distinct().count(),
    }


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    seconds[stage] = time.monotonic() - started


def format_report(result: TrainResult, model_version: str | None = None) -> str:
    """A plain-text summary: the chosen parameters, tuning trials and ALS vs popularity side by side."""
    ev = result.evaluation
    lines = [
        f"ALS model {model_version or ''}".rstrip(),
        f"  data: {result.counts['playlists']} playlists, {result.counts['tracks']} tracks, "
        f"{result.counts['interactions']} interactions",
        f"  params: {result.params.to_json()}",
    ]
    if result.tuning:
        lines.extend(tuning.format_search(result.tuning))
    lines.append(
        f"  evaluation: {ev.als['n_playlists']} playlists, {ev.holdout_fraction:.0%} of each playlist held out, "
        "all unseen tracks ranked"
    )
    lines.append(f"    {'metric':<16}{'ALS':>10}{'popularity':>12}")
    for name in metrics.metric_names(ev.k):
        lines.append(f"    {name:<16}{ev.als[name]:>10.4f}{ev.popularity[name]:>12.4f}")
    return "\n".join(lines)
