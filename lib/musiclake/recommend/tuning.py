"""Budgeted hyper-parameter search for implicit ALS on a validation split carved from the training data only.

:func:`tune_als` receives the training part of the evaluation split and nothing else, holds out a share of
*its* playlists' tracks (another seed than the evaluation holdout) and ranks configurations by a ranking metric
on those validation tracks. The evaluation holdout therefore never influences the choice.

The search (``strategy="halving"``, the default):

1. **Sample** ``trials`` configurations at random (seeded, reproducible): rank 16-256, regParam 0.005-2 and
   alpha 0.5-60 log-uniform, the confidence weighting (linear / log / BM25) uniform (:func:`sample_configs`).
2. **Successive halving** with ALS iterations as the resource (:func:`halving_rungs`: e.g. 2 -> 4 -> 10 for
   ``max_iter`` 10 and ``eta`` 3): every configuration is fitted with the first rung's iterations, the best
   ``1/eta`` go on to the next rung, and so on. A configuration whose metric did not improve over its previous
   rung stops there (early stopping; its best iteration count is kept). Up to ``parallelism`` fits run at
   once (small fits are dominated by Spark's per-stage overhead, which overlaps). No new fit starts once the
   wall-clock ``budget_s`` is spent; the first always does, so there is always a best.
3. **Stability**: the finalists (the best ``eta`` of the configurations that reached the last rung that ran or
   stopped early, each at the iterations of its peak) are refitted on further validation splits (other seeds:
   repeated hold-out) while the budget allows a whole round, and the winner is the best *mean* over the folds
   they all have. Its ``max_iter`` is the job's unless its metric was seen to drop with more iterations.

Every fit is a :class:`Trial` (parameters incl. weighting and iterations, metrics, seconds, rung, fold).
Validation lists are ``TUNING_LIST_LENGTH`` (100) deep and are scored on the driver with numpy
(:func:`musiclake.recommend.topk.top_k_scores`, the same code as the broadcast top-k path) and the reference
metrics (:func:`musiclake.recommend.metrics.playlist_metrics`): the validation playlists are capped
(``max_validation_playlists``) so their factors, tracks and lists are small by construction.

``strategy="grid"`` fits the given configurations once each (one rung, one fold): the old fixed grid.

**Engine** (``engine``): where the trials are fitted. ``spark``: Spark MLlib's ALS, every trial a Spark fit.
``driver``: the training interactions are collected once and every fold and trial is numpy on the driver
(:mod:`musiclake.recommend.driver_als`: the same model, solved by conjugate gradient; the folds drawn by the same
rule with numpy's seeded generator); small fits then cost their arithmetic instead of Spark's fixed cost per
fit, and a configuration promoted to the next rung continues its fit instead of starting again (the same
factors; kept while they take at most :data:`RESUME_MAX_BYTES`). ``auto`` (the default): ``driver`` up to
:data:`~musiclake.recommend.driver_als.MAX_INTERACTIONS` training interactions, ``spark`` above. The chosen model
is always fitted by Spark (:mod:`musiclake.recommend.training`).
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake import runtime
from musiclake.recommend import driver_als, fit, metrics, split, topk
from musiclake.schemas import PLAYLIST_IDX, RANK, TRACK_IDX, WEIGHT

log = logging.getLogger("musiclake.recommend.tuning")

DEFAULT_METRIC = "ndcg_at_10"
TUNING_LIST_LENGTH = 100  # validation lists are 100 deep, not 500: cheaper, and NDCG@10 needs only 10
LOWER_IS_BETTER = frozenset({"clicks"})
HALVING, GRID = "halving", "grid"
AUTO, DRIVER, SPARK = "auto", "driver", "spark"
ENGINES = (AUTO, DRIVER, SPARK)
DEFAULT_TRIALS = 30
DEFAULT_BUDGET_S = 1800.0  # wall clock of the whole search; the demo catalog needs a few minutes
DEFAULT_ETA = 3  # keep the best third at each rung
MIN_ITERATIONS = 2  # the first rung's iterations: ALS is already ranked sensibly after two
DEFAULT_FOLDS = 3  # validation splits the finalists are compared on (budget permitting)
DEFAULT_PARALLEL_TRIALS = 3  # fits at once (bench: 6 small fits took 18.3 s one by one, 10.0 s three at a time)
RESUME_MAX_BYTES = 1 << 30  # driver engine: factors kept so the next rung continues a fit (else it refits)
FOLD_SEED_STEP = 104_729  # fold f validates on the split of seed + f * step (fold 0: the classic split)
# the old fixed grid, reachable with --tune_ranks/--tune_reg_params/--tune_alphas
GRID_RANKS = (32, 64)
GRID_REG_PARAMS = (0.2,)
GRID_ALPHAS = (5.0, 15.0)


@dataclass(frozen=True)
class SearchSpace:
    """Where :func:`sample_configs` draws from: log-uniform ranges and the confidence weightings."""

    rank: tuple[int, int] = (16, 256)
    reg_param: tuple[float, float] = (0.005, 2.0)
    alpha: tuple[float, float] = (0.5, 60.0)
    weightings: tuple[str, ...] = fit.WEIGHTINGS

    def as_dict(self) -> dict[str, Any]:
        return {"rank": list(self.rank), "reg_param": list(self.reg_param), "alpha": list(self.alpha),
                "weightings": list(self.weightings), "scale": "log-uniform (rank rounded to a multiple of 8)"}


@dataclass(frozen=True)
class SearchConfig:
    """How to search (built from the job's ``--tune_*`` options).

    Parameters
    ----------
    strategy
        ``halving`` (budgeted successive halving over sampled configurations) or ``grid`` (``grid``, each once).
    trials
        Configurations sampled for halving.
    budget_s
        Wall-clock seconds after which no new fit starts (fits already running finish).
    eta
        Halving rate: the best ``1/eta`` of a rung go on; also the number of finalists.
    folds
        Validation splits the finalists are compared on, budget permitting (1: a single split).
    parallelism
        Fits running at once (Spark engine; the driver engine fits one at a time, its numpy uses the cores).
    engine
        ``auto``, ``driver`` or ``spark``: where the trials are fitted (module docstring).
    """

    strategy: str = HALVING
    trials: int = DEFAULT_TRIALS
    budget_s: float = DEFAULT_BUDGET_S
    eta: int = DEFAULT_ETA
    min_iterations: int = MIN_ITERATIONS
    folds: int = DEFAULT_FOLDS
    parallelism: int = DEFAULT_PARALLEL_TRIALS
    space: SearchSpace = field(default_factory=SearchSpace)
    grid: tuple[fit.AlsParams, ...] = ()
    engine: str = AUTO

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown tuning engine {self.engine!r}; choose from {', '.join(ENGINES)}")
        if self.strategy not in (HALVING, GRID):
            raise ValueError(f"unknown tuning strategy {self.strategy!r}; choose {HALVING} or {GRID}")
        if self.strategy == GRID and not self.grid:
            raise ValueError("empty tuning grid")
        if self.trials < 1 or self.eta < 2 or self.folds < 1 or self.parallelism < 1:
            raise ValueError("tuning needs trials >= 1, eta >= 2, folds >= 1 and parallelism >= 1")


@dataclass(frozen=True)
class Trial:
    """One fit: its parameters (``max_iter`` = the iterations fitted), validation metrics and wall time."""

    params: fit.AlsParams
    metrics: dict[str, float]
    seconds: float
    trial: int = 0  # which sampled configuration
    rung: int = 0  # halving rung (0 = fewest iterations)
    fold: int = 0  # validation split (0 = the one every rung uses)

    def as_dict(self) -> dict[str, Any]:
        return {"trial": self.trial, "rung": self.rung, "fold": self.fold, "params": self.params.as_dict(),
                "metrics": self.metrics, "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class TuningResult:
    """The chosen parameters and every trial, as recorded in the model's metadata and the evaluations table."""

    best: fit.AlsParams
    metric: str
    trials: tuple[Trial, ...]
    validation_fraction: float
    list_length: int = TUNING_LIST_LENGTH
    strategy: str = GRID
    budget_s: float | None = None
    seconds: float = 0.0
    rungs: tuple[int, ...] = ()
    folds: int = 1
    finalists: tuple[tuple[int, float], ...] = ()  # (trial, mean metric over the folds), best first
    space: SearchSpace | None = None
    engine: str = SPARK

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "strategy": self.strategy,
            "engine": self.engine,
            "validation_fraction": self.validation_fraction,
            "list_length": self.list_length,
            "budget_s": self.budget_s,
            "seconds": round(self.seconds, 1),
            "rungs": list(self.rungs),
            "folds": self.folds,
            "space": self.space.as_dict() if self.space else None,
            "finalists": [{"trial": t, f"mean_{self.metric}": v} for t, v in self.finalists],
            "best": self.best.as_dict(),
            "trials": [t.as_dict() for t in self.trials],
        }


