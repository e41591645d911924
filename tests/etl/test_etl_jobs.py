"""raw landing zone (made by the extractor, both sources) -> raw_to_curated -> build_interactions.

The jobs run in-process through their entry scripts' ``main(argv)`` (the same code Glue runs), sharing the test
session's SparkSession; the landing zone is written by the real extractor against the local Spotify API server.

Tests are independent of each other and of their order: ``pipeline_lake`` is built once per module and only read;
a test that writes gets ``pipeline_copy`` (the landing zone and the lake copied into its own folder, a catalog
database of its own) or builds a small lake of its own; a test that changes the API world starts its own server.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from landing_builders import sid
from pyspark.sql import functions as F

from glue_jobs.v1 import build_interactions, raw_to_curated
from musiclake import landing, schemas, storage
from musiclake.bookkeeping import BadInputError, LandingMismatchError
from musiclake.jobs import build_interactions as interactions_job
from musiclake.jobs import raw_to_curated as curate_job
from musiclake.lake import CatalogConflictError, Lake
from musiclake.transforms.quality import DataQualityError
from musiclake_extract.api_extract import ApiOptions, run_api
from musiclake_extract.client import Credentials
from musiclake_extract.mpd_import import MpdOptions, run_mpd
from musiclake_sim.catalog import generate_catalog, mpd_playlist, write_mpd_slices
from musiclake_sim.fake_server import FakeSpotify, SpotifyWorld

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

API_WORLD = {"user_playlists": 4, "followed_playlists": 2, "long_playlist_length": 230}
INGEST_DATE = "2026-11-26"


@dataclass(frozen=True)
class EtlLake:
    """A landing zone, the lake curated from it and the catalog database its tables are registered in."""

    raw: str
    lake: str
    database: str


def _new_database() -> str:
    """A catalog database of its own (the session's Hive metastore is shared by every test)."""
    return f"etl_{uuid.uuid4().hex[:8]}"


def _curate(raw: str, lake: str, db: str, *extra: str) -> None:
    raw_to_curated.main(["raw_to_curated.py", "--JOB_NAME", "raw_to_curated", "--raw_path", raw,
                         "--lake_path", lake, "--database", db, *extra])


def _interactions(lake: str, db: str) -> None:
    build_interactions.main(["build_interactions.py", "--JOB_NAME", "build_interactions", "--lake_path", lake,
                             "--database", db])


def _api_server(catalog) -> FakeSpotify:
    """The module's fake Spotify API: the same catalog and options give the same world on every instance."""
    return FakeSpotify(catalog=catalog, **API_WORLD)


def _extract_api(api: FakeSpotify, raw: str) -> None:
    env = api.credentials()
    result = run_api(
        ApiOptions(landing=raw, me=True, api_base_url=api.api_base_url, token_url=api.token_url, backoff=0.01),
        Credentials(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"]),
    )
    assert result.status == "complete", result.message


def _table(spark, spec, lake):
    return Lake(spark, lake, "unused").load(spec)


def _latest_job_run(spark, lake: str):
    return _table(spark, schemas.JOB_RUNS, lake).orderBy(F.col("finished_at").desc()).first()


def _nothing_cached(spark) -> bool:
    """No DataFrame is persisted in the session (a job must release what it cached, whether it fails or not)."""
    return spark._jsparkSession.sharedState().cacheManager().isEmpty()


@pytest.fixture(scope="module")
def catalog():
    return generate_catalog(5, 120, 600)


@pytest.fixture(scope="module")
def api_world(catalog) -> SpotifyWorld:
    """What the module's API server serves (read only: a test that changes it starts a server of its own)."""
    return SpotifyWorld(catalog, **API_WORLD)


@pytest.fixture(scope="module")
def pipeline_lake(spark, catalog, tmp_path_factory) -> EtlLake:
    """A landing zone with one API run and one MPD run, curated once, interactions built. Read only."""
    root = tmp_path_factory.mktemp("etl")
    built = EtlLake(str(root / "landing"), str(root / "lake"), _new_database())
    write_mpd_slices(catalog, root / "mpd", playlists_per_slice=60)
    with _api_server(catalog) as api:
        _extract_api(api, built.raw)
    assert run_mpd(MpdOptions(source=str(root / "mpd"), landing=built.raw)).status == "complete"
    _curate(built.raw, built.lake, built.database)
    _interactions(built.lake, built.database)
    return built


@pytest.fixture()
def pipeline_copy(pipeline_lake: EtlLake, tmp_path: Path) -> EtlLake:
    """The module's landing zone and lake copied for one test that writes, with a catalog database of its own.

    Delta logs name their data files by relative paths, so a copied table is a complete table at its new place.
    """
    raw, lake = tmp_path / "landing", tmp_path / "lake"
    shutil.copytree(pipeline_lake.raw, raw)
    shutil.copytree(pipeline_lake.lake, lake)
    return EtlLake(str(raw), str(lake), _new_database())


def test_both_sources_are_curated(spark, pipeline_lake, catalog, api_world):
    raw, lake = pipeline_lake.raw, pipeline_lake.lake
    playlists = _table(spark, schemas.PLAYLISTS, lake)
    by_source = {r["source"]: r["count"] for r in playlists.groupBy("source").count().collect()}
    assert by_source["mpd"] == len(catalog.playlists)
    owned = [p for p in api_world.playlists.values() if p.owner == "musiclake-demo"]
    assert by_source["spotify"] >= len(owned)

    members = _table(spark, schemas.PLAYLIST_TRACKS, lake)
    mpd_rows = members.filter(F.col("source") == "mpd").count()
    assert mpd_rows == sum(len(p["tracks"]) for p in catalog.playlists)
    # the long playlist: several pages of 50, all positions present exactly once
    long_id = max(owned, key=lambda p: len(p.entries)).id
    positions = [r["position"] for r in members.filter(F.col("playlist_id") == long_id).collect()]
    assert sorted(positions) == list(range(230))
    kinds = {r["item_type"] for r in members.filter(F.col("source") == "spotify").select("item_type").collect()}
    assert {"track", "local", "episode", "unavailable"} <= kinds
    local = members.filter(F.col("item_type") == "local").first()
    assert local["track_id"] is None and local["item_uri"].startswith("spotify:local:")

    tracks = _table(spark, schemas.TRACKS, lake)
    assert tracks.count() == tracks.select("track_id").distinct().count()
    orphans = members.filter(F.col("track_id").isNotNull()).join(tracks, "track_id", "left_anti").count()
    assert orphans == 0
    assert _table(spark, schemas.QUARANTINE, lake).count() == 0
    run = _table(spark, schemas.JOB_RUNS, lake).filter(F.col("job_name") == "raw_to_curated").first()
    assert run["message"].startswith("not modelled, kept in the landing zone: {")
    assert "'me_playlists': 1" in run["message"]
    processed = {r["run_id"] for r in _table(spark, schemas.PROCESSED_RUNS, lake).collect()}
    assert processed == {m.run_id for m in landing.complete_runs(raw)}


def test_tables_are_in_the_catalog_with_comments(spark, pipeline_lake):
    db = pipeline_lake.database
    names = {r["tableName"] for r in spark.sql(f"SHOW TABLES IN {db}").collect()}
    assert {"playlists", "playlist_tracks", "tracks", "artists", "albums", "interactions", "playlist_ids",
            "track_ids", "quarantine", "job_runs", "processed_runs"} <= names
    comments = {r["col_name"]: r["comment"] for r in spark.sql(f"DESCRIBE TABLE {db}.playlist_tracks").collect()}
    assert comments["position"] == "0-based position in the playlist"
    assert spark.sql(f"DESCRIBE DETAIL {db}.playlist_tracks").first()["partitionColumns"] == ["source"]


def test_interactions_have_stable_dense_ids(spark, pipeline_lake):
    lake = pipeline_lake.lake
    interactions = _table(spark, schemas.INTERACTIONS, lake)
    members = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("item_type") == "track")
    expected = members.groupBy("playlist_id", "track_id").agg(F.count(F.lit(1)).cast("double").alias("weight"))
    assert_df_equality(interactions.select("playlist_id", "track_id", "weight"), expected, ignore_row_order=True,
                       ignore_nullable=True, ignore_metadata=True)
    track_ids = _table(spark, schemas.TRACK_IDS, lake)
    n = track_ids.count()
    assert sorted(r["track_idx"] for r in track_ids.collect()) == list(range(n))


def test_rerun_changes_nothing_and_reprocess_is_idempotent(spark, pipeline_copy):
    raw, lake, db = pipeline_copy.raw, pipeline_copy.lake, pipeline_copy.database
    tables = (schemas.PLAYLISTS, schemas.PLAYLIST_TRACKS, schemas.TRACKS, schemas.INTERACTIONS)
    before = {t.name: (Lake(spark, lake, db).version(t), _table(spark, t, lake).collect()) for t in tables}
    _curate(raw, lake, db)
    _interactions(lake, db)
    runs = _table(spark, schemas.JOB_RUNS, lake).orderBy(F.col("finished_at").desc()).limit(2).collect()
    assert [r["status"] for r in runs] == ["skipped", "skipped"]
    _curate(raw, lake, db, "--reprocess", "true")
    for t in tables:
        version, rows = before[t.name]
        assert sorted(_table(spark, t, lake).collect()) == sorted(rows), t.name
        if t is not schemas.INTERACTIONS:
            history = spark.sql(f"DESCRIBE HISTORY delta.`{Lake(spark, lake, db).location(t)}`").collect()
            changed = [h for h in history if h["version"] > version and h["operation"] == "MERGE"
                       and sum(int(h["operationMetrics"].get(k, 0)) for k in
                               ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted"))]
            assert changed == [], t.name


def test_newer_snapshot_replaces_membership(spark, pipeline_copy, catalog):
    raw, lake, db = pipeline_copy.raw, pipeline_copy.lake, pipeline_copy.database
    with _api_server(catalog) as api:  # a world of its own: this test edits a playlist
        playlist_id = next(p.id for p in api.world.playlists.values() if p.owner == "musiclake-demo")
        before = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == playlist_id).count()
        snapshot = api.modify_playlist(playlist_id)
        _extract_api(api, raw)
    _curate(raw, lake, db)
    rows = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == playlist_id).collect()
    assert len(rows) == before + 1
    assert {r["snapshot_id"] for r in rows} == {snapshot}
    stored = _table(spark, schemas.PLAYLISTS, lake).filter(F.col("playlist_id") == playlist_id).first()
    assert stored["snapshot_id"] == snapshot and stored["num_tracks"] == before + 1


# --- landing runs written by hand, with the landing contract's helpers ---------------------------------------------
def _mpd_lines(run_id: str, playlists: Sequence[dict[str, Any]]) -> list[str]:
    """MPD playlists as the importer lands them: one envelope (JSON line) per playlist."""
    return [json.dumps(landing.envelope(run_id=run_id, source="mpd", entity="playlists", key=str(p["pid"]),
                                        request_url="file:///mpd.slice.test.json", http_status=None, body=p))
            for p in playlists]


def _write_part(raw: str, run_id: str, index: int, lines: Sequence[str]) -> landing.ManifestFile:
    """Write one gzip JSON Lines part file into the run's folder; returns its manifest entry."""
    return _write_part_bytes(raw, run_id, index, gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0),
                             len(lines))


