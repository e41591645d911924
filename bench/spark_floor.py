"""The floor of a local Spark + Delta job on this machine: what a job costs before it does any work of its own.

One fresh process, as Glue starts a job (local Spark ``local[2]``, Delta, the Derby metastore; the runtime's own
session): the session, a first Delta write (a 1,000-row table), its registration in the catalog (``CREATE
DATABASE``, ``CREATE TABLE ... LOCATION``), then ``--merges`` MERGEs of 1,000 rows into it (upserts on the key, as
the jobs do). ``raw_to_curated`` does about this much Delta and catalog work on top of its own (eight commits), so
its wall time at 1,000 playlists cannot be far below this figure, and the two jobs together not below twice it.

Usage::

    python bench/spark_floor.py [--merges 5] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import append_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merges", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)

    from delta.tables import DeltaTable

    from musiclake.runtime import local_spark_session

    marks: list[tuple[str, float]] = []

    def mark(step: str) -> None:
        marks.append((step, time.monotonic()))
        print(f"{step}: {marks[-1][1] - (marks[-2][1] if len(marks) > 1 else started):.1f} s", flush=True)

    work = Path(tempfile.mkdtemp(prefix="spark-floor-"))
    spark = local_spark_session(app_name="spark_floor")
    mark("session (JVM, Spark, Delta and Hive classes)")
    path = str(work / "t")
    spark.range(1000).selectExpr("id", "cast(id as string) AS s").write.format("delta").save(path)
    mark("first Delta write (1,000 rows)")
    database = f"floor_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {database}.t USING DELTA LOCATION '{path}'")
    mark("catalog: database and table registered (Derby metastore)")
    merge_times = []
    for i in range(args.merges):
        t0 = time.monotonic()
        updates = spark.range(500, 1500).selectExpr("id", f"cast(id + {i} as string) AS s")
        (DeltaTable.forPath(spark, path).alias("t").merge(updates.alias("u"), "t.id = u.id")
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
        merge_times.append(time.monotonic() - t0)
    mark(f"{args.merges} MERGEs of 1,000 rows")
    total = marks[-1][1] - started
    rows = [f"| {step} | {t - (marks[i - 1][1] if i else started):.1f} s |" for i, (step, t) in enumerate(marks)]
    body = "\n".join([
        "One fresh process, as Glue starts a job; the machine otherwise as the load says.",
        "",
        "| step | wall |",
        "|---|---|",
        *rows,
        f"| **total** (interpreter start excluded) | **{total:.1f} s** |",
        "",
        "MERGEs one by one: " + ", ".join(f"{t:.1f}" for t in merge_times) + " s.",
    ])
    append_section("Spark + Delta floor: a job that does nothing of its own", body, write=not args.no_write)
    spark.sql(f"DROP DATABASE {database} CASCADE")  # not left in the metastore under $MUSICLAKE_HOME
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