def param_grid(
    base: fit.AlsParams,
    ranks: Sequence[int] = GRID_RANKS,
    reg_params: Sequence[float] = GRID_REG_PARAMS,
    alphas: Sequence[float] = GRID_ALPHAS,
) -> list[fit.AlsParams]:
    """Every combination of ``ranks x reg_params x alphas``; other fields (max_iter, seed) from ``base``."""
    return [
        replace(base, rank=int(rank), reg_param=float(reg), alpha=float(alpha))
        for rank, reg, alpha in itertools.product(ranks, reg_params, alphas)
    ]


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def sample_configs(base: fit.AlsParams, n: int, seed: int, space: SearchSpace | None = None) -> list[fit.AlsParams]:
    """``n`` random configurations of ``space`` (same seed, same list); max_iter and seed from ``base``.

    Rank is log-uniform rounded to a multiple of 8 (within the range), regParam and alpha log-uniform with 3
    significant digits, the weighting uniform over ``space.weightings``.
    """
    space = space or SearchSpace()
    rng = random.Random(seed)
    low, high = space.rank
    configs = []
    for _ in range(n):
        rank = min(high, max(low, 8 * round(_log_uniform(rng, low, high) / 8)))
        configs.append(replace(
            base,
            rank=int(rank),
            reg_param=float(f"{_log_uniform(rng, *space.reg_param):.3g}"),
            alpha=float(f"{_log_uniform(rng, *space.alpha):.3g}"),
            weighting=rng.choice(space.weightings),
        ))
    return configs


