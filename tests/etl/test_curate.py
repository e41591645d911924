"""curate.plan: a mixed batch on empty tables, newer snapshots replacing older ones, late older data, 403 items."""

from __future__ import annotations

from chispa import assert_df_equality
from landing_builders import (
    ADDED_AT,
    API,
    FETCHED_AT,
    api_track,
    envelope,
    playlist_entry,
    read_envelopes,
    sid,
    source_file,
    ts,
)
from pyspark.sql import types as T

from musiclake import schemas
from musiclake.transforms import curate

MPD_RUN = "mpd-20261101T000000Z-aaaaaaaa"
RUN = "spotify-20261126T100000Z-0123abcd"
OLD_RUN = "spotify-20261120T100000Z-99999999"
MPD_FILE = source_file(MPD_RUN, "mpd", "playlists")
FETCHED = ts(FETCHED_AT[:19])
OLD_FETCHED_AT = "2026-11-20T10:00:00.000000Z"
OLD_FETCHED = ts(OLD_FETCHED_AT[:19])
MODIFIED = ts("2017-07-14T02:40:00")  # MPD modified_at 1500000000
ADDED = ts(ADDED_AT[:19])
PL_A, PL_E, PL_Y, PL_Z = sid("plA"), sid("plE"), sid("plY"), sid("plZ")
BAD_LINE = '{"run_id": "spotify-20261126T100000Z-0123abcd", "source": "spotify", "body": {'
FORBIDDEN = {"error": {"status": 403, "message": "Forbidden"}}
t1, t2, t3, t4, t5 = (sid(f"track{n}") for n in range(1, 6))
a1, a2, b1, b2 = sid("artist1"), sid("artist2"), sid("album1"), sid("album2")
T1, T3, T4, T5 = api_track("track1"), api_track("track3"), api_track("track4"), api_track("track5")
EPISODE = {"id": sid("episode1"), "uri": f"spotify:episode:{sid('episode1')}", "name": "Episode 1", "type": "episode"}

PLAYLIST_TRACKS_OUT = T.StructType([*schemas.PLAYLIST_TRACKS.schema.fields, T.StructField("_delete", T.BooleanType())])


def _mpd_track(track_id: str, name: str, artist: str, album: str) -> dict:
    return {"artist_name": artist.title(), "artist_uri": f"spotify:artist:{sid(artist)}", "track_name": name,
            "track_uri": f"spotify:track:{track_id}", "album_name": album.title(),
            "album_uri": f"spotify:album:{sid(album)}", "duration_ms": 210000}


def _api_playlist(playlist_id: str, snapshot: str, items: list | None, total: int | None = None) -> dict:
    """GET /playlists/{id}: the first page embedded under ``items`` (all of ``items``), or only a reference."""
    page = {"href": f"{API}/playlists/{playlist_id}/items", "total": len(items) if total is None else total}
    if items is not None:
        page.update(offset=0, limit=100, next=None, items=items)
    return {"id": playlist_id, "name": f"Mix {snapshot}", "collaborative": False, "snapshot_id": snapshot,
            "owner": {"id": "user1"}, "items": page}


def _empty(spark, spec):
    return spark.createDataFrame([], spec.schema)


def _current(spark, playlists=(), playlist_tracks=()):
    return {
        "playlists": spark.createDataFrame(list(playlists), schemas.PLAYLISTS.schema),
        "playlist_tracks": spark.createDataFrame(list(playlist_tracks), schemas.PLAYLIST_TRACKS.schema),
        **{spec.name: _empty(spark, spec) for spec in (schemas.TRACKS, schemas.ARTISTS, schemas.ALBUMS)},
    }


def _membership(playlist_id, position, track_id, snapshot, observed, run, delete=None, item_type="track", uri=None):
    row = (playlist_id, position, item_type, track_id, uri or f"spotify:track:{track_id}", ADDED, "user1", snapshot,
           "spotify", observed, run)
    return row if delete is None else (*row, delete)


def _assert_equal(spark, actual, rows, schema):
    """Rows and types as expected; column order is not the plan's contract (``io.conform`` selects on write)."""
    expected = spark.createDataFrame(rows, schema)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True,
                       ignore_metadata=True)