def _write_part_bytes(raw: str, run_id: str, index: int, data: bytes, records: int) -> landing.ManifestFile:
    """Write ``data`` as part ``index`` of the run, whatever it holds; returns its manifest entry (its real size and
    sha256, and ``records``)."""
    uri = storage.join(landing.run_folder(raw, "mpd", "playlists", INGEST_DATE, run_id), landing.part_name(index))
    storage.put_bytes(uri, data)
    return landing.ManifestFile(path=uri[len(raw) + 1:], entity="playlists", records=records, bytes=len(data),
                                sha256=landing.sha256(data))


def _write_manifest(raw: str, run_id: str, files: list[landing.ManifestFile],
                    status: str = landing.STATUS_COMPLETE) -> None:
    now = landing.iso_utc(landing.utc_now())
    landing.write_manifest(raw, landing.Manifest(run_id=run_id, source="mpd", status=status, started_at=now,
                                                 finished_at=now, ingest_date=INGEST_DATE, files=files))


def _land_mpd(raw: str, playlists: list[dict], extra_lines: Sequence[str] = ()) -> str:
    """Land MPD playlists (plus raw extra lines) as one complete run; returns the run id."""
    run_id = landing.new_run_id("mpd")
    _write_manifest(raw, run_id, [_write_part(raw, run_id, 0, [*_mpd_lines(run_id, playlists), *extra_lines])])
    return run_id


