"""train_als: interactions -> ALS evaluated against popularity, refit, a versioned model and its output tables.

Load the interactions (the lake's table or any dataset of playlist/track ids), evaluate ALS against the popularity
baseline on a per-playlist holdout (optionally tuning on a validation split of train), refit on everything, and
save the model folder and the ``evaluations``, ``recommendations`` and ``similar_tracks`` tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from musiclake import runtime
from musiclake.lake import Lake
from musiclake.options import JobOptions
from musiclake.recommend import store, tuning
from musiclake.recommend.fit import AlsParams, ensure_checkpoint_dir
from musiclake.recommend.newplaylists import NewPlaylistConfig, run_new_playlist_evaluation
from musiclake.recommend.store import SavedRun
from musiclake.recommend.training import TrainConfig, format_report, train_evaluate_recommend

log = logging.getLogger("musiclake.jobs.train_als")

DEFAULT = AlsParams()


@dataclass(frozen=True)
class TrainAlsOptions(JobOptions):
    lake_path: str
    database: str
    interactions_path: str | None = None
    recommendations_path: str | None = None
    top_k: int = 500
    rank: int = DEFAULT.rank
    reg_param: float = DEFAULT.reg_param
    alpha: float = DEFAULT.alpha
    max_iter: int = DEFAULT.max_iter
    weighting: str = DEFAULT.weighting
    tune: bool = False
    tune_trials: int = tuning.DEFAULT_TRIALS
    tune_budget_s: float = tuning.DEFAULT_BUDGET_S
    tune_folds: int = tuning.DEFAULT_FOLDS
    tune_parallelism: int = tuning.DEFAULT_PARALLEL_TRIALS
    tune_engine: str = tuning.AUTO  # where trials are fitted: auto | driver (numpy) | spark
    # any of these three asks for the old fixed grid instead of the search (the others from tuning.GRID_*)
    tune_ranks: list[int] = field(default_factory=list)
    tune_reg_params: list[float] = field(default_factory=list)
    tune_alphas: list[float] = field(default_factory=list)
    max_broadcast_factors: int = 0  # 0: derived from executor/driver memory (topk.default_broadcast_limit)
    holdout_fraction: float = 0.2
    seed: int = 42
    similar_k: int = 20
    num_blocks: int = 0
    new_playlist_eval: bool | None = None  # None: when there are newplaylists.AUTO_MIN_PLAYLISTS playlists
    new_playlist_holdout: int = 0  # 0: newplaylists.default_holdout
    seed_order: str = "first"

    def new_playlist_config(self) -> NewPlaylistConfig:
        return NewPlaylistConfig(holdout=self.new_playlist_holdout, seed_order=self.seed_order, seed=self.seed)

    def search_config(self) -> tuning.SearchConfig:
        """The budgeted search, or the fixed grid when ``--tune_ranks/--tune_reg_params/--tune_alphas`` ask."""
        if self.tune_ranks or self.tune_reg_params or self.tune_alphas:
            grid = tuning.param_grid(self.als_params(), self.tune_ranks or tuning.GRID_RANKS,
                                     self.tune_reg_params or tuning.GRID_REG_PARAMS,
                                     self.tune_alphas or tuning.GRID_ALPHAS)
            return tuning.SearchConfig(strategy=tuning.GRID, grid=tuple(grid), engine=self.tune_engine)
        return tuning.SearchConfig(trials=self.tune_trials, budget_s=self.tune_budget_s, folds=self.tune_folds,
                                   parallelism=self.tune_parallelism, engine=self.tune_engine)

    def als_params(self) -> AlsParams:
        return AlsParams(self.rank, self.reg_param, self.alpha, self.max_iter, self.seed, self.weighting)

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            params=self.als_params(), tune=self.tune, search=self.search_config(),
            holdout_fraction=self.holdout_fraction, seed=self.seed, top_k=self.top_k, similar_k=self.similar_k,
            num_blocks=self.num_blocks or None, max_broadcast_factors=self.max_broadcast_factors or None,
        )


def run(spark: SparkSession, opts: TrainAlsOptions) -> SavedRun:
    """Train, evaluate and publish one ALS model under ``opts.lake_path``; prints the report, returns what was saved."""
    lake = Lake(spark, opts.lake_path, opts.database)
    ensure_checkpoint_dir(spark, lake.path("_checkpoints", "als"))
    linear_algebra = runtime.linear_algebra(spark)
    if linear_algebra["kind"] == "native":
        log.info("ALS runs on native BLAS/LAPACK (%s, %s)", linear_algebra["blas"], linear_algebra["lapack"])
    else:
        log.warning("ALS runs on Java BLAS/LAPACK (%s, %s): no native libblas.so.3/liblapack.so.3 on this "
                    "machine, fits take longer (docs/recommender.md, 'ALS cost: native BLAS')",
                    linear_algebra["blas"], linear_algebra["lapack"])
    source = store.load_interactions(lake, opts.interactions_path)
    new_playlist_config = opts.new_playlist_config()  # checked before the long part
    result = train_evaluate_recommend(source.interactions, opts.train_config())
    new_playlists = run_new_playlist_evaluation(lake, source.interactions, result, opts.new_playlist_eval,
                                                new_playlist_config, num_blocks=opts.num_blocks or None)
    saved = store.save_run(lake, result, source, recommendations_path=opts.recommendations_path,
                           options=opts.as_dict(), linear_algebra=linear_algebra)
    print(format_report(result, saved.version), flush=True)
    new_playlists.save_and_print(lake, saved.version)
    return saved