def test_plan_of_a_mixed_batch_against_empty_tables(spark):
    mpd_playlist = {
        "pid": 1, "name": "Road trip", "collaborative": "false", "modified_at": 1500000000, "num_followers": 2,
        "tracks": [
            _mpd_track(t1, "Song 1 (MPD)", "artist1", "album1"),
            _mpd_track(t2, "Song 2", "artist2", "album2"),
            _mpd_track(t1, "Song 1 (MPD)", "artist1", "album1"),  # the same track twice
            {"track_name": "No URI", "duration_ms": 1},
        ],
    }
    batch = read_envelopes(spark, {
        MPD_FILE: [envelope(MPD_RUN, "mpd", "playlists", mpd_playlist, key="1", http_status=None)],
        source_file(RUN): [
            envelope(RUN, "spotify", "playlists", _api_playlist(
                PL_A, "s2", [playlist_entry(T1), playlist_entry(T3, key="track"), playlist_entry(EPISODE)]), key=PL_A),
            BAD_LINE,
            BAD_LINE,  # the same bad line twice is quarantined once, counted twice
        ],
    })

    plan = curate.plan(batch, _current(spark), "jr_1", "2026-11-27")

    _assert_equal(spark, plan.playlists, [
        ("mpd:1", "Road trip", None, None, False, None, 4, 2, MODIFIED, "mpd", MODIFIED, MPD_RUN),
        (PL_A, "Mix s2", None, "user1", False, "s2", 3, None, None, "spotify", FETCHED, RUN),
    ], schemas.PLAYLISTS.schema)
    _assert_equal(spark, plan.playlist_tracks, [
        # the MPD track without a URI (position 3) is quarantined, its neighbours are curated
        *[("mpd:1", p, "track", t, f"spotify:track:{t}", None, None, None, "mpd", MODIFIED, MPD_RUN, False)
          for p, t in enumerate([t1, t2, t1])],
        _membership(PL_A, 0, t1, "s2", FETCHED, RUN, delete=False),
        _membership(PL_A, 1, t3, "s2", FETCHED, RUN, delete=False),
        _membership(PL_A, 2, None, "s2", FETCHED, RUN, delete=False, item_type="episode", uri=EPISODE["uri"]),
    ], PLAYLIST_TRACKS_OUT)
    _assert_equal(spark, plan.tracks, [
        # t1 was seen by both sources: the later observation (the API's) wins
        (t1, f"spotify:track:{t1}", "Track1", a1, "Artist1", b1, "Album1", 180000, False, "ISRCtrack1", "spotify",
         FETCHED, RUN),
        (t2, f"spotify:track:{t2}", "Song 2", a2, "Artist2", b2, "Album2", 210000, None, None, "mpd", MODIFIED,
         MPD_RUN),
        (t3, f"spotify:track:{t3}", "Track3", a1, "Artist1", b1, "Album1", 180000, False, "ISRCtrack3", "spotify",
         FETCHED, RUN),
    ], schemas.TRACKS.schema)
    _assert_equal(spark, plan.quarantine.select("run_id", "source", "entity", "reason", "record", "occurrences"), [
        (RUN, None, None, "malformed JSON line", BAD_LINE, 2),
        (MPD_RUN, "mpd", "playlists", "missing required field track_uri", '{"track_name":"No URI","duration_ms":1}', 1),
    ], "run_id string, source string, entity string, reason string, record string, occurrences long")
    plan.release()


def test_plan_replaces_older_snapshots_and_deletes_the_positions_they_no_longer_have(spark):
    old_positions = [_membership(PL_A, p, t, "s1", OLD_FETCHED, OLD_RUN) for p, t in enumerate([t1, t2, t3, t4, t5])]
    emptied = [_membership(PL_Y, p, t2, "y1", OLD_FETCHED, OLD_RUN) for p in (0, 1)]
    not_in_batch = [_membership(PL_Z, p, t1, "z1", OLD_FETCHED, OLD_RUN) for p in (0, 1)]
    current = _current(
        spark,
        playlists=[(PL_A, "Mix s1", None, "user1", False, "s1", 5, None, None, "spotify", OLD_FETCHED, OLD_RUN),
                   (PL_Y, "Mix y1", None, "user1", False, "y1", 2, None, None, "spotify", OLD_FETCHED, OLD_RUN)],
        playlist_tracks=old_positions + emptied + not_in_batch,
    )
    batch = read_envelopes(spark, {source_file(RUN): [
        envelope(RUN, "spotify", "playlists", _api_playlist(
            PL_A, "s2", [playlist_entry(T1), playlist_entry(T3), playlist_entry(EPISODE)]), key=PL_A),
        envelope(RUN, "spotify", "playlists", _api_playlist(PL_Y, "y2", None, total=0), key=PL_Y),
    ]})

    plan = curate.plan(batch, current, "jr_2", "2026-11-27")

    _assert_equal(spark, plan.playlists, [
        (PL_A, "Mix s2", None, "user1", False, "s2", 3, None, None, "spotify", FETCHED, RUN),
        (PL_Y, "Mix y2", None, "user1", False, "y2", 0, None, None, "spotify", FETCHED, RUN),
    ], schemas.PLAYLISTS.schema)
    _assert_equal(spark, plan.playlist_tracks, [
        _membership(PL_A, 0, t1, "s2", FETCHED, RUN, delete=False),
        _membership(PL_A, 1, t3, "s2", FETCHED, RUN, delete=False),
        _membership(PL_A, 2, None, "s2", FETCHED, RUN, delete=False, item_type="episode", uri=EPISODE["uri"]),
        (*old_positions[3], True),  # positions 3 and 4 are gone from the newer snapshot
        (*old_positions[4], True),
        (*emptied[0], True),  # the playlist now holds nothing
        (*emptied[1], True),
    ], PLAYLIST_TRACKS_OUT)
    plan.release()


