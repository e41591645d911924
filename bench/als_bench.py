"""Choose and check the ALS defaults on synthetic MPD-like playlists (not part of the test suite).

Data: ``musiclake_sim.catalog.generate_catalog`` (taste clusters, Zipf-like popularity, MPD-like lengths).
Protocol, as in the job: a 20 % per-playlist holdout for the final comparison; every choice is made on a
validation split carved from the training part only.

Usage::

    python bench/als_bench.py search --playlists 10000 --tracks 20000   # coordinate search of the defaults
    python bench/als_bench.py demo   --playlists 2000  --tracks 3000    # defaults, tuned grid vs popularity
    python bench/als_bench.py blocks --playlists 2000  --tracks 3000    # fit time by number of ALS blocks

Prints one line per fit and a JSON summary at the end.

Measured 2026-11-26, local[2] on a shared 2-core machine (load ~6, so times are ~3x an idle machine):

* search, 10,000 playlists x 20,000 tracks (512,515 interactions), validation NDCG@10 on ~2,000 playlists,
  starting from rank 64 / regParam 0.05 / 10 iterations:
  alpha 1 / 5 / 20 / 50 -> 0.2370 / 0.2399 / 0.2191 / 0.1844;  regParam 0.01 / 0.05 / 0.2 / 1.0 (alpha 5) ->
  0.2368 / 0.2399 / 0.2445 / 0.2384;  rank 32 / 64 / 128 -> 0.2470 / 0.2445 / 0.2382 (fit 12 / 39 / 143 s);
  iterations 5 / 10 / 15 (rank 32) -> 0.2477 / 0.2470 / 0.2471.  Test, best point: NDCG@10 0.335,
  R-precision 0.223, clicks 1.10; popularity 0.025, 0.017, 13.2.
* demo, 2,000 playlists x 3,000 tracks (83,690 interactions): defaults (64 / 0.2 / 5 / 10) NDCG@10 0.352,
  R-precision 0.259; tuned (grid 32,64 x 0.2 x 5,15 -> 32 / 0.2 / 5) NDCG@10 0.370, P@10 0.225,
  R-precision 0.268, NDCG@500 0.548, clicks 0.66; popularity NDCG@10 0.062, P@10 0.040, R-precision 0.043,
  NDCG@500 0.214, clicks 4.97.
* blocks, same demo data, fit time 1 / 2 / 4 / 8 blocks: 31.9 / 16.7 / 15.2 / 16.3 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace

from pyspark.sql import DataFrame, SparkSession

from musiclake import runtime
from musiclake.recommend import baseline, metrics, split, topk, tuning
from musiclake.recommend.fit import AlsParams, fit_als
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, TRACK_ID, TRACK_IDX, WEIGHT
from musiclake.transforms.ids import assign_indices, with_indices
from musiclake.transforms.interactions import clean_interactions

SEED = 42


def synthetic_interactions(spark: SparkSession, n_playlists: int, n_tracks: int, seed: int = 0) -> DataFrame:
    """Indexed, checkpointed ``playlist_idx, track_idx, weight`` from the teammate's catalog generator."""
    from musiclake_sim.catalog import generate_catalog

    started = time.monotonic()
    catalog = generate_catalog(seed=seed, n_playlists=n_playlists, n_tracks=n_tracks)
    print(f"catalog of {n_playlists:,} playlists x {n_tracks:,} tracks generated in {time.monotonic() - started:.1f}s",
          flush=True)  # the generator's speed: timed here, not in tests/sim
    rows = [
        (f"mpd:{p['pid']}", catalog.tracks[t]["id"], 1.0) for p in catalog.playlists for t in p["tracks"]
    ]
    raw = spark.createDataFrame(rows, "playlist_id string, track_id string, weight double")
    cleaned = clean_interactions(raw)
    playlist_map = assign_indices(cleaned, PLAYLIST_ID, PLAYLIST_IDX)
    track_map = assign_indices(cleaned, TRACK_ID, TRACK_IDX)
    indexed = cleaned.transform(with_indices(playlist_map, track_map))
    return indexed.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).repartition(8).checkpoint(eager=True)


def score(
    train: DataFrame, holdout: DataFrame, params: AlsParams, blocks: int | None = None, depth: int = 500
) -> dict:
    started = time.monotonic()
    model = fit_als(train, params, num_blocks=blocks)
    model.itemFactors.count()
    fit_seconds = time.monotonic() - started
    seen = topk.seen_lists(train)
    lists = topk.recommend_top_k(model, seen, depth, playlists=holdout)
    values = metrics.ranking_metrics(lists, holdout, 10, depth)
    values.update(fit_seconds=round(fit_seconds, 1), total_seconds=round(time.monotonic() - started, 1))
    return values