def halving_rungs(max_iter: int, eta: int = DEFAULT_ETA, min_iterations: int = MIN_ITERATIONS) -> tuple[int, ...]:
    """Iterations of each rung: ``max_iter``, ``ceil(max_iter / eta)``, ... down to ``min_iterations``, ascending.

    >>> halving_rungs(10)
    (2, 4, 10)
    >>> halving_rungs(27)
    (3, 9, 27)
    >>> halving_rungs(2)
    (2,)
    """
    rungs = [max_iter]
    while math.ceil(rungs[-1] / eta) >= min_iterations and math.ceil(rungs[-1] / eta) < rungs[-1]:
        rungs.append(math.ceil(rungs[-1] / eta))
    return tuple(reversed(rungs))


@dataclass
class _Fold:
    """One validation split of train: the fit part per weighting (cached) and the validation lists (driver)."""

    number: int
    fit_parts: dict[str, DataFrame]
    relevant: dict[int, set[int]]
    seen: pd.DataFrame  # playlist_idx, seen (array of track_idx): the validation playlists' training tracks
    validation: DataFrame
    n_tracks: int  # tracks of the fit part (an upper bound of the model's item factors)
    playlist_ids: DataFrame  # the validation playlists (cached), to select their factors

    def unpersist(self) -> None:
        for frame in (*self.fit_parts.values(), self.validation, self.playlist_ids):
            frame.unpersist()


