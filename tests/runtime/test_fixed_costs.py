"""Small fixed costs of the runtime: rows without a task per core, Spark's functions class looked up once."""

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


def test_the_functions_class_is_looked_up_once_and_column_functions_still_work(spark):
    from pyspark.sql import functions as F

    from musiclake.runtime import resolve_functions_once

    jvm = spark.sparkContext._jvm
    resolve_functions_once(spark)  # the session's runtime did already; a second call keeps the stored class

    assert vars(jvm)["functions"]._fqn == "org.apache.spark.sql.functions"
    row = spark.range(3).select(F.sum(F.when(F.col("id") > 0, F.lit(2))).alias("s")).first()
    assert row["s"] == 4
