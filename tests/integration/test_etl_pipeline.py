"""raw landing zone (made by the extractor, both sources) -> raw_to_curated -> build_interactions.

The jobs run in-process through their entry scripts' ``main(argv)`` (the same code Glue runs), sharing the test
session's SparkSession; the landing zone is written by the real extractor against the local Spotify API server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from musiclake import io, landing, schemas, storage
from musiclake_extract.api_extract import ApiOptions, run_api
from musiclake_extract.catalog import generate_catalog, write_mpd_slices
from musiclake_extract.client import Credentials
from musiclake_extract.fake_server import FakeSpotify
from musiclake_extract.mpd_import import MpdOptions, run_mpd

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
_JOBS = {}


@pytest.fixture(scope="module", autouse=True)
def _load_jobs(glue_job):
    _JOBS.update({name: glue_job(name) for name in ("raw_to_curated", "build_interactions")})


def _curate(raw: str, lake: str, db: str, *extra: str) -> None:
    _JOBS["raw_to_curated"].main(["raw_to_curated.py", "--JOB_NAME", "raw_to_curated", "--raw_path", raw,
                                  "--lake_path", lake, "--database", db, *extra])


def _interactions(lake: str, db: str) -> None:
    _JOBS["build_interactions"].main(["build_interactions.py", "--JOB_NAME", "build_interactions", "--lake_path", lake,
                        "--database", db])


def _extract_api(api: FakeSpotify, raw: str) -> None:
    env = api.credentials()
    result = run_api(
        ApiOptions(landing=raw, me=True, api_base_url=api.api_base_url, token_url=api.token_url, backoff=0.01),
        Credentials(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"]),
    )
    assert result.status == "complete", result.message


def _table(spark, spec, lake):
    return io.load_table(spark, spec, lake)


@pytest.fixture(scope="module")
def catalog():
    return generate_catalog(5, 120, 600)


@pytest.fixture(scope="module")
def pipeline_lake(spark, catalog, tmp_path_factory):
    """A landing zone with one API run and one MPD run, curated once; yields (raw, lake, api world)."""
    root = tmp_path_factory.mktemp("etl")
    raw, lake = str(root / "landing"), str(root / "lake")
    write_mpd_slices(catalog, root / "mpd", playlists_per_slice=60)
    with FakeSpotify(catalog=catalog, user_playlists=4, followed_playlists=2, long_playlist_length=230) as api:
        _extract_api(api, raw)
        mpd = run_mpd(MpdOptions(source=str(root / "mpd"), landing=raw))
        assert mpd.status == "complete"
        _curate(raw, lake, "etl")
        _interactions(lake, "etl")
        yield raw, lake, api


def test_both_sources_are_curated(spark, pipeline_lake, catalog):
    raw, lake, api = pipeline_lake
    playlists = _table(spark, schemas.PLAYLISTS, lake)
    by_source = {r["source"]: r["count"] for r in playlists.groupBy("source").count().collect()}
    assert by_source["mpd"] == len(catalog.playlists)
    owned = [p for p in api.world.playlists.values() if p.owner == "musiclake-demo"]
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
    names = {r["tableName"] for r in spark.sql("SHOW TABLES IN etl").collect()}
    assert {"playlists", "playlist_tracks", "tracks", "artists", "albums", "interactions", "playlist_ids",
            "track_ids", "quarantine", "job_runs", "processed_runs"} <= names
    comments = {r["col_name"]: r["comment"] for r in spark.sql("DESCRIBE TABLE etl.playlist_tracks").collect()}
    assert comments["position"] == "0-based position in the playlist"
    assert spark.sql("DESCRIBE DETAIL etl.playlist_tracks").first()["partitionColumns"] == ["source"]


def test_interactions_have_stable_dense_ids(spark, pipeline_lake):
    _, lake, _ = pipeline_lake
    interactions = _table(spark, schemas.INTERACTIONS, lake)
    members = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("item_type") == "track")
    expected = members.groupBy("playlist_id", "track_id").agg(F.count(F.lit(1)).cast("double").alias("weight"))
    assert_df_equality(interactions.select("playlist_id", "track_id", "weight"), expected, ignore_row_order=True,
                       ignore_nullable=True, ignore_metadata=True)
    track_ids = _table(spark, schemas.TRACK_IDS, lake)
    n = track_ids.count()
    assert sorted(r["track_idx"] for r in track_ids.collect()) == list(range(n))


def test_rerun_changes_nothing_and_reprocess_is_idempotent(spark, pipeline_lake):
    raw, lake, _ = pipeline_lake
    tables = (schemas.PLAYLISTS, schemas.PLAYLIST_TRACKS, schemas.TRACKS, schemas.INTERACTIONS)
    before = {t.name: (io.current_version(spark, t, lake), _table(spark, t, lake).collect()) for t in tables}
    _curate(raw, lake, "etl")
    _interactions(lake, "etl")
    runs = _table(spark, schemas.JOB_RUNS, lake).orderBy(F.col("finished_at").desc()).limit(2).collect()
    assert [r["status"] for r in runs] == ["skipped", "skipped"]
    _curate(raw, lake, "etl", "--reprocess", "true")
    for t in tables:
        version, rows = before[t.name]
        assert sorted(_table(spark, t, lake).collect()) == sorted(rows), t.name
        if t is not schemas.INTERACTIONS:
            history = spark.sql(f"DESCRIBE HISTORY delta.`{t.location(lake)}`").collect()
            changed = [h for h in history if h["version"] > version and h["operation"] == "MERGE"
                       and sum(int(h["operationMetrics"].get(k, 0)) for k in
                               ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted"))]
            assert changed == [], t.name


def test_newer_snapshot_replaces_membership(spark, pipeline_lake):
    raw, lake, api = pipeline_lake
    playlist_id = next(p.id for p in api.world.playlists.values() if p.owner == "musiclake-demo")
    before = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == playlist_id).count()
    snapshot = api.modify_playlist(playlist_id)
    _extract_api(api, raw)
    _curate(raw, lake, "etl")
    rows = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == playlist_id).collect()
    assert len(rows) == before + 1
    assert {r["snapshot_id"] for r in rows} == {snapshot}
    stored = _table(spark, schemas.PLAYLISTS, lake).filter(F.col("playlist_id") == playlist_id).first()
    assert stored["snapshot_id"] == snapshot and stored["num_tracks"] == before + 1


def _land_mpd(raw: str, playlists: list[dict], extra_lines: list[str] = ()) -> str:
    """Land MPD playlists (plus raw extra lines) as one complete run; returns the run id."""
    run_id = landing.new_run_id("mpd")
    lines = [json.dumps(landing.envelope(run_id=run_id, source="mpd", entity="playlists", key=str(p["pid"]),
                                         request_url="file:///mpd.slice.test.json", http_status=None, body=p))
             for p in playlists] + list(extra_lines)
    import gzip

    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    uri = storage.join(landing.run_folder(raw, "mpd", "playlists", "2026-11-26", run_id), landing.part_name(0))
    storage.put_bytes(uri, data)
    now = landing.iso_utc(landing.utc_now())
    files = [landing.ManifestFile(path=uri[len(raw) + 1:], entity="playlists", records=len(lines), bytes=len(data),
                                  sha256=landing.sha256(data))]
    landing.write_manifest(raw, landing.Manifest(run_id=run_id, source="mpd", status="complete", started_at=now,
                                                 finished_at=now, ingest_date="2026-11-26", files=files))
    return run_id


def test_late_newer_mpd_snapshot_replaces_and_older_is_ignored(spark, pipeline_lake, catalog):
    raw, lake, _ = pipeline_lake
    original = json.loads(json.dumps(catalog_playlist(catalog, 0)))
    newer = {**original, "modified_at": original["modified_at"] + 86400, "tracks": original["tracks"][:3],
             "num_tracks": 3}
    _land_mpd(raw, [newer])
    _curate(raw, lake, "etl")
    rows = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == "mpd:0").collect()
    assert sorted(r["position"] for r in rows) == [0, 1, 2]
    older = {**original, "modified_at": original["modified_at"] - 86400, "tracks": original["tracks"][:1]}
    _land_mpd(raw, [older])
    _curate(raw, lake, "etl")
    rows = _table(spark, schemas.PLAYLIST_TRACKS, lake).filter(F.col("playlist_id") == "mpd:0").collect()
    assert sorted(r["position"] for r in rows) == [0, 1, 2]
    stored = _table(spark, schemas.PLAYLISTS, lake).filter(F.col("playlist_id") == "mpd:0").first()
    assert stored["num_tracks"] == 3


def catalog_playlist(catalog, pid: int) -> dict:
    from musiclake_extract.catalog import mpd_playlist

    return mpd_playlist(catalog, catalog.playlists[pid])


def test_bad_line_is_quarantined_next_to_good_ones(spark, catalog, tmp_path):
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    good = [catalog_playlist(catalog, pid) for pid in (1, 2, 3)]
    wrong_type = {**catalog_playlist(catalog, 4), "pid": "four"}
    run_id = _land_mpd(raw, good + [wrong_type], extra_lines=['{"run_id": "broken", "body": {'])
    _curate(raw, lake, "q", "--max_bad_fraction", "0.5")
    quarantine = _table(spark, schemas.QUARANTINE, lake).collect()
    assert sorted(r["reason"] for r in quarantine) == ["malformed JSON line", "wrong type for field pid"]
    assert {r["run_id"] for r in quarantine} == {run_id}
    assert all(r["source_file"].endswith("part-00000.jsonl.gz") for r in quarantine)
    ids = {r["playlist_id"] for r in _table(spark, schemas.PLAYLISTS, lake).collect()}
    assert ids == {"mpd:1", "mpd:2", "mpd:3"}
    run = _table(spark, schemas.JOB_RUNS, lake).first()
    assert run["status"] == "succeeded" and run["records_quarantined"] == 2


def test_too_much_bad_input_fails_and_leaves_tables_unchanged(spark, catalog, tmp_path):
    from musiclake.pipeline import BadInputError

    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _land_mpd(raw, [catalog_playlist(catalog, 1)], extra_lines=["not json"] * 3)
    with pytest.raises(BadInputError, match="--max_bad_fraction"):
        _curate(raw, lake, "bad", "--max_bad_fraction", "0.01")
    assert not io.table_exists(spark, schemas.PLAYLISTS, lake)
    assert not io.table_exists(spark, schemas.PROCESSED_RUNS, lake)
    run = _table(spark, schemas.JOB_RUNS, lake).first()
    assert run["status"] == "failed" and "quarantined" in run["message"]
    quarantined = _table(spark, schemas.QUARANTINE, lake).collect()
    assert [(r["reason"], r["occurrences"]) for r in quarantined] == [("malformed JSON line", 3)]
    assert run["records_quarantined"] == 3


def test_pipeline_on_s3(spark_s3, s3_bucket, catalog, tmp_path):
    raw, lake = f"s3://{s3_bucket}/landing", f"s3://{s3_bucket}/lake"
    write_mpd_slices(generate_catalog(9, 30, 200), tmp_path / "mpd", playlists_per_slice=15)
    assert run_mpd(MpdOptions(source=str(tmp_path / "mpd"), landing=raw)).status == "complete"
    _curate(raw, lake, "s3db")
    _interactions(lake, "s3db")
    assert spark_s3.table("s3db.playlists").count() == 30
    assert spark_s3.table("s3db.interactions").count() > 0
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
                                                 finished_at=now, ingest_date="2026-11-26", files=[]))
    _curate(raw, lake, "empty")
    assert [r["run_id"] for r in _table(spark, schemas.PROCESSED_RUNS, lake).collect()] == [run_id]
    run = _table(spark, schemas.JOB_RUNS, lake).first()
    assert (run["status"], run["message"]) == ("skipped", "new landing runs hold no files")
    assert not io.table_exists(spark, schemas.PLAYLISTS, lake)


def test_job_runs_under_spark_submit_as_on_glue(catalog, tmp_path):
    """The entry script started by spark-submit (its own JVM, metastore and home), as Glue and the Glue image do."""
    raw, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _land_mpd(raw, [catalog_playlist(catalog, pid) for pid in (1, 2)])
    env = {**os.environ, "MUSICLAKE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [str(REPO / "scripts" / "spark-submit"), str(REPO / "glue_jobs" / "v1" / "raw_to_curated.py"),
         "--JOB_NAME", "raw_to_curated", "--raw_path", raw, "--lake_path", lake, "--database", "submitted"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job raw_to_curated succeeded" in result.stdout  # spark-submit sends the driver's stderr to stdout
    commit = (Path(lake) / "playlists" / "_delta_log" / "00000000000000000001.json").read_text().splitlines()[0]
    assert json.loads(commit)["commitInfo"]["operation"] == "MERGE"
