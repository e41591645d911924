"""The budgeted ALS search (``train_als --tune true``) against the old fixed grid, on the demo catalog.

Data: the ``interactions`` table of a demo lake (``make demo``; default ``$MUSICLAKE_HOME/demo/lake``), or, with
``--playlists``, a synthetic catalog built like the demo's (``musiclake_sim.catalog.generate_catalog``, seed 42).
Protocol, as in the job: the 20 % per-playlist evaluation holdout; tuning sees only the training part.

Usage::

    python bench/tune_bench.py --lake .musiclake/demo/lake [--trials 30] [--budget 1800] [--folds 3] [--engine E]

Prints: the search (one line per trial), its wall time, one fit of the chosen model (fit + top-k scoring of
the holdout, what a trial costs at full iterations), the ratio, and the holdout metrics of the search's winner
and of the old grid's winner (rank 32 / regParam 0.2 / alpha 5 on the demo), then a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace

from pyspark.sql import DataFrame

from musiclake import runtime
from musiclake.recommend import fit, metrics, split, topk, tuning
from musiclake.recommend.fit import AlsParams
from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX, WEIGHT

SEED = 42
OLD_GRID_WINNER = AlsParams(rank=32, reg_param=0.2, alpha=5.0)  # the 4-point grid's choice on the demo


def holdout_score(train: DataFrame, holdout: DataFrame, params: AlsParams) -> dict:
    """Fit on train and score the evaluation holdout as ``training.evaluate`` does (500 deep)."""
    started = time.monotonic()
    model = fit.fit_als(train, params)
    model.itemFactors.count()
    fit_seconds = time.monotonic() - started
    lists = topk.recommend_top_k(model, topk.seen_lists(train), metrics.CHALLENGE_LIST_LENGTH, playlists=holdout)
    values = metrics.ranking_metrics(lists, holdout)
    return {**values, "fit_seconds": round(fit_seconds, 1), "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(runtime.musiclake_home() / "demo" / "lake"))
    parser.add_argument("--trials", type=int, default=tuning.DEFAULT_TRIALS)
    parser.add_argument("--budget", type=float, default=tuning.DEFAULT_BUDGET_S)
    parser.add_argument("--folds", type=int, default=tuning.DEFAULT_FOLDS)
    parser.add_argument("--parallelism", type=int, default=tuning.DEFAULT_PARALLEL_TRIALS)
    parser.add_argument("--engine", choices=tuning.ENGINES, default=tuning.AUTO,
                        help="where the trials are fitted (the job's --tune_engine)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    spark = runtime.local_spark_session(app_name="tune-bench")
    fit.ensure_checkpoint_dir(spark, str(runtime.musiclake_home() / "checkpoints"))

    source = spark.read.format("delta").load(f"{args.lake}/interactions")
    pairs = source.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).checkpoint(eager=True)
    train, holdout = split.holdout_split(pairs, 0.2, SEED)
    train, holdout = train.cache(), holdout.cache()
    print(f"{pairs.count()} interactions; train {train.count()}, holdout {holdout.count()}", flush=True)

    search = tuning.SearchConfig(trials=args.trials, budget_s=args.budget, folds=args.folds,
                                 parallelism=args.parallelism, engine=args.engine)
    started = time.monotonic()
    tuned = tuning.tune_als(train, AlsParams(), search, validation_fraction=0.2, seed=SEED)
    search_seconds = time.monotonic() - started
    print("\n".join(tuning.format_search(tuned)), flush=True)

    old = holdout_score(train, holdout, replace(OLD_GRID_WINNER, seed=SEED))  # first: warms up the JVM's ALS code
    best = holdout_score(train, holdout, tuned.best)
    at_max_iter = holdout_score(train, holdout, replace(tuned.best, max_iter=AlsParams().max_iter))
    one_fit = best["seconds"]
    summary = {
        "engine": tuned.engine, "trials": len({t.trial for t in tuned.trials}), "fits": len(tuned.trials),
        "rungs": tuned.rungs, "folds": tuned.folds, "search_seconds": round(search_seconds, 1),
        "best": tuned.best.as_dict(),
        "one_fit_of_best_seconds": one_fit, "ratio": round(search_seconds / one_fit, 1),
        "ratio_to_fit_alone": round(search_seconds / best["fit_seconds"], 1),
        "holdout_best": best, "holdout_old_grid_winner": old, "holdout_best_at_max_iter": at_max_iter,
        "ratio_to_max_iter_fit": round(search_seconds / at_max_iter["seconds"], 1), "load": runtime_load(),
    }
    print(f"search {search_seconds:.0f}s = {search_seconds / one_fit:.1f} x one fit+scoring of the winner "
          f"({one_fit:.0f}s), {search_seconds / best['fit_seconds']:.1f} x its fit alone ({best['fit_seconds']:.1f}s)")
    print(f"  = {search_seconds / at_max_iter['seconds']:.1f} x one fit+scoring of the winner at max_iter "
          f"({at_max_iter['seconds']:.0f}s)")
    print(f"holdout NDCG@10: search winner {best['ndcg_at_10']:.4f}, old grid winner {old['ndcg_at_10']:.4f}")
    print(json.dumps(summary, default=str))
    return 0


def runtime_load() -> str:
    import os

    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    sys.exit(main())