def popularity_scores(train: DataFrame, holdout: DataFrame) -> dict:
    lists = baseline.recommend_popular(baseline.popularity(train), topk.seen_lists(train), 500, playlists=holdout)
    return metrics.ranking_metrics(lists, holdout)


def _line(label: str, values: dict) -> str:
    return (
        f"{label:<44} ndcg@10={values['ndcg_at_10']:.4f} p@10={values['precision_at_10']:.4f} "
        f"rprec={values['r_precision']:.4f} ndcg@500={values.get('ndcg_at_500', float('nan')):.4f} "
        f"clicks={values['clicks']:.2f} "
        f"fit={values.get('fit_seconds', 0):.1f}s total={values.get('total_seconds', 0):.1f}s"
    )


def coordinate_search(fit: DataFrame, validation: DataFrame, start: AlsParams) -> tuple[AlsParams, list]:
    """Vary alpha, then reg_param, then rank, then max_iter, keeping the best so far (validation NDCG@10)."""
    sweeps = {
        "alpha": (1.0, 5.0, 20.0, 50.0),
        "reg_param": (0.01, 0.05, 0.2, 1.0),
        "rank": (32, 64, 128),
        "max_iter": (5, 10, 15),
    }
    best, best_value, trials, done = start, -1.0, [], {}
    for name, values in sweeps.items():
        for value in values:
            params = replace(best, **{name: value})
            if params not in done:
                done[params] = score(fit, validation, params, depth=tuning.TUNING_LIST_LENGTH)
                trials.append({"params": params.as_dict(), **done[params]})
                print(_line(f"  {params.rank}/{params.reg_param}/{params.alpha}/{params.max_iter}", done[params]),
                      flush=True)
            if done[params]["ndcg_at_10"] > best_value:
                best, best_value = params, done[params]["ndcg_at_10"]
    return best, trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("search", "demo", "blocks"))
    parser.add_argument("--playlists", type=int, default=2000)
    parser.add_argument("--tracks", type=int, default=3000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    spark = runtime.local_spark_session(app_name="als-bench")

    interactions = synthetic_interactions(spark, args.playlists, args.tracks)
    n = interactions.count()
    print(f"{args.playlists} playlists x {args.tracks} tracks: {n} interactions", flush=True)
    train, holdout = split.holdout_split(interactions, 0.2, SEED)
    train, holdout = train.cache(), holdout.cache()
    share = min(1.0, 2000 / args.playlists)  # validate on ~2000 playlists, as tuning caps them
    fit, validation = split.validation_split(train, 0.2, SEED, playlist_share=share)
    fit, validation = fit.cache(), validation.cache()
    summary: dict = {"interactions": n, "playlists": args.playlists, "tracks": args.tracks}

    if args.mode == "blocks":
        for blocks in (1, 2, 4, 8):
            values = score(train, holdout, AlsParams(), blocks)
            print(_line(f"  blocks={blocks}", values), flush=True)
            summary[f"blocks_{blocks}"] = values
    elif args.mode == "search":
        best, trials = coordinate_search(fit, validation, AlsParams())
        summary.update(best=best.as_dict(), trials=trials)
        summary["test_best"] = score(train, holdout, best)
        summary["test_popularity"] = popularity_scores(train, holdout)
        print(_line("test: best of search", summary["test_best"]))
        print(_line("test: popularity", summary["test_popularity"]))
    else:
        summary["test_defaults"] = score(train, holdout, AlsParams())
        print(_line("test: defaults", summary["test_defaults"]), flush=True)
        started = time.monotonic()
        old_grid = tuning.SearchConfig(strategy=tuning.GRID, grid=tuple(tuning.param_grid(AlsParams())))
        tuned = tuning.tune_als(train, AlsParams(), old_grid, validation_fraction=0.2, seed=SEED)
        summary["tuning_seconds"] = round(time.monotonic() - started, 1)
        summary["tuned"] = tuned.best.as_dict()
        for trial in tuned.trials:
            print(_line(f"  validation {trial.params.to_json()}", trial.metrics), flush=True)
        summary["test_tuned"] = score(train, holdout, tuned.best)
        summary["test_popularity"] = popularity_scores(train, holdout)
        print(_line("test: tuned", summary["test_tuned"]))
        print(_line("test: popularity", summary["test_popularity"]))
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
