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

from musiclake import runtime, schemas
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


def test_mpd_artists_and_albums_come_from_their_uris_once_each_and_a_malformed_uri_quarantines_its_track(spark):
    odd = {**_mpd_track(t3, "Song 3", "artist1", "album1"), "artist_uri": "spotify:artist:not-an-id"}
    local_album = {**_mpd_track(t4, "Song 4", "artist1", "album1"), "album_uri": "spotify:local:Artist:Album:Song:200"}
    mpd_playlist = {"pid": 2, "name": "Mix", "modified_at": 1500000000, "tracks": [
        _mpd_track(t1, "Song 1", "artist1", "album1"), _mpd_track(t2, "Song 2", "artist1", "album2"), odd,
        _mpd_track(t1, "Song 1", "artist1", "album1"), local_album]}
    batch = read_envelopes(spark, {MPD_FILE: [envelope(MPD_RUN, "mpd", "playlists", mpd_playlist, key="2",
                                                       http_status=None)]})

    plan = curate.plan(batch, _current(spark), "jr_1", "2026-11-27")

    _assert_equal(spark, plan.artists.select("artist_id", "artist_uri", "artist_name", "observed_at"), [
        (a1, f"spotify:artist:{a1}", "Artist1", MODIFIED),
    ], "artist_id string, artist_uri string, artist_name string, observed_at timestamp")
    _assert_equal(spark, plan.albums.select("album_id", "album_uri", "artist_id"), [
        (b1, f"spotify:album:{b1}", a1), (b2, f"spotify:album:{b2}", a1),
    ], "album_id string, album_uri string, artist_id string")
    _assert_equal(spark, plan.tracks.select("track_id", "artist_id", "album_id"), [
        (t1, a1, b1), (t2, a1, b2),  # not (t3, null, b1): a URI that is there but malformed is no missing artist
    ], "track_id string, artist_id string, album_id string")
    _assert_equal(spark, plan.quarantine.select("reason", "occurrences"), [
        ("impossible value in field album_uri: spotify:local:Artist:Album:Song:200 (expected a spotify:album URI)", 1),
        ("impossible value in field artist_uri: spotify:artist:not-an-id (expected a spotify:artist URI)", 1),
    ], "reason string, occurrences long")
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


def _position_dedupe(line: str) -> bool:
    """An executed-plan line of a window per (playlist, position): the membership's dedupe."""
    return "Window [" in line and ", position" in line.split("windowspecdefinition(")[1][:40]


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
        current = _current(spark)
        parsed = curate.parse_sources(batch)
        items = curate.item_rows(parsed)
        playlists = curate.playlist_updates(parsed, items, current["playlists"])
        membership = curate.winning_membership(items, playlists)
        lines = membership._jdf.queryExecution().executedPlan().toString().splitlines()
    finally:
        spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    dedupe = next(i for i, line in enumerate(lines) if "Window [row_number() windowspecdefinition(playlist_id" in line
                  and ", position" in line.split("windowspecdefinition(")[1][:40])
    join = next(i for i in range(dedupe, len(lines)) if "Join" in lines[i])
    assert "Join [playlist_id#" in lines[join].replace("SortMergeJoin", "Join"), lines[join]
    assert not [line for line in lines[dedupe:join] if "Exchange" in line], "\n".join(lines[dedupe:join + 1])
    assert membership.count() == 4
    runtime.release(parsed.envelopes)


