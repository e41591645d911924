"""Grid search for ALS rank / regParam / alpha on a validation split carved from the training data only.

:func:`tune_als` receives the training part of the evaluation split and nothing else, holds out a share of
*its* playlists' tracks (another seed than the evaluation holdout), fits one model per grid point on the rest
and ranks every grid point by a ranking metric on the validation tracks. The evaluation holdout therefore
never influences the choice.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pyspark.sql import DataFrame

from musiclake.recommend import fit, metrics, split, topk
from musiclake.schemas import PLAYLIST_IDX

log = logging.getLogger("musiclake.recommend.tuning")

# alpha moved validation NDCG@10 most in bench/als_bench.py (up to 25 %), rank and regParam by 1-3 %
DEFAULT_RANKS = (32, 64)
DEFAULT_REG_PARAMS = (0.2,)
DEFAULT_ALPHAS = (5.0, 15.0)
DEFAULT_METRIC = "ndcg_at_10"
TUNING_LIST_LENGTH = 100  # validation lists are 100 deep, not 500: cheaper, and NDCG@10 needs only 10
LOWER_IS_BETTER = frozenset({"clicks"})


@dataclass(frozen=True)
class Trial:
    """One grid point: its parameters, validation metrics and fit time."""

    params: fit.AlsParams
    metrics: dict[str, float]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"params": self.params.as_dict(), "metrics": self.metrics, "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class TuningResult:
    """The chosen parameters and every trial, as recorded in the model's metadata and the evaluations table."""

    best: fit.AlsParams
    metric: str
    trials: tuple[Trial, ...]
    validation_fraction: float
    list_length: int = TUNING_LIST_LENGTH

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "validation_fraction": self.validation_fraction,
            "list_length": self.list_length,
            "best": self.best.as_dict(),
            "trials": [t.as_dict() for t in self.trials],
        }


def param_grid(
    base: fit.AlsParams,
    ranks: Sequence[int] = DEFAULT_RANKS,
    reg_params: Sequence[float] = DEFAULT_REG_PARAMS,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> list[fit.AlsParams]:
    """Every combination of ``ranks x reg_params x alphas``; other fields (max_iter, seed) from ``base``."""
    return [
        replace(base, rank=int(rank), reg_param=float(reg), alpha=float(alpha))
        for rank, reg, alpha in itertools.product(ranks, reg_params, alphas)
    ]


def tune_als(
    train: DataFrame,
    grid: Sequence[fit.AlsParams],
    *,
    validation_fraction: float,
    seed: int,
    k: int = 10,
    metric: str = DEFAULT_METRIC,
    max_validation_playlists: int = 10_000,
    num_blocks: int | None = None,
) -> TuningResult:
    """Pick the grid point with the best ``metric`` on a validation split of ``train``.

    Parameters
    ----------
    train
        The training interactions (``playlist_idx, track_idx, weight``), i.e. without the evaluation holdout.
    grid
        Parameter sets to try (:func:`param_grid`).
    validation_fraction
        Share of each validation playlist's tracks held out.
    max_validation_playlists
        At most about this many playlists get validation tracks (the rest train whole), which bounds the
        cost of scoring on large data (the RecSys Challenge used 10,000 playlists).

    Notes
    -----
    Validation lists are ``TUNING_LIST_LENGTH`` (100) deep, so the challenge metrics of the trials are
    R-precision, NDCG and clicks over 100 tracks (``ndcg_at_100``; clicks 11 when nothing relevant shows).

    Returns
    -------
    The best parameters and every trial's metrics.
    """
    if not grid:
        raise ValueError("empty tuning grid")
    list_length = max(k, TUNING_LIST_LENGTH)
    if metric not in metrics.metric_names(k, list_length):
        raise ValueError(f"unknown tuning metric {metric!r}; choose from {metrics.metric_names(k, list_length)}")
    n_playlists = train.select(PLAYLIST_IDX).distinct().count()
    share = min(1.0, max_validation_playlists / max(n_playlists, 1))
    fit_part, validation = split.validation_split(train, validation_fraction, seed, playlist_share=share)
    fit_part, validation = fit_part.cache(), validation.cache()
    seen = topk.seen_lists(fit_part).cache()
    blocks = num_blocks or fit.num_blocks_for(train.sparkSession, fit_part.count())
    trials = []
    for params in grid:
        started = time.monotonic()
        model = fit.fit_als(fit_part, params, num_blocks=blocks)
        recommendations = topk.recommend_top_k(model, seen, list_length, playlists=validation)
        scores = metrics.ranking_metrics(recommendations, validation, k, list_length)
        trials.append(Trial(params, scores, time.monotonic() - started))
        log.info("tuning %s: %s=%.4f", params, metric, scores[metric])
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    best = min(trials, key=lambda t: (sign * t.metrics[metric], t.params.rank))
    for frame in (fit_part, validation, seen):
        frame.unpersist()
    return TuningResult(best.params, metric, tuple(trials), validation_fraction, list_length)
