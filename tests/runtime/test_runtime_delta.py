"""The runtime's SparkSession behaves like Glue 5.1 with Delta and a Data Catalog: real Delta tables,
MERGE, time travel, catalog registration, and the same over s3:// against a real S3 API server (moto).

Each test registers its tables in a catalog database of its own (the session's metastore is shared)."""

import shutil
import uuid
from pathlib import Path

import boto3
import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from musiclake.lake import CatalogConflictError, Lake, TableNotFoundError, TableState
from musiclake.schemas import TableSpec

SCHEMA = T.StructType(
    [
        T.StructField("track_id", T.StringType(), False, {"comment": "Spotify track id"}),
        T.StructField("name", T.StringType(), True, {"comment": "track name"}),
        T.StructField("plays", T.LongType(), True, {"comment": "times seen"}),
        T.StructField("ingest_date", T.StringType(), True, {"comment": "partition: day landed"}),
    ]
)
SPEC = TableSpec(name="tracks_rt", schema=SCHEMA, keys=("track_id",), partition_by=("ingest_date",),
                 comment="round-trip test table")


def _roundtrip(spark, root: str, database: str) -> None:
    lake = Lake(spark, root, database)
    first = spark.createDataFrame(
        [("t1", "One", 1, "2026-11-01"), ("t2", "Two", 2, "2026-11-01"), ("t3", None, 3, "2026-11-02")], SCHEMA
    )
    assert lake.merge(SPEC, first) == 3
    update = spark.createDataFrame([("t2", "Two (remaster)", 5, "2026-11-01"), ("t4", "Four", 1, "2026-11-02")],
                                   SCHEMA)
    assert lake.merge(SPEC, update) == 2  # one inserted, one updated

    expected = spark.createDataFrame(
        [("t1", "One", 1, "2026-11-01"), ("t2", "Two (remaster)", 5, "2026-11-01"),
         ("t3", None, 3, "2026-11-02"), ("t4", "Four", 1, "2026-11-02")], SCHEMA)
    assert_df_equality(lake.load(SPEC), expected, ignore_row_order=True, ignore_nullable=True)

    location = lake.location(SPEC)
    history = spark.sql(f"DESCRIBE HISTORY delta.`{location}`").select("version", "operation").collect()
    operations = [r["operation"] for r in sorted(history, key=lambda r: r["version"])]
    # The table's first load is an append (nothing to match against), the update a MERGE.
    assert operations[-2:] == ["WRITE", "MERGE"]
    first_load = max(r["version"] for r in history if r["operation"] == "WRITE")
    previous = spark.read.format("delta").option("versionAsOf", first_load).load(location)
    assert_df_equality(previous, first, ignore_row_order=True, ignore_nullable=True)

    # Re-applying the same update changes no row: upserts are idempotent.
    assert lake.merge(SPEC, update) == 0


def _database() -> str:
    return f"rt_{uuid.uuid4().hex[:8]}"


def test_delta_merge_and_time_travel_on_local_paths(spark, tmp_path: Path):
    _roundtrip(spark, str(tmp_path / "lake"), _database())


def test_table_is_registered_in_catalog_with_comments_and_partitions(spark, tmp_path: Path):
    lake, db = str(tmp_path / "lake"), _database()
    _roundtrip(spark, lake, db)
    assert [r["tableName"] for r in spark.sql(f"SHOW TABLES IN {db}").collect()] == ["tracks_rt"]
    described = {r["col_name"]: r["comment"] for r in spark.sql(f"DESCRIBE TABLE {db}.tracks_rt").collect()}
    assert described["track_id"] == "Spotify track id"
    detail = spark.sql(f"DESCRIBE DETAIL {db}.tracks_rt").first()
    assert detail["partitionColumns"] == ["ingest_date"]
    assert detail["location"].rstrip("/").endswith("lake/tracks_rt")
    assert Lake(spark, lake, db).list_partitions(SPEC) == [{"ingest_date": "2026-11-01"}, {"ingest_date": "2026-11-02"}]
    top = spark.sql(f"SELECT name FROM {db}.tracks_rt WHERE plays = (SELECT max(plays) FROM {db}.tracks_rt)")
    assert [r["name"] for r in top.collect()] == ["Two (remaster)"]


