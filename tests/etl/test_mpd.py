"""Million Playlist Dataset envelopes -> playlist rows and item rows (bad tracks flagged, neighbours kept)."""

from __future__ import annotations

from chispa import assert_df_equality
from landing_builders import FETCHED_AT, compact, envelope, read_envelopes, sid, source_file, ts
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
            ("eight", "wrong type for field pid"),
            ("none", "missing required field pid"),
            ("10", "missing required field tracks"),
            ("11", "wrong type for field tracks"),
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
        # position, track id, item uri, name, artist id, album id, duration, reason, record
        (0, t1, f"spotify:track:{t1}", "Song 1", a1, b1, 200000, None, GOOD),
        (1, None, None, "No URI", None, None, 1000, "missing required field track_uri", NO_URI),
        (2, None, "123", "Number URI", None, None, None, not_a_track, NUMBER_URI),
        (3, None, LOCAL["track_uri"], "Local Song", None, None, None, not_a_track, LOCAL),
        (4, t1, f"spotify:track:{t1}", "Song 1", a1, b1, 200000, None, {**GOOD, "pos": 4}),  # a repeated track
        (5, t2, f"spotify:track:{t2}", "Song 2", None, None, None, None, ODD_REFS),
        (6, None, None, None, None, None, None, "missing required field track_uri", None),  # a null track
    ]
    expected = spark.createDataFrame(
        [("mpd:7", pos, "track", tid, uri, name, art, alb, dur, MODIFIED_7, RUN, "playlists", FILE, why,
          "null" if raw is None else compact(raw))
         for pos, tid, uri, name, art, alb, dur, why, raw in rows]
        + [("mpd:8", 0, "track", t3, f"spotify:track:{t3}", "Calm", a1, b1, 200000, MODIFIED_8, RUN, "playlists",
            FILE, None, compact(CHILL))] * 2,  # playlist 8 was landed twice
        "playlist_id string, position int, item_type string, track_id string, item_uri string, track_name string, "
        "artist_id string, album_id string, duration_ms long, observed_at timestamp, run_id string, entity string, "
        "source_file string, _reason string, _record string",
    )
    selected = items.select(*expected.columns)
    assert_df_equality(selected, expected, ignore_row_order=True, ignore_nullable=True)
