"""runtime.small_frame: driver-side rows as a DataFrame without a task per core to read them."""

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
