"""The read path answers as the Spark path does, on the lake the whole pipeline builds (``full_lake``).

* a known playlist: the ``recommendations`` table's list (what ``musiclake.recommend.serve.for_playlist`` reads):
  same tracks in the same order, scores within 1e-4 - up to ties: the table's top-k breaks exact ties in no
  particular order (numpy ``argpartition``), the read path by lower track index, so tracks of equal score may
  trade places; a playlist that has every track has no row in the table (the Spark path then serves popular
  tracks, all in the playlist), the read path answers an empty list with a note;
* seed tracks: ``for_tracks`` of the Spark path (fold-in, then Spark SQL scoring in float64, ties by index): the
  same list exactly;
* similar tracks: the ``similar_tracks`` table, same tracks within the float32 rounding of Spark's product;
* ``musiclake tables``: the same text as the Spark command.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from musiclake.serve import lakeio, recommend
from musiclake.serve.command import run_tables
from musiclake.serve.load import load_model

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def models(spark, full_lake):
    from musiclake.recommend import serve as spark_serve

    return spark_serve, spark_serve.open_model(spark, full_lake.lake), load_model(full_lake.lake)


def assert_same_ranking(expected: list[tuple[str, float]], actual: list[tuple[str, float]]) -> None:
    """Same length, scores within TOLERANCE position by position, and the same tracks in every run of equal
    scores (the last run may be cut by ``k`` differently)."""
    assert len(actual) == len(expected)
    for (_, e), (_, a) in zip(expected, actual, strict=True):
        assert a == pytest.approx(e, abs=TOLERANCE)
    start = 0
    while start < len(expected):
        end = start
        while end + 1 < len(expected) and abs(expected[end + 1][1] - expected[start][1]) <= TOLERANCE:
            end += 1
        if end + 1 < len(expected):
            assert {t for t, _ in actual[start : end + 1]} == {t for t, _ in expected[start : end + 1]}
        start = end + 1


def _pairs(served) -> list[tuple[str, float]]:
    return [(t.track_id, t.score) for t in served.tracks]


@pytest.mark.parametrize("k", [10, 20])
def test_known_playlists_get_the_recommendations_tables_lists(models, k):
    spark_serve, spark_model, model = models
    playlists = model.playlists.ids(range(0, model.playlists.size, max(1, model.playlists.size // 6)))
    compared = 0
    for playlist in playlists:
        expected = spark_serve.with_names(spark_model, spark_serve.for_playlist(spark_model, playlist, k))
        actual = recommend.for_playlist(model, playlist, k)
        if not actual.tracks:  # the playlist has every track: no row in the table, popularity on the Spark path
            assert actual.notes == ["the playlist already has every track the model knows"]
            assert expected.source == "popularity"
            continue
        compared += 1
        assert (actual.source, actual.title, actual.notes) == (expected.source, expected.title, expected.notes)
        assert_same_ranking(_pairs(expected), _pairs(actual))
        names = {t.track_id: (t.track_name, t.artist_name) for t in expected.tracks}
        assert all(names.get(t.track_id, (t.track_name, t.artist_name)) == (t.track_name, t.artist_name)
                   for t in actual.tracks)
    assert compared >= 5


def test_an_unknown_playlist_gets_the_same_popular_tracks(models):
    spark_serve, spark_model, model = models
    expected = spark_serve.with_names(spark_model, spark_serve.for_playlist(spark_model, "mpd:no-such", 7))
    actual = recommend.with_names(model, recommend.for_playlist(model, "mpd:no-such", 7))

    assert (actual.source, actual.title) == (expected.source, expected.title)
    assert [dataclasses.astuple(t) for t in actual.tracks] == [dataclasses.astuple(t) for t in expected.tracks]


def test_seed_tracks_get_the_spark_fold_ins_list_exactly(models):
    spark_serve, spark_model, model = models
    tracks = model.tracks.ids(range(0, 60, 7))
    for seeds in ([tracks[0], tracks[1], tracks[2]], [tracks[3], "unknownTrack0000000000", tracks[3], tracks[4]],
                  ["unknownTrack0000000000"], []):
        expected = spark_serve.with_names(spark_model, spark_serve.for_tracks(spark_model, seeds, 12))
        actual = recommend.with_names(model, recommend.for_tracks(model, seeds, 12))
        assert (actual.source, actual.title, actual.notes) == (expected.source, expected.title, expected.notes)
        assert [t.track_id for t in actual.tracks] == [t.track_id for t in expected.tracks], seeds
        assert [t.score for t in actual.tracks] == pytest.approx([t.score for t in expected.tracks], abs=1e-12)
        assert [(t.track_name, t.artist_name) for t in actual.tracks] == [
            (t.track_name, t.artist_name) for t in expected.tracks]


def test_similar_tracks_are_the_similar_tracks_tables_lists(models, full_lake):
    _, _, model = models
    table = lakeio.read_delta(lakeio.open_delta(f"{full_lake.lake}/similar_tracks"),
                              ["track_id", "similar_track_id", "rank", "similarity"])
    lists: dict[str, list[tuple[int, str, float]]] = {}
    for row in table.to_pylist():
        lists.setdefault(row["track_id"], []).append((row["rank"], row["similar_track_id"], row["similarity"]))
    assert lists, "the pipeline wrote no similar tracks"
    for track in sorted(lists)[:: max(1, len(lists) // 8)]:
        expected = [(t, s) for _, t, s in sorted(lists[track])]
        actual = recommend.similar(model, track, len(expected))
        assert_same_ranking(expected, _pairs(actual))


def _spark_tables_output(spark, lake_path: str, runs: int) -> list[str]:
    """What ``musiclake tables`` printed when it ran on Spark (its code before the read path answered it)."""
    from pyspark.sql import functions as F

    from musiclake import schemas
    from musiclake.lake import Lake

    lake = Lake(spark, lake_path, "musiclake")
    lines = [f"{'table':<16}{'rows':>10}{'version':>9}  partitioned by"]
    for spec in schemas.TABLES.values():
        if not lake.exists(spec):
            lines.append(f"{spec.name:<16}{'-':>10}{'-':>9}  (not created yet)")
            continue
        rows = lake.load(spec).count()
        lines.append(f"{spec.name:<16}{rows:>10}{lake.version(spec):>9}  {', '.join(spec.partition_by) or '-'}")
    if lake.exists(schemas.JOB_RUNS):
        lines += ["", "latest job runs:"]
        for r in lake.load(schemas.JOB_RUNS).orderBy(F.col("finished_at").desc()).limit(runs).collect():
            written = sum((r["records_written"] or {}).values())
            lines.append(f"  {r['finished_at']:%Y-%m-%d %H:%M:%S}  {r['job_name']:<20}{r['status']:<10}"
                         f"read {r['records_read']:>8}  written {written:>8}  quarantined {r['records_quarantined']:>5}"
                         f"  {r['message'] or ''}")
    return lines


def test_tables_prints_what_the_spark_command_printed(spark, full_lake, capsys):
    expected = _spark_tables_output(spark, full_lake.lake, 8)

    assert run_tables(argparse.Namespace(lake_path=full_lake.lake, runs=8)) == 0
    actual = capsys.readouterr().out.splitlines()

    assert len(actual) == len(expected)
    for ours, theirs in zip(actual, expected, strict=True):
        if ours.startswith("  20"):  # a job run: Spark prints the time in the machine's zone, the read path in UTC
            assert ours[21:] == theirs[21:]
        else:
            assert ours == theirs
