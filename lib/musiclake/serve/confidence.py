"""Confidence weightings of implicit ALS, and the weights of a new playlist's seed tracks under each (numpy only).

Training rescales each (playlist, track) weight ``r`` (:func:`musiclake.recommend.fit.with_confidence_weights`,
Spark) and ALS uses the confidence ``1 + alpha * r'``. A fold-in must give its seeds the same ``r'``, or a model
tuned with log weighting (alpha fitted to ``log(1 + r)``) folds new playlists in with the wrong confidences:
:func:`seed_weights` is that rescaling for one playlist's seeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

LINEAR, LOG, BM25 = "linear", "log", "bm25"
WEIGHTINGS = (LINEAR, LOG, BM25)
LOG_EPSILON = 1.0  # log weighting: log(1 + weight / eps); eps = 1 makes a single occurrence log(2)
BM25_K1 = 100.0  # implicit's bm25_weight defaults: term-frequency saturation ...
BM25_B = 0.8  # ... and playlist-length normalisation
MIN_BM25_WEIGHT = 1e-3  # a track in (nearly) every playlist keeps a tiny positive weight instead of <= 0


def trained_weighting(params: Mapping[str, Any]) -> str:
    """The weighting a model's saved ``params`` name (``linear`` for models trained before there was a choice)."""
    return str(params.get("weighting") or LINEAR)


def seed_weights(weights: np.ndarray, weighting: str) -> np.ndarray:
    """The rescaled weights ``r'`` of one new playlist's seeds (``weights``: times each seed is listed).

    ``linear`` and ``log`` are exactly training's rescaling. ``bm25`` applies BM25's term saturation with the
    playlist-length normalisation and the idf left at 1: the training set's track frequencies are not part of the
    model (so a BM25 model's fold-in is an approximation; the tuner's choice of BM25 is rare on playlist data, where
    weights are almost always 1).

    Raises
    ------
    ValueError
        For an unknown weighting.
    """
    w = np.asarray(weights, dtype=np.float64)
    if weighting == LINEAR:
        return w
    if weighting == LOG:
        return np.log1p(w / LOG_EPSILON)
    if weighting == BM25:
        return np.maximum(w * (BM25_K1 + 1.0) / (BM25_K1 + w), MIN_BM25_WEIGHT)
    raise ValueError(f"unknown confidence weighting {weighting!r}; choose from {WEIGHTINGS}")
