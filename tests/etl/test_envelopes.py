"""Envelope validation, splitting and quarantine rows."""

from __future__ import annotations

import hashlib

import pytest
from chispa import assert_column_equality, assert_df_equality
from landing_builders import FETCHED_AT, compact, envelope, read_envelopes, source_file
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake import schemas
from musiclake.transforms.envelopes import (
    REASON,
    RECORD,
    of_entity,
    run_of_file,
    split_problems,
    to_quarantine,
    with_envelope_problem,
)

pytestmark = pytest.mark.fast  # in `make test-fast`: quick transforms on the session's SparkSession

RUN = "spotify-20261126T100000Z-0123abcd"
FILE = source_file(RUN)
MALFORMED = '{"run_id": "spotify-20261126T100000Z-0123abcd", "source": "spotify", "body": {'
OTHER_RUN = "spotify-20991231T235959Z-ffffffff"  # a later run: it would win every dedupe
FORBIDDEN = {"error": {"status": 403, "message": "Forbidden"}}


def _batch(spark):
    return read_envelopes(spark, {FILE: [
        envelope(RUN, "mpd", "playlists", {"pid": 1, "tracks": []}, key="ok", http_status=None),
        envelope(RUN, "mpd", "playlists", {"pid": 1, "tracks": []}, key="ok", http_status=None),  # duplicate
        MALFORMED,
        envelope(None, "spotify", "tracks", {"id": "x"}, key="no_run"),
        envelope(RUN, None, "tracks", {"id": "x"}, key="no_source"),
        envelope(RUN, "spotify", None, {"id": "x"}, key="no_entity"),
        envelope(RUN, "spotify", "tracks", None, key="no_body"),
        envelope(None, "spotify", "tracks", None, key="no_run_no_body"),
        envelope(RUN, "spotify", "tracks", [1, 2], key="array_body"),
        envelope(RUN, "spotify", "tracks", "oops", key="string_body"),
        envelope(RUN, "mpd", "playlists", [{"pid": 1}], key="mpd_array_body", http_status=None),
        envelope(RUN, "spotify", "playlist_items", FORBIDDEN, key="forbidden", http_status=403),
        envelope(RUN, "spotify", "playlist_items", "Forbidden", key="forbidden_text", http_status=403),
        envelope(OTHER_RUN, "spotify", "tracks", {"id": "x"}, key="other_run"),  # in a file of RUN
    ]})


def test_with_envelope_problem_names_the_first_problem_and_accepts_error_responses(spark):
    checked = _batch(spark).transform(with_envelope_problem)

    expected = spark.createDataFrame(
        [
            ("ok", None),
            ("ok", None),
            (None, "malformed JSON line"),
            ("no_run", "envelope missing required field run_id"),
            ("no_source", "envelope missing required field source"),
            ("no_entity", "envelope missing required field entity"),
            ("no_body", "envelope missing required field body"),
            ("no_run_no_body", "envelope missing required field run_id"),
            ("array_body", "body is not a JSON object"),
            ("string_body", "body is not a JSON object"),
            ("mpd_array_body", "body is not a JSON object"),
            ("forbidden", None),  # a 403 is landed on purpose: not a problem of the envelope
            ("forbidden_text", None),
            ("other_run", f"envelope of run {OTHER_RUN} in a file of run {RUN}"),
        ],
        "key string, _reason string",
    )
    assert_df_equality(checked.select("key", REASON), expected, ignore_row_order=True, ignore_nullable=True)


def test_split_problems_drops_bookkeeping_from_good_rows_and_keeps_it_on_bad_rows(spark):
    good, bad = split_problems(_batch(spark).transform(with_envelope_problem))

    assert good.columns == [f.name for f in schemas.ENVELOPE.fields] + ["source_file"]
    assert REASON in bad.columns and RECORD in bad.columns
    expected_good = spark.createDataFrame([("ok",), ("ok",), ("forbidden",), ("forbidden_text",)], "key string")
    assert_df_equality(good.select("key"), expected_good, ignore_row_order=True, ignore_nullable=True)


def _quarantine_id(file: str, record: str, reason: str) -> str:
    return hashlib.sha256(f"{file}\u0001{record}\u0001{reason}".encode()).hexdigest()


