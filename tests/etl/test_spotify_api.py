"""Spotify Web API envelopes -> playlist rows, item rows (both page layouts, every item type) and dimension rows."""

from __future__ import annotations

from chispa import assert_df_equality
from landing_builders import (
    ADDED_AT,
    API,
    FETCHED_AT,
    api_track,
    compact,
    envelope,
    playlist_entry,
    read_envelopes,
    sid,
    source_file,
    ts,
)
from pyspark.sql import functions as F

from musiclake.transforms import items as item_shape
from musiclake.transforms import spotify_api
from musiclake.transforms.envelopes import REASON, RECORD

RUN = "spotify-20261126T100000Z-0123abcd"
PLAYLISTS_FILE = source_file(RUN, "spotify", "playlists")
ITEMS_FILE = source_file(RUN, "spotify", "playlist_items")
OBJECTS_FILE = source_file(RUN, "spotify", "tracks")
FETCHED = ts(FETCHED_AT[:19])
FETCHED_B = ts("2026-11-26T10:05:00")
ADDED = ts(ADDED_AT[:19])
PL_A, PL_B, PL_C, PL_D, PL_E = sid("plA"), sid("plB"), sid("plC"), sid("plD"), sid("plE")
FORBIDDEN = {"error": {"status": 403, "message": "Forbidden"}}

T1, T2, T3 = api_track("track1"), api_track("track2", "artist2", "album2"), api_track("track3")
EPISODE = {"id": sid("episode1"), "uri": f"spotify:episode:{sid('episode1')}", "name": "Episode 1", "type": "episode",
           "duration_ms": 600000, "explicit": True, "show": {"id": sid("show1"), "name": "Show 1"}}
LOCAL = {"id": None, "uri": "spotify:local:Some+Artist:Some+Album:Local+Song:180", "name": "Local Song",
         "type": "track", "is_local": True, "duration_ms": 180000,
         "album": {"id": None, "uri": None, "name": "Some Album"},
         "artists": [{"id": None, "uri": None, "name": "Some Artist"}]}

# PL_A: 2026 layout (first page under "items"), 7 items over two pages.
A_FIRST = [playlist_entry(T1), playlist_entry(EPISODE), playlist_entry(LOCAL, added_by=None, is_local=True), None]
NULL_ITEM = {"added_at": ADDED_AT, "item": None, "track": None}
A_SECOND = [playlist_entry(T2, key="track"), NULL_ITEM, playlist_entry(T1)]
PLAYLIST_A = {
    "id": PL_A, "name": "Mix A", "description": "", "public": True, "collaborative": False, "snapshot_id": "snapA",
    "owner": {"id": "user1", "display_name": "User 1"}, "followers": {"total": 4},
    "items": {"href": f"{API}/playlists/{PL_A}/items", "offset": 0, "limit": 4, "total": 7,
              "next": f"{API}/playlists/{PL_A}/items?offset=4&limit=4", "items": A_FIRST},
}
PAGE_A = {"href": f"{API}/playlists/{PL_A}/items?offset=4&limit=4", "offset": 4, "limit": 4, "total": 7, "next": None,
          "items": A_SECOND}
# PL_B: the deprecated layout (first page under "tracks", entries under "track").
B_ITEMS = [playlist_entry(T3, key="track")]
PLAYLIST_B = {"id": PL_B, "name": "Old B", "collaborative": True, "snapshot_id": "snapB", "owner": {"id": "user2"},
              "tracks": {"offset": 0, "total": 1, "items": B_ITEMS}}
# PL_C: an items page whose playlist is not in the run.
PAGE_C = {"offset": 0, "total": 1, "items": [playlist_entry(T1)]}
# PL_D: 2 of 3 items landed (the second page answered 403).
D_ITEMS = [playlist_entry(T1), playlist_entry(T2)]
PLAYLIST_D = {"id": PL_D, "name": "Partial D", "snapshot_id": "snapD", "owner": {"id": "user3"},
              "items": {"offset": 0, "limit": 2, "total": 3, "items": D_ITEMS}}
