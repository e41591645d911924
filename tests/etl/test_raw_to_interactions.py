"""raw_to_interactions: raw_to_curated then build_interactions in one job run (one session) writes the lake the two
jobs write when run one after the other, records each step's run under its own name, and stops after a failed
curation."""

from __future__ import annotations

import uuid

import pytest
from chispa import assert_df_equality
from landing_builders import land_mpd, mpd_playlist

from glue_jobs.v1 import build_interactions, housekeeping, raw_to_curated, raw_to_interactions
from musiclake import schemas
from musiclake.bookkeeping import BadInputError

pytestmark = pytest.mark.slow  # whole jobs

JOB = "etl_once"
# what the two jobs write (compared with the quarantine, less the id of the job run that wrote each row)
TABLES = (*(t.name for t in schemas.CURATED_TABLES), "interactions", "playlist_ids", "track_ids")
PER_RUN = ("job_run_id",)


def _run(raw: str, lake: str, db: str, *extra: str) -> None:
    raw_to_interactions.main(["raw_to_interactions.py", "--JOB_NAME", JOB, "--raw_path", raw, "--lake_path", lake,
                              "--database", db, *extra])


def _runs(spark, lake: str) -> list[tuple[str, str]]:
    rows = spark.read.format("delta").load(f"{lake}/job_runs").orderBy("started_at").collect()
    return [(r["job_name"], r["status"]) for r in rows]


def test_one_run_writes_the_lake_the_two_jobs_write_and_a_second_run_skips_both_steps(spark, full_lake, tmp_path):
    lake, db = str(tmp_path / "lake"), f"once_{uuid.uuid4().hex[:8]}"
    _run(full_lake.raw, lake, db)

    def table(root: str, name: str):
        df = spark.read.format("delta").load(f"{root}/{name}")
        return df.drop(*[c for c in PER_RUN if c in df.columns])

    for name in (*TABLES, schemas.QUARANTINE.name):
        assert_df_equality(table(lake, name), table(full_lake.lake, name), ignore_row_order=True,
                           ignore_nullable=True, ignore_metadata=True)
    assert spark.read.format("delta").load(f"{lake}/interactions").count() > 0
    assert _runs(spark, lake) == [(f"{JOB}/raw_to_curated", "succeeded"), (f"{JOB}/build_interactions", "succeeded")]
    # registered in the catalog like the tables of the two jobs
    assert {t.name for t in spark.catalog.listTables(db)} >= set(TABLES)

    _run(full_lake.raw, lake, db)  # the same input again: nothing new to curate, playlist_tracks unchanged
    assert _runs(spark, lake)[2:] == [(f"{JOB}/raw_to_curated", "skipped"), (f"{JOB}/build_interactions", "skipped")]


def test_a_failed_curation_is_recorded_and_interactions_are_not_built(spark, tmp_path):
    raw, lake, db = str(tmp_path / "raw"), str(tmp_path / "lake"), f"once_{uuid.uuid4().hex[:8]}"
    bad = {**mpd_playlist(2), "modified_at": "yesterday"}  # a playlist-level field of the wrong type: quarantined
    land_mpd(raw, [mpd_playlist(0), mpd_playlist(1), bad])
    with pytest.raises(BadInputError):
        _run(raw, lake, db, "--max_bad_fraction", "0.01")  # 1 bad record of 7 read
    assert _runs(spark, lake) == [(f"{JOB}/raw_to_curated", "failed")]
    quarantined = spark.read.format("delta").load(f"{lake}/quarantine").select("reason").collect()
    assert [r["reason"] for r in quarantined] == ["wrong type for field modified_at: yesterday is not an integer"]
    assert not (tmp_path / "lake" / "interactions").exists()


def test_an_empty_landing_zone_into_an_empty_lake_skips_both_steps(spark, tmp_path):
    raw, lake, db = tmp_path / "raw", str(tmp_path / "lake"), f"once_{uuid.uuid4().hex[:8]}"
    raw.mkdir()
    _run(str(raw), lake, db)  # build_interactions alone would stop: no playlist_tracks to build from
    assert _runs(spark, lake) == [(f"{JOB}/raw_to_curated", "skipped"), (f"{JOB}/build_interactions", "skipped")]
    assert not (tmp_path / "lake" / "playlist_tracks").exists()


def test_the_jobs_alone_continue_from_the_combined_runs_step_and_the_other_way_round(spark, tmp_path):
    """``build_interactions`` alone, after a combined run, continues from that run's step (recorded under another
    name): nothing changed, so it skips; a new batch, so it follows the change data feed instead of syncing every
    playlist. The combined job then continues from the job alone. A housekeeping run between, which records the
    tables it rewrote too, is not taken for a build."""
    raw, lake, db = str(tmp_path / "raw"), str(tmp_path / "lake"), f"once_{uuid.uuid4().hex[:8]}"
    alone = ["--lake_path", lake, "--database", db]
    land_mpd(raw, [mpd_playlist(0), mpd_playlist(1)])
    _run(raw, lake, db)
    housekeeping.main(["housekeeping.py", "--JOB_NAME", "housekeeping", *alone, "--tables",
                       "interactions,playlist_tracks", "--optimize", "false"])
    build_interactions.main(["build_interactions.py", "--JOB_NAME", "alone", *alone])
    land_mpd(raw, [mpd_playlist(2, tracks=(3, 4, 5))])
    raw_to_curated.main(["raw_to_curated.py", "--JOB_NAME", "curate_alone", "--raw_path", raw, *alone])
    build_interactions.main(["build_interactions.py", "--JOB_NAME", "alone", *alone])
    _run(raw, lake, db)

    rows = spark.read.format("delta").load(f"{lake}/job_runs").orderBy("started_at").collect()
    assert rows[2]["job_name"] == "housekeeping" and rows[2]["records_written"]["interactions"] == 0
    assert [(r["job_name"], r["status"], r["message"]) for r in rows[3:]] == [
        ("alone", "skipped", "playlist_tracks unchanged at v1"),
        ("curate_alone", "succeeded", ""),
        ("alone", "succeeded", "1 playlists changed in playlist_tracks v2-v2 (change data feed)"),
        (f"{JOB}/raw_to_curated", "skipped", "no new complete landing runs"),
        (f"{JOB}/build_interactions", "skipped", "playlist_tracks unchanged at v2"),
    ]
    assert spark.read.format("delta").load(f"{lake}/interactions").count() == 2 + 2 + 3