def test_to_quarantine_takes_run_id_from_the_file_path_whatever_the_line_says(spark):
    other_file = source_file("spotify-20261127T100000Z-fedcba98")
    batch = read_envelopes(spark, {
        FILE: [MALFORMED, envelope(None, "spotify", "tracks", {"id": "x"}, key="no_run"),
               envelope("run-in-line", "spotify", "tracks", "oops", key="s")],
        other_file: [MALFORMED, "not json at all", "not json at all"],  # a repeated bad line
    })
    _, bad = split_problems(batch.transform(with_envelope_problem))

    quarantine = to_quarantine(bad, "jr_42", "2026-11-27")

    no_run_record = compact({"source": "spotify", "entity": "tracks", "key": "no_run", "http_status": 200,
                             "fetched_at": FETCHED_AT, "body": compact({"id": "x"}), "source_file": FILE})
    string_record = compact({"run_id": "run-in-line", "source": "spotify", "entity": "tracks", "key": "s",
                             "http_status": 200, "fetched_at": FETCHED_AT, "body": "oops", "source_file": FILE})
    rows = [
        (FILE, MALFORMED, "malformed JSON line", RUN, None, None),
        (FILE, no_run_record, "envelope missing required field run_id", RUN, "spotify", "tracks"),
        (FILE, string_record, f"envelope of run run-in-line in a file of run {RUN}", RUN, "spotify", "tracks"),
        (other_file, MALFORMED, "malformed JSON line", "spotify-20261127T100000Z-fedcba98", None, None),
        (other_file, "not json at all", "malformed JSON line", "spotify-20261127T100000Z-fedcba98", None, None),
        (other_file, "not json at all", "malformed JSON line", "spotify-20261127T100000Z-fedcba98", None, None),
    ]
    expected = spark.createDataFrame(
        [(_quarantine_id(f, rec, why), run, src, ent, f, why, rec, "jr_42", "2026-11-27")
         for f, rec, why, run, src, ent in rows],
        T.StructType([f for f in schemas.QUARANTINE.schema.fields if f.name != "occurrences"]),  # counted by plan
    )
    assert_df_equality(quarantine, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def test_quarantine_id_is_stable_for_the_same_input(spark):
    def quarantine_of_a_fresh_read():
        _, bad = split_problems(_batch(spark).transform(with_envelope_problem))
        return to_quarantine(bad, "jr_1", "2026-11-27").select("quarantine_id", "reason")

    first, second = quarantine_of_a_fresh_read(), quarantine_of_a_fresh_read()

    assert_df_equality(first, second, ignore_row_order=True)
    assert first.select("quarantine_id").distinct().count() == 10  # one id per distinct bad input


def test_of_entity_selects_source_and_entity_and_by_default_only_successful_responses(spark):
    batch = read_envelopes(spark, {FILE: [
        envelope(RUN, "mpd", "playlists", {"pid": 1}, key="mpd", http_status=None),
        envelope(RUN, "spotify", "playlists", {"id": "a"}, key="ok"),
        envelope(RUN, "spotify", "playlists", {"id": "a"}, key="ok"),
        envelope(RUN, "spotify", "playlists", {"id": "b"}, key="no_status", http_status=None),
        envelope(RUN, "spotify", "playlists", FORBIDDEN, key="forbidden", http_status=403),
        envelope(RUN, "spotify", "playlist_items", {"items": []}, key="items"),
    ]})

    ok_only = batch.transform(of_entity("spotify", "playlists")).select("key")
    every_status = batch.transform(of_entity("spotify", "playlists", ok_only=False)).select("key")

    schema = "key string"
    assert_df_equality(ok_only, spark.createDataFrame([("ok",), ("ok",), ("no_status",)], schema),
                       ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(every_status,
                       spark.createDataFrame([("ok",), ("ok",), ("no_status",), ("forbidden",)], schema),
                       ignore_row_order=True, ignore_nullable=True)


def test_run_of_file_reads_the_run_id_folder_holding_the_file(spark):
    rows = [
        (FILE, RUN),
        (FILE, RUN),
        ("file:/tmp/raw/source=mpd/entity=playlists/ingest_date=2026-11-26/run_id=mpd-x/part-00001.jsonl.gz", "mpd-x"),
        ("s3://bucket/raw/somewhere/part-00000.jsonl.gz", None),
        ("s3://bucket/raw/run_id=/part-00000.jsonl.gz", None),
        # the folder holding the file, not a folder of the landing root that happens to be named so
        ("s3://bucket/run_id=old/raw/source=mpd/entity=playlists/ingest_date=2026-11-26/run_id=mpd-y/part-0.jsonl.gz",
         "mpd-y"),
        ("s3://bucket/run_id=old/raw/somewhere/part-00000.jsonl.gz", None),
        (None, None),
    ]
    df = spark.createDataFrame(rows, "path string, expected string")

    assert_column_equality(df.withColumn("run", run_of_file(F.col("path"))), "run", "expected")
