"""The floor of a local Spark + Delta job on this machine: what a job costs before it does any work of its own.

One fresh process, as Glue starts a job (local Spark ``local[2]``, Delta, the Derby metastore; the runtime's own
session): the session, a first Delta write (a 1,000-row table), its registration in the catalog (``CREATE
DATABASE``, ``CREATE TABLE ... LOCATION``), then ``--merges`` MERGEs of 1,000 rows into it (upserts on the key, as
the jobs do). ``raw_to_curated`` does about this much Delta and catalog work on top of its own (eight commits), so
its wall time at 1,000 playlists cannot be far below this figure, and the two jobs together not below twice it.

With ``--etl-tables``, instead of the one table: the writes both ETL jobs make into an empty lake, through the
lake's own code (``Lake.merge``: each table created with its properties, registered in the catalog, first-loaded),
in the jobs' order and waves: the five curated tables, the empty quarantine, ``processed_runs``, a ``job_runs`` row,
the two id maps, ``interactions`` and the second job's ``job_runs`` row (``job_runs`` appended to, as the
jobs do). Each batch is ``--rows`` rows
computed from a range: no landing file read, nothing parsed, deduplicated or checked. What ``raw_to_interactions``
takes on an empty lake beyond this is its own work.

With ``--parse LANDING``, instead: the floor of reading a landing zone as ``raw_to_curated`` reads it, with the
job's own reader (``lake.load_envelopes``, the MPD playlist files' bodies typed by the reader as in the job), each
MPD playlist's tracks exploded from the typed body, and one aggregation over the items (their count, distinct
track URIs): every line read and parsed once, nothing kept, checked, deduplicated, shuffled beyond that
aggregation, or written. What the job's *plan* and *count* stages take beyond this is their own work.

Usage::

    python bench/spark_floor.py [--merges 5] [--etl-tables [--rows 1000]] [--parse LANDING] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import append_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--merges", type=int, default=5)
    parser.add_argument("--etl-tables", action="store_true",
                        help="the writes of both ETL jobs into an empty lake instead of one table's MERGEs")
    parser.add_argument("--rows", type=int, default=1000, help="rows per table with --etl-tables")
    parser.add_argument("--parse", metavar="LANDING",
                        help="the floor of reading and parsing this landing zone (its complete runs) instead")
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
    if args.etl_tables:
        return etl_tables(spark, work, args, mark, marks, started)
    if args.parse:
        return parse(spark, work, args, mark, marks, started)
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
    report("Spark + Delta floor: a job that does nothing of its own",
           "One fresh process, as Glue starts a job; the machine otherwise as the load says.", marks, started, args,
           "MERGEs one by one: " + ", ".join(f"{t:.1f}" for t in merge_times) + " s.")
    spark.sql(f"DROP DATABASE {database} CASCADE")  # not left in the metastore under $MUSICLAKE_HOME
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(title: str, intro: str, marks, started: float, args, after: str = "") -> None:
    """Print the steps' wall times as a table and append it to BENCHMARKS.md (unless ``--no-write``)."""
    total = marks[-1][1] - started
    rows = [f"| {step} | {t - (marks[i - 1][1] if i else started):.1f} s |" for i, (step, t) in enumerate(marks)]
    total_row = f"| **total** (interpreter start excluded) | **{total:.1f} s** |"
    body = "\n".join([intro, "", "| step | wall |", "|---|---|", *rows, total_row, *(["", after] if after else [])])
    append_section(title, body, write=not args.no_write)


# The ETL jobs' writes into an empty lake, in their order; a tuple is a wave written at the same time (as the jobs
# do with ``runtime.concurrently``). ``job_runs`` gets a row appended per job, as ``JobRun.record`` does.
ETL_WRITES = (("tracks", "artists", "albums"), ("playlists", "playlist_tracks"), ("quarantine",),
              ("processed_runs",), ("job_runs",), ("playlist_ids", "track_ids"), ("interactions",), ("job_runs",))
# Low-cardinality values for partition columns (every row of a batch in one partition, as an MPD batch is)
PARTITION_VALUES = {"source": "mpd", "quarantined_date": "2026-01-01"}