def _make_fold(
    train: DataFrame, number: int, fraction: float, seed: int, share: float, weightings: set[str]
) -> _Fold:
    fit_part, validation = split.validation_split(train, fraction, seed + number * FOLD_SEED_STEP,
                                                  playlist_share=share)
    validation = validation.select(PLAYLIST_IDX, TRACK_IDX).cache()
    fit_parts = {w: fit_part.transform(fit.with_confidence_weights(w)).cache() for w in sorted(weightings)}
    playlist_ids = validation.select(PLAYLIST_IDX).distinct().cache()
    relevant: dict[int, set[int]] = {}
    for row in validation.collect():  # capped by max_validation_playlists: small by construction
        relevant.setdefault(row[PLAYLIST_IDX], set()).add(row[TRACK_IDX])
    any_part = next(iter(fit_parts.values()))
    seen = topk.seen_lists(any_part).join(playlist_ids, on=PLAYLIST_IDX, how="left_semi")
    seen_pd = seen.select(PLAYLIST_IDX, topk.SEEN).toPandas()  # the same validation playlists' own tracks
    n_tracks = any_part.select(TRACK_IDX).distinct().count()
    return _Fold(number=number, fit_parts=fit_parts, relevant=relevant, seen=seen_pd, validation=validation,
                 n_tracks=n_tracks, playlist_ids=playlist_ids)


@dataclass
class _DriverFold:
    """One validation split of train on the driver (engine ``driver``): the fit part per weighting as a
    :class:`~musiclake.recommend.driver_als.Ratings` (rows: ``playlist_ids``, columns: ``track_ids``, both
    ascending) and the validation lists."""

    number: int
    fit_parts: dict[str, driver_als.Ratings]
    playlist_ids: np.ndarray
    track_ids: np.ndarray
    relevant: dict[int, set[int]]
    seen: pd.DataFrame  # playlist_idx, seen: the validation playlists' fit tracks

    def unpersist(self) -> None:
        """Nothing is cached in Spark."""


def _make_driver_fold(pairs: pd.DataFrame, number: int, fraction: float, seed: int, share: float,
                      weightings: set[str]) -> _DriverFold:
    playlists, tracks = pairs[PLAYLIST_IDX].to_numpy(np.int64), pairs[TRACK_IDX].to_numpy(np.int64)
    weights = pairs[WEIGHT].to_numpy(np.float64)
    held = driver_als.holdout_mask(playlists, fraction, seed + split.VALIDATION_SEED_OFFSET + number * FOLD_SEED_STEP,
                                   playlist_share=share)
    kept = ~held
    playlist_ids, rows = np.unique(playlists[kept], return_inverse=True)
    track_ids, columns = np.unique(tracks[kept], return_inverse=True)
    fit_parts = {
        w: driver_als.Ratings.from_pairs(rows, columns, driver_als.confidence_weights(rows, columns, weights[kept], w),
                                         len(playlist_ids), len(track_ids))
        for w in sorted(weightings)
    }
    relevant: dict[int, set[int]] = {}
    for playlist, track in zip(playlists[held].tolist(), tracks[held].tolist(), strict=True):
        relevant.setdefault(playlist, set()).add(track)
    validated = np.isin(playlists[kept], np.fromiter(relevant, dtype=np.int64, count=len(relevant)))
    seen = (pd.DataFrame({PLAYLIST_IDX: playlists[kept][validated], TRACK_IDX: tracks[kept][validated]})
            .groupby(PLAYLIST_IDX)[TRACK_IDX].agg(list).rename(topk.SEEN).reset_index())
    return _DriverFold(number, fit_parts, playlist_ids, track_ids.astype(np.int32), relevant, seen)


