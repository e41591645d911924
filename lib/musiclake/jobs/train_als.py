"""train_als: interactions -> ALS evaluated against popularity, refit, a versioned model and its output tables.

Load the interactions (the lake's table or any dataset of playlist/track ids), evaluate ALS against the popularity
baseline on a per-playlist holdout (optionally tuning on a validation split of train), refit on everything, and
save the model folder and the ``evaluations``, ``recommendations`` and ``similar_tracks`` tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from musiclake.lake import Lake
from musiclake.options import JobOptions
from musiclake.recommend import store, tuning
from musiclake.recommend.fit import AlsParams, ensure_checkpoint_dir
from musiclake.recommend.store import SavedRun
from musiclake.recommend.training import TrainConfig, format_report, train_evaluate_recommend

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
    tune: bool = False
    tune_ranks: list[int] = field(default_factory=lambda: list(tuning.DEFAULT_RANKS))
    tune_reg_params: list[float] = field(default_factory=lambda: list(tuning.DEFAULT_REG_PARAMS))
    tune_alphas: list[float] = field(default_factory=lambda: list(tuning.DEFAULT_ALPHAS))
    holdout_fraction: float = 0.2
    seed: int = 42
    similar_k: int = 20
    num_blocks: int = 0

    def train_config(self) -> TrainConfig:
        params = AlsParams(self.rank, self.reg_param, self.alpha, self.max_iter, self.seed)
        grid = tuning.param_grid(params, self.tune_ranks, self.tune_reg_params, self.tune_alphas)
        return TrainConfig(
            params=params, tune=self.tune, grid=tuple(grid), holdout_fraction=self.holdout_fraction,
            seed=self.seed, top_k=self.top_k, similar_k=self.similar_k, num_blocks=self.num_blocks or None,
        )


def run(spark: SparkSession, opts: TrainAlsOptions) -> SavedRun:
    """Train, evaluate and publish one ALS model under ``opts.lake_path``; prints the report, returns what was saved."""
    lake = Lake(spark, opts.lake_path, opts.database)
    ensure_checkpoint_dir(spark, lake.path("_checkpoints", "als"))
    source = store.load_interactions(lake, opts.interactions_path)
    result = train_evaluate_recommend(source.interactions, opts.train_config())
    saved = store.save_run(lake, result, source, recommendations_path=opts.recommendations_path,
                           options=opts.as_dict())
    print(format_report(result, saved.version), flush=True)
    return saved