def test_the_deletes_are_checked_against_the_kept_membership_not_a_second_dedupe(spark):
    """``playlist_tracks`` is the kept membership plus the stored rows a newer snapshot no longer has; finding
    those reads the kept rows, so no plan behind ``playlist_tracks`` explodes, joins or sorts the items again (it
    did, once more than the membership itself: at 100k playlists 24 s of task time, first load or not)."""
    old = [_mpd_track(t, f"Song {t}", "artist1", "album1") for t in (t1, t2, t3)]
    new = [_mpd_track(t1, "Song 1", "artist1", "album1")]
    current = _current(spark)
    stored = read_envelopes(spark, {MPD_FILE: [
        envelope(MPD_RUN, "mpd", "playlists", {"pid": 1, "name": "x", "modified_at": 1500000000, "tracks": old},
                 key="1", http_status=None)]})
    first = curate.plan(stored, current, "jr_1", "2026-11-27")
    current["playlist_tracks"] = first.playlist_tracks.drop(curate.DELETE_FLAG).localCheckpoint()
    current["playlists"] = first.playlists.localCheckpoint()
    first.release()
    later_run = "mpd-20261102T000000Z-bbbbbbbb"
    batch = read_envelopes(spark, {source_file(later_run, "mpd", "playlists"): [
        envelope(later_run, "mpd", "playlists", {"pid": 1, "name": "x", "modified_at": 1600000000, "tracks": new},
                 key="1", http_status=None)]})

    plan = curate.plan(batch, current, "jr_2", "2026-11-28")

    executed = plan.playlist_tracks._jdf.queryExecution().executedPlan().toString()
    assert "Generate" not in executed and not [line for line in executed.splitlines() if _position_dedupe(line)], \
        executed
    assert sorted((r["position"], r["track_id"], r[curate.DELETE_FLAG]) for r in plan.playlist_tracks.collect()) \
        == [(0, t1, False), (1, t2, True), (2, t3, True)]
    plan.release()


def test_a_batch_keeps_its_items_when_they_fit_a_quarter_of_the_storage_memory(spark):
    from musiclake import runtime

    per_byte = curate.KEPT_BYTES_PER_LANDED_BYTE
    assert curate.keeps_items(1000, 4 * 1000 * per_byte)
    assert not curate.keeps_items(1001, 4 * 1000 * per_byte)
    assert not curate.keeps_items(1, 0)
    storage = runtime.storage_memory(spark)  # the test session's 2 GB driver: its storage memory, ~1 GB
    assert 100 * 2**20 < storage < 2 * 2**30


def _subtrees(plan: str, marker) -> list[str]:
    """The subtrees (as text) of the executed plan's nodes whose line satisfies ``marker``."""
    lines = plan.splitlines()
    found = []
    for i, line in enumerate(lines):
        if marker(line):
            depth = len(line) - len(line.lstrip(" :+-"))
            end = next((j for j in range(i + 1, len(lines)) if len(lines[j]) - len(lines[j].lstrip(" :+-")) <= depth),
                       len(lines))
            found.append("\n".join(lines[i:end]))
    return found


def test_an_mpd_batch_whose_observations_are_landed_once_explodes_its_items_under_no_dedupe(spark):
    """Each MPD observation exploded with its index holds each position once: the window per (playlist, position)
    only reads the API's rows (which may repeat: pages land twice), not the MPD items (at 100k playlists it sorted
    all 5.9 million)."""
    tracks = [_mpd_track(t1, "Song 1", "artist1", "album1"), _mpd_track(t2, "Song 2", "artist2", "album2")]
    batch = read_envelopes(spark, {MPD_FILE: [
        envelope(MPD_RUN, "mpd", "playlists", {"pid": pid, "name": "x", "modified_at": 1500000000, "tracks": tracks},
                 key=str(pid), http_status=None) for pid in (1, 2)]})

    plan = curate.plan(batch, _current(spark), "jr_1", "2026-11-27")

    parsed = curate.parse_sources(batch)
    assert not curate.mpd_observations_repeat(parsed)
    items = curate.item_rows(parsed, keep=False)  # as in a big batch: the plan explodes them
    playlists = curate.playlist_updates(parsed, items, _current(spark)["playlists"])
    executed = curate.winning_membership(items, playlists, mpd_repeats=False)._jdf.queryExecution() \
        .executedPlan().toString()
    assert "Generate" in executed  # the MPD items are exploded here...
    assert not [tree for tree in _subtrees(executed, _position_dedupe) if "Generate" in tree], executed  # ...not sorted
    assert sorted((r["playlist_id"], r["position"], r["track_id"]) for r in plan.playlist_tracks.collect()) == [
        ("mpd:1", 0, t1), ("mpd:1", 1, t2), ("mpd:2", 0, t1), ("mpd:2", 1, t2)]
    plan.release()
    runtime.release(parsed.envelopes)


