"""housekeeping: OPTIMIZE, quarantine retention and VACUUM, on a small lake of a few MERGE versions.

The lake is built once per module (``tracks`` after three MERGEs, ``quarantine`` with old and recent partitions) and
only read; each test runs the job on its own copy, registered in a catalog database of its own.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glue_jobs.v1 import housekeeping as housekeeping_entry
from musiclake import runtime, schemas
from musiclake.jobs import housekeeping
from musiclake.jobs.housekeeping import HousekeepingOptions
from musiclake.lake import Lake
from musiclake.options import OptionsError

TODAY = datetime.now(UTC).date()
OLD_DATE = "2000-01-01"


def _new_database() -> str:
    """A catalog database of its own (the session's Hive metastore is shared by every test)."""
    return f"hk_{uuid.uuid4().hex[:8]}"


def _track(track_id: str, name: str | None, duration_ms: int | None = 200_000) -> tuple:
    observed = datetime(2026, 1, 1)
    return (track_id, f"spotify:track:{track_id}", name, "a1", None, None, None, duration_ms, None, None,
            "spotify", observed, "run-1")


def _quarantined(qid: str, day: str) -> tuple:
    return (qid, "run-1", "spotify", "tracks", "raw/part-0.jsonl.gz", "missing id", "{}", 1, "job-1", day)


@pytest.fixture(scope="module")
def built_lake(spark, tmp_path_factory) -> Path:
    """``tracks`` after three MERGEs (inserts, an update, a null name) and a ``quarantine`` with two rows from
    2000 and one each from 10 days ago and today. Read only: tests work on :func:`lake_copy`."""
    root = tmp_path_factory.mktemp("housekeeping") / "lake"
    lake = Lake(spark, str(root), _new_database())
    for rows in ([_track("t1", "one"), _track("t2", None)],
                 [_track("t2", "two"), _track("t3", "three", None)],
                 [_track("t4", "four"), _track("t5", "five")]):
        lake.merge(schemas.TRACKS, spark.createDataFrame(rows, schemas.TRACKS.schema))
    recent = (TODAY - timedelta(days=10)).isoformat()
    quarantined = [_quarantined("q1", OLD_DATE), _quarantined("q2", OLD_DATE), _quarantined("q3", recent),
                   _quarantined("q4", TODAY.isoformat())]
    lake.append(schemas.QUARANTINE, spark.createDataFrame(quarantined, schemas.QUARANTINE.schema))
    return root


@pytest.fixture()
def lake_copy(spark, built_lake, tmp_path) -> Lake:
    """The module's lake copied into the test's own folder, with a catalog database of its own."""
    shutil.copytree(built_lake, tmp_path / "lake")
    return Lake(spark, str(tmp_path / "lake"), _new_database())


def _options(lake: Lake, **extra) -> HousekeepingOptions:
    return HousekeepingOptions(job_name="housekeeping", lake_path=lake.root, database=lake.database, **extra)


def _rows(lake: Lake, spec, version: int | None = None) -> list:
    return sorted(lake.load(spec, version=version).collect())  # a few rows


def _rows_by_version(lake: Lake, spec) -> dict[int, list]:
    return {v: _rows(lake, spec, v) for v in range(lake.version(spec) + 1)}


def _snapshot_files(lake: Lake, spec) -> set[str]:
    """The data files the table's current version reads."""
    return {Path(f.removeprefix("file:")).name for f in lake.load(spec).inputFiles()}


def _files_on_disk(lake: Lake, spec) -> set[str]:
    return {p.name for p in Path(lake.location(spec)).rglob("*.parquet") if "_delta_log" not in p.parts}


def _job_runs(lake: Lake) -> list:
    return lake.load(schemas.JOB_RUNS).orderBy("finished_at").collect()


def test_optimize_compacts_and_the_default_retention_keeps_every_version_readable(lake_copy):
    before = _rows_by_version(lake_copy, schemas.TRACKS)
    files_before = _snapshot_files(lake_copy, schemas.TRACKS)
    assert len(files_before) > 1

    housekeeping.run(lake_copy.spark, _options(lake_copy, tables=["tracks"]))

    assert len(_snapshot_files(lake_copy, schemas.TRACKS)) == 1  # compacted
    assert _rows(lake_copy, schemas.TRACKS) == before[max(before)]
    assert {v: _rows(lake_copy, schemas.TRACKS, v) for v in before} == before  # time travel to every version
    assert files_before <= _files_on_disk(lake_copy, schemas.TRACKS)  # younger than 168 h: nothing vacuumed
    (job_run,) = _job_runs(lake_copy)
    assert job_run["status"] == "succeeded"
    assert job_run["records_written"] == {"tracks": len(files_before) + 1}  # removed + added by OPTIMIZE
    assert job_run["input_versions"] == {"tracks": max(before)}
    assert f"optimize -{len(files_before)}/+1 files" in job_run["message"]


@dataclass(frozen=True)
class TwoRuns:
    """A copy of the lake after housekeeping ran twice with a zero vacuum retention (explicitly allowed) and a
    30-day quarantine retention, through the Glue entry script, and what the tables held in between."""

    lake: Lake
    rows_before: dict[str, list]
    rows_after_first: dict[str, list]
    versions_after_first: dict[str, int]


@pytest.fixture(scope="module")
def two_short_retention_runs(spark, built_lake, tmp_path_factory) -> TwoRuns:
    root = tmp_path_factory.mktemp("housekeeping_twice") / "lake"
    shutil.copytree(built_lake, root)
    lake = Lake(spark, str(root), _new_database())
    specs = (schemas.TRACKS, schemas.QUARANTINE)
    argv = ["housekeeping.py", "--JOB_NAME", "housekeeping", "--lake_path", lake.root, "--database", lake.database,
            "--tables", "tracks,quarantine", "--quarantine_retention_days", "30", "--vacuum_retention_hours", "0",
            "--allow_short_retention", "true"]
    rows_before = {spec.name: _rows(lake, spec) for spec in specs}
    housekeeping_entry.main(argv)
    rows_after_first = {spec.name: _rows(lake, spec) for spec in specs}
    versions_after_first = {spec.name: lake.version(spec) for spec in specs}
    housekeeping_entry.main(argv)
    return TwoRuns(lake, rows_before, rows_after_first, versions_after_first)


def test_zero_retention_removes_old_versions_files_and_the_current_version_reads_the_same_rows(
        spark, two_short_retention_runs):
    runs = two_short_retention_runs
    lake = runs.lake
    assert _files_on_disk(lake, schemas.TRACKS) == _snapshot_files(lake, schemas.TRACKS)
    assert runs.rows_after_first["tracks"] == runs.rows_before["tracks"]
    with pytest.raises(Exception, match="(?i)file.*(not (be )?found|does not exist)|FileNotFound"):
        _rows(lake, schemas.TRACKS, version=1)  # its files are gone
    assert spark.conf.get(housekeeping.RETENTION_CHECK, None) is None  # the shared session's check is back on
    assert spark.conf.get(housekeeping.LISTING_PARALLELISM, None) is None
    first, _ = _job_runs(lake)
    assert "tracks: optimize" in first["message"] and "vacuum deleted" in first["message"]


def test_session_settings_are_restored_when_the_block_fails(spark):
    with pytest.raises(RuntimeError), runtime.session_conf(spark, {housekeeping.RETENTION_CHECK: "false"}):
        assert spark.conf.get(housekeeping.RETENTION_CHECK) == "false"
        raise RuntimeError("a table failed")
    assert spark.conf.get(housekeeping.RETENTION_CHECK, None) is None


def test_quarantine_older_than_the_retention_is_deleted_before_the_vacuum_and_newer_rows_kept(
        spark, two_short_retention_runs):
    lake = two_short_retention_runs.lake
    assert [r["quarantine_id"] for r in two_short_retention_runs.rows_before["quarantine"]] == ["q1", "q2", "q3", "q4"]
    assert [r["quarantine_id"] for r in _rows(lake, schemas.QUARANTINE)] == ["q3", "q4"]
    # the old partition's files are gone in the same run: the DELETE came first, then the VACUUM removed them
    assert not list((Path(lake.location(schemas.QUARANTINE)) / f"quarantined_date={OLD_DATE}").glob("*.parquet"))
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake.location(schemas.QUARANTINE)}`").orderBy("version").collect()
    operations = [h["operation"] for h in history]
    assert operations.index("DELETE") < operations.index("VACUUM START")
    delete = history[operations.index("DELETE")]["operationMetrics"]
    assert (delete["numDeletedRows"], delete["numAddedFiles"]) == ("2", "0")  # whole partitions, nothing rewritten
    first, _ = _job_runs(lake)
    assert "2 expired quarantine rows deleted" in first["message"]


def test_a_second_run_changes_no_table(two_short_retention_runs):
    runs = two_short_retention_runs
    lake = runs.lake
    specs = (schemas.TRACKS, schemas.QUARANTINE)
    assert {spec.name: lake.version(spec) for spec in specs} == runs.versions_after_first
    assert {spec.name: _rows(lake, spec) for spec in specs} == runs.rows_after_first
    first, second = _job_runs(lake)
    assert all(first["records_written"].values())
    assert second["status"] == "succeeded" and second["records_written"] == {"tracks": 0, "quarantine": 0}
    assert second["input_versions"] == runs.versions_after_first
    assert second["message"].endswith(": nothing to do")


def test_a_failing_table_records_a_failed_run_naming_it_and_restores_the_session(lake_copy, monkeypatch):
    def refuse(*_args):
        raise RuntimeError("concurrent modification")

    monkeypatch.setattr(housekeeping, "vacuum", refuse)
    with pytest.raises(housekeeping.HousekeepingError, match="housekeeping tracks failed: concurrent modification"):
        housekeeping.run(lake_copy.spark, _options(lake_copy, tables=["tracks", "quarantine"], optimize=False,
                                                   vacuum_retention_hours=0, allow_short_retention=True))
    (job_run,) = _job_runs(lake_copy)
    assert job_run["status"] == "failed" and "tracks failed: concurrent modification" in job_run["message"]
    assert lake_copy.spark.conf.get(housekeeping.RETENTION_CHECK, None) is None


def test_a_lake_without_tables_records_a_skipped_run(spark, tmp_path):
    lake = Lake(spark, str(tmp_path / "lake"), _new_database())
    job = housekeeping.run(spark, _options(lake, tables=["tracks"]))
    (job_run,) = _job_runs(lake)
    assert (job_run["job_run_id"], job_run["status"]) == (job.job_run_id, "skipped")


@pytest.mark.parametrize(("extra", "message"), [
    ({"vacuum_retention_hours": 24}, "readers of older versions"),
    ({"vacuum_retention_hours": 167}, "--allow_short_retention true"),
    ({"vacuum_retention_hours": -1, "allow_short_retention": True}, "expected 0 or more hours"),
    ({"quarantine_retention_days": 0}, "--quarantine_retention_days: expected 1 or more days"),
    ({"tables": ["tracks", "nosuch"]}, "unknown table(s) nosuch"),
], ids=["short", "just-under-7-days", "negative", "no-quarantine-days", "unknown-table"])
def test_invalid_options_are_refused_with_what_to_do(extra, message):
    with pytest.raises(OptionsError) as refused:
        HousekeepingOptions(job_name="housekeeping", lake_path="/lake", database="db", **extra)
    assert message in str(refused.value)
    assert refused.value.code == 2


def test_a_short_retention_is_accepted_when_explicitly_allowed_and_defaults_are_delta_s():
    allowed = HousekeepingOptions(job_name="h", lake_path="/l", database="d", vacuum_retention_hours=0,
                                  allow_short_retention=True)
    assert allowed.vacuum_retention_hours == 0
    defaults = HousekeepingOptions.from_argv(["housekeeping.py", "--JOB_NAME", "h", "--lake_path", "/l",
                                              "--database", "d"])
    assert (defaults.vacuum_retention_hours, defaults.quarantine_retention_days, defaults.optimize) == (168, 90, True)
    assert defaults.specs() == list(schemas.TABLES.values())
    named = HousekeepingOptions(job_name="h", lake_path="/l", database="d", tables=["quarantine", "tracks"])
    assert [spec.name for spec in named.specs()] == ["tracks", "quarantine"]  # in the registry's order
