"""raw_to_curated end to end on wrong-typed and impossible values: quarantined with a reason naming the field and
value (the whole playlist for a playlist-level field, the one item for an item-level field), never curated as
NULL; a correction landed later wins; the job's Spark jobs stay within the plan of actions (docs/etl.md)."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from landing_builders import api_track, playlist_entry, sid

from glue_jobs.v1 import raw_to_curated
from musiclake import landing, schemas, storage
from musiclake.jobs import raw_to_curated as curate_job
from musiclake.lake import Lake
from musiclake.transforms import curate

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
INGEST_DATE = "2026-11-26"
MODIFIED_AT = 1764151200  # 2025-11-26T10:00:00Z, before the runs


def _mpd_track(i: int, **fields: Any) -> dict[str, Any]:
    return {"pos": i, "track_uri": f"spotify:track:{sid(f'st{i}')}", "track_name": f"Song {i}",
            "artist_uri": f"spotify:artist:{sid('sa')}", "artist_name": "Artist",
            "album_uri": f"spotify:album:{sid('sb')}", "album_name": "Album", "duration_ms": 200000 + i, **fields}


def _mpd_playlist(pid: int, tracks: list[Any], **fields: Any) -> dict[str, Any]:
    return {"pid": pid, "name": f"Playlist {pid}", "collaborative": "false", "modified_at": MODIFIED_AT,
            "num_tracks": len(tracks), "num_followers": 1, "tracks": tracks, **fields}


def _api_playlist(name: str, entries: list[Any], **fields: Any) -> dict[str, Any]:
    return {"id": sid(name), "name": name, "snapshot_id": f"snap-{name}", "owner": {"id": "owner1"},
            "followers": {"total": 2}, "collaborative": False,
            "items": {"items": entries, "offset": 0, "total": len(entries), "limit": 100, "next": None}, **fields}


def _land(raw: str, source: str, bodies: list[dict[str, Any]], started: datetime) -> str:
    """One complete landing run of ``source`` holding ``bodies`` as ``playlists`` envelopes."""
    run_id = landing.new_run_id(source, started)
    return _land_lines(raw, source, run_id, [_envelope_line(run_id, source, b) for b in bodies], started)


def _envelope_line(run_id: str, source: str, body: Any, http_status: int | None = None) -> str:
    key = str(body.get("pid", body.get("id"))) if isinstance(body, dict) else None
    return json.dumps(landing.envelope(
        run_id=run_id, source=source, entity="playlists", key=key,
        request_url="file:///mpd.slice.json" if source == "mpd" else f"https://api.spotify.com/v1/playlists/{key}",
        http_status=http_status or (None if source == "mpd" else 200), body=body))


def _land_lines(raw: str, source: str, run_id: str, lines: list[str], started: datetime) -> str:
    """One complete landing run ``run_id`` whose one ``playlists`` file holds ``lines`` as they are."""
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    uri = storage.join(landing.run_folder(raw, source, "playlists", INGEST_DATE, run_id), landing.part_name(0))
    storage.put_bytes(uri, data)
    stamp = landing.iso_utc(started)
    files = [landing.ManifestFile(path=uri[len(raw) + 1:], entity="playlists", records=len(lines), bytes=len(data),
                                  sha256=landing.sha256(data))]
    landing.write_manifest(raw, landing.Manifest(run_id=run_id, source=source, status=landing.STATUS_COMPLETE,
                                                 started_at=stamp, finished_at=stamp, ingest_date=INGEST_DATE,
                                                 files=files))
    return run_id


def _curate(raw: str, lake: str, job_name: str = "raw_to_curated") -> None:
    raw_to_curated.main(["raw_to_curated.py", "--JOB_NAME", job_name, "--raw_path", raw, "--lake_path", lake,
                         "--database", f"strict_{uuid.uuid4().hex[:8]}", "--max_bad_fraction", "0.5"])


def _rows(spark, spec, lake: str) -> list:
    return Lake(spark, lake, "unused").load(spec).collect()


def test_wrong_typed_fields_of_both_sources_are_quarantined_by_field_and_never_curated_as_null(spark, tmp_path):
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _land(raw, "mpd", [
        _mpd_playlist(1, [_mpd_track(0), _mpd_track(1)]),
        _mpd_playlist(2, [_mpd_track(2)], modified_at="yesterday"),  # playlist-level: the whole playlist
        _mpd_playlist(3, [_mpd_track(3), _mpd_track(4, duration_ms="abc"), _mpd_track(5)]),  # one item
    ], T0)
    bad_duration = {**api_track("apibad"), "duration_ms": "abc"}
    _land(raw, "spotify", [
        _api_playlist("apiok", [playlist_entry(api_track("apione"))]),
        _api_playlist("apifollow", [playlist_entry(api_track("apitwo"))], followers={"total": "many"}),
        _api_playlist("apiitems", [playlist_entry(api_track("apithree")), playlist_entry(bad_duration),
                                   {**playlist_entry(api_track("apifour")), "added_at": "yesterday"},
                                   {**playlist_entry(api_track("apifive")), "added_at": "2999-01-01T00:00:00Z"}]),
    ], T0 + timedelta(seconds=1))

    _curate(raw, lake)

    playlists = {r["playlist_id"] for r in _rows(spark, schemas.PLAYLISTS, lake)}
    assert playlists == {"mpd:1", "mpd:3", sid("apiok"), sid("apiitems")}
    membership = {(r["playlist_id"], r["position"]) for r in _rows(spark, schemas.PLAYLIST_TRACKS, lake)}
    assert {p for p in membership if p[0] in ("mpd:3", sid("apiitems"))} == {
        ("mpd:3", 0), ("mpd:3", 2), (sid("apiitems"), 0)}
    tracks = {r["track_id"]: r for r in _rows(spark, schemas.TRACKS, lake)}
    assert sid("st4") not in tracks and sid("apibad") not in tracks  # the bad items' tracks were not curated
    assert all(r["duration_ms"] is not None for r in tracks.values())
    reasons = sorted(r["reason"] for r in _rows(spark, schemas.QUARANTINE, lake))
    assert reasons == sorted([
        "wrong type for field modified_at: yesterday is not an integer",
        "wrong type for field duration_ms: abc is not an integer",
        "wrong type for field followers.total: many is not an integer",
        "wrong type for field item.duration_ms: abc is not an integer",
        "impossible value in field added_at: yesterday (expected an ISO-8601 timestamp)",
        "impossible value in field added_at: 2999-01-01T00:00:00Z (after it was fetched)",
    ])
    records = {r["reason"].split(":")[0]: json.loads(r["record"]) for r in _rows(spark, schemas.QUARANTINE, lake)}
    assert records["wrong type for field modified_at"]["pid"] == 2  # the whole playlist, as landed


def test_a_line_of_another_run_is_quarantined_and_error_answers_and_single_quotes_are_not_curated(spark, tmp_path):
    """A line claiming a later run than its file's (it would win every dedupe) is quarantined and counted under its
    file's run, so the manifest check still holds; a line in single quotes (not JSON, though Spark's reader takes it
    by default) is malformed; an error answer is neither curated nor quarantined but reported in the job run."""
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    run_id = landing.new_run_id("mpd", T0)
    later_run = landing.new_run_id("mpd", T0 + timedelta(days=365))
    single_quoted = _envelope_line(run_id, "mpd", _mpd_playlist(3, [_mpd_track(3)])).replace('"', "'")
    _land_lines(raw, "mpd", run_id, [
        _envelope_line(run_id, "mpd", _mpd_playlist(1, [_mpd_track(1)])),
        _envelope_line(later_run, "mpd", _mpd_playlist(2, [_mpd_track(2)])),
        single_quoted,
        _envelope_line(run_id, "mpd", {"error": {"status": 404, "message": "Not found"}}, http_status=404),
    ], T0)

    _curate(raw, lake)

    assert {r["playlist_id"] for r in _rows(spark, schemas.PLAYLISTS, lake)} == {"mpd:1"}
    quarantined = {(r["reason"], r["run_id"]) for r in _rows(spark, schemas.QUARANTINE, lake)}
    assert quarantined == {(f"envelope of run {later_run} in a file of run {run_id}", run_id),
                           ("malformed JSON line", run_id)}
    [job_run] = _rows(spark, schemas.JOB_RUNS, lake)
    assert (job_run["status"], job_run["records_quarantined"]) == ("succeeded", 2)
    assert "error answers, not curated: {'playlists 404': 1}" in job_run["message"]


def test_a_correction_landed_after_a_bad_record_wins(spark, tmp_path):
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _land(raw, "mpd", [_mpd_playlist(7, [_mpd_track(0), _mpd_track(1, duration_ms=-5), _mpd_track(2)])], T0)
    _curate(raw, lake)
    positions = sorted(r["position"] for r in _rows(spark, schemas.PLAYLIST_TRACKS, lake))
    assert positions == [0, 2]
    [bad] = _rows(spark, schemas.QUARANTINE, lake)
    assert bad["reason"] == "impossible value in field duration_ms: -5 (expected at least 0)"

    # The same snapshot (same modified_at) landed again, corrected, by a later run: the later landing wins.
    _land(raw, "mpd", [_mpd_playlist(7, [_mpd_track(0), _mpd_track(1), _mpd_track(2)])], T0 + timedelta(hours=1))
    _curate(raw, lake)

    rows = {r["position"]: r for r in _rows(spark, schemas.PLAYLIST_TRACKS, lake)}
    assert sorted(rows) == [0, 1, 2]
    assert {r["run_id"] for r in rows.values()} == {landing.complete_runs(raw)[-1].run_id}
    durations = {r["track_id"]: r["duration_ms"] for r in _rows(spark, schemas.TRACKS, lake)}
    assert durations[sid("st1")] == 200001


def test_raw_to_curated_runs_the_planned_number_of_spark_jobs(spark, tmp_path, monkeypatch):
    """The plan of actions (docs/etl.md): the dimension observations, (in a small batch) the MPD items and the
    membership are set to be kept (a query each, which runs the shuffles under them; an MPD batch keeps no API
    items), one small query finds whether an MPD observation repeats, the batch is counted in one query, every
    check in one query; the rest is Delta's own work per MERGE. A new action (a count, a check of its own) fails
    this test. A batch too big to keep its items (here: as if each landed byte took a GB) plans one query less
    and curates the same tables."""
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _land(raw, "mpd", [_mpd_playlist(p, [_mpd_track(p), _mpd_track(p + 100, duration_ms=-1)]) for p in range(5)], T0)

    def run(lake: str) -> Any:
        return curate_job.run(spark, curate_job.RawToCuratedOptions(
            job_name="raw_to_curated", raw_path=raw, lake_path=lake, database=f"strict_{uuid.uuid4().hex[:8]}",
            max_bad_fraction=0.9))

    job = run(lake)
    monkeypatch.setattr(curate, "KEPT_BYTES_PER_LANDED_BYTE", 2**30)
    big = run(str(tmp_path / "lake-big"))

    queries = {stage: job.spark_work[stage].queries for stage in ("plan", "count", "check")}
    assert queries == {"plan": 5, "count": 1, "check": 1}
    assert {stage: big.spark_work[stage].queries for stage in ("plan", "count", "check")} == {
        "plan": 4, "count": 1, "check": 1}
    for spec in (schemas.PLAYLIST_TRACKS, schemas.TRACKS, schemas.ARTISTS, schemas.ALBUMS, schemas.PLAYLISTS):
        rows, big_rows = (sorted(map(repr, _rows(spark, spec, path))) for path in (lake, str(tmp_path / "lake-big")))
        assert rows == big_rows and rows, spec.name
    runs = _rows(spark, schemas.JOB_RUNS, lake)
    assert [(r["status"], r["records_quarantined"]) for r in runs] == [("succeeded", 5)]