def catalog_playlist(catalog, pid: int) -> dict:
    return mpd_playlist(catalog, catalog.playlists[pid])


LEAK = "qqleak"  # in no generated name or id


def _leak_playlist(pid: int) -> dict[str, Any]:
    """An MPD playlist whose name, tracks, artist and album exist nowhere else: ``LEAK`` in any table is a leak."""
    tracks = [{"pos": i, "artist_name": f"{LEAK} artist {pid}", "track_uri": f"spotify:track:{sid(f'{LEAK}{pid}t{i}')}",
               "artist_uri": f"spotify:artist:{sid(f'{LEAK}{pid}ar')}", "track_name": f"{LEAK} track {pid}.{i}",
               "album_uri": f"spotify:album:{sid(f'{LEAK}{pid}al')}", "duration_ms": 200000,
               "album_name": f"{LEAK} album {pid}"} for i in range(3)]
    return {"name": f"{LEAK} playlist {pid}", "collaborative": "false", "pid": pid, "modified_at": 1764151200,
            "num_tracks": 3, "num_albums": 1, "num_followers": 0, "tracks": tracks, "num_edits": 1,
            "duration_ms": 600000, "num_artists": 1}


def _leaked_rows(spark, lake: str) -> dict[str, int]:
    """Rows of each curated table that carry a ``LEAK`` id or name."""
    found = {}
    for spec in schemas.CURATED_TABLES:
        table = _table(spark, spec, lake)
        found[spec.name] = table.filter(F.lower(F.to_json(F.struct(*table.columns))).contains(LEAK)).count()
    return found


