"""runtime.kept / runtime.release: a frame computed once, read by later queries from what was kept, with a plan of
one leaf, and dropped on release."""

import numpy as np
from pyspark.sql import functions as F

from musiclake import runtime


def _kept_rdd_ids(spark) -> set[int]:
    return {int(i) for i in spark.sparkContext._jsc.getPersistentRDDs().keySet()}


def test_a_kept_frame_is_computed_once_has_a_one_leaf_plan_and_is_released(spark):
    counter = spark.sparkContext.accumulator(0)

    def seen(x: int) -> int:
        counter.add(1)
        return x

    source = spark.range(50).withColumn("y", F.udf(seen, "long")("id")).groupBy((F.col("y") % 5).alias("k")).count()
    before = _kept_rdd_ids(spark)

    kept = runtime.kept(source)
    assert kept._jdf.queryExecution().analyzed().nodeName() == "LogicalRDD"  # the aggregation is not in its plan
    assert sorted(r["count"] for r in kept.collect()) == [10] * 5
    assert kept.filter("k = 1").first()["count"] == 10  # a second query reads what was kept
    assert counter.value == 50  # each input row computed once, by the first query
    new = _kept_rdd_ids(spark) - before
    assert len(new) == 1

    runtime.release(kept)
    assert not (_kept_rdd_ids(spark) & new)


def test_release_of_a_cached_frame_drops_its_cache(spark):
    cached = spark.range(10).persist()
    cached.count()
    assert cached.is_cached
    runtime.release(cached)
    assert not cached.is_cached



def test_to_pandas_with_arrow_gives_the_rows_and_restores_the_sessions_setting(spark):
    frame = spark.createDataFrame([(1, [2, 3], 1.0), (2, [4], None)], "p int, tracks array<int>, w double")
    spark.conf.set(runtime.ARROW_TO_PANDAS, "false")

    collected = runtime.to_pandas_with_arrow(frame).sort_values("p")
    plain = frame.toPandas().sort_values("p")

    assert spark.conf.get(runtime.ARROW_TO_PANDAS) == "false"  # the session's setting is back
    assert isinstance(plain["tracks"].iloc[0], list)  # row by row: Python lists ...
    assert isinstance(collected["tracks"].iloc[0], np.ndarray)  # ... through Arrow: numpy arrays
    assert [list(t) for t in collected["tracks"]] == plain["tracks"].tolist() == [[2, 3], [4]]
    assert collected["p"].tolist() == [1, 2] and collected["w"].isna().tolist() == [False, True]