def score_on_driver(model: ALSModel, fold: _Fold, k: int, list_length: int) -> dict[str, float]:
    """Validation metrics of ``model``: top lists with numpy on the driver, metrics per playlist, averaged.

    Notes
    -----
    Collects the item factors and the validation playlists' factors; callers check the item factors fit
    (``n_tracks x rank`` within the broadcast limit) and use the Spark path otherwise.
    """
    items = model.itemFactors.toPandas()
    wanted = F.broadcast(fold.playlist_ids.select(F.col(PLAYLIST_IDX).alias("id")))  # <= ~10k ids: no shuffle
    users = model.userFactors.join(wanted, on="id", how="left_semi").toPandas()
    if not len(items) or not len(users):
        return score_lists({}, fold.relevant, k, list_length)
    order = np.argsort(items["id"].to_numpy())
    item_ids = items["id"].to_numpy()[order].astype(np.int32)
    factors = np.stack(items["features"].to_numpy())[order].astype(np.float32)
    return score_factors(users.rename(columns={"id": PLAYLIST_IDX}), item_ids, factors, fold, k, list_length)


def score_driver_factors(factors: driver_als.Factors, fold: _DriverFold, k: int, list_length: int) -> dict[str, float]:
    """:func:`score_on_driver` for factors fitted on the driver."""
    if not fold.relevant:  # no playlist long enough to hold tracks out
        return score_lists({}, fold.relevant, k, list_length)
    wanted = np.fromiter(fold.relevant, dtype=np.int64, count=len(fold.relevant))
    rows = np.searchsorted(fold.playlist_ids, wanted)  # every validation playlist keeps a fit track
    users = pd.DataFrame({PLAYLIST_IDX: wanted.astype(np.int32), "features": list(factors.users[rows])})
    return score_factors(users, fold.track_ids, factors.items, fold, k, list_length)


def score_factors(users: pd.DataFrame, item_ids: np.ndarray, item_factors: np.ndarray, fold: _Fold | _DriverFold,
                  k: int, list_length: int) -> dict[str, float]:
    """Top ``list_length`` unseen tracks of the validation playlists (``users``: ``playlist_idx, features``) by
    :func:`musiclake.recommend.topk.top_k_scores`, scored against ``fold.relevant``."""
    batch = users.merge(fold.seen, on=PLAYLIST_IDX, how="left")
    ranked = topk.top_k_scores(batch, item_ids, item_factors, list_length).sort_values([PLAYLIST_IDX, RANK])
    playlists, tracks = ranked[PLAYLIST_IDX].to_numpy(), ranked[TRACK_IDX].to_numpy()
    bounds = np.flatnonzero(np.diff(playlists)) + 1
    lists = {int(p[0]): t.tolist() for p, t in zip(np.split(playlists, bounds), np.split(tracks, bounds), strict=True)
             if len(p)}
    return score_lists(lists, fold.relevant, k, list_length)


def score_lists(lists: dict[int, list[int]], relevant: dict[int, set[int]], k: int,
                list_length: int) -> dict[str, float]:
    """The reference metrics of each validation playlist's list, averaged (a missing list scores as empty)."""
    per_playlist = [metrics.playlist_metrics(lists.get(p, []), tracks, k, list_length)
                    for p, tracks in relevant.items()]
    names = metrics.metric_names(k, list_length)
    n = len(per_playlist)
    return {"n_playlists": n, **{name: (sum(v[name] for v in per_playlist) / n if n else 0.0) for name in names}}