def test_late_newer_mpd_snapshot_replaces_and_older_is_ignored(spark, pipeline_copy, catalog):
    raw, lake, db = pipeline_copy.raw, pipeline_copy.lake, pipeline_copy.database
    original = json.loads(json.dumps(catalog_playlist(catalog, 0)))
    newer = {**original, "modified_at": original["modified_at"] + 86400, "tracks": original["tracks"][:3],
             "num_tracks": 3}
    _land_mpd(raw, [newer])
    _curate(raw, lake, db)
    rows = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == "mpd:0").collect()
    assert sorted(r["position"] for r in rows) == [0, 1, 2]
    older = {**original, "modified_at": original["modified_at"] - 86400, "tracks": original["tracks"][:1]}
    _land_mpd(raw, [older])
    _curate(raw, lake, db)
    rows = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == "mpd:0").collect()
    assert sorted(r["position"] for r in rows) == [0, 1, 2]
    stored = _table(spark, schemas.PLAYLISTS, lake).filter(F.col("playlist_id") == "mpd:0").first()
    assert stored["num_tracks"] == 3


def test_unfinished_runs_orphan_parts_and_incomplete_manifests_never_reach_the_curated_tables(
    spark, catalog, tmp_path
):
    """The landing contract, consumer side: a run is read only through a manifest with status ``complete``, and
    only the files that manifest lists. A run without a manifest (still being written, or given up), a manifest
    with another status, and part files its manifest does not list are invisible; they block nothing, and a run
    in progress is curated once its manifest lands."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    complete = landing.new_run_id("mpd")
    listed = _write_part(raw, complete, 0, _mpd_lines(complete, [catalog_playlist(catalog, p) for p in (1, 2)]))
    _write_part(raw, complete, 1, _mpd_lines(complete, [_leak_playlist(901)]))  # an orphan: not in the manifest
    _write_manifest(raw, complete, [listed])
    unfinished = landing.new_run_id("mpd")  # parts landed, manifest not (yet)
    unfinished_part = _write_part(raw, unfinished, 0, _mpd_lines(unfinished, [catalog_playlist(catalog, 3)]))
    stopped = landing.new_run_id("mpd")  # a manifest that does not say complete
    _write_manifest(raw, stopped, [_write_part(raw, stopped, 0, _mpd_lines(stopped, [_leak_playlist(902)]))],
                    status="stopped")

    _curate(raw, lake, db)
    ids = {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()}
    assert ids == {"mpd:1", "mpd:2"}
    assert {r["playlist_id"] for r in _table(spark, schemas.PLAYLIST_TRACKS, lake).collect()} == ids
    assert _leaked_rows(spark, lake) == dict.fromkeys((t.name for t in schemas.CURATED_TABLES), 0)
    assert _table(spark, schemas.QUARANTINE, lake).count() == 0
    assert [r["run_id"] for r in _table(spark, schemas.PROCESSED_RUNS, lake).collect()] == [complete]
    assert _latest_job_run(spark, lake)["status"] == "succeeded"

    _write_manifest(raw, unfinished, [unfinished_part])  # the extractor finished that run
    later = _land_mpd(raw, [catalog_playlist(catalog, 4)])
    _curate(raw, lake, db)
    ids = {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()}
    assert ids == {"mpd:1", "mpd:2", "mpd:3", "mpd:4"}
    assert _leaked_rows(spark, lake) == dict.fromkeys((t.name for t in schemas.CURATED_TABLES), 0)
    processed = {r["run_id"] for r in _table(spark, schemas.PROCESSED_RUNS, lake).collect()}
    assert processed == {complete, unfinished, later}
    run = _latest_job_run(spark, lake)
    assert run["status"] == "succeeded" and sorted(run["landing_runs"]) == sorted([unfinished, later])


def _short_manifest(raw: str, playlists: list[dict]) -> tuple[str, str, int]:
    """A complete run whose manifest promises one record more than its file holds (records lost on the way).

    Returns the run id, what the failure message says and how many records go to quarantine (none)."""
    run_id = landing.new_run_id("mpd")
    part = _write_part(raw, run_id, 0, _mpd_lines(run_id, playlists))
    part.records += 1
    _write_manifest(raw, run_id, [part])
    return run_id, "records read match the manifests", 0


def _short_manifest_and_a_bad_line(raw: str, playlists: list[dict]) -> tuple[str, str, int]:
    """A run with a line that is not JSON (within the --max_bad_fraction the test allows) whose manifest promises
    one record more than its file holds: the check fails while the quarantine is saved (the two run together)."""
    run_id = landing.new_run_id("mpd")
    part = _write_part(raw, run_id, 0, [*_mpd_lines(run_id, playlists), "not json"])
    part.records += 1
    _write_manifest(raw, run_id, [part])
    return run_id, "records read match the manifests", 1


def _mostly_bad(raw: str, playlists: list[dict]) -> tuple[str, str, int]:
    """A complete run most of whose records are lines that are not JSON (quarantined: far above the default
    --max_bad_fraction of 5 %, whatever the playlists' lengths)."""
    bad = 50 * len(playlists)
    return _land_mpd(raw, playlists, extra_lines=["not json"] * bad), "--max_bad_fraction", bad


@pytest.mark.parametrize(("land_failing_run", "error"), [(_short_manifest, DataQualityError),
                                                          (_short_manifest_and_a_bad_line, DataQualityError),
                                                          (_mostly_bad, BadInputError)],
                         ids=["manifest-count-mismatch", "count-mismatch-beside-bad-input", "too-much-bad-input"])
def test_a_failing_quality_gate_records_a_failed_run_and_leaves_every_table_version_unchanged(
    spark, pipeline_copy, catalog, land_failing_run, error
):
    """A run that fails a gate publishes nothing: every table keeps its Delta version (curated, processed_runs,
    interactions and id maps), although the run holds changes (a new playlist, a newer snapshot of another).
    Only the bookkeeping may change: ``job_runs`` gets the ``failed`` row, ``quarantine`` the bad records."""
    raw, lake, db = pipeline_copy.raw, pipeline_copy.lake, pipeline_copy.database
    tables = Lake(spark, lake, db)
    allowed_to_change = {schemas.JOB_RUNS.name, schemas.QUARANTINE.name}
    before = {name: tables.version(spec) for name, spec in schemas.TABLES.items() if tables.exists(spec)}
    assert set(schemas.TABLES) - set(before) <= {"evaluations", "recommendations", "similar_tracks"}
    original = catalog_playlist(catalog, 0)
    newer = {**original, "modified_at": original["modified_at"] + 86400, "tracks": original["tracks"][:2],
             "num_tracks": 2}
    run_id, message, quarantined = land_failing_run(raw, [newer, {**catalog_playlist(catalog, 1), "pid": 9001}])

    spark.catalog.clearCache()
    with pytest.raises(error, match=message):
        _curate(raw, lake, db, "--max_bad_fraction", "0.5")

    assert _nothing_cached(spark), "the failed run left cached DataFrames behind"
    after = {name: tables.version(spec) for name, spec in schemas.TABLES.items() if tables.exists(spec)}
    assert {n: v for n, v in after.items() if n not in allowed_to_change} == \
        {n: v for n, v in before.items() if n not in allowed_to_change}
    run = _latest_job_run(spark, lake)
    assert (run["job_name"], run["status"]) == ("raw_to_curated", "failed")
    assert message in run["message"] and run["landing_runs"] == [run_id]
    assert run["records_quarantined"] == quarantined
    bad = _table(spark, schemas.QUARANTINE, lake).filter(F.col("run_id") == run_id).collect()
    expected_bad = [("malformed JSON line", quarantined)] if quarantined else []
    assert [(r["reason"], r["occurrences"]) for r in bad] == expected_bad
    assert run_id not in {r["run_id"] for r in _table(spark, schemas.PROCESSED_RUNS, lake).collect()}


def test_bad_line_is_quarantined_next_to_good_ones(spark, catalog, tmp_path):
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    good = [catalog_playlist(catalog, pid) for pid in (1, 2, 3)]
    wrong_type = {**catalog_playlist(catalog, 4), "pid": "four"}
    run_id = _land_mpd(raw, good + [wrong_type], extra_lines=['{"run_id": "broken", "body": {'])
    _curate(raw, lake, _new_database(), "--max_bad_fraction", "0.5")
    quarantine = _table(spark, schemas.QUARANTINE, lake).collect()
    assert sorted(r["reason"] for r in quarantine) == ["malformed JSON line",
                                                       "wrong type for field pid: four is not an integer"]
    assert {r["run_id"] for r in quarantine} == {run_id}
    assert all(r["source_file"].endswith("part-00000.jsonl.gz") for r in quarantine)
    ids = {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()}
    assert ids == {"mpd:1", "mpd:2", "mpd:3"}
    run = _table(spark, schemas.JOB_RUNS, lake).first()
    assert run["status"] == "succeeded" and run["records_quarantined"] == 2


def test_pipeline_on_s3(spark_s3, s3_bucket, tmp_path):
    raw, lake, db = f"s3://{s3_bucket}/landing", f"s3://{s3_bucket}/lake", _new_database()
    write_mpd_slices(generate_catalog(9, 30, 200), tmp_path / "mpd", playlists_per_slice=15)
    assert run_mpd(MpdOptions(source=str(tmp_path / "mpd"), landing=raw)).status == "complete"
    _curate(raw, lake, db)
    _interactions(lake, db)
    assert spark_s3.table(f"{db}.playlists").count() == 30
    assert spark_s3.table(f"{db}.interactions").count() > 0
    assert storage.exists(f"{lake}/playlist_tracks/_delta_log/00000000000000000000.json")


def test_job_script_reports_a_missing_argument(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "glue_jobs" / "v1" / "raw_to_curated.py"), "--JOB_NAME", "x",
                             "--raw_path", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--lake_path" in result.stderr and "--database" in result.stderr


def test_a_run_without_files_is_marked_processed(spark, tmp_path):
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    now = landing.iso_utc(landing.utc_now())
    run_id = landing.new_run_id("spotify")
    landing.write_manifest(raw, landing.Manifest(run_id=run_id, source="spotify", status="complete", started_at=now,
                                                 finished_at=now, ingest_date=INGEST_DATE, files=[]))
    _curate(raw, lake, _new_database())
    assert [r["run_id"] for r in _table(spark, schemas.PROCESSED_RUNS, lake).collect()] == [run_id]
    run = _table(spark, schemas.JOB_RUNS, lake).first()
    assert (run["status"], run["message"]) == ("skipped", "new landing runs hold no files")
    assert not Lake(spark, lake, "unused").exists(schemas.PLAYLISTS)


def test_job_runs_under_spark_submit_as_on_glue(catalog, tmp_path):
    """The entry script started by spark-submit (its own JVM, metastore and home), as Glue and the Glue image do."""
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _land_mpd(raw, [catalog_playlist(catalog, pid) for pid in (1, 2)])
    env = {**os.environ, "MUSICLAKE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [str(REPO / "scripts" / "spark-submit"), str(REPO / "glue_jobs" / "v1" / "raw_to_curated.py"),
         "--JOB_NAME", "raw_to_curated", "--raw_path", raw, "--lake_path", lake, "--database", _new_database()],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job raw_to_curated succeeded" in result.stdout  # spark-submit sends the driver's stderr to stdout
    commit = (Path(lake) / "playlists" / "_delta_log" / "00000000000000000001.json").read_text().splitlines()[0]
    info = json.loads(commit)["commitInfo"]
    # The table's first load: an append (a MERGE into a table without data files matches nothing).
    assert (info["operation"], info["operationParameters"]["mode"]) == ("WRITE", "Append")


# --- failures anywhere are recorded; landed files are checked; the record-size limit; stale catalog entries --------
def _versions(spark, lake: str, db: str) -> dict[str, int]:
    """The Delta version of every table of the lake but ``job_runs`` (which records failures too)."""
    tables = Lake(spark, lake, db)
    return {n: tables.version(t) for n, t in schemas.TABLES.items() if n != "job_runs" and tables.exists(t)}


def test_any_failure_records_a_failed_run_and_releases_what_the_job_cached(spark, catalog, tmp_path, monkeypatch):
    """Not only the gates: a failure anywhere in either job (here a write failing, as a lost S3 connection would)
    records a ``failed`` run with the error, leaves nothing cached, and the landing run unprocessed."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    run_id = _land_mpd(raw, [catalog_playlist(catalog, p) for p in (1, 2)])

    def lost_connection(*args: Any, **kwargs: Any) -> None:
        raise OSError("connection lost while writing")

    spark.catalog.clearCache()
    monkeypatch.setattr(curate_job, "save", lost_connection)
    with pytest.raises(OSError, match="connection lost"):
        _curate(raw, lake, db)
    run = _latest_job_run(spark, lake)
    assert (run["job_name"], run["status"], run["landing_runs"]) == ("raw_to_curated", "failed", [run_id])
    assert "connection lost while writing" in run["message"]
    assert not Lake(spark, lake, db).exists(schemas.PROCESSED_RUNS)
    assert _nothing_cached(spark), "the failed run left cached DataFrames behind"

    monkeypatch.undo()
    _curate(raw, lake, db)  # the same landing run, curated once writing works
    assert _latest_job_run(spark, lake)["status"] == "succeeded"
    monkeypatch.setattr(interactions_job, "extend_id_maps", lost_connection)
    with pytest.raises(OSError, match="connection lost"):
        _interactions(lake, db)
    run = _latest_job_run(spark, lake)
    assert (run["job_name"], run["status"]) == ("build_interactions", "failed")
    assert "connection lost while writing" in run["message"]
    assert not Lake(spark, lake, db).exists(schemas.INTERACTIONS)
    assert _nothing_cached(spark), "the failed run left cached DataFrames behind"


def test_landed_files_that_differ_from_their_manifest_fail_the_run_before_any_write(spark, catalog, tmp_path):
    """Each file a manifest names must be there with the promised size (and sha256 with --verify_checksums): a file
    edited after landing, a removed file, a same-size tampered file fail the run naming the file and what differs,
    with a ``failed`` run recorded and every table at its version; the intact run is then curated."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    _land_mpd(raw, [catalog_playlist(catalog, 1)])
    _curate(raw, lake, db)
    before = _versions(spark, lake, db)
    run_id = landing.new_run_id("mpd")
    parts = [_write_part(raw, run_id, i, _mpd_lines(run_id, [catalog_playlist(catalog, pid)]))
             for i, pid in enumerate((2, 3))]
    _write_manifest(raw, run_id, parts)
    edited, removed = (Path(raw) / p.path for p in parts)
    landed = {edited: edited.read_bytes(), removed: removed.read_bytes()}
    tampered = bytearray(landed[edited])
    tampered[len(tampered) // 2] ^= 0xFF

    def restore() -> None:
        for path, data in landed.items():
            path.write_bytes(data)

    cases = [
        (lambda: edited.write_bytes(landed[edited] + b"\n"), (),
         f"{edited} has {parts[0].bytes + 1} bytes, run {run_id} promises {parts[0].bytes}"),
        (removed.unlink, (), f"{removed} is missing (run {run_id} promises {parts[1].bytes} bytes)"),
        (lambda: edited.write_bytes(bytes(tampered)), ("--verify_checksums", "true"),
         f"{edited} has sha256 {landing.sha256(bytes(tampered))}, run {run_id} promises {parts[0].sha256}"),
    ]
    for change, options, message in cases:
        change()
        with pytest.raises(LandingMismatchError, match=re.escape(message)):
            _curate(raw, lake, db, *options)
        run = _latest_job_run(spark, lake)
        assert (run["status"], run["landing_runs"]) == ("failed", [run_id]) and message in run["message"]
        assert _versions(spark, lake, db) == before
        restore()

    _curate(raw, lake, db, "--verify_checksums", "true")
    assert _latest_job_run(spark, lake)["status"] == "succeeded"
    assert {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()} == {"mpd:1", "mpd:2", "mpd:3"}


def test_landed_files_that_are_not_whole_gzip_fail_the_run_naming_each_file_and_the_manifest_to_remove(
        spark, catalog, tmp_path):
    """A part that is what its manifest promises but not a whole gzip file (cut short, or not gzip at all) fails the
    run with an error naming each such file and the manifests to remove to go on without their runs (Spark's own
    error names no file); a ``failed`` run is recorded and no other table is written. Once those manifests are
    removed, the intact run of the same batch is curated."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    _land_mpd(raw, [catalog_playlist(catalog, 2)])
    cut, plain = landing.new_run_id("mpd"), landing.new_run_id("mpd")
    lines = _mpd_lines(cut, [catalog_playlist(catalog, pid) for pid in range(3, 60)])
    whole = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    cut_part = _write_part_bytes(raw, cut, 0, whole[: len(whole) // 2], len(lines))
    _write_manifest(raw, cut, [cut_part])
    plain_text = _mpd_lines(plain, [catalog_playlist(catalog, 60)])[0] + "\n"  # JSON Lines, but not gzip
    plain_part = _write_part_bytes(raw, plain, 0, plain_text.encode(), 1)
    _write_manifest(raw, plain, [plain_part])

    with pytest.raises(LandingMismatchError) as failed:
        _curate(raw, lake, db)
    manifests = [landing.manifest_uri(raw, "mpd", run_id) for run_id in (cut, plain)]
    expected = [f"{storage.join(raw, part.path)} is not a whole gzip file" for part in (cut_part, plain_part)]
    for text in (*expected, *manifests):
        assert text in str(failed.value)
    run = _latest_job_run(spark, lake)
    assert run["status"] == "failed" and all(text in run["message"] for text in expected)
    assert _versions(spark, lake, db) == {}  # no table but job_runs

    for manifest in manifests:  # as the error says: the runs are then never read
        storage.delete(manifest)
    _curate(raw, lake, db)
    assert _latest_job_run(spark, lake)["status"] == "succeeded"
    assert {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()} == {"mpd:2"}


def test_a_manifest_naming_a_file_outside_its_run_fails_the_run_before_anything_is_read(spark, catalog, tmp_path):
    """The job reads exactly the files the manifests name and quarantines what is not an envelope, its text included:
    a manifest naming a file outside its run's folder (here up and out of the landing zone, with that file's size
    and sha256) fails the run before any file is read, naming the manifest; the file's text reaches no table."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    _land_mpd(raw, [catalog_playlist(catalog, 1)])
    secret = gzip.compress(b"AWS_SECRET_ACCESS_KEY=not-a-real-key\n", mtime=0)
    (tmp_path / "secret.jsonl.gz").write_bytes(secret)
    run_id = landing.new_run_id("mpd")
    folder = landing.run_folder("", "mpd", "playlists", INGEST_DATE, run_id).lstrip("/")
    _write_manifest(raw, run_id, [landing.ManifestFile(path=f"{folder}/../../../../../secret.jsonl.gz",
                                                       entity="playlists", records=1, bytes=len(secret),
                                                       sha256=landing.sha256(secret))])

    with pytest.raises(landing.ManifestError, match=re.escape(landing.manifest_uri(raw, "mpd", run_id))):
        _curate(raw, lake, db)
    run = _latest_job_run(spark, lake)
    assert run["status"] == "failed" and "is not a file of the run's folder" in run["message"]
    assert not Lake(spark, lake, db).exists(schemas.QUARANTINE)
    assert not Lake(spark, lake, db).exists(schemas.PLAYLISTS)


def _line_of(run_id: str, playlist: dict[str, Any], size: int) -> str:
    """The playlist's envelope line made exactly ``size`` UTF-8 bytes long (its name padded)."""
    base = _mpd_lines(run_id, [{**playlist, "name": ""}])[0]
    line = _mpd_lines(run_id, [{**playlist, "name": "x" * (size - len(base.encode()))}])[0]
    assert len(line.encode()) == size
    return line


def test_a_record_over_the_size_limit_is_quarantined_with_its_size_and_one_at_the_limit_is_curated(
    spark, catalog, tmp_path
):
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    run_id = landing.new_run_id("mpd")
    playlists = [catalog_playlist(catalog, pid) for pid in (1, 2, 3)]
    limit = max(len(line.encode()) for line in _mpd_lines(run_id, playlists)) + 100  # a limit of the test's own
    at_limit, over = _line_of(run_id, playlists[0], limit), _line_of(run_id, playlists[1], limit + 1)
    lines = [at_limit, over, *_mpd_lines(run_id, playlists[2:])]
    _write_manifest(raw, run_id, [_write_part(raw, run_id, 0, lines)])

    _curate(raw, lake, db, "--max_record_bytes", str(limit), "--max_bad_fraction", "0.5")
    assert {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()} == {"mpd:1", "mpd:3"}
    (bad,) = _table(spark, schemas.QUARANTINE, lake).collect()
    assert (bad["reason"], bad["occurrences"], bad["run_id"]) == (
        f"record over MAX_RECORD_BYTES ({limit + 1} bytes)", 1, run_id)
    assert over.startswith(bad["record"]) and bad["record"].startswith('{"run_id"')
    run = _latest_job_run(spark, lake)
    assert (run["status"], run["records_quarantined"]) == ("succeeded", 1)


def test_a_21_mb_record_is_quarantined_as_over_the_limit_not_as_malformed_json(spark, catalog, tmp_path):
    """A line over ``MAX_RECORD_BYTES`` (16 MiB) whose one string is longer than Jackson's default limit (20 M
    characters): counted and quarantined for its size, the run's other records curated."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    run_id = landing.new_run_id("mpd")
    size = 21_000_000
    huge = _line_of(run_id, catalog_playlist(catalog, 2), size)
    _write_manifest(raw, run_id, [_write_part(raw, run_id, 0, [*_mpd_lines(run_id, [catalog_playlist(catalog, 1)]),
                                                               huge])])
    _curate(raw, lake, db, "--max_bad_fraction", "0.5")
    quarantine = _table(spark, schemas.QUARANTINE, lake)
    assert [(r["reason"], r["occurrences"]) for r in quarantine.select("reason", "occurrences").collect()] == [
        (f"record over MAX_RECORD_BYTES ({size} bytes)", 1)]
    assert [r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()] == ["mpd:1"]


def test_max_record_bytes_can_only_be_lowered(capsys):
    argv = ["raw_to_curated.py", "--JOB_NAME", "j", "--raw_path", "r", "--lake_path", "l", "--database", "d"]
    assert curate_job.RawToCuratedOptions.from_argv(argv).max_record_bytes == landing.MAX_RECORD_BYTES
    with pytest.raises(SystemExit) as excinfo:
        curate_job.RawToCuratedOptions.from_argv([*argv, "--max_record_bytes", str(landing.MAX_RECORD_BYTES + 1)])
    assert excinfo.value.code == 2 and "--max_record_bytes" in capsys.readouterr().err


def test_a_catalog_entry_of_a_deleted_lake_is_registered_again_and_one_of_a_live_lake_stops_the_job(
    spark, catalog, tmp_path
):
    """``--database`` reused for another lake: while the first lake exists the job stops before it writes, naming
    both locations and the way out; once it is deleted, its stale entries are replaced by this lake's tables."""
    raw, db = str(tmp_path / "landing"), _new_database()
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    _land_mpd(raw, [catalog_playlist(catalog, 1)])
    _curate(raw, first, db)
    before = _versions(spark, first, db)

    with pytest.raises(CatalogConflictError) as excinfo:
        _curate(raw, second, db)
    message = str(excinfo.value)
    assert f"{db}.playlists is registered at file:{first}/playlists" in message
    assert f"{second}/playlists" in message and "--database" in message and "DROP TABLE" in message
    assert _versions(spark, first, db) == before
    assert not Path(second).exists()  # not even a job run: job_runs is registered at the other lake

    shutil.rmtree(first)
    _curate(raw, second, db)
    assert _latest_job_run(spark, second)["status"] == "succeeded"
    for name in ("playlists", "quarantine", "job_runs", "processed_runs"):
        location = spark.sql(f"DESCRIBE DETAIL {db}.{name}").first()["location"]
        assert location.endswith(f"{second}/{name}"), name
    assert spark.table(f"{db}.playlists").count() == 1
