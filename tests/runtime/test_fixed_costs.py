"""Small fixed costs of the runtime: rows without a task per core, Spark's functions class looked up once, a small
batch's queries interpreted."""

from __future__ import annotations

import pytest

from musiclake import schemas
from musiclake.runtime import small_frame

pytestmark = pytest.mark.fast


def test_no_rows_make_a_frame_without_partitions_and_a_few_rows_one_partition(spark):
    empty = small_frame(spark, [], schemas.PLAYLISTS.schema)
    rows = small_frame(spark, [("a", 1), ("b", 2)], "id string, n int")

    # createDataFrame([], schema) made spark.default.parallelism partitions: a Python worker task each per read
    assert empty.rdd.getNumPartitions() == 0
    assert empty.schema == schemas.PLAYLISTS.schema
    assert empty.count() == 0
    assert rows.rdd.getNumPartitions() == 1
    assert sorted(tuple(r) for r in rows.collect()) == [("a", 1), ("b", 2)]


def test_rows_reach_the_jvm_without_a_python_rdd_and_keep_their_values(spark):
    from datetime import UTC, date, datetime

    from pyspark.sql import Row

    schema = "id string, n bigint, x double, ok boolean, at timestamp, day date, tags array<string>, " \
             "counts map<string,bigint>, inner struct<a: int, b: string>"
    at = datetime(2026, 12, 4, 3, 0, 1, 123456)
    given = [
        ("a\"b\n", 2**40, 0.1, True, at, date(2026, 2, 28), ["x", None], {"t": 5}, Row(a=1, b="é")),
        Row(id="c", n=None, x=float("nan"), ok=False, at=at.replace(tzinfo=UTC), day=None, tags=[], counts={},
            inner=None),
        {"id": "d", "n": -1, "x": None, "ok": None, "at": None, "day": None, "tags": None, "counts": None,
         "inner": {"a": None, "b": "z"}},
    ]

    frame = small_frame(spark, given, schema)
    got = {r["id"]: r for r in frame.collect()}

    # createDataFrame of a local list reads a Python RDD (a Python worker per task); these rows are a query's text
    assert "LogicalRDD" not in frame._jdf.queryExecution().analyzed().toString()
    assert frame.rdd.getNumPartitions() == 1
    assert tuple(got['a"b\n']) == ('a"b\n', 2**40, 0.1, True, at, date(2026, 2, 28), ["x", None], {"t": 5},
                                   Row(a=1, b="é"))
    assert got["c"]["at"] == at  # an aware time read as the session's (UTC) naive time
    assert got["c"]["x"] != got["c"]["x"] and got["c"]["tags"] == [] and got["c"]["counts"] == {}
    assert got["d"]["inner"] == Row(a=None, b="z") and got["d"]["n"] == -1


def test_a_row_value_not_of_its_column_type_fails_instead_of_becoming_null(spark):
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    with pytest.raises((PySparkException, Py4JJavaError), match="(?i)malformed|FAILFAST"):
        small_frame(spark, [("a", "not a number")], "id string, n bigint").collect()
    with pytest.raises(ValueError):  # a tuple of another length than the schema's
        small_frame(spark, [("a",)], "id string, n bigint")
    with pytest.raises(ValueError, match="not in the schema"):
        small_frame(spark, [{"id": "a", "m": 1}], "id string, n bigint")


def test_the_functions_class_is_looked_up_once_and_column_functions_still_work(spark):
    from pyspark.sql import functions as F

    from musiclake.runtime import resolve_functions_once

    jvm = spark.sparkContext._jvm
    resolve_functions_once(spark)  # the session's runtime did already; a second call keeps the stored class

    assert vars(jvm)["functions"]._fqn == "org.apache.spark.sql.functions"
    row = spark.range(3).select(F.sum(F.when(F.col("id") > 0, F.lit(2))).alias("s")).first()
    assert row["s"] == 4


def _whole_stage_codegen(df) -> bool:
    """Whether the plan Spark ran for ``df`` (adaptive execution's final plan: run first) had generated code: its
    operators in a code-generated stage are printed ``*(<stage id>)``."""
    df.collect()
    return "*(" in df._jdf.queryExecution().executedPlan().toString()


def test_a_small_batch_runs_its_queries_interpreted_and_the_session_gets_its_settings_back(spark, caplog):
    from pyspark.sql import functions as F

    from musiclake.runtime import INTERPRETED_QUERIES, queries_for_batch

    def query():
        return spark.range(10).withColumn("x", F.col("id") * 2).groupBy((F.col("x") % 3).alias("k")).count()

    assert _whole_stage_codegen(query())
    with caplog.at_level("INFO", logger="musiclake.runtime"), queries_for_batch(spark, True, "batch of 10 rows"):
        assert {k: spark.conf.get(k) for k in INTERPRETED_QUERIES} == INTERPRETED_QUERIES
        interpreted = query()
        assert not _whole_stage_codegen(interpreted)
        assert sorted(tuple(r) for r in interpreted.collect()) == [(0, 4), (1, 3), (2, 3)]
    assert "batch of 10 rows: queries interpreted" in caplog.text
    assert spark.conf.get("spark.sql.codegen.factoryMode", None) is None
    assert _whole_stage_codegen(query())

    with queries_for_batch(spark, False, "batch of many rows"):
        assert spark.conf.get("spark.sql.codegen.factoryMode", None) is None
        assert _whole_stage_codegen(query())


def test_a_session_that_chose_its_code_generation_keeps_it_whatever_the_batch(spark):
    from musiclake.runtime import queries_for_batch, session_conf

    with session_conf(spark, {"spark.sql.codegen.factoryMode": "CODEGEN_ONLY"}):
        with queries_for_batch(spark, True, "batch of 10 rows"):
            assert spark.conf.get("spark.sql.codegen.factoryMode") == "CODEGEN_ONLY"
            assert spark.conf.get("spark.sql.codegen.wholeStage") == "true"
        assert spark.conf.get("spark.sql.codegen.factoryMode") == "CODEGEN_ONLY"