class _Search:
    """The state of one search: folds, the budget clock and every trial so far."""

    def __init__(self, train: DataFrame, config: SearchConfig, *, validation_fraction: float, seed: int, k: int,
                 metric: str, list_length: int, share: float, num_blocks: int | None,
                 max_broadcast_factors: int | None, weightings: set[str], pairs: pd.DataFrame | None) -> None:
        self.train, self.config, self.seed, self.k, self.metric = train, config, seed, k, metric
        self.fraction, self.list_length, self.share, self.weightings = validation_fraction, list_length, share, \
            weightings
        self.pairs = pairs  # the training interactions on the driver: engine "driver"
        self.engine = DRIVER if pairs is not None else SPARK
        self.parallelism = 1 if pairs is not None else config.parallelism
        self.started = time.monotonic()
        self.folds: dict[int, _Fold | _DriverFold] = {}
        self.trials: list[Trial] = []
        self.launched = 0
        self.fitted: dict[tuple[int, int], tuple[int, driver_als.Factors]] = {}  # (trial, fold): to resume
        self.blocks = num_blocks
        self.broadcast_limit = max_broadcast_factors or topk.default_broadcast_limit(train.sparkSession)
        self._lock = threading.Lock()

    def fold(self, number: int) -> _Fold | _DriverFold:
        if number not in self.folds:
            if self.pairs is not None:
                self.folds[number] = _make_driver_fold(self.pairs, number, self.fraction, self.seed, self.share,
                                                       self.weightings)
                return self.folds[number]
            self.folds[number] = _make_fold(self.train, number, self.fraction, self.seed, self.share,
                                            self.weightings)
            if self.blocks is None:
                part = next(iter(self.folds[number].fit_parts.values()))
                self.blocks = fit.num_blocks_for(self.train.sparkSession, part.count())
        return self.folds[number]

    def spent(self) -> bool:
        return time.monotonic() - self.started >= self.config.budget_s

    def goodness(self, trial: Trial) -> float:
        value = trial.metrics[self.metric]
        return -value if self.metric in LOWER_IS_BETTER else value

    def run_trial(self, trial_id: int, params: fit.AlsParams, rung: int, fold_no: int) -> Trial:
        fold = self.folds[fold_no]
        started = time.monotonic()
        if isinstance(fold, _DriverFold):  # the next rung continues the previous one's fit
            factors = driver_als.fit(fold.fit_parts[params.weighting], params,
                                     resume=self.fitted.get((trial_id, fold_no)))
            with self._lock:  # kept for the next rung while they fit in RESUME_MAX_BYTES
                held = sum(f.users.nbytes + f.items.nbytes for _, f in self.fitted.values())
                if held + factors.users.nbytes + factors.items.nbytes <= RESUME_MAX_BYTES:
                    self.fitted[(trial_id, fold_no)] = (params.max_iter, factors)
            scores = score_driver_factors(factors, fold, self.k, self.list_length)
        else:
            scores = self._spark_trial(fold, params)
        trial = Trial(params, scores, time.monotonic() - started, trial_id, rung, fold_no)
        log.info("tuning trial %d rung %d fold %d %s: %s=%.4f (%.1fs)", trial_id, rung, fold_no, params.to_json(),
                 self.metric, scores[self.metric], trial.seconds)
        with self._lock:
            self.trials.append(trial)
        return trial

    def _spark_trial(self, fold: _Fold, params: fit.AlsParams) -> dict[str, float]:
        model = fit.fit_als(fold.fit_parts[params.weighting], params, num_blocks=self.blocks, weights_applied=True)
        if fold.n_tracks * params.rank <= self.broadcast_limit:
            return score_on_driver(model, fold, self.k, self.list_length)
        # a catalog too large for the driver: score in Spark
        seen = topk.seen_lists(fold.fit_parts[params.weighting])
        lists = topk.recommend_top_k(model, seen, self.list_length, playlists=fold.validation,
                                     max_broadcast_factors=self.broadcast_limit)
        return metrics.ranking_metrics(lists, fold.validation, self.k, self.list_length)

    def run_batch(self, jobs: Sequence[tuple[int, fit.AlsParams, int]], fold_no: int,
                  may_start: Callable[[], bool]) -> list[Trial]:
        """Run ``jobs`` (trial, params, rung) up to ``parallelism`` at a time while ``may_start()``; by trial."""
        pending, done = list(jobs), []
        running: set[Future] = set()
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            while pending or running:
                while pending and len(running) < self.parallelism and may_start():
                    trial_id, params, rung = pending.pop(0)
                    self.launched += 1
                    running.add(pool.submit(self.run_trial, trial_id, params, rung, fold_no))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                done.extend(f.result() for f in finished)
        return sorted(done, key=lambda t: t.trial)


