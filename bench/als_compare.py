"""ALS benchmark: musiclake's Spark MLlib ALS side by side with the ``implicit`` library on the same data.

Interactions are exactly what the synthetic MPD slices of ``musiclake-sim generate-mpd --playlists N``
hold (drawn in memory from the same generator, no JSON). Both models see the same split (the job's 20 %
per-playlist holdout, ``musiclake.recommend.split``) and the same rank / iterations / regularization / alpha
(Spark scales regParam by each user's and item's count (ALS-WR), ``implicit`` does not: the same number is not
the same penalty, which is why a second ``implicit`` line with its own regularization is shown).

Figures: fit time (total and per iteration; Spark's per-iteration time is ``(fit(n) - fit(1)) / (n - 1)``,
``implicit``'s comes from its per-iteration callback), the time to produce the top 500 for every playlist with
its own tracks excluded (Spark: :func:`musiclake.recommend.topk.recommend_top_k`, written to Parquet; ``implicit``:
``recommend(..., filter_already_liked_items=True)`` in batches), and NDCG@10 on the holdout. NDCG@10 is computed
the same way for both, with :func:`musiclake.recommend.metrics.ndcg_at_k` on each playlist's top 10 (the Spark
aggregation in ``metrics.ranking_metrics`` is tested against that function).

Usage::

    python bench/als_compare.py --sizes 1000,10000 [--rank 64 --iterations 10 --reg 0.2 --alpha 5] [--no-write]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_HOME, append_section, load, table  # noqa: E402

SEED = 42
DEPTH = 500


def interactions(n_playlists: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """``(playlist_idx, track_idx, n_tracks)`` of the synthetic slices (tracks numbered densely by first use)."""
    from musiclake_sim.catalog import generate_catalog
    from musiclake_sim.synthetic_mpd import default_tracks, iter_slice_entries

    catalog = generate_catalog(seed, 0, default_tracks(n_playlists))
    users, items = [], []
    for start, _, owner, track, _ in iter_slice_entries(catalog, n_playlists):
        users.append(owner + start)
        items.append(track)
    user, item = np.concatenate(users).astype(np.int32), np.concatenate(items)
    _, dense = np.unique(item, return_inverse=True)
    return user, dense.astype(np.int32), int(dense.max()) + 1


def spark_split(spark, user: np.ndarray, item: np.ndarray):  # noqa: ANN001, ANN201 - Spark objects
    """The job's holdout split on the same interactions: cached Spark train/holdout and numpy copies."""
    import pandas as pd

    from musiclake.recommend import split
    from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX, WEIGHT

    frame = pd.DataFrame({PLAYLIST_IDX: user, TRACK_IDX: item, WEIGHT: np.ones(len(user))})
    df = spark.createDataFrame(frame).repartition(4).checkpoint(eager=True)
    train, holdout = split.holdout_split(df, 0.2, SEED)
    train, holdout = train.cache(), holdout.cache()
    train_np = train.select(PLAYLIST_IDX, TRACK_IDX).toPandas()
    holdout_np = holdout.select(PLAYLIST_IDX, TRACK_IDX).toPandas()
    return train, holdout, train_np, holdout_np


def ndcg10(top: dict[int, list[int]], holdout_np) -> float:  # noqa: ANN001 - pandas frame
    """Mean NDCG@10 over the holdout's playlists (no list scores 0), with the library's reference function."""
    from musiclake.recommend import metrics

    relevant = holdout_np.groupby("playlist_idx")["track_idx"].apply(set)
    return float(np.mean([metrics.ndcg_at_k(top.get(p, []), g, 10) for p, g in relevant.items()]))