# PL_E: metadata only (a followed playlist: its items answer 403).
PLAYLIST_E = {"id": PL_E, "name": "Followed E", "snapshot_id": "snapE", "owner": {"id": "user4"},
              "items": {"href": f"{API}/playlists/{PL_E}/items", "total": 2}}


def _batch(spark):
    return read_envelopes(spark, {
        PLAYLISTS_FILE: [
            envelope(RUN, "spotify", "playlists", PLAYLIST_A, key=PL_A),
            envelope(RUN, "spotify", "playlists", PLAYLIST_B, key=PL_B, fetched_at="2026-11-26T10:05:00Z"),
            envelope(RUN, "spotify", "playlists", PLAYLIST_D, key=PL_D),
            envelope(RUN, "spotify", "playlists", PLAYLIST_E, key=PL_E),
            envelope(RUN, "spotify", "playlists", {"name": "No id"}, key="noid"),
            envelope(RUN, "spotify", "playlists", FORBIDDEN, key=sid("plF"), http_status=403),
        ],
        ITEMS_FILE: [
            envelope(RUN, "spotify", "playlist_items", PAGE_A, key=PL_A),
            envelope(RUN, "spotify", "playlist_items", PAGE_C, key=PL_C),
            envelope(RUN, "spotify", "playlist_items", FORBIDDEN, key=PL_D, http_status=403),
            envelope(RUN, "spotify", "playlist_items", FORBIDDEN, key=PL_E, http_status=403),
        ],
    })


def _valid(rows):
    return rows.filter(F.col(REASON).isNull())


def test_parse_api_playlists_finds_the_first_page_under_items_or_tracks_and_flags_a_missing_id(spark):
    parsed = spotify_api.parse_playlists(_batch(spark))

    expected = spark.createDataFrame(
        [(PL_A, PL_A, 7, 4, None), (PL_B, PL_B, 1, 1, None), (PL_D, PL_D, 3, 2, None), (PL_E, PL_E, 2, None, None),
         ("noid", None, None, None, "missing required field id")],
        "key string, playlist_id string, total int, landed int, _reason string",
    )
    result = parsed.select("key", "playlist_id", F.col("_page.total").alias("total"),
                           F.size("_page.items").alias("landed"), REASON)
    result = result.withColumn("landed", F.when(F.col("landed") >= 0, F.col("landed")))  # size(null) is -1
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_api_playlist_rows_take_the_item_count_from_the_page_total_and_observed_at_from_the_fetch(spark):
    rows = spotify_api.playlist_rows(_valid(spotify_api.parse_playlists(_batch(spark))))

    expected = spark.createDataFrame(
        [
            (PL_A, "Mix A", "", "user1", False, "snapA", 7, 4, None, "spotify", FETCHED, RUN),
            (PL_B, "Old B", None, "user2", True, "snapB", 1, None, None, "spotify", FETCHED_B, RUN),
            (PL_D, "Partial D", None, "user3", None, "snapD", 3, None, None, "spotify", FETCHED, RUN),
            (PL_E, "Followed E", None, "user4", None, "snapE", 2, None, None, "spotify", FETCHED, RUN),
        ],
        "playlist_id string, name string, description string, owner_id string, collaborative boolean, "
        "snapshot_id string, num_tracks int, num_followers int, modified_at timestamp, source string, "
        "observed_at timestamp, run_id string",
    )
    assert_df_equality(rows, expected, ignore_row_order=True, ignore_nullable=True)