def tune_als(
    train: DataFrame,
    base: fit.AlsParams,
    search: SearchConfig,
    *,
    validation_fraction: float,
    seed: int,
    k: int = 10,
    metric: str = DEFAULT_METRIC,
    max_validation_playlists: int = 10_000,
    num_blocks: int | None = None,
    max_broadcast_factors: int | None = None,
) -> TuningResult:
    """Search ALS parameters on validation splits of ``train`` (see the module docstring) and pick the best.

    Parameters
    ----------
    train
        The training interactions (``playlist_idx, track_idx, weight``), i.e. without the evaluation holdout.
    base
        ``max_iter`` (the last rung's iterations) and ``seed`` of every configuration.
    search
        Strategy, trials, budget, folds (:class:`SearchConfig`).
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
    The best parameters (``max_iter``: the iterations where its metric peaked) and every trial.
    """
    list_length = max(k, TUNING_LIST_LENGTH)
    if metric not in metrics.metric_names(k, list_length):
        raise ValueError(f"unknown tuning metric {metric!r}; choose from {metrics.metric_names(k, list_length)}")
    is_grid = search.strategy == GRID
    configs = list(search.grid) if is_grid else sample_configs(base, search.trials, seed, search.space)
    rungs = (base.max_iter,) if is_grid else halving_rungs(base.max_iter, search.eta, search.min_iterations)
    pairs = _pairs_on_driver(train, search.engine)
    if pairs is not None:
        n_playlists = int(pairs[PLAYLIST_IDX].nunique())
    else:
        n_playlists = train.select(PLAYLIST_IDX).distinct().count()
    share = min(1.0, max_validation_playlists / max(n_playlists, 1))
    state = _Search(train, search, validation_fraction=validation_fraction, seed=seed, k=k, metric=metric,
                    list_length=list_length, share=share, num_blocks=num_blocks,
                    max_broadcast_factors=max_broadcast_factors, weightings={c.weighting for c in configs},
                    pairs=pairs)
    state.fold(0)

    def may_start() -> bool:  # the first fit always starts: there must be a best
        return state.launched == 0 or not state.spent()

    alive = list(range(len(configs)))
    latest: dict[int, Trial] = {}  # each configuration's last trial on fold 0
    best_of: dict[int, Trial] = {}  # ... and its best one (early stopping keeps the iterations of its peak)
    reached: list[int] = []  # promoted to the last rung that ran (run there or, budget spent, not)
    stopped: list[int] = []  # early-stopped: candidates at the iterations of their peak
    for rung, iterations in enumerate(rungs):
        jobs = [(i, configs[i] if is_grid else replace(configs[i], max_iter=iterations), rung) for i in alive]
        done = state.run_batch(jobs, 0, may_start)
        if not done:
            break
        reached = [i for i in alive if i in best_of or i in {t.trial for t in done}]
        improved = []
        for t in done:
            previous = latest.get(t.trial)
            latest[t.trial] = t
            if previous is None or state.goodness(t) > state.goodness(previous):
                best_of[t.trial] = t
                improved.append(t)
            else:
                stopped.append(t.trial)
                log.info("tuning trial %d stops at rung %d: %s did not improve", t.trial, rung, metric)
        keep = max(1, math.ceil(len(done) / search.eta))
        alive = [t.trial for t in sorted(improved, key=lambda t: (-state.goodness(t), t.params.rank, t.trial))][:keep]
        state.fitted = {key: value for key, value in state.fitted.items() if key[0] in alive}  # the rest stop
        if not alive or state.spent():
            break

    candidates = sorted(set(reached) | set(stopped))
    ranked = sorted(candidates, key=lambda i: (-state.goodness(best_of[i]), best_of[i].params.rank, i))
    finalists = ranked[: 1 if is_grid else search.eta]
    values = {i: [state.goodness(best_of[i])] for i in finalists}
    folds_used = 1
    for fold_no in range(1, 1 if is_grid or len(finalists) < 2 else search.folds):
        # a whole round or none: every finalist is compared on the same folds
        expected = sum(best_of[i].seconds for i in finalists) / min(state.parallelism, len(finalists))
        if time.monotonic() - state.started + expected > search.budget_s:
            log.info("tuning: budget left for %d validation folds of the finalists", folds_used)
            break
        state.fold(fold_no)
        round_trials = state.run_batch([(i, best_of[i].params, best_of[i].rung) for i in finalists], fold_no,
                                       lambda: True)
        for t in round_trials:
            values[t.trial].append(state.goodness(t))
        folds_used += 1
    means = {i: sum(v) / len(v) for i, v in values.items()}
    order = sorted(finalists, key=lambda i: (-means[i], best_of[i].params.rank, i))
    winner = best_of[order[0]].params
    if not is_grid and latest[order[0]].params.max_iter == best_of[order[0]].params.max_iter:
        winner = replace(winner, max_iter=base.max_iter)  # still improving (or never promoted): full iterations
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    for fold in state.folds.values():
        fold.unpersist()
    state.fitted.clear()
    trials = tuple(sorted(state.trials, key=lambda t: (t.fold, t.rung, t.trial)))
    log.info("tuning: %d fits in %.1fs; best %s", len(trials), time.monotonic() - state.started, winner.to_json())
    return TuningResult(
        winner, metric, trials, validation_fraction, list_length, search.strategy,
        None if is_grid else search.budget_s, time.monotonic() - state.started, rungs, folds_used,
        tuple((i, sign * means[i]) for i in order), None if is_grid else search.space, state.engine,
    )


