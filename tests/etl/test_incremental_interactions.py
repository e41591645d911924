"""build_interactions follows the batch: after a first full sync it recomputes only the playlists whose membership
changed since its last successful run (the change data feed of ``playlist_tracks``), and falls back to a full sync
when the feed cannot say which; either way ``interactions`` equals what a full rebuild gives."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from landing_builders import land_mpd, mpd_playlist
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_jobs.v1 import build_interactions, raw_to_curated
from musiclake import schemas
from musiclake.lake import Lake

pytestmark = pytest.mark.slow  # whole jobs, run twice or three times each

LATER = 1764151200 + 86400  # a day after mpd_playlist's default modified_at


def _run(tmp_path: Path) -> tuple[str, str, str]:
    return str(tmp_path / "raw"), str(tmp_path / "lake"), f"incr_{uuid.uuid4().hex[:8]}"


def _curate_and_build(raw: str, lake: str, db: str) -> None:
    raw_to_curated.main(["raw_to_curated.py", "--JOB_NAME", "raw_to_curated", "--raw_path", raw, "--lake_path",
                         lake, "--database", db])
    build_interactions.main(["build_interactions.py", "--JOB_NAME", "build_interactions", "--lake_path", lake,
                             "--database", db])


def _last_run(spark, lake: str):
    return (spark.read.format("delta").load(f"{lake}/job_runs").filter(F.col("job_name") == "build_interactions")
            .orderBy(F.col("finished_at").desc()).first())


def _expected(spark, lake: str) -> DataFrame:
    """A full rebuild from the current playlist_tracks, with the stored id maps."""
    members = spark.read.format("delta").load(f"{lake}/playlist_tracks").filter(F.col("item_type") == "track")
    pairs = members.groupBy("playlist_id", "track_id").agg(F.count(F.lit(1)).cast("double").alias("weight"))
    playlist_ids = spark.read.format("delta").load(f"{lake}/playlist_ids")
    track_ids = spark.read.format("delta").load(f"{lake}/track_ids")
    return pairs.join(playlist_ids, "playlist_id").join(track_ids, "track_id").select(
        "playlist_idx", "track_idx", "playlist_id", "track_id", "weight")


def _assert_rebuilt(spark, lake: str) -> None:
    stored = spark.read.format("delta").load(f"{lake}/interactions")
    assert_df_equality(stored, _expected(spark, lake), ignore_row_order=True, ignore_nullable=True,
                       ignore_metadata=True, ignore_column_order=True)


def _last_merge_source_rows(spark, lake: str) -> int:
    merge = DeltaTable.forPath(spark, f"{lake}/interactions").history(1).first()
    assert merge["operation"] == "MERGE"
    return int(merge["operationMetrics"]["numSourceRows"])


def test_changed_playlists_alone_are_recomputed_and_without_a_feed_every_one_is_and_both_equal_a_rebuild(
        spark, tmp_path):
    raw, lake, db = _run(tmp_path)
    land_mpd(raw, [mpd_playlist(pid, tracks=(0, 1, 2)) for pid in range(6)])
    _curate_and_build(raw, lake, db)
    assert _last_run(spark, lake)["message"].startswith("full sync")  # the first run has nothing to follow
    _assert_rebuilt(spark, lake)

    # playlist 2 drops track 1 and lists track 0 twice; playlist 6 is new; the other five are untouched
    land_mpd(raw, [mpd_playlist(2, tracks=(0, 0, 2, 5), modified_at=LATER), mpd_playlist(6, tracks=(0,))])
    _curate_and_build(raw, lake, db)

    run = _last_run(spark, lake)
    assert run["status"] == "succeeded"
    assert run["message"].startswith("2 playlists changed") and "change data feed" in run["message"]
    assert run["records_read"] == 4  # pairs of the changed playlists only: (2: t0, t2, t5) and (6: t0)
    # the MERGE's batch: those 4 pairs plus the one pair playlist 2 no longer holds (p2t1), flagged for deletion
    assert _last_merge_source_rows(spark, lake) == 5
    _assert_rebuilt(spark, lake)
    weights = {r["track_id"]: r["weight"] for r in spark.read.format("delta").load(f"{lake}/interactions")
               .filter(F.col("playlist_id") == "mpd:2").collect()}
    assert weights == {"p2t0".ljust(22, "0"): 2.0, "p2t2".ljust(22, "0"): 1.0, "p2t5".ljust(22, "0"): 1.0}

    # a playlist_tracks that stopped recording its changes (as a lake made before the feed was switched on)
    spark.sql(f"ALTER TABLE delta.`{Lake(spark, lake, db).location(schemas.PLAYLIST_TRACKS)}` "
              "SET TBLPROPERTIES (delta.enableChangeDataFeed = false)")
    land_mpd(raw, [mpd_playlist(1, tracks=(3,), modified_at=LATER)])
    _curate_and_build(raw, lake, db)

    run = _last_run(spark, lake)
    assert run["status"] == "succeeded" and run["message"].startswith("full sync")
    assert run["records_read"] == 17  # every playlist's pairs: 4 x 3 (0, 3, 4, 5) + 1 (1) + 3 (2) + 1 (6)
    _assert_rebuilt(spark, lake)
    assert [r["track_id"] for r in spark.read.format("delta").load(f"{lake}/interactions")
            .filter(F.col("playlist_id") == "mpd:1").collect()] == ["p1t3".ljust(22, "0")]


def test_a_playlist_tracks_created_again_is_synced_in_full_even_back_at_the_version_the_last_run_read(
        spark, tmp_path):
    raw, lake, db = _run(tmp_path)
    land_mpd(raw, [mpd_playlist(pid, tracks=(0, 1)) for pid in range(3)])
    _curate_and_build(raw, lake, db)
    first = _last_run(spark, lake)

    # the curated tables rebuilt from other landing data, job_runs and interactions kept: playlist_tracks is a new
    # table back at the version number the last run recorded, so only its table id tells the two apart
    for table in ("playlists", "playlist_tracks", "processed_runs"):
        shutil.rmtree(Path(lake) / table)
    other_raw = str(tmp_path / "raw2")
    land_mpd(other_raw, [mpd_playlist(pid, tracks=(2,)) for pid in (7, 8)])
    _curate_and_build(other_raw, lake, db)

    run = _last_run(spark, lake)
    assert run["input_versions"] == first["input_versions"]
    assert run["input_table_ids"]["playlist_tracks"] != first["input_table_ids"]["playlist_tracks"]
    assert run["status"] == "succeeded" and run["message"].startswith("full sync")
    assert "not the table the last run read" in run["message"]
    _assert_rebuilt(spark, lake)  # only playlists 7 and 8: a skipped run would have kept 0, 1 and 2
    assert {r["playlist_id"] for r in spark.read.format("delta").load(f"{lake}/interactions").collect()} == {
        "mpd:7", "mpd:8"}


def test_an_interactions_table_deleted_since_the_last_run_is_built_again_not_skipped(spark, tmp_path):
    raw, lake, db = _run(tmp_path)
    land_mpd(raw, [mpd_playlist(pid, tracks=(0, 1)) for pid in range(3)])
    _curate_and_build(raw, lake, db)
    shutil.rmtree(Path(lake) / "interactions")  # playlist_tracks unchanged: the last run's inputs are still current

    build_interactions.main(["build_interactions.py", "--JOB_NAME", "build_interactions", "--lake_path", lake,
                             "--database", db])

    run = _last_run(spark, lake)
    assert run["status"] == "succeeded" and run["message"].startswith("full sync")
    _assert_rebuilt(spark, lake)
    assert spark.read.format("delta").load(f"{lake}/interactions").count() == 6