def test_an_mpd_playlist_landed_twice_in_a_run_at_the_same_time_is_still_one_row_per_position(spark):
    """The same pid twice in one run with the same ``modified_at`` (two envelopes of one observation, their tracks
    different): the batch is planned with the dedupe, which keeps one row per position, chosen by value (the same
    choice however Spark partitions the rows)."""
    first = [_mpd_track(t1, "Song 1", "artist1", "album1"), _mpd_track(t2, "Song 2", "artist2", "album2")]
    second = [_mpd_track(t3, "Song 3", "artist1", "album1")]
    batch = read_envelopes(spark, {MPD_FILE: [
        envelope(MPD_RUN, "mpd", "playlists", {"pid": 7, "name": "x", "modified_at": 1500000000, "tracks": tracks},
                 key="7", http_status=None) for tracks in (first, second)]})

    assert curate.mpd_observations_repeat(curate.parse_sources(batch))
    plan = curate.plan(batch, _current(spark), "jr_1", "2026-11-27")

    rows = sorted((r["position"], r["track_id"]) for r in plan.playlist_tracks.collect())
    assert rows == [(0, min(t1, t3)), (1, t2)]
    plan.release()


def test_after_the_count_nothing_reads_the_kept_stage(spark):
    """The job drops the kept stage after the count (its memory goes to the membership the check keeps): every
    output of a batch of both sources, with API artist and album objects, an emptied playlist and stored rows to
    delete, is the same computed after the stage is gone as in a plan that keeps it (a read of it would fail:
    a kept frame cannot be computed again)."""
    current = _current(
        spark,
        playlists=[(PL_A, "Mix s1", None, "user1", False, "s1", 3, None, None, "spotify", OLD_FETCHED, OLD_RUN),
                   (PL_Y, "Mix y1", None, "user1", False, "y1", 1, None, None, "spotify", OLD_FETCHED, OLD_RUN)],
        playlist_tracks=[_membership(PL_A, p, t, "s1", OLD_FETCHED, OLD_RUN) for p, t in enumerate([t1, t2, t3])]
        + [_membership(PL_Y, 0, t2, "y1", OLD_FETCHED, OLD_RUN)],
    )
    tracks = [_mpd_track(t1, "Song 1", "artist1", "album1"), {"track_uri": "spotify:track:nope"}]
    batch = read_envelopes(spark, {
        MPD_FILE: [envelope(MPD_RUN, "mpd", "playlists", {"pid": 7, "name": "x", "modified_at": 1500000000,
                                                            "tracks": tracks}, key="7", http_status=None)],
        source_file(RUN): [
            envelope(RUN, "spotify", "playlists", _api_playlist(PL_A, "s2", [playlist_entry(T1), playlist_entry(T4)]),
                     key=PL_A),
            envelope(RUN, "spotify", "playlists", _api_playlist(PL_Y, "y2", None, total=0), key=PL_Y),
            envelope(RUN, "spotify", "artists", {"id": sid("artist9"), "name": "Artist9"}),
            envelope(RUN, "spotify", "albums", {"id": sid("album9"), "name": "Album9", "album_type": "single",
                                                "release_date": "2026", "artists": [{"id": sid("artist9")}]}),
            BAD_LINE,
        ],
    })
    outputs = ("playlists", "playlist_tracks", "tracks", "artists", "albums", "quarantine")

    def rows(plan: curate.CuratedPlan) -> dict[str, list]:
        return {name: sorted(map(repr, getattr(plan, name).drop("job_run_id").collect())) for name in outputs}

    kept_stage = curate.plan(batch, current, "jr_k", "2026-11-27", keep_items=False)
    expected = rows(kept_stage)
    kept_stage.release()
    plan = curate.plan(batch, current, "jr_k", "2026-11-27", keep_items=False)
    counts = plan.count()
    stage_rdd = plan.envelopes._jdf.queryExecution().analyzed().rdd().id()
    plan.release_stage()

    assert stage_rdd not in set(spark.sparkContext._jsc.getPersistentRDDs().keySet())
    assert rows(plan) == expected
    assert counts.quarantined == 2 and len(expected["quarantine"]) == 2  # the bad line, the MPD item's bad URI
    assert len(expected["playlist_tracks"]) == 5  # two API positions and one MPD, two stored rows deleted
    plan.release()
