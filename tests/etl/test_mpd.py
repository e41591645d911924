"""Million Playlist Dataset envelopes -> playlist rows and item rows (bad tracks flagged, neighbours kept)."""

from __future__ import annotations

import json

from chispa import assert_df_equality
from landing_builders import FETCHED_AT, envelope, read_envelopes, sid, source_file, ts
from pyspark.sql import functions as F

from musiclake.transforms import items as item_shape
from musiclake.transforms import mpd
from musiclake.transforms.envelopes import REASON

RUN = "mpd-20261101T000000Z-aaaaaaaa"
FILE = source_file(RUN, "mpd", "playlists")
FETCHED = ts(FETCHED_AT[:19])
MODIFIED_7 = ts("2017-07-14T02:40:00")  # modified_at 1500000000
MODIFIED_8 = ts("2017-07-14T02:41:40")  # modified_at 1500000100

GOOD = {"pos": 0, "artist_name": "Artist 1", "artist_uri": f"spotify:artist:{sid('artist1')}",
        "track_uri": f"spotify:track:{sid('track1')}", "track_name": "Song 1",
        "album_uri": f"spotify:album:{sid('album1')}", "album_name": "Album 1", "duration_ms": 200000}
NO_URI = {"pos": 1, "artist_name": "Artist 1", "track_name": "No URI", "duration_ms": 1000}
NUMBER_URI = {"pos": 2, "track_uri": 123, "track_name": "Number URI"}
LOCAL = {"pos": 3, "track_uri": "spotify:local:Artist:Album:Local+Song:180", "track_name": "Local Song"}
ODD_REFS = {"pos": 5, "artist_name": "Artist 2", "artist_uri": "spotify:artist:bad",
            "track_uri": f"spotify:track:{sid('track2')}", "track_name": "Song 2", "album_uri": None,
            "duration_ms": None}
PLAYLIST_7 = {"pid": 7, "name": "Road trip", "collaborative": "true", "modified_at": 1500000000,
              "num_followers": 3, "tracks": [GOOD, NO_URI, NUMBER_URI, LOCAL, {**GOOD, "pos": 4}, ODD_REFS, None]}
CHILL = {**GOOD, "track_uri": f"spotify:track:{sid('track3')}", "track_name": "Calm"}
PLAYLIST_8 = {"pid": 8, "name": "Chill", "collaborative": "false", "modified_at": 1500000100, "num_followers": 1,
              "description": "calm", "tracks": [CHILL]}
PLAYLIST_9 = {"pid": 9, "name": None, "tracks": []}  # no collaborative, no modified_at


def _mpd(body, key):
    return envelope(RUN, "mpd", "playlists", body, key=key, http_status=None)


def _parsed(spark):
    return mpd.parse_playlists(read_envelopes(spark, {FILE: [
        _mpd(PLAYLIST_7, "7"),
        _mpd(PLAYLIST_8, "8"),
        _mpd(PLAYLIST_8, "8"),  # the same playlist landed twice
        _mpd(PLAYLIST_9, "9"),
        _mpd({"pid": "eight", "name": "Wrong pid", "tracks": []}, "eight"),
        _mpd({"name": "No pid", "tracks": []}, "none"),
        _mpd({"pid": 10, "name": "No tracks"}, "10"),
        _mpd({"pid": 11, "name": "Tracks not a list", "tracks": "none"}, "11"),
        envelope(RUN, "spotify", "playlists", {"id": sid("other")}, key="spotify"),  # not an MPD playlist
    ]}))


def test_parse_mpd_playlists_flags_a_wrong_typed_or_missing_pid_and_missing_tracks(spark):
    parsed = _parsed(spark)

    expected = spark.createDataFrame(
        [
            ("7", None),
            ("8", None),
            ("8", None),
            ("9", None),
            ("eight", "wrong type for field pid: eight is not an integer"),
            ("none", "missing required field pid"),
            ("10", "missing required field tracks"),
            ("11", "wrong type for field tracks: none is not a list"),
        ],
        "key string, _reason string",
    )
    assert_df_equality(parsed.select("key", REASON), expected, ignore_row_order=True, ignore_nullable=True)


def test_mpd_playlist_rows_prefix_the_pid_parse_collaborative_and_use_modified_at_as_observed_at(spark):
    parsed = _parsed(spark).filter(F.col(REASON).isNull())

    rows = mpd.playlist_rows(parsed)

    expected = spark.createDataFrame(
        [
            ("mpd:7", "Road trip", None, None, True, None, 7, 3, MODIFIED_7, "mpd", MODIFIED_7, RUN),
            ("mpd:8", "Chill", "calm", None, False, None, 1, 1, MODIFIED_8, "mpd", MODIFIED_8, RUN),
            ("mpd:8", "Chill", "calm", None, False, None, 1, 1, MODIFIED_8, "mpd", MODIFIED_8, RUN),
            ("mpd:9", None, None, None, None, None, 0, None, None, "mpd", FETCHED, RUN),
        ],
        "playlist_id string, name string, description string, owner_id string, collaborative boolean, "
        "snapshot_id string, num_tracks int, num_followers int, modified_at timestamp, source string, "
        "observed_at timestamp, run_id string",
    )
    assert_df_equality(rows, expected, ignore_row_order=True, ignore_nullable=True)