def test_delta_round_trip_on_s3_paths(spark_s3, s3_bucket):
    lake, db = f"s3://{s3_bucket}/lake", _database()
    _roundtrip(spark_s3, lake, db)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(k.startswith("lake/tracks_rt/_delta_log/") for k in keys)
    assert any(k.startswith("lake/tracks_rt/ingest_date=2026-11-01/") for k in keys)
    assert spark_s3.table(f"{db}.tracks_rt").count() == 4


def test_state_reads_the_version_and_table_id_from_the_delta_log_without_a_spark_job(spark, tmp_path: Path):
    """``Lake.state`` is what the jobs' fixed cost reads for each input: it must agree with the table's history and
    detail, start no Spark job (they start one each), and see a table deleted and created again as another."""
    lake = Lake(spark, str(tmp_path / "lake"), _database())
    assert lake.state(SPEC) == TableState(-1, None) and not lake.exists(SPEC)
    with pytest.raises(TableNotFoundError, match="tracks_rt"):
        lake.version(SPEC)
    rows = spark.createDataFrame([("t1", "One", 1, "2026-11-01")], SCHEMA)
    lake.merge(SPEC, rows)  # version 0 creates the table, version 1 writes the rows

    sc, group = spark.sparkContext, f"state-{uuid.uuid4().hex[:8]}"
    sc.setLocalProperty("spark.jobGroup.id", group)
    try:
        state = lake.state(SPEC)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert sc.statusTracker().getJobIdsForGroup(group) == []
    location = lake.location(SPEC)
    assert state.version == spark.sql(f"DESCRIBE HISTORY delta.`{location}`").agg({"version": "max"}).first()[0] == 1
    assert state.table_id == spark.sql(f"DESCRIBE DETAIL delta.`{location}`").first()["id"]

    shutil.rmtree(location)
    assert not lake.exists(SPEC)
    spark.sql(f"DROP TABLE {SPEC.qualified(lake.database)}")  # the entry left pointing at nothing
    lake.merge(SPEC, rows)  # the same path, the same version number: another table
    again = lake.state(SPEC)
    assert again.version == 1 and again.table_id != state.table_id
    assert again.table_id == spark.sql(f"DESCRIBE DETAIL delta.`{location}`").first()["id"]


def test_commits_are_the_tables_history_read_without_a_spark_job(spark, tmp_path: Path):
    """``Lake.commits`` (what a MERGE reads before and after itself) gives what ``DESCRIBE HISTORY`` gives for the
    latest commits: versions newest first, operations, numeric metrics; limited by ``after`` and ``limit``."""
    lake = Lake(spark, str(tmp_path / "lake"), _database())
    lake.merge(SPEC, spark.createDataFrame([("t1", "One", 1, "2026-11-01")], SCHEMA))
    lake.merge(SPEC, spark.createDataFrame([("t1", "Uno", 1, "2026-11-01"), ("t2", "Two", 2, "2026-11-01")], SCHEMA))

    sc, group = spark.sparkContext, f"commits-{uuid.uuid4().hex[:8]}"
    sc.setLocalProperty("spark.jobGroup.id", group)
    try:
        commits = lake.commits(SPEC, after=-1, limit=10)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert sc.statusTracker().getJobIdsForGroup(group) == []
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake.location(SPEC)}`").orderBy("version", ascending=False).collect()
    assert [(c.version, c.operation) for c in commits] == [(h["version"], h["operation"]) for h in history] == [
        (2, "MERGE"), (1, "WRITE"), (0, "CREATE TABLE")]
    assert commits[0].metrics == {k: int(v) for k, v in history[0]["operationMetrics"].items()}
    assert (commits[0].metrics["numTargetRowsInserted"], commits[0].metrics["numTargetRowsUpdated"]) == (1, 1)
    assert [c.version for c in lake.commits(SPEC, after=0, limit=10)] == [2, 1]
    assert [c.version for c in lake.commits(SPEC, after=-1, limit=1)] == [2]


def test_a_catalog_conflict_found_while_the_block_reads_is_raised_in_place_of_the_blocks_error(spark, tmp_path: Path):
    db = _database()
    Lake(spark, str(tmp_path / "first"), db).ensure(SPEC)  # registered there, and its log is there
    second = Lake(spark, str(tmp_path / "second"), db)
    with (pytest.raises(CatalogConflictError, match=f"{db}.tracks_rt is registered at") as excinfo,
          second.checking_registrations([SPEC])):
        raise ValueError("a read of the block failed")
    assert isinstance(excinfo.value.__context__, ValueError)
    with second.checking_registrations([]):  # nothing to check: the block's own result stands
        read = second.state(SPEC)
    assert not read.exists
