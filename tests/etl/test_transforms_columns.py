"""Column helpers: Spotify ids from URIs, why a required field is unusable, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chispa import assert_column_equality
from pyspark.sql import functions as F

from musiclake.transforms.columns import (
    api_timestamp,
    field_problem,
    first_problem,
    spotify_id_from_uri,
    valid_spotify_id,
)

pytestmark = pytest.mark.fast  # in `make test-fast`: quick transforms on the session's SparkSession

TRACK = "4uLU6hMCjMI75M1A2tKUQC"
ARTIST = "0OdUWJ0sBjDrqHygGUXeCF"
ALBUM = "6akEvsycLGftJxYudPjmqK"


def test_spotify_id_from_uri_extracts_ids_of_its_own_kind_and_nulls_local_files_and_malformed_uris(spark):
    rows = [
        # uri, track id, artist id, album id
        (f"spotify:track:{TRACK}", TRACK, None, None),
        (f"spotify:track:{TRACK}", TRACK, None, None),  # duplicate
        (f"spotify:artist:{ARTIST}", None, ARTIST, None),
        (f"spotify:album:{ALBUM}", None, None, ALBUM),
        ("spotify:local:Some+Artist:Some+Album:Some+Title:180", None, None, None),
        ("spotify:local:::Title:180", None, None, None),
        ("spotify:track:tooShort", None, None, None),
        (f"spotify:track:{TRACK}x", None, None, None),  # 23 characters
        ("spotify:track:4uLU6hMCjMI75M1A2tKU-C", None, None, None),  # not base62
        ("spotify:track:4uLU6hMCjMI75M1A2tKUé", None, None, None),  # 22 characters, one not ASCII
        (f"https://open.spotify.com/track/{TRACK}", None, None, None),
        (f" spotify:track:{TRACK}", None, None, None),
        ("", None, None, None),
        (None, None, None, None),
    ]
    df = spark.createDataFrame(rows, "uri string, want_track string, want_artist string, want_album string")

    result = df.select(
        spotify_id_from_uri(F.col("uri"), "track").alias("track_id"), "want_track",
        spotify_id_from_uri(F.col("uri"), "artist").alias("artist_id"), "want_artist",
        spotify_id_from_uri(F.col("uri"), "album").alias("album_id"), "want_album",
    ).cache()

    assert_column_equality(result, "track_id", "want_track")
    assert_column_equality(result, "artist_id", "want_artist")
    assert_column_equality(result, "album_id", "want_album")
    result.unpersist()


def test_valid_spotify_id_keeps_22_character_base62_ids_only(spark):
    rows = [(TRACK, TRACK), (TRACK, TRACK), ("short", None), (f"{TRACK}0", None), ("4uLU6hMCjMI75M1A2tKU_C", None),
            (None, None)]
    df = spark.createDataFrame(rows, "value string, expected string")

    result = df.withColumn("id", valid_spotify_id(F.col("value")))

    assert_column_equality(result, "id", "expected")


def test_field_problem_tells_a_missing_field_from_a_wrong_typed_one_and_is_null_when_fine(spark):
    rows = [
        ('{"pid": 7}', None),
        ('{"pid": 7}', None),  # duplicate
        ('{"pid": 0}', None),  # falsy but present
        ('{"pid": "seven"}', "wrong type for field pid"),
        ('{"pid": [7]}', "wrong type for field pid"),
        ('{"pid": {"n": 7}}', "wrong type for field pid"),
        ('{"pid": null}', "missing required field pid"),
        ('{"name": "no pid"}', "missing required field pid"),
        ("{}", "missing required field pid"),
        (None, "missing required field pid"),
    ]
    df = spark.createDataFrame(rows, "raw string, expected string")

    result = df.withColumn(
        "problem", field_problem(F.col("raw"), F.from_json("raw", "pid long, name string").getField("pid"), "pid")
    )

    assert_column_equality(result, "problem", "expected")


def test_first_problem_is_the_first_non_null_problem_in_argument_order(spark):
    rows = [(None, None, None), ("a", "b", "a"), ("a", "b", "a"), (None, "b", "b"), ("a", None, "a")]
    df = spark.createDataFrame(rows, "p1 string, p2 string, expected string")

    result = df.withColumn("problem", first_problem(F.col("p1"), F.col("p2")))

    assert_column_equality(result, "problem", "expected")


def test_api_timestamp_parses_iso_utc_strings_with_or_without_fraction(spark):
    at = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
    rows = [
        ("2026-11-26T10:00:00.000000Z", at),
        ("2026-11-26T10:00:00.000000Z", at),
        ("2026-11-26T10:00:00Z", at),
        ("2026-11-26T10:00:00.250000Z", at.replace(microsecond=250000)),
        ("not a time", None),
        (None, None),
    ]
    df = spark.createDataFrame(rows, "value string, expected timestamp")

    result = df.withColumn("parsed", api_timestamp(F.col("value")))

    assert_column_equality(result, "parsed", "expected")
