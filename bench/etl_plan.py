"""The plan of actions of ``raw_to_curated``: Spark jobs, stages and shuffles per stage of the job, on real landing.

Runs the job in this process (local Spark, as ``glue_jobs/v1/raw_to_curated.py`` does) on a landing zone, then
reads Spark's status tracker by job group (the job names each of its stages with
:func:`musiclake.runtime.phase`) and prints one row per stage: Spark jobs, stages executed, shuffle stages (stages
executed minus queries: every query ends in one result stage; with adaptive execution each shuffle stage is a
Spark job of its own), tasks and wall time. docs/etl.md quotes the figures at
10k playlists.

Usage::

    python bench/etl_plan.py --landing /tmp/musiclake-bench/etl/p10000/landing [--work DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

STAGES = ("find runs", "plan", "count", "quarantine", "check", "merge", "record")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", required=True, help="a landing zone (e.g. one bench/etl_bench.py made)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the lake (default: a temporary one)")
    args = parser.parse_args(argv)

    from musiclake.jobs.raw_to_curated import RawToCuratedOptions, run
    from musiclake.runtime import local_spark_session

    work = args.work or Path(tempfile.mkdtemp(prefix="etl-plan-"))
    spark = local_spark_session(app_name="etl_plan")
    job_name = f"raw_to_curated_{uuid.uuid4().hex[:6]}"
    opts = RawToCuratedOptions(job_name=job_name, raw_path=args.landing, lake_path=str(work / "lake"),
                               database=f"plan_{uuid.uuid4().hex[:6]}")
    started = time.monotonic()
    job = run(spark, opts)
    seconds = time.monotonic() - started
    tracker = spark.sparkContext.statusTracker()
    print(f"raw_to_curated on {args.landing}: {seconds:.1f} s, read {job.records_read:,}, written "
          f"{job.records_written}, quarantined {job.records_quarantined:,}")
    print("| stage | seconds | queries | Spark jobs | stages run | shuffles | tasks |\n|---|---|---|---|---|---|---|")
    totals = [0.0, 0, 0, 0, 0, 0]
    for stage in STAGES:
        work = job.spark_work.get(stage)
        jobs = tracker.getJobIdsForGroup(f"{job_name}/{stage}")
        stage_ids = {s for j in jobs if (info := tracker.getJobInfo(j)) for s in info.stageIds}
        executed = [info for s in stage_ids if (info := tracker.getStageInfo(s)) and info.numCompletedTasks > 0]
        tasks = sum(info.numCompletedTasks for info in executed)
        queries = work.queries if work else 0
        row = [work.seconds if work else 0.0, queries, len(jobs), len(executed), max(len(executed) - queries, 0),
               tasks]
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(f"| {stage} | {row[0]:.1f} | " + " | ".join(str(v) for v in row[1:]) + " |")
    print(f"| total | {totals[0]:.1f} | " + " | ".join(str(v) for v in totals[1:]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