def _pairs_on_driver(train: DataFrame, engine: str) -> pd.DataFrame | None:
    """The training interactions as a pandas frame when the trials are fitted on the driver, else None.

    ``auto`` counts them first: up to :data:`driver_als.MAX_INTERACTIONS` rows are small by construction.
    """
    if engine == SPARK:
        return None
    if engine == AUTO:
        n = train.count()
        if n > driver_als.MAX_INTERACTIONS:
            log.info("tuning in Spark: %d training interactions, more than the driver engine's %d", n,
                     driver_als.MAX_INTERACTIONS)
            return None
    # in key order: the driver's validation splits draw per row in row order, and the order Spark collects rows in
    # follows its partitioning (the same interactions partitioned otherwise gave another split and another search)
    pairs = (runtime.to_pandas_with_arrow(train.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT))
             .sort_values([PLAYLIST_IDX, TRACK_IDX], ignore_index=True, kind="stable"))
    log.info("tuning on the driver (numpy): %d training interactions collected", len(pairs))
    return pairs


def format_search(result: TuningResult) -> list[str]:
    """The search as report lines: how it ran, one line per trial (``*``: the winner's), finalists, the winner."""
    metric = result.metric
    winner = result.finalists[0][0] if result.finalists else None
    fits = len(result.trials)
    where = "fitted on the driver (numpy)" if result.engine == DRIVER else "fitted by Spark"
    if result.strategy == GRID:
        head = f"  tuning (grid of {fits} {where}, {metric} on a validation split of train, {result.seconds:.0f}s):"
    else:
        configs = len({t.trial for t in result.trials})
        head = (f"  tuning (successive halving of {configs} sampled configurations {where}, rungs "
                f"{'/'.join(map(str, result.rungs))} iterations, budget {result.budget_s:g}s: {fits} fits in "
                f"{result.seconds:.0f}s; {metric} on validation splits of train):")
    lines = [head, f"     {'trial':>5} {'rung':>4} {'fold':>4} {'weighting':<9} {'rank':>4} {'reg_param':>9} "
                   f"{'alpha':>7} {'iter':>4} {metric:>12} {'seconds':>8}"]
    for t in result.trials:
        p = t.params
        mark = "*" if t.trial == winner else " "
        lines.append(f"   {mark} {t.trial:>5} {t.rung:>4} {t.fold:>4} {p.weighting:<9} {p.rank:>4} {p.reg_param:>9g} "
                     f"{p.alpha:>7g} {p.max_iter:>4} {t.metrics[metric]:>12.4f} {t.seconds:>8.1f}")
    if result.strategy != GRID and result.finalists:
        means = ", ".join(f"#{trial} {value:.4f}" for trial, value in result.finalists)
        lines.append(f"    finalists (mean {metric} over {result.folds} validation split(s)): {means}")
    lines.append(f"    best: {result.best.to_json()}")
    return lines