def test_mpd_item_rows_parse_ids_from_uris_and_flag_bad_tracks_while_neighbours_stay_valid(spark):
    parsed = _parsed(spark).filter(F.col(REASON).isNull())

    items = mpd.item_rows(parsed)

    assert items.columns == list(item_shape.ITEM_COLUMNS)
    t1, t2, t3 = sid("track1"), sid("track2"), sid("track3")
    a1, b1 = sid("artist1"), sid("album1")
    not_a_track = "track_uri is not a spotify:track URI"
    rows = [
        # position, track id, item uri, name, artist id, album id, duration, reason, record (of a bad track:
        # the track as parsed)
        (0, t1, f"spotify:track:{t1}", "Song 1", a1, b1, 200000, None, None),
        (1, None, None, "No URI", None, None, 1000, "missing required field track_uri", NO_URI),
        (2, None, "123", "Number URI", None, None, None, not_a_track, {**NUMBER_URI, "track_uri": "123"}),
        (3, None, LOCAL["track_uri"], "Local Song", None, None, None, not_a_track, LOCAL),
        (4, t1, f"spotify:track:{t1}", "Song 1", a1, b1, 200000, None, None),  # a repeated track
        (5, t2, f"spotify:track:{t2}", "Song 2", None, None, None,  # a malformed artist URI: not a null artist
         "impossible value in field artist_uri: spotify:artist:bad (expected a spotify:artist URI)",
         {k: v for k, v in ODD_REFS.items() if v is not None}),
        (6, None, None, None, None, None, None, "missing required field track_uri", "null"),  # a null track
    ]
    expected = [("mpd:7", pos, "track", tid, uri, name, art, alb, dur, MODIFIED_7, RUN, "playlists", FILE, why, raw)
                for pos, tid, uri, name, art, alb, dur, why, raw in rows]
    expected += [("mpd:8", 0, "track", t3, f"spotify:track:{t3}", "Calm", a1, b1, 200000, MODIFIED_8, RUN,
                  "playlists", FILE, None, None)] * 2  # playlist 8 was landed twice
    columns = ["playlist_id", "position", "item_type", "track_id", "item_uri", "track_name", "artist_id", "album_id",
               "duration_ms", "observed_at", "run_id", "entity", "source_file", "_reason", "_record"]
    found = [tuple(r[c] for c in columns[:-1]) + (_record(r["_record"]),) for r in items.select(*columns).collect()]
    assert sorted(map(_naive, found)) == sorted(map(_naive, expected))


def _naive(row):
    """A row as comparable text, timestamps without their time zone (collect and ``ts`` differ only in that)."""
    return repr(tuple(v.replace(tzinfo=None) if hasattr(v, "tzinfo") else sorted(v.items()) if isinstance(v, dict)
                      else v for v in row))


def _record(text):
    return text if text in (None, "null") else json.loads(text)


def test_wrong_typed_or_impossible_playlist_fields_quarantine_the_playlist_with_the_field_and_value(spark):
    bodies = {
        "late": {**PLAYLIST_8, "pid": 20, "modified_at": "yesterday"},
        "negative": {**PLAYLIST_8, "pid": 21, "num_followers": -3},
        "future": {**PLAYLIST_8, "pid": 22, "modified_at": 4102444800},  # 2100: after the record was fetched
        "maybe": {**PLAYLIST_8, "pid": 24, "collaborative": "maybe"},
        "fine": {**PLAYLIST_8, "pid": 23},
    }
    parsed = mpd.parse_playlists(read_envelopes(spark, {FILE: [_mpd(b, k) for k, b in bodies.items()]}))

    reasons = {r["key"]: r[REASON] for r in parsed.select("key", REASON).collect()}
    assert reasons == {
        "late": "wrong type for field modified_at: yesterday is not an integer",
        "negative": "impossible value in field num_followers: -3 (expected at least 0)",
        "future": "impossible value in field modified_at: 4102444800 (after it was fetched)",
        "maybe": "impossible value in field collaborative: maybe (expected true or false)",
        "fine": None,
    }
    assert mpd.item_rows(parsed.filter(F.col(REASON).isNull())).count() == 1  # a bad playlist has no item rows


def test_a_wrong_typed_track_field_quarantines_only_that_track_and_never_curates_a_null(spark):
    abc = {**GOOD, "pos": 1, "duration_ms": "abc"}
    album = {**CHILL, "pos": 5, "album_uri": "spotify:artist:" + sid("album1")}
    tracks = [GOOD, abc, 5, {**CHILL, "pos": 3, "duration_ms": -1}, {**CHILL, "pos": 4}, album]
    parsed = mpd.parse_playlists(read_envelopes(spark, {FILE: [_mpd({**PLAYLIST_8, "tracks": tracks}, "8")]}))

    items = mpd.item_rows(parsed).orderBy("position").collect()

    assert [r[REASON] for r in items] == [
        None,
        "wrong type for field duration_ms: abc is not an integer",
        "record is not a JSON object",
        "impossible value in field duration_ms: -1 (expected at least 0)",
        None,
        f"impossible value in field album_uri: spotify:artist:{sid('album1')} (expected a spotify:album URI)",
    ]
    assert [_record(r["_record"]) for r in items] == [None, abc, 5, {**CHILL, "pos": 3, "duration_ms": -1}, None,
                                                      album]
    assert [r["duration_ms"] for r in items if r[REASON] is None] == [200000, 200000]
    assert mpd.playlist_rows(parsed).first()["num_tracks"] == 6
