"""Glue job train_als (v1): ALS on interactions - evaluate against popularity, refit, publish recommendations.

    --JOB_NAME n --lake_path URI --database NAME [--interactions_path URI] [--recommendations_path URI]
    [--top_k 500] [--rank R --reg_param X --alpha A --max_iter N] [--tune true|false] [--tune_ranks 32,64
    --tune_reg_params 0.05,0.2 --tune_alphas 5,20] [--holdout_fraction F] [--seed S] [--similar_k 20] [--num_blocks 0]
"""

import sys

from musiclake.jobs.train_als import TrainAlsOptions, run
from musiclake.runtime import run_job


def main(argv: list[str] | None = None) -> None:
    run_job(TrainAlsOptions, run, argv)


if __name__ == "__main__":
    main(sys.argv)
