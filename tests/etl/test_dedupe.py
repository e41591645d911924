"""One row per key, the latest observation chosen deterministically; late older data filtered out."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from chispa import assert_df_equality

from musiclake.transforms.dedupe import latest_by, latest_of_repeats, newer_than_current

pytestmark = pytest.mark.fast  # in `make test-fast`: quick transforms on the session's SparkSession

SCHEMA = "key string, observed_at timestamp, run_id string, name string"
T1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
T3 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def test_latest_by_keeps_latest_observed_at_then_latest_run_then_smallest_other_columns(spark):
    rows = [
        ("a", T1, "r9", "old but later run"),
        ("a", T2, "r1", "latest"),
        ("a", None, "r9", "no time loses"),
        ("b", T1, "r1", "earlier run"),
        ("b", T1, "r2", "later run"),
        ("c", T1, "r1", "zz"),
        ("c", T1, "r1", None),  # a null loses the tie-break
        ("c", T1, "r1", "aa"),
        ("d", T3, "r1", "twin"),
        ("d", T3, "r1", "twin"),  # exact duplicate
        (None, T1, "r1", "null key"),
    ]
    df = spark.createDataFrame(rows, SCHEMA)
    expected = spark.createDataFrame(
        [("a", T2, "r1", "latest"), ("b", T1, "r2", "later run"), ("c", T1, "r1", "aa"), ("d", T3, "r1", "twin"),
         (None, T1, "r1", "null key")],
        SCHEMA,
    )

    forward = df.coalesce(1).transform(latest_by(["key"]))
    backward = spark.createDataFrame(list(reversed(rows)), SCHEMA).repartition(3).transform(latest_by(["key"]))

    assert_df_equality(forward, expected, ignore_row_order=True)
    assert_df_equality(backward, expected, ignore_row_order=True)


def test_latest_by_with_composite_keys_and_custom_order(spark):
    schema = "playlist_id string, position int, version int, item string"
    df = spark.createDataFrame(
        [("p", 0, 1, "x"), ("p", 0, 2, "y"), ("p", 1, 1, "z"), ("p", 1, 1, "z"), ("q", 0, None, "n"),
         ("q", 0, 1, "m")],
        schema,
    )
    expected = spark.createDataFrame([("p", 0, 2, "y"), ("p", 1, 1, "z"), ("q", 0, 1, "m")], schema)

    result = df.transform(latest_by(["playlist_id", "position"], order=["version"]))

    assert_df_equality(result, expected, ignore_row_order=True)


def test_newer_than_current_drops_same_and_older_observations_and_keeps_newer_and_unknown_keys(spark):
    current = spark.createDataFrame(
        [("same", T2, "r2", "stored"), ("later_run", T2, "r2", "stored"), ("earlier_run", T2, "r2", "stored"),
         ("older", T2, "r1", "stored"), ("newer", T2, "r9", "stored")],
        SCHEMA,
    )
    incoming = spark.createDataFrame(
        [
            ("same", T2, "r2", "same observed_at and run: not newer"),
            ("later_run", T2, "r3", "same time, later run"),
            ("earlier_run", T2, "r1", "same time, earlier run"),
            ("older", T1, "r9", "older, whatever its run"),
            ("newer", T3, "r1", "newer, whatever its run"),
            ("unknown", T1, "r1", "not stored yet"),
            ("unknown", T1, "r1", "not stored yet"),  # duplicates are kept (dedupe is latest_by's job)
            (None, T1, "r1", "null key is never stored"),
        ],
        SCHEMA,
    )
    expected = spark.createDataFrame(
        [("later_run", T2, "r3", "same time, later run"), ("newer", T3, "r1", "newer, whatever its run"),
         ("unknown", T1, "r1", "not stored yet"), ("unknown", T1, "r1", "not stored yet"),
         (None, T1, "r1", "null key is never stored")],
        SCHEMA,
    )

    result = incoming.transform(newer_than_current(current, ["key"]))

    assert_df_equality(result, expected, ignore_row_order=True)


def test_newer_than_current_keeps_everything_against_an_empty_table(spark):
    incoming = spark.createDataFrame([("a", T1, "r1", None), ("a", T1, "r1", None)], SCHEMA)
    current = spark.createDataFrame([], SCHEMA)

    assert_df_equality(incoming.transform(newer_than_current(current, ["key"])), incoming, ignore_row_order=True)


def test_latest_by_repeated_chooses_what_latest_by_chooses_and_collapses_repeats_by_hash(spark):
    """Rows that repeat but for their time (a track in many playlists) are collapsed by a hash aggregation first;
    the choice is the same as the window's alone, ties and nulls included."""
    rng = random.Random(7)
    times = [T1, T2, T3, None]
    rows = [(rng.choice(["a", "b", "c", None]), rng.choice(times), rng.choice(["r1", "r2", None]),
             rng.choice(["x", "y", None])) for _ in range(300)]
    df = spark.createDataFrame(rows, SCHEMA).repartition(3)

    collapsed = df.transform(latest_by(["key"], repeated=True))

    assert_df_equality(collapsed, df.transform(latest_by(["key"])), ignore_row_order=True)
    assert collapsed.count() == 4  # a, b, c and the null key
    plan = collapsed._jdf.queryExecution().executedPlan().toString()
    assert "HashAggregate(keys=[key#" in plan and "functions=[partial_max(observed_at" in plan, plan


def test_latest_of_repeats_keeps_the_latest_of_rows_equal_but_for_the_column(spark):
    df = spark.createDataFrame(
        [("a", T1, "r1", "x"), ("a", T3, "r1", "x"), ("a", T2, "r1", "x"),  # one group: T3 is kept
         ("a", T1, "r1", "y"),  # another name: a group of its own
         ("b", None, "r1", "x"), ("b", None, "r1", "x"),  # all null: null
         ("c", None, "r2", "x"), ("c", T1, "r2", "x")],  # a time beats no time
        SCHEMA,
    )
    expected = spark.createDataFrame(
        [("a", T3, "r1", "x"), ("a", T1, "r1", "y"), ("b", None, "r1", "x"), ("c", T1, "r2", "x")], SCHEMA)

    assert_df_equality(latest_of_repeats(df, "observed_at"), expected, ignore_row_order=True)