def synthetic(spark, spec, rows: int, offset: int = 0):
    """``rows`` rows of ``spec``'s schema computed from a range: keys unique, partition columns one value."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    ids = spark.range(offset, offset + rows)

    def value(field):
        if field.name in spec.partition_by:
            return F.lit(PARTITION_VALUES[field.name]).cast(field.dataType)
        kind = field.dataType
        if isinstance(kind, T.StringType):
            return F.concat(F.lit(f"{field.name}:"), F.col("id").cast("string"))
        if isinstance(kind, T.BooleanType):
            return F.col("id") % 2 == 0
        if isinstance(kind, T.TimestampType):
            return F.timestamp_seconds(F.col("id") + 1_700_000_000)
        if isinstance(kind, T.DateType):
            return F.date_add(F.lit("2020-01-01").cast("date"), (F.col("id") % 1000).cast("int"))
        if isinstance(kind, T.NumericType):
            return F.col("id").cast(kind)
        if field.nullable:  # arrays, maps, structs
            return F.lit(None).cast(kind)
        raise SystemExit(f"spark_floor: no synthetic value for {spec.name}.{field.name} ({kind.simpleString()})")

    return ids.select(*[value(f).alias(f.name) for f in spec.schema.fields])


def etl_tables(spark, work: Path, args, mark, marks, started) -> int:
    from musiclake import schemas
    from musiclake.lake import Lake
    from musiclake.runtime import concurrently

    database = f"floor_{uuid.uuid4().hex[:8]}"
    lake = Lake(spark, str(work / "lake"), database)
    specs = {name: schemas.TABLES[name] for wave in ETL_WRITES for name in wave}
    lake.check_registrations(specs.values())
    mark("catalog: the tables' registrations checked")
    written = 0
    for wave in ETL_WRITES:
        if wave == ("quarantine",):
            lake.ensure(specs["quarantine"])  # created empty, as a batch with nothing to quarantine leaves it
        elif wave == ("job_runs",):
            lake.append(specs["job_runs"], synthetic(spark, specs["job_runs"], 1, offset=written))
            written += 1
        else:
            concurrently({name: partial(lake.merge, specs[name], synthetic(spark, specs[name], args.rows, written),
                                        rows=args.rows) for name in wave})
            written += args.rows
        mark(" + ".join(wave) + (" (a row appended)" if wave == ("job_runs",) else ""))
    report("Spark + Delta floor: the ETL jobs' writes and nothing else",
           f"One fresh process, as Glue starts a job; the ETL jobs' writes into an empty lake, {args.rows:,} rows per "
           "table (one per `job_runs` write), through `Lake.merge` (`Lake.append` for `job_runs`); the machine "
           "otherwise as the load says.", marks, started, args)
    spark.sql(f"DROP DATABASE {database} CASCADE")  # not left in the metastore under $MUSICLAKE_HOME
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def parse(spark, work: Path, args, mark, marks, started) -> int:
    from pyspark.sql import functions as F

    from musiclake import landing
    from musiclake.lake import TypedBody, load_envelopes
    from musiclake.transforms import mpd
    from musiclake.transforms.envelopes import TYPED_BODY_COLUMN

    runs = landing.complete_runs(args.parse)
    if not runs:
        raise SystemExit(f"spark_floor: no complete landing run under {args.parse}; land one first "
                         "(musiclake-extract mpd ...)")
    files = [uri for m in runs for uri in m.file_uris(args.parse)]
    typed_files = tuple(uri for m in runs if m.source == "mpd" for uri in m.file_uris(args.parse, "playlists"))
    landed = sum(f.bytes for m in runs for f in m.files)
    mark(f"complete runs found: {len(runs)}, {len(files)} files, {landed:,} bytes landed")
    envelopes = load_envelopes(spark, files, typed=TypedBody("mpd", "playlists", mpd.BODY, typed_files)
                               if typed_files else None)
    tracks = F.col(TYPED_BODY_COLUMN).getField("tracks") if typed_files else F.lit(None).cast("array<string>")
    items = envelopes.select(F.explode_outer(tracks).alias("t"))
    uri = F.col("t").getField("track_uri") if typed_files else F.col("t")
    got = items.agg(F.count("t").alias("items"), F.approx_count_distinct(uri).alias("tracks")).first()
    mark(f"read, parsed, exploded, aggregated: {got['items']:,} MPD items (about {got['tracks']:,} tracks)")
    report("Spark floor: reading and parsing a landing zone, nothing else",
           f"One fresh process, as Glue starts a job; `{args.parse}` read with the job's reader (the MPD playlist "
           "files' bodies typed by the reader), the MPD items exploded and aggregated once; nothing kept, checked or "
           "written; the machine otherwise as the load says.", marks, started, args)
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