def test_plan_ignores_a_late_arriving_older_snapshot(spark):
    current = _current(
        spark,
        playlists=[(PL_A, "Mix s2", None, "user1", False, "s2", 2, None, None, "spotify", FETCHED, RUN)],
        playlist_tracks=[_membership(PL_A, 0, t1, "s2", FETCHED, RUN), _membership(PL_A, 1, t1, "s2", FETCHED, RUN)],
    )
    older = _api_playlist(PL_A, "s1", [playlist_entry(t) for t in (T1, T3, T4, T5, None)])
    batch = read_envelopes(spark, {source_file(OLD_RUN): [
        envelope(OLD_RUN, "spotify", "playlists", older, key=PL_A, fetched_at=OLD_FETCHED_AT),
    ]})

    plan = curate.plan(batch, current, "jr_3", "2026-11-27")

    _assert_equal(spark, plan.playlists, [], schemas.PLAYLISTS.schema)
    _assert_equal(spark, plan.playlist_tracks, [], PLAYLIST_TRACKS_OUT)
    plan.release()


def test_plan_keeps_the_membership_of_a_playlist_whose_items_answered_403(spark):
    current = _current(
        spark,
        playlists=[(PL_E, "Mix e1", None, "user1", False, "e1", 2, None, None, "spotify", OLD_FETCHED, OLD_RUN)],
        playlist_tracks=[_membership(PL_E, 0, t1, "e1", OLD_FETCHED, OLD_RUN),
                         _membership(PL_E, 1, t3, "e1", OLD_FETCHED, OLD_RUN)],
    )
    batch = read_envelopes(spark, {
        source_file(RUN): [
            envelope(RUN, "spotify", "playlists", _api_playlist(PL_E, "e2", None, total=2), key=PL_E),
            envelope(RUN, "spotify", "playlist_items", FORBIDDEN, key=PL_E, http_status=403,
                     request_url=f"{API}/playlists/{PL_E}/items"),
        ],
    })

    plan = curate.plan(batch, current, "jr_4", "2026-11-27")

    # The playlist's metadata is newer, but a snapshot whose items could not be read says nothing about them.
    _assert_equal(spark, plan.playlists, [
        (PL_E, "Mix e2", None, "user1", False, "e2", 2, None, None, "spotify", FETCHED, RUN),
    ], schemas.PLAYLISTS.schema)
    _assert_equal(spark, plan.playlist_tracks, [], PLAYLIST_TRACKS_OUT)
    assert plan.quarantine.count() == 0
    plan.release()


def test_membership_is_shuffled_once_for_its_join_with_the_winners_and_its_dedupe(spark):
    """The items of the winning snapshots are joined on the playlist id and deduplicated per (playlist, position)
    in the same partitioning: no exchange between the join and the dedupe (at 100k playlists that second shuffle
    moved all 5.9 million items again)."""
    tracks = [_mpd_track(t1, "Song 1", "artist1", "album1"), _mpd_track(t2, "Song 2", "artist2", "album2")]
    batch = read_envelopes(spark, {MPD_FILE: [
        envelope(MPD_RUN, "mpd", "playlists", {"pid": pid, "name": "x", "modified_at": 1500000000, "tracks": tracks},
                 key=str(pid), http_status=None) for pid in (1, 2)]})
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")  # as at scale: the winners are not broadcast
    try:
        plan = curate.plan(batch, _current(spark), "jr_1", "2026-11-27")
        lines = plan.playlist_tracks._jdf.queryExecution().executedPlan().toString().splitlines()
    finally:
        spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    dedupe = next(i for i, line in enumerate(lines) if "Window [row_number() windowspecdefinition(playlist_id" in line
                  and ", position" in line.split("windowspecdefinition(")[1][:40])
    join = next(i for i in range(dedupe, len(lines)) if "Join" in lines[i])
    assert "Join [playlist_id#" in lines[join].replace("SortMergeJoin", "Join"), lines[join]
    assert not [line for line in lines[dedupe:join] if "Exchange" in line], "\n".join(lines[dedupe:join + 1])
    assert plan.playlist_tracks.count() == 4
    plan.release()


def test_a_batch_keeps_its_items_when_they_fit_a_quarter_of_the_storage_memory(spark):
    from musiclake import runtime

    per_byte = curate.KEPT_BYTES_PER_LANDED_BYTE
    assert curate.keeps_items(1000, 4 * 1000 * per_byte)
    assert not curate.keeps_items(1001, 4 * 1000 * per_byte)
    assert not curate.keeps_items(1, 0)
    storage = runtime.storage_memory(spark)  # the test session's 2 GB driver: its storage memory, ~1 GB
    assert 100 * 2**20 < storage < 2 * 2**30
