"""Id maps: deterministic, dense, stable when extended; interactions cleaned into one row per pair."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, TRACK_ID, TRACK_IDX
from musiclake.transforms.columns import MissingColumnsError
from musiclake.transforms.ids import assign_indices, with_indices
from musiclake.transforms.interactions import clean_interactions


def test_assign_indices_numbers_distinct_ids_in_sorted_order_ignoring_nulls_and_duplicates(spark):
    df = spark.createDataFrame([("b",), ("a",), (None,), ("c",), ("a",)], "track_id string")

    mapping = assign_indices(df, TRACK_ID, TRACK_IDX)

    expected = spark.createDataFrame([("a", 0), ("b", 1), ("c", 2)], "track_id string, track_idx int")
    assert_df_equality(mapping, expected, ignore_row_order=True, ignore_nullable=True)


def test_assign_indices_is_the_same_whatever_the_row_order_and_partitioning(spark):
    values = [(f"id{i:03d}",) for i in range(50)]
    forward = spark.createDataFrame(values, "track_id string").coalesce(1)
    shuffled = spark.createDataFrame(list(reversed(values)), "track_id string").repartition(3)

    first = assign_indices(forward, TRACK_ID, TRACK_IDX)
    second = assign_indices(shuffled, TRACK_ID, TRACK_IDX)

    assert_df_equality(first, second, ignore_row_order=True)


def test_assign_indices_keeps_existing_indices_and_appends_new_ids_in_order(spark):
    existing = spark.createDataFrame([("x", 0), ("a", 1)], "playlist_id string, playlist_idx int")
    df = spark.createDataFrame([("a",), ("z",), ("b",), ("x",), (None,)], "playlist_id string")

    mapping = assign_indices(df, PLAYLIST_ID, PLAYLIST_IDX, existing)

    expected = spark.createDataFrame(
        [("x", 0), ("a", 1), ("b", 2), ("z", 3)], "playlist_id string, playlist_idx int"
    )
    assert_df_equality(mapping, expected, ignore_row_order=True, ignore_nullable=True)


def test_clean_interactions_sums_duplicate_pairs_and_drops_nulls_and_non_positive_weights(spark):
    raw = spark.createDataFrame(
        [
            ("p1", "t1", 1.0),
            ("p1", "t1", 1.0),  # the same track twice in the playlist
            ("p1", "t2", None),
            ("p2", "t1", 0.0),
            (None, "t3", 1.0),
            ("p2", None, 1.0),
            ("p2", "t3", 3.0),
        ],
        "playlist_id string, track_id string, weight double",
    )

    cleaned = clean_interactions(raw)

    expected = spark.createDataFrame(
        [("p1", "t1", 2.0), ("p2", "t3", 3.0)], "playlist_id string, track_id string, weight double"
    )
    assert_df_equality(cleaned, expected, ignore_row_order=True, ignore_nullable=True)


def test_clean_interactions_counts_rows_when_there_is_no_weight_column(spark):
    raw = spark.createDataFrame([("p1", "t1"), ("p1", "t1"), ("p1", "t2")], "playlist_id string, track_id string")

    cleaned = clean_interactions(raw)

    expected = spark.createDataFrame(
        [("p1", "t1", 2.0), ("p1", "t2", 1.0)], "playlist_id string, track_id string, weight double"
    )
    assert_df_equality(cleaned, expected, ignore_row_order=True, ignore_nullable=True)


def test_clean_interactions_names_the_missing_column(spark):
    raw = spark.createDataFrame([("p1", "t1")], "playlist_id string, track_uri string")

    with pytest.raises(MissingColumnsError, match="track_id"):
        clean_interactions(raw)


def test_with_indices_adds_both_indices(spark):
    interactions = spark.createDataFrame(
        [("p1", "t2", 1.0), ("p2", "t1", 2.0)], "playlist_id string, track_id string, weight double"
    )
    playlist_map = spark.createDataFrame([("p1", 0), ("p2", 1)], "playlist_id string, playlist_idx int")
    track_map = spark.createDataFrame([("t1", 0), ("t2", 1)], "track_id string, track_idx int")

    indexed = interactions.transform(with_indices(playlist_map, track_map))

    expected = spark.createDataFrame(
        [(0, 1, "p1", "t2", 1.0), (1, 0, "p2", "t1", 2.0)],
        "playlist_idx int, track_idx int, playlist_id string, track_id string, weight double",
    )
    assert_df_equality(indexed, expected, ignore_row_order=True, ignore_nullable=True)