def test_parse_api_item_pages_takes_the_playlist_from_the_key_or_the_request_url(spark):
    pages = read_envelopes(spark, {ITEMS_FILE: [
        envelope(RUN, "spotify", "playlist_items", PAGE_A, key=PL_A),
        envelope(RUN, "spotify", "playlist_items", PAGE_A, key=PL_A),  # the same page twice
        envelope(RUN, "spotify", "playlist_items", PAGE_C, key=None,
                 request_url=f"{API}/playlists/{PL_C}/items?offset=0&limit=100"),
        envelope(RUN, "spotify", "playlist_items", PAGE_C, key=None, request_url=f"{API}/me/tracks"),
        envelope(RUN, "spotify", "playlist_items", {"offset": 0, "total": 0}, key=PL_D),
        envelope(RUN, "spotify", "playlist_items", {"items": "none"}, key=PL_E),
        envelope(RUN, "spotify", "playlist_items", FORBIDDEN, key=PL_B, http_status=403),
    ]})

    parsed = spotify_api.parse_item_pages(pages)

    expected = spark.createDataFrame(
        [(PL_A, None), (PL_A, None), (PL_C, None), (None, "items page without a playlist id (key or request URL)"),
         (PL_D, "missing required field items"), (PL_E, "wrong type for field items: none is not a list")],
        "_playlist_id string, _reason string",
    )
    assert_df_equality(parsed.select("_playlist_id", REASON), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_value_where_an_object_belongs_is_quarantined_naming_the_field_and_the_value(spark):
    """An object field holding a scalar or a list (``"owner": "bob"``) is lost by both of the record's parses (the
    typed one and the all-text one that finds a wrong leaf), so its reason comes from the field's JSON path; a list
    of scalars where a list of objects belongs is named the same way. The playlist for a playlist-level field, the
    one item for an item-level field."""
    pl_g, pl_h, pl_i = sid("plG"), sid("plH"), sid("plI")
    entries = [playlist_entry(T1), {**playlist_entry(T2), "added_by": "user2"}, playlist_entry({**T3, "album": "x"}),
               playlist_entry({**T1, "artists": ["Artist 1"]}), playlist_entry("track1")]
    playlist = {**PLAYLIST_D, "id": pl_i, "items": {"offset": 0, "limit": 5, "total": 5, "items": entries}}
    batch = read_envelopes(spark, {PLAYLISTS_FILE: [
        envelope(RUN, "spotify", "playlists", {**PLAYLIST_D, "id": pl_g, "owner": "bob"}, key=pl_g),
        envelope(RUN, "spotify", "playlists", {**PLAYLIST_D, "id": pl_h, "followers": 5, "items": []}, key=pl_h),
        envelope(RUN, "spotify", "playlists", playlist, key=pl_i),
    ]})

    parsed = spotify_api.parse_playlists(batch)
    items = spotify_api.item_rows(_valid(parsed), _valid(spotify_api.parse_item_pages(batch)))

    assert {r["key"]: r[REASON] for r in parsed.collect()} == {
        pl_g: "wrong type for field owner: bob is not an object",
        pl_h: "wrong type for field followers: 5 is not an object",  # the first of its two
        pl_i: None,
    }
    assert sorted((r["position"], r[REASON]) for r in items.collect()) == [
        (0, None),
        (1, "wrong type for field added_by: user2 is not an object"),
        (2, "wrong type for field item.album: x is not an object"),
        (3, 'wrong type for field item.artists: ["Artist 1"] is not a list of objects'),
        (4, "wrong type for field item: track1 is not an object"),
    ]


def test_a_playlist_id_that_is_no_spotify_id_and_an_id_its_uri_contradicts_are_quarantined(spark):
    """A playlist whose id is not a Spotify id (``"id": 12345``) is quarantined whole; a track (in a playlist or
    alone) whose ``id`` and ``uri`` name two different tracks is quarantined alone: which one it is about cannot be
    told, and taking either would curate the other track's name under its id."""
    pl_j = sid("plJ")
    other_uri = {**T2, "uri": T3["uri"]}
    entries = [playlist_entry(T1), playlist_entry(other_uri)]
    batch = read_envelopes(spark, {
        PLAYLISTS_FILE: [
            envelope(RUN, "spotify", "playlists", {**PLAYLIST_D, "id": 12345}, key="numeric"),
            envelope(RUN, "spotify", "playlists", {**PLAYLIST_D, "id": pl_j,
                                                   "items": {"offset": 0, "total": 2, "items": entries}}, key=pl_j),
        ],
        OBJECTS_FILE: [envelope(RUN, "spotify", "tracks", other_uri, key=T2["id"])],
    })

    parsed = spotify_api.parse_playlists(batch)
    items = spotify_api.item_rows(_valid(parsed), _valid(spotify_api.parse_item_pages(batch)))
    tracks = spotify_api.track_objects(batch)

    mismatch = f"track id {T2['id']} does not match its URI {T3['uri']}"
    assert {r["key"]: r[REASON] for r in parsed.collect()} == {
        "numeric": "playlist id 12345 is not a Spotify id (22 base62 characters)", pl_j: None}
    assert sorted((r["position"], r[REASON]) for r in items.collect()) == [(0, None), (1, mismatch)]
    assert [r[REASON] for r in tracks.collect()] == [mismatch]


def test_a_null_in_a_list_of_artists_is_quarantined_where_the_first_artist_is_curated(spark):
    """The first artist of a track (in a playlist or alone) and of an album is curated as its primary artist: a
    null in such a list is no artist object, so the item, the track or the album is quarantined (never curated with
    a null or a shifted primary artist); the playlist keeps its other items."""
    pl_k = sid("plK")
    no_first_artist = {**T2, "artists": [None, *T2["artists"]]}
    entries = [playlist_entry(T1), playlist_entry(no_first_artist)]
    album = {"id": sid("album9"), "name": "Album9", "album_type": "single", "release_date": "2026"}
    batch = read_envelopes(spark, {
        PLAYLISTS_FILE: [envelope(RUN, "spotify", "playlists", {**PLAYLIST_D, "id": pl_k,
                                  "items": {"offset": 0, "total": 2, "items": entries}}, key=pl_k)],
        OBJECTS_FILE: [
            envelope(RUN, "spotify", "tracks", no_first_artist, key=T2["id"]),
            envelope(RUN, "spotify", "albums", {**album, "artists": [None]}, key="null artist"),
            envelope(RUN, "spotify", "albums", {**album, "artists": [{"id": sid("artist9")}]}, key="artist"),
        ],
    })

    items = spotify_api.item_rows(_valid(spotify_api.parse_playlists(batch)),
                                  _valid(spotify_api.parse_item_pages(batch)))
    tracks = spotify_api.track_objects(batch)
    albums = spotify_api.album_objects(batch)

    by_position = {r["position"]: r[REASON] for r in items.collect()}
    assert by_position[0] is None
    assert by_position[1].startswith("impossible value in field item.artists: [null, {"), by_position[1]
    (track,) = tracks.collect()
    assert track[REASON].startswith("impossible value in field artists: [null, {"), track[REASON]
    assert all(r.endswith(" (expected no null element)") for r in (by_position[1], track[REASON]))
    assert {(r["artist_id"], r[REASON]) for r in albums.collect()} == {
        (None, "impossible value in field artists: [null] (expected no null element)"), (sid("artist9"), None)}


def test_a_malformed_id_or_release_date_of_a_curated_artist_or_album_is_quarantined_not_curated_as_null(spark):
    """An id that is there but malformed (the first artist's, the album's) would be curated as a null id, and a
    release date that is no date as given: the item, the track or the album is quarantined with the value."""
    pl_m = sid("plM")
    bad_artist = {**T2, "artists": [{**T2["artists"][0], "id": "not-an-id"}]}
    bad_album = {**T2, "album": {**T2["album"], "id": "x" * 23}}
    bad_date = {**T2, "album": {**T2["album"], "release_date": "2020-13"}}
    known = {**T2, "album": {**T2["album"], "release_date": "0000"}}  # how the API says "not known"
    entries = [playlist_entry(T1), playlist_entry(bad_artist), playlist_entry(bad_album),
               playlist_entry(bad_date, key="track"), playlist_entry(known)]
    album = {"id": sid("album9"), "name": "Album9", "album_type": "single", "artists": [{"id": sid("artist9")}]}
    batch = read_envelopes(spark, {
        PLAYLISTS_FILE: [envelope(RUN, "spotify", "playlists", {**PLAYLIST_D, "id": pl_m,
                                  "items": {"offset": 0, "total": 5, "items": entries}}, key=pl_m)],
        OBJECTS_FILE: [
            envelope(RUN, "spotify", "tracks", {**bad_date, "album": {**T2["album"], "release_date": "2020-02-30"}},
                     key=T2["id"]),
            envelope(RUN, "spotify", "albums", {**album, "release_date": "yesterday"}, key="date"),
            envelope(RUN, "spotify", "albums", {**album, "release_date": "2026-02", "artists": [{"id": "bad"}]},
                     key="artist"),
            envelope(RUN, "spotify", "albums", {**album, "id": sid("album8"), "release_date": "2026-02"}, key="ok"),
        ],
    })

    items = spotify_api.item_rows(_valid(spotify_api.parse_playlists(batch)),
                                  _valid(spotify_api.parse_item_pages(batch)))
    tracks = spotify_api.track_objects(batch)
    albums = spotify_api.album_objects(batch)

    date = "(expected a date as YYYY, YYYY-MM or YYYY-MM-DD)"
    assert {r["position"]: r[REASON] for r in items.collect()} == {
        0: None,
        1: "impossible value in field item.artists[0].id: not-an-id (expected a Spotify id: 22 letters and digits)",
        2: f"impossible value in field item.album.id: {'x' * 23} (expected a Spotify id: 22 letters and digits)",
        3: f"impossible value in field track.album.release_date: 2020-13 {date}",
        4: None,
    }
    assert [r[REASON] for r in tracks.collect()] == [f"impossible value in field album.release_date: 2020-02-30 {date}"]
    assert {(r["album_id"], r["release_date"], r[REASON]) for r in albums.collect()} == {
        (sid("album9"), "yesterday", f"impossible value in field release_date: yesterday {date}"),
        (sid("album9"), "2026-02",
         "impossible value in field artists[0].id: bad (expected a Spotify id: 22 letters and digits)"),
        (sid("album8"), "2026-02", None),
    }


def _items(spark):
    batch = _batch(spark)
    playlists = _valid(spotify_api.parse_playlists(batch))
    pages = _valid(spotify_api.parse_item_pages(batch))
    return spotify_api.item_rows(playlists, pages), playlists


ITEM_SCHEMA = (
    "playlist_id string, position int, item_type string, track_id string, item_uri string, track_uri string, "
    "added_at timestamp, added_by string, snapshot_id string, track_name string, artist_id string, album_id string, "
    "album_type string, release_date string, duration_ms long, explicit boolean, isrc string, "
    "observed_at timestamp, run_id string, entity string, _reason string, _record string"
)


def _track_item(playlist_id, position, t, snapshot, entity, observed=FETCHED, raw=None, reason=None):
    artist, album = t["artists"][0]["id"], t["album"]["id"]
    return (playlist_id, position, "track", t["id"], t["uri"], t["uri"], ADDED, "user1", snapshot, t["name"], artist,
            album, "album", "2020-01-01", 180000, False, t["external_ids"]["isrc"], observed, RUN, entity, reason,
            compact(raw))


def test_api_item_rows_position_every_item_type_and_copy_the_snapshot_of_the_same_run(spark):
    items, _ = _items(spark)

    assert items.columns == list(item_shape.ITEM_COLUMNS)
    no_playlist = "items page without its playlist in the same run"
    local_uri = LOCAL["uri"]
    expected = spark.createDataFrame(
        [
            _track_item(PL_A, 0, T1, "snapA", "playlists", raw=A_FIRST[0]),
            (PL_A, 1, "episode", None, EPISODE["uri"], None, ADDED, "user1", "snapA", "Episode 1", None, None, None,
             None, 600000, True, None, FETCHED, RUN, "playlists", None, compact(A_FIRST[1])),
            (PL_A, 2, "local", None, local_uri, None, ADDED, None, "snapA", "Local Song", None, None, None, None,
             180000, None, None, FETCHED, RUN, "playlists", None, compact(A_FIRST[2])),
            (PL_A, 3, "unavailable", None, None, None, None, None, "snapA", None, None, None, None, None, None, None,
             None, FETCHED, RUN, "playlists", None, "null"),
            _track_item(PL_A, 4, T2, "snapA", "playlist_items", raw=A_SECOND[0]),
            (PL_A, 5, "unavailable", None, None, None, ADDED, None, "snapA", None, None, None, None, None, None, None,
             None, FETCHED, RUN, "playlist_items", None, compact(A_SECOND[1])),
            _track_item(PL_A, 6, T1, "snapA", "playlist_items", raw=A_SECOND[2]),  # the same track again
            _track_item(PL_B, 0, T3, "snapB", "playlists", observed=FETCHED_B, raw=B_ITEMS[0]),
            _track_item(PL_C, 0, T1, None, "playlist_items", observed=None, raw=PAGE_C["items"][0],
                        reason=no_playlist),
            _track_item(PL_D, 0, T1, "snapD", "playlists", raw=D_ITEMS[0]),
            _track_item(PL_D, 1, T2, "snapD", "playlists", raw=D_ITEMS[1]),
        ],
        ITEM_SCHEMA,
    )
    result = items.select(*expected.columns)
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_with_incomplete_snapshots_flags_every_item_of_a_snapshot_that_did_not_land_whole(spark):
    items, playlists = _items(spark)
    b_twice = items.filter(F.col("playlist_id") == PL_B).withColumn("position", F.lit(1))  # PL_B's total is 1

    flagged = spotify_api.with_incomplete_snapshots(items.unionByName(b_twice), playlists)

    partial = "incomplete playlist snapshot: 2 of 3 items landed"
    too_many = "playlist snapshot with more items than its total: 2 landed, total 1"
    expected = spark.createDataFrame(
        [(PL_A, p, None) for p in range(7)]
        + [(PL_B, 0, too_many), (PL_B, 1, too_many), (PL_C, 0, "items page without its playlist in the same run"),
           (PL_D, 0, partial), (PL_D, 1, partial)],
        "playlist_id string, position int, _reason string",
    )
    assert sorted(flagged.columns) == sorted(items.columns)
    assert_df_equality(flagged.select("playlist_id", "position", REASON), expected, ignore_row_order=True,
                       ignore_nullable=True)


def test_dimension_rows_keep_items_with_ids_and_membership_rows_keep_every_position(spark):
    items, _ = _items(spark)
    playlist_a = items.filter(F.col("playlist_id") == PL_A).cache()

    tracks = item_shape.track_rows(playlist_a).select("track_id", "track_name", "artist_id", "album_id", "duration_ms")
    artists = item_shape.artist_rows(playlist_a)
    albums = item_shape.album_rows(playlist_a).select("album_id", "album_type", "release_date", "artist_id")
    membership = item_shape.membership_rows(playlist_a)

    t1, t2, a1, a2, b1, b2 = sid("track1"), sid("track2"), sid("artist1"), sid("artist2"), sid("album1"), sid("album2")
    assert_df_equality(
        tracks,
        spark.createDataFrame(
            [(t1, "Track1", a1, b1, 180000), (t2, "Track2", a2, b2, 180000), (t1, "Track1", a1, b1, 180000)],
            "track_id string, track_name string, artist_id string, album_id string, duration_ms long",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
    assert_df_equality(
        artists,
        spark.createDataFrame(
            [(a, f"spotify:artist:{a}", n, "spotify", FETCHED, RUN)
             for a, n in [(a1, "Artist1"), (a2, "Artist2"), (a1, "Artist1")]],
            "artist_id string, artist_uri string, artist_name string, source string, observed_at timestamp, "
            "run_id string",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
    assert_df_equality(
        albums,
        spark.createDataFrame([(b1, "album", "2020-01-01", a1), (b2, "album", "2020-01-01", a2),
                               (b1, "album", "2020-01-01", a1)],
                              "album_id string, album_type string, release_date string, artist_id string"),
        ignore_row_order=True, ignore_nullable=True,
    )
    assert membership.columns == ["playlist_id", "position", "item_type", "track_id", "item_uri", "added_at",
                                  "added_by", "snapshot_id", "source", "observed_at", "run_id"]
    assert sorted(r["position"] for r in membership.collect()) == list(range(7))
    playlist_a.unpersist()


def test_api_object_envelopes_become_track_artist_and_album_rows_with_bad_objects_flagged(spark):
    t4, t5, t6 = api_track("track4"), api_track("track5"), api_track("track6")
    by_uri_only = {**api_track("track7"), "id": None}
    batch = read_envelopes(spark, {OBJECTS_FILE: [
        envelope(RUN, "spotify", "tracks", t4, key=t4["id"]),
        envelope(RUN, "spotify", "tracks", by_uri_only, key="by_uri"),
        envelope(RUN, "spotify", "tracks", {"id": "not-an-id", "name": "Bad"}, key="bad"),
        envelope(RUN, "spotify", "tracks", FORBIDDEN, key="forbidden", http_status=403),
        envelope(RUN, "spotify", "saved_tracks", {"items": [{"added_at": "2026-11-01T00:00:00Z", "track": t5},
                                                            {"added_at": "2026-11-02T00:00:00Z", "track": None}]}),
        envelope(RUN, "spotify", "recently_played", {"items": [{"played_at": "2026-11-25T00:00:00Z", "track": t4}]}),
        envelope(RUN, "spotify", "top_tracks", {"items": [t6, t4]}),
        envelope(RUN, "spotify", "artists", {"id": sid("artist9"), "name": "Artist9"}),
        envelope(RUN, "spotify", "top_artists", {"items": [{"id": sid("artist8"), "name": "Artist8"},
                                                           {"id": None, "name": "No id"}, None]}),
        envelope(RUN, "spotify", "albums", {"id": sid("album9"), "name": "Album9", "album_type": "single",
                                            "release_date": "2026", "artists": [{"id": sid("artist9")}]}),
        envelope(RUN, "spotify", "albums", {"id": "short", "name": "Bad album"}),
    ]})

    tracks = spotify_api.track_objects(batch)
    artists = spotify_api.artist_objects(batch)
    albums = spotify_api.album_objects(batch)

    assert tracks.columns == [c for c in item_shape.ITEM_COLUMNS if c not in (
        "playlist_id", "position", "item_type", "item_uri", "added_at", "added_by", "snapshot_id")]
    no_track_id = "track object without a valid id"
    assert_df_equality(
        tracks.select("entity", "track_id", "track_name", "isrc", "observed_at", REASON),
        spark.createDataFrame(
            [("tracks", sid("track4"), "Track4", "ISRCtrack4", FETCHED, None),
             ("tracks", sid("track7"), "Track7", "ISRCtrack7", FETCHED, None),
             ("tracks", None, "Bad", None, FETCHED, no_track_id),
             ("saved_tracks", sid("track5"), "Track5", "ISRCtrack5", FETCHED, None),
             ("saved_tracks", None, None, None, FETCHED, no_track_id),
             ("recently_played", sid("track4"), "Track4", "ISRCtrack4", FETCHED, None),
             ("top_tracks", sid("track6"), "Track6", "ISRCtrack6", FETCHED, None),
             ("top_tracks", sid("track4"), "Track4", "ISRCtrack4", FETCHED, None)],
            "entity string, track_id string, track_name string, isrc string, observed_at timestamp, _reason string",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
    assert_df_equality(
        artists.select("entity", "artist_id", "artist_name", REASON),
        spark.createDataFrame(
            [("artists", sid("artist9"), "Artist9", None), ("top_artists", sid("artist8"), "Artist8", None),
             ("top_artists", None, "No id", "artist object without a valid id"),
             ("top_artists", None, None, "artist object without a valid id")],
            "entity string, artist_id string, artist_name string, _reason string",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
    assert_df_equality(
        albums.select("album_id", "album_name", "album_type", "release_date", "artist_id", REASON),
        spark.createDataFrame(
            [(sid("album9"), "Album9", "single", "2026", sid("artist9"), None),
             (None, "Bad album", None, None, None, "album object without a valid id")],
            "album_id string, album_name string, album_type string, release_date string, artist_id string, "
            "_reason string",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
    for rows in (tracks, artists, albums):
        assert rows.filter(F.col(RECORD).isNull()).count() == 0  # every row can be quarantined with its record
