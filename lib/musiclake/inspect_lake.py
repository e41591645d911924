"""``musiclake tables``: what is in the lake - each table's rows, Delta version and partitions, and the job runs."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("tables", parents=[common], help="row counts and versions of the lake's tables")
    parser.add_argument("--runs", type=int, default=8, help="latest job runs to show (default 8)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # pyspark (and schemas, which imports it) only here: every `musiclake` command imports this module
    from pyspark.sql import functions as F

    from musiclake import runtime, schemas
    from musiclake.lake import Lake

    lake = Lake(runtime.local_spark_session(app_name="musiclake-tables"), args.lake_path, "musiclake")
    print(f"{'table':<16}{'rows':>10}{'version':>9}  partitioned by")
    for spec in schemas.TABLES.values():
        if not lake.exists(spec):
            print(f"{spec.name:<16}{'-':>10}{'-':>9}  (not created yet)")
            continue
        rows = lake.load(spec).count()
        print(f"{spec.name:<16}{rows:>10}{lake.version(spec):>9}  {', '.join(spec.partition_by) or '-'}")
    if lake.exists(schemas.JOB_RUNS):
        print("\nlatest job runs:")
        runs = (
            lake.load(schemas.JOB_RUNS)
            .orderBy(F.col("finished_at").desc())
            .limit(args.runs)
            .collect()
        )  # small: --runs rows
        for r in runs:
            written = sum((r["records_written"] or {}).values())
            print(f"  {r['finished_at']:%Y-%m-%d %H:%M:%S}  {r['job_name']:<20}{r['status']:<10}"
                  f"read {r['records_read']:>8}  written {written:>8}  quarantined {r['records_quarantined']:>5}"
                  f"  {r['message'] or ''}")
    return 0
