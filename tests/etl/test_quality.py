"""Data-quality checks: null and duplicated keys, orphans, manifest counts, failing the run."""

from __future__ import annotations

import pytest

from musiclake.transforms.quality import (
    CheckResult,
    DataQualityError,
    counts_match_manifests,
    keys_unique_not_null,
    raise_on_failure,
    references_exist,
)

pytestmark = pytest.mark.fast  # in `make test-fast`: quick transforms on the session's SparkSession

KEYS = ("playlist_id", "position")


def test_keys_unique_not_null_counts_rows_with_a_null_key_and_duplicated_keys(spark):
    df = spark.createDataFrame(
        [("p1", 0, "a"), ("p1", 0, "b"), ("p1", 0, "c"), ("p1", 1, None), ("p2", 0, "d"), ("p2", 0, "e"),
         ("p3", None, "f"), (None, 0, "g"), (None, 0, "h")],
        "playlist_id string, position int, track_id string",
    )

    result = keys_unique_not_null(df, KEYS, "playlist_tracks")

    assert result == CheckResult(
        "playlist_tracks: keys playlist_id, position unique and not null", False,
        "3 rows with a null key, 2 duplicated keys",
    )
    assert result.rows == 9  # every row, counted in the same query


def test_keys_unique_not_null_passes_unique_keys_whatever_the_other_columns(spark):
    df = spark.createDataFrame([("p1", 0, None), ("p1", 1, "t"), ("p2", 0, "t")],
                               "playlist_id string, position int, track_id string")

    assert keys_unique_not_null(df, KEYS, "playlist_tracks") == CheckResult(
        "playlist_tracks: keys playlist_id, position unique and not null", True,
        "0 rows with a null key, 0 duplicated keys",
    )


def test_keys_unique_not_null_passes_an_empty_frame(spark):
    df = spark.createDataFrame([], "track_id string")

    result = keys_unique_not_null(df, ["track_id"], "tracks")

    assert result.passed and result.rows == 0


def test_references_exist_finds_orphans_and_ignores_null_references(spark):
    child = spark.createDataFrame([("p1", "t1"), ("p1", "t9"), ("p2", "t9"), ("p2", None), ("p3", "t2")],
                                  "playlist_id string, track_id string")
    parent = spark.createDataFrame([("t1",), ("t2",), ("t2",), (None,)], "track_id string")

    result = references_exist(child, parent, "track_id", "playlist_tracks -> tracks")

    assert result == CheckResult("playlist_tracks -> tracks: every track_id exists", False, "1 missing, e.g. t9")


def test_references_exist_passes_when_every_reference_is_known(spark):
    child = spark.createDataFrame([("p1", "t1"), ("p2", "t1"), ("p3", None)], "playlist_id string, track_id string")
    parent = spark.createDataFrame([("t1",), ("t2",)], "track_id string")

    assert references_exist(child, parent, "track_id", "x").detail == "0 missing"
    assert references_exist(child, parent, "track_id", "x").passed


def test_counts_match_manifests_reports_every_mismatched_run_in_run_order():
    read = {"r2": 5, "r1": 3, "r4": 2}
    manifests = {"r1": 3, "r2": 4, "r3": 1, "r4": 2}

    result = counts_match_manifests(read, manifests)

    assert result == CheckResult("records read match the manifests", False,
                                 "r2: manifest 4, read 5; r3: manifest 1, read 0")
    assert counts_match_manifests({"r1": 1}, {}).detail == "r1: manifest 0, read 1"


def test_counts_match_manifests_passes_equal_counts():
    assert counts_match_manifests({"r1": 3, "r2": 0}, {"r1": 3}) == CheckResult(
        "records read match the manifests", True, "all runs match"
    )


def test_raise_on_failure_raises_a_data_quality_error_listing_only_the_failures():
    ok = CheckResult("tracks: keys track_id unique and not null", True, "0 rows with a null key, 0 duplicated keys")
    bad_keys = CheckResult("playlists: keys playlist_id unique and not null", False,
                           "1 rows with a null key, 0 duplicated keys")
    bad_counts = CheckResult("records read match the manifests", False, "r1: manifest 2, read 1")

    with pytest.raises(DataQualityError) as excinfo:
        raise_on_failure([ok, bad_keys, bad_counts])

    assert excinfo.value.failures == [bad_keys, bad_counts]
    assert str(excinfo.value) == (
        "data-quality checks failed, no table was changed:\n"
        "  - playlists: keys playlist_id unique and not null: 1 rows with a null key, 0 duplicated keys\n"
        "  - records read match the manifests: r1: manifest 2, read 1"
    )


def test_raise_on_failure_is_silent_when_every_check_passed():
    raise_on_failure([CheckResult("a", True, "fine"), CheckResult("b", True, "fine")])
    raise_on_failure([])
