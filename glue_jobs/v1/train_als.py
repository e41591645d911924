"""Glue job: ALS on playlist x track interactions - evaluate against popularity, refit, publish recommendations.

--JOB_NAME n --lake_path URI --database NAME [--interactions_path URI] [--recommendations_path URI]
[--top_k 500] [--rank R --reg_param X --alpha A --max_iter N] [--tune true|false]
[--tune_ranks 32,64 --tune_reg_params 0.05,0.2 --tune_alphas 5,20] [--holdout_fraction F] [--seed S]
[--similar_k 20] [--num_blocks 0 (auto)]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from musiclake import runtime, storage
from musiclake.options import JobOptions
from musiclake.recommend import als, pipeline, store, tuning

DEFAULT = als.AlsParams()


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

    def train_config(self) -> pipeline.TrainConfig:
        params = als.AlsParams(self.rank, self.reg_param, self.alpha, self.max_iter, self.seed)
        grid = tuning.param_grid(params, self.tune_ranks, self.tune_reg_params, self.tune_alphas)
        return pipeline.TrainConfig(
            params=params, tune=self.tune, grid=tuple(grid), holdout_fraction=self.holdout_fraction,
            seed=self.seed, top_k=self.top_k, similar_k=self.similar_k, num_blocks=self.num_blocks or None,
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    runtime.configure_logging()
    options = TrainAlsOptions.from_argv(argv)
    with runtime.job_session(options, argv) as spark:
        als.ensure_checkpoint_dir(spark, storage.join(options.lake_path, "_checkpoints", "als"))
        source = store.load_interactions(spark, options.lake_path, options.interactions_path)
        result = pipeline.train_evaluate_recommend(source.interactions, options.train_config())
        saved = store.save_run(spark, result, source, options.lake_path, options.database,
                               recommendations_path=options.recommendations_path, options=options.as_dict())
        print(pipeline.format_report(result, saved.version), flush=True)


if __name__ == "__main__":
    main()
