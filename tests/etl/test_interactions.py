"""Playlist x track pairs and stable integer ids for the recommender."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from musiclake.transforms.ids import new_indices, with_indices
from musiclake.transforms.interactions import playlist_track_pairs

pytestmark = pytest.mark.fast  # in `make test-fast`: quick transforms on the session's SparkSession

MEMBERSHIP = "playlist_id string, position int, item_type string, track_id string"
PAIRS = "playlist_id string, track_id string, weight double"


def test_playlist_track_pairs_count_repeats_as_weight_and_ignore_everything_but_tracks(spark):
    membership = spark.createDataFrame(
        [
            ("p1", 0, "track", "t1"),
            ("p1", 1, "track", "t1"),  # the same track twice in the playlist
            ("p1", 2, "track", "t2"),
            ("p1", 3, "episode", None),
            ("p1", 4, "local", None),
            ("p1", 5, "unavailable", None),
            ("p1", 6, "track", None),
            ("p1", 7, "episode", "e1"),  # not a track even with an id
            ("p2", 0, "track", "t1"),
        ],
        MEMBERSHIP,
    )

    pairs = playlist_track_pairs(membership)

    expected = spark.createDataFrame([("p1", "t1", 2.0), ("p1", "t2", 1.0), ("p2", "t1", 1.0)], PAIRS)
    assert_df_equality(pairs, expected, ignore_row_order=True, ignore_nullable=True)


def test_new_indices_keeps_existing_indices_and_numbers_new_ids_after_the_max_in_id_order(spark):
    existing = spark.createDataFrame([("m", 0), ("x", 4), ("b", 2)], "track_id string, track_idx int")
    ids = spark.createDataFrame([("z",), ("c",), ("b",), ("c",), ("a",), (None,), ("x",)], "track_id string")

    new = ids.transform(new_indices(existing, "track_id", "track_idx"))

    expected = spark.createDataFrame([("a", 5), ("c", 6), ("z", 7)], "track_id string, track_idx int")
    assert_df_equality(new, expected, ignore_row_order=True, ignore_nullable=True)


def test_new_indices_starts_at_zero_and_gives_the_same_numbers_whatever_the_input_order(spark):
    existing = spark.createDataFrame([], "playlist_id string, playlist_idx int")
    values = [("p3",), ("p1",), ("p2",), ("p1",), (None,)]
    forward = spark.createDataFrame(values, "playlist_id string").coalesce(1)
    backward = spark.createDataFrame(list(reversed(values)), "playlist_id string").repartition(3)

    expected = spark.createDataFrame([("p1", 0), ("p2", 1), ("p3", 2)], "playlist_id string, playlist_idx int")
    for ids in (forward, backward):
        new = ids.transform(new_indices(existing, "playlist_id", "playlist_idx"))
        assert_df_equality(new, expected, ignore_row_order=True, ignore_nullable=True)


def test_new_indices_gives_nothing_when_every_id_is_known(spark):
    existing = spark.createDataFrame([("t1", 0), ("t2", 1)], "track_id string, track_idx int")
    ids = spark.createDataFrame([("t2",), ("t1",), ("t1",), (None,)], "track_id string")

    assert ids.transform(new_indices(existing, "track_id", "track_idx")).count() == 0


def test_with_indices_joins_both_id_maps(spark):
    pairs = spark.createDataFrame([("p1", "t1", 2.0), ("p1", "t2", 1.0), ("p2", "t1", 1.0), ("p2", "t3", None)],
                                  PAIRS)
    playlist_ids = spark.createDataFrame([("p1", 10), ("p2", 11)], "playlist_id string, playlist_idx int")
    track_ids = spark.createDataFrame([("t1", 0), ("t2", 1), ("t3", 2)], "track_id string, track_idx int")

    interactions = pairs.transform(with_indices(playlist_ids, track_ids))

    expected = spark.createDataFrame(
        [(10, 0, "p1", "t1", 2.0), (10, 1, "p1", "t2", 1.0), (11, 0, "p2", "t1", 1.0), (11, 2, "p2", "t3", None)],
        "playlist_idx int, track_idx int, playlist_id string, track_id string, weight double",
    )
    assert_df_equality(interactions, expected, ignore_row_order=True, ignore_nullable=True)