def run_spark(spark, train, holdout_np, params, work: Path, also_blockified: bool = False) -> dict:  # noqa: ANN001
    """Fit (1 and n iterations), top-500 for every playlist (seen excluded) written to Parquet, NDCG@10."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    from musiclake.recommend.fit import fit_als
    from musiclake.recommend.topk import recommend_top_k, recommend_top_k_blockified, seen_lists

    fit_als(train, replace(params, max_iter=1)).itemFactors.count()  # warm-up (JIT, first job)
    started = time.monotonic()
    model = fit_als(train, params)
    model.itemFactors.count()
    model.userFactors.count()
    fit = time.monotonic() - started
    started = time.monotonic()
    fit_als(train, replace(params, max_iter=1)).userFactors.count()
    one = time.monotonic() - started
    load_fit = load()
    started = time.monotonic()
    lists = recommend_top_k(model, seen_lists(train), DEPTH)
    lists.write.mode("overwrite").parquet(str(work / "spark_top500"))
    recommend = time.monotonic() - started
    blockified = None
    if also_blockified:  # the previous path (Spark's recommendForUserSubset), for the before/after figure
        started = time.monotonic()
        recommend_top_k_blockified(model, seen_lists(train), DEPTH).write.mode("overwrite").parquet(
            str(work / "spark_top500_blockified"))
        blockified = time.monotonic() - started
    top10 = (
        spark.read.parquet(str(work / "spark_top500")).filter(F.col("rank") <= 10)
        .groupBy("playlist_idx").agg(F.sort_array(F.collect_list(F.struct("rank", "track_idx"))).alias("l"))
        .toPandas()
    )
    top = {int(r.playlist_idx): [int(x["track_idx"]) for x in r.l] for r in top10.itertuples()}
    return {"fit": fit, "per_iter": (fit - one) / max(1, params.max_iter - 1), "recommend": recommend, "top": top,
            "load": f"{load_fit}/{load()}", "blockified": blockified}


def run_implicit(train_np, n_users: int, n_items: int, params, reg: float) -> dict:  # noqa: ANN001
    """implicit's CPU ALS, same rank/iterations/alpha, top-500 for every playlist with its tracks filtered."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    user_items = sp.csr_matrix(
        (np.ones(len(train_np), dtype=np.float32), (train_np["playlist_idx"], train_np["track_idx"])),
        shape=(n_users, n_items),
    )
    iteration_times: list[float] = []
    with threadpool_limits(1, "blas"):  # implicit's own advice: its threads, single-threaded BLAS
        model = AlternatingLeastSquares(
            factors=params.rank, regularization=reg, alpha=params.alpha, iterations=params.max_iter,
            calculate_training_loss=False, random_state=params.seed, num_threads=os.cpu_count() or 2,
        )
        started = time.monotonic()
        model.fit(user_items, show_progress=False, callback=lambda it, elapsed, loss: iteration_times.append(elapsed))
        fit = time.monotonic() - started
        load_fit = load()
        started = time.monotonic()
        top: dict[int, list[int]] = {}
        batch = max(100, 50_000_000 // n_items)  # users per call: their scores (users x items) stay ~200 MB
        for begin in range(0, n_users, batch):
            ids = np.arange(begin, min(n_users, begin + batch))
            items, _ = model.recommend(ids, user_items[ids], N=DEPTH, filter_already_liked_items=True)
            for uid, row in zip(ids.tolist(), items[:, :10].tolist(), strict=True):
                top[uid] = row
        recommend = time.monotonic() - started
    return {"fit": fit, "per_iter": float(np.mean(iteration_times)) if iteration_times else fit / params.max_iter,
            "recommend": recommend, "top": top, "load": f"{load_fit}/{load()}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--reg", type=float, default=0.2)
    parser.add_argument("--alpha", type=float, default=5.0)
    parser.add_argument("--implicit-reg", type=float, default=0.05, help="second implicit run's regularization")
    parser.add_argument("--only", choices=("spark", "implicit"), default=None)
    parser.add_argument("--blockified", action="store_true",
                        help="also time Spark's recommendForUserSubset path (recommend_top_k_blockified)")
    parser.add_argument("--home", type=Path, default=BENCH_HOME / "als")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from musiclake import runtime
    from musiclake.recommend.fit import AlsParams

    params = AlsParams(rank=args.rank, reg_param=args.reg, alpha=args.alpha, max_iter=args.iterations)
    args.home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MUSICLAKE_HOME", str(args.home / "spark-home"))
    logging.basicConfig(level=logging.WARNING)
    spark = runtime.local_spark_session(app_name="als-compare")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        user, item, n_items = interactions(size)
        train, _holdout, train_np, holdout_np = spark_split(spark, user, item)
        label = f"{size:,} x {n_items:,} ({len(user):,})"
        print(f"{label}: train {len(train_np):,}, holdout {len(holdout_np):,}", flush=True)
        results = []
        if args.only != "implicit":
            r = run_spark(spark, train, holdout_np, params, args.home, args.blockified)
            results.append(("Spark MLlib ALS local[2] (musiclake)", args.reg, r))
        if args.only != "spark":
            for reg in dict.fromkeys((args.reg, args.implicit_reg)):
                results.append((f"implicit {__import__('implicit').__version__} CPU", reg,
                                run_implicit(train_np, size, n_items, params, reg)))
        for name, reg, r in results:
            r["ndcg"] = ndcg10(r["top"], holdout_np)
            print(f"  {name} reg {reg}: fit {r['fit']:.1f}s ({r['per_iter']:.2f}s/it), top-{DEPTH} for all "
                  f"{r['recommend']:.1f}s, NDCG@10 {r['ndcg']:.4f}, load {r['load']}", flush=True)
            rows.append((label, name, reg, r))
            if r.get("blockified") is not None:
                print(f"  (Spark top-{DEPTH} through recommendForUserSubset: {r['blockified']:.1f}s)", flush=True)
        train.unpersist()
    header = ["playlists x tracks (interactions)", "model", "reg", "fit total", "per iteration",
              f"top-{DEPTH} for every playlist, seen excluded", "NDCG@10", "load (fit/recommend)"]
    body = table(header, [
        (label, name, reg, f"{r['fit']:.1f} s", f"{r['per_iter']:.2f} s", f"{r['recommend']:.1f} s"
         + (f" (recommendForUserSubset: {r['blockified']:.1f} s)" if r.get("blockified") is not None else ""),
         f"{r['ndcg']:.4f}", r["load"]) for label, name, reg, r in rows
    ]) + (f"\n\nrank {params.rank}, {params.max_iter} iterations, alpha {params.alpha}, seed {params.seed}; "
          "holdout 20 % per playlist (musiclake.recommend.split, seed 42). Spark's regParam is ALS-WR (scaled by "
          "counts), implicit's is not.")
    append_section("ALS: Spark MLlib (musiclake) vs implicit", body, write=not args.no_write)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
