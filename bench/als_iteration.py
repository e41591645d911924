"""What one ALS iteration costs: Spark MLlib on Java vs native BLAS/LAPACK, `implicit`, and the flops floor.

Every model sees the same interactions (the synthetic MPD playlists of ``bench/als_compare.py``) and the same 20 %
per-playlist holdout. Spark runs once per BLAS in its own process (netlib picks its BLAS once per JVM):
``java`` is netlib's pure-Java fallback (``MUSICLAKE_BLAS=java``, what a Glue worker without ``libblas.so.3`` runs),
``native`` the machine's ``libblas.so.3``/``liblapack.so.3`` (OpenBLAS, installed by ``scripts/bootstrap.sh``).
Spark's per-iteration time is ``(fit(n) - fit(1)) / (n - 1)`` after a warm-up fit; ``implicit``'s the mean of its
per-iteration callback. NDCG@10 (seen tracks excluded) is computed on the driver with numpy for a seeded sample of
holdout playlists, the same sample for every model.

The floor: Spark's implicit ALS solves every row exactly. Per iteration it adds each rating's outer product to
its row's normal equations (``dspr``: k(k+1)/2 multiply-adds, both half-iterations), adds ``Y^T Y`` and solves a
packed Cholesky system per playlist and per track (``dppsv``: ~k^3/3 + 2k^2 flops). ``--profile`` records the
n-iteration fit with Java Flight Recorder and prints where the samples fall.

Usage::

    python bench/als_iteration.py --size 100000 [--rank 64 --iterations 3 --blas java,native --profile] [--no-write]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_HOME, append_section, load, table  # noqa: E402

SEED = 42
NDCG_SAMPLE = 5_000  # holdout playlists scored per model (numpy on the driver)
PROFILE_CATEGORIES = (  # (name, pattern of the sampled top frame), first match wins
    ("normal equations (dspr, copies)", r"Dspr|dspr|copyToDouble|daxpy|Daxpy"),
    ("Cholesky solves (dppsv: dpptrf, dtpsv)", r"Dtpsv|Dpptrf|Dppsv|dppsv|dpptrf|Dpptrs"),
    ("serialization, shuffle, sort", r"java\.io\.Object|Kryo|[Ss]erializ|Shuffle|TimSort|Sorting|InBlock"),
)
NATIVE_LINEAR_ALGEBRA = r"JNIBLAS|JNILAPACK"  # the only native-method samples that are work, not waiting


def flops_per_iteration(nnz: int, users: int, items: int, rank: int) -> dict[str, float]:
    """Floating-point operations of one exact implicit-ALS iteration (both half-iterations), by part."""
    k = rank
    normal_equations = 2 * nnz * (k * (k + 1) + 4 * k)  # dspr + daxpy + the float->double copy, per rating
    gram = 2 * (users + items) * k * (k + 1)  # Y^T Y (and X^T X) over every factor
    solves = (users + items) * (k**3 / 3 + 2 * k**2 + k * (k + 1))  # add Y^T Y, Cholesky, two triangular solves
    return {"normal_equations": normal_equations, "gram": gram, "solves": solves,
            "total": normal_equations + gram + solves}


def ndcg_playlists(holdout: np.ndarray) -> np.ndarray:
    """The seeded sample of holdout playlists every model is scored on."""
    playlists = np.unique(holdout[:, 0])
    return np.random.default_rng(SEED).choice(playlists, min(NDCG_SAMPLE, len(playlists)), replace=False)


def ndcg_sample(user_factors: np.ndarray, item_factors: np.ndarray, train: np.ndarray, holdout: np.ndarray,
                sample: np.ndarray) -> float:
    """Mean NDCG@10 over ``sample`` playlists: scores with numpy, their training tracks excluded."""
    from musiclake.recommend import metrics

    seen = collections.defaultdict(set)
    for p, t in train:
        seen[p].add(t)
    relevant = collections.defaultdict(set)
    for p, t in holdout:
        relevant[p].add(t)
    values = []
    for begin in range(0, len(sample), 500):
        batch = sample[begin:begin + 500]
        scores = user_factors[batch] @ item_factors.T
        for row, p in enumerate(batch):
            scores[row, list(seen[p])] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :10]
        values.extend(metrics.ndcg_at_k(top[row].tolist(), relevant[p], 10) for row, p in enumerate(batch))
    return float(np.mean(values))


def _profile_summary(recording: Path) -> list[tuple[str, float]]:
    """Shares of the JVM's busy samples per :data:`PROFILE_CATEGORIES` and the rest.

    Busy: JFR's execution samples (threads running Java code) plus the native-method samples inside the native
    BLAS/LAPACK; the other native-method samples are threads waiting on sockets and locks.
    """
    from musiclake.java17 import find_java17

    printed = subprocess.run(
        [str(find_java17() / "bin" / "jfr"), "print", "--events", "jdk.ExecutionSample,jdk.NativeMethodSample",
         "--stack-depth", "1", str(recording)], capture_output=True, text=True, check=True).stdout
    counts: collections.Counter[str] = collections.Counter()
    for event in re.split(r"^jdk\.", printed, flags=re.MULTILINE)[1:]:
        top = re.search(r"stackTrace = \[\s*\n\s*(.+?)\n", event)
        if not top or (event.startswith("NativeMethodSample") and not re.search(NATIVE_LINEAR_ALGEBRA, top.group(1))):
            continue
        frame = top.group(1)
        name = next((n for n, pattern in PROFILE_CATEGORIES if re.search(pattern, frame)), "other")
        counts[name] += 1
    total = max(1, sum(counts.values()))
    return [(name, 100.0 * counts[name] / total) for name in (*(n for n, _ in PROFILE_CATEGORIES), "other")]


def spark_child(args: argparse.Namespace) -> int:
    """One BLAS in this process: split (saved for the others), warm-up, fit(n), fit(1), NDCG; JSON to stdout."""
    os.environ["MUSICLAKE_BLAS"] = "java" if args.child == "java" else "auto"
    os.environ.setdefault("MUSICLAKE_HOME", str(args.home / f"spark-home-{args.child}"))
    from dataclasses import replace

    from als_compare import interactions, spark_split

    from musiclake import runtime
    from musiclake.recommend.fit import AlsParams, ensure_checkpoint_dir, fit_als

    spark = runtime.local_spark_session(app_name=f"als-iteration-{args.child}")
    ensure_checkpoint_dir(spark, str(args.home / f"checkpoints-{args.child}"))
    algebra = runtime.linear_algebra(spark)
    if (algebra["kind"] == "native") != (args.child == "native"):
        print(json.dumps({"error": f"asked for {args.child} BLAS, the JVM runs {algebra}"}))
        return 2
    user, item, n_items = interactions(args.size)
    train, _holdout, train_np, holdout_np = spark_split(spark, user, item)
    split_file = args.home / f"split-{args.size}.npz"
    if not split_file.exists():
        np.savez(split_file, train=train_np.to_numpy(np.int32), holdout=holdout_np.to_numpy(np.int32),
                 n_items=n_items)
    params = AlsParams(rank=args.rank, reg_param=args.reg, alpha=args.alpha, max_iter=1, seed=SEED)

    def timed_fit(iterations: int):  # noqa: ANN202 - (seconds, model)
        started = time.monotonic()
        model = fit_als(train, replace(params, max_iter=iterations))
        model.itemFactors.count()
        model.userFactors.count()
        return time.monotonic() - started, model

    timed_fit(1)  # warm-up: JIT, first jobs
    recording = args.home / f"als-{args.child}.jfr"
    jcmd = [str(Path(os.environ["JAVA_HOME"]) / "bin" / "jcmd"),
            str(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())]
    if args.profile:
        subprocess.run([*jcmd, "JFR.start", "name=als", "settings=profile", f"filename={recording}"],
                       check=True, capture_output=True)
    load_before = load()
    fit_n, model = timed_fit(args.iterations)
    if args.profile:
        subprocess.run([*jcmd, "JFR.stop", "name=als"], check=True, capture_output=True)
    fit_1, _ = timed_fit(1)
    users = model.userFactors.toPandas()
    items = model.itemFactors.toPandas()
    user_factors = np.zeros((int(user.max()) + 1, args.rank), dtype=np.float32)
    user_factors[users["id"].to_numpy()] = np.stack(users["features"].to_numpy())
    item_factors = np.zeros((n_items, args.rank), dtype=np.float32)
    item_factors[items["id"].to_numpy()] = np.stack(items["features"].to_numpy())
    split = np.load(split_file)
    sample = ndcg_playlists(split["holdout"])
    result = {
        "model": f"Spark MLlib ALS local[2], {algebra['kind']} BLAS ({algebra['blas']}, {algebra['lapack']})",
        "fit_n": fit_n, "fit_1": fit_1, "per_iteration": (fit_n - fit_1) / (args.iterations - 1),
        "ndcg": ndcg_sample(user_factors, item_factors, split["train"], split["holdout"], sample),
        "load": f"{load_before}/{load()}", "nnz": int(len(train_np)), "users": int(user.max()) + 1,
        "items": n_items, "profile": _profile_summary(recording) if args.profile else None,
    }
    print("RESULT " + json.dumps(result), flush=True)
    spark.stop()
    return 0


def run_implicit(args: argparse.Namespace, split_file: Path) -> dict:
    """``implicit``'s CPU ALS on the saved split, same rank/alpha, its own per-iteration callback."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    split = np.load(split_file)
    train, holdout, n_items = split["train"], split["holdout"], int(split["n_items"])
    n_users = int(max(train[:, 0].max(), holdout[:, 0].max())) + 1
    user_items = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (train[:, 0], train[:, 1])),
                               shape=(n_users, n_items))
    user_items.sum_duplicates()
    per_iteration: list[float] = []
    load_before = load()
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=args.rank, regularization=args.implicit_reg, alpha=args.alpha,
                                        iterations=args.iterations, calculate_training_loss=False,
                                        random_state=SEED, num_threads=os.cpu_count() or 2)
        started = time.monotonic()
        model.fit(user_items, show_progress=False, callback=lambda it, elapsed, loss: per_iteration.append(elapsed))
        fit_n = time.monotonic() - started
    sample = ndcg_playlists(holdout)
    return {"model": f"implicit {__import__('implicit').__version__} CPU (conjugate gradient), reg "
                     f"{args.implicit_reg}", "fit_n": fit_n, "fit_1": None,
            "per_iteration": float(np.mean(per_iteration)),
            "ndcg": ndcg_sample(model.user_factors, model.item_factors, train, holdout, sample),
            "load": f"{load_before}/{load()}", "profile": None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="synthetic MPD playlists")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=3, help="n of fit(n); at least 2")
    parser.add_argument("--reg", type=float, default=0.2)
    parser.add_argument("--implicit-reg", type=float, default=0.05)
    parser.add_argument("--alpha", type=float, default=5.0)
    parser.add_argument("--blas", default="java,native", help="Spark runs, comma-separated: java, native")
    parser.add_argument("--profile", action="store_true", help="record fit(n) with Java Flight Recorder")
    parser.add_argument("--home", type=Path, default=BENCH_HOME / "als-iteration")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", choices=("java", "native"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")
    args.home.mkdir(parents=True, exist_ok=True)
    if args.child:
        return spark_child(args)

    split_file = args.home / f"split-{args.size}.npz"
    split_file.unlink(missing_ok=True)  # the first Spark run writes the split every model uses
    results = []
    for blas in args.blas.split(","):
        print(f"Spark ALS, {blas} BLAS, {args.size:,} playlists ...", flush=True)
        with tempfile.TemporaryFile("w+") as log:
            done = subprocess.run(
                [sys.executable, __file__, "--child", blas, *(a for a in (argv or sys.argv[1:]))],
                stdout=subprocess.PIPE, stderr=log, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith(("RESULT ", "{"))]
            if done.returncode != 0 or not lines:
                log.seek(0)
                print(done.stdout[-2000:], log.read()[-4000:], file=sys.stderr)
                return 1
        result = json.loads(lines[-1].removeprefix("RESULT "))
        print(f"  {result['model']}: {result['per_iteration']:.2f} s/iteration, NDCG@10 {result['ndcg']:.4f}",
              flush=True)
        results.append(result)
    print("implicit ...", flush=True)
    results.append(run_implicit(args, split_file))
    spark_runs = [r for r in results if r.get("nnz")]
    nnz, users, items = spark_runs[0]["nnz"], spark_runs[0]["users"], spark_runs[0]["items"]
    flops = flops_per_iteration(nnz, users, items, args.rank)
    fastest_implicit = results[-1]["per_iteration"]
    rows = [(r["model"], f"{r['fit_n']:.1f} s", f"{r['fit_1']:.1f} s" if r["fit_1"] is not None else "-",
             f"{r['per_iteration']:.2f} s", f"{r['per_iteration'] / fastest_implicit:.1f}x",
             f"{flops['total'] / r['per_iteration'] / 1e9:.1f}" if r.get("nnz") else "-",
             f"{r['ndcg']:.4f}", r["load"]) for r in results]
    body = table(["model", f"fit {args.iterations} it.", "fit 1 it.", "per iteration", "vs implicit",
                   "GFLOP/s of the exact solve", f"NDCG@10 ({NDCG_SAMPLE:,} playlists)", "load"], rows)
    body += (f"\n\n{args.size:,} playlists x {items:,} tracks, {nnz:,} training interactions, rank {args.rank}, "
             f"alpha {args.alpha}, seed {SEED}. Exact solve per iteration: {flops['total'] / 1e9:.1f} GFLOP "
             f"(normal equations {flops['normal_equations'] / 1e9:.1f}, Cholesky solves {flops['solves'] / 1e9:.1f},"
             f" Gram matrices {flops['gram'] / 1e9:.1f}).")
    for r in spark_runs:
        if r["profile"]:
            shares = ", ".join(f"{name} {share:.0f} %" for name, share in r["profile"])
            body += f"\n\nProfile of fit({args.iterations}), {r['model']}: {shares} of the JVM's samples."
    print(body)
    append_section("ALS per iteration: Spark MLlib on Java vs native BLAS, implicit, the flops floor", body,
                   write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
