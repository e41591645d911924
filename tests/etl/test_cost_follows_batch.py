"""Cost proportional to the batch: what a job reads of the landing zone and of the tables follows the new data.

* Manifests: the listing of ``_manifests/`` is filtered by the run id in each key before anything is downloaded,
  so a run never reads the manifests of runs it processed before.
* MERGEs: the condition names the partitions and (for a small batch) the keys the batch touches, so Delta skips
  the other files before it joins. The probe is blunt on purpose: the files the MERGE must not read are deleted
  from disk behind Delta's back, so any scan of them fails the MERGE.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from landing_builders import land_mpd, mpd_playlist
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from glue_jobs.v1 import raw_to_curated
from musiclake import bookkeeping, landing, runtime, schemas, storage
from musiclake import lake as lake_module
from musiclake.lake import Lake, conform
from musiclake.runtime import session_conf  # a setting for a block only, restored after it
from musiclake.schemas import TableSpec

OBSERVED = datetime(2026, 11, 26, 10, 0, 0)


def _new_database() -> str:
    """A catalog database of its own (the session's Hive metastore is shared by every test)."""
    return f"cost_{uuid.uuid4().hex[:8]}"


# --- manifests ---------------------------------------------------------------------------------------------------
def _land_mpd(raw: str, pids: list[int]) -> str:
    return land_mpd(raw, [mpd_playlist(pid) for pid in pids])


def _spy_on_downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every URI read through :func:`storage.get_bytes` (the real function still does the reading)."""
    read: list[str] = []
    real = storage.get_bytes

    def spying(uri: str) -> bytes:
        read.append(uri)
        return real(uri)

    monkeypatch.setattr(storage, "get_bytes", spying)
    return read


def _manifests_read(read: list[str]) -> list[str]:
    return sorted(landing.run_id_of_manifest_uri(uri) for uri in read if f"/{landing.MANIFESTS_DIR}/" in uri)


def test_run_id_of_manifest_uri_reads_the_key_local_and_s3():
    run_id = landing.new_run_id("spotify")
    for root in ("/tmp/landing", "s3://bucket/raw"):
        assert landing.run_id_of_manifest_uri(landing.manifest_uri(root, "spotify", run_id)) == run_id


def test_manifests_of_skipped_runs_are_listed_but_never_downloaded_on_s3(s3_bucket, monkeypatch):
    raw = f"s3://{s3_bucket}/raw"
    old, new = _land_mpd(raw, [1]), _land_mpd(raw, [2])
    storage.put_bytes(landing.manifest_uri(raw, "mpd", old), b"not a manifest", overwrite=True)
    assert [landing.run_id_of_manifest_uri(u) for u in landing.list_manifest_uris(raw)] == sorted([old, new])
    read = _spy_on_downloads(monkeypatch)

    runs = landing.complete_runs(raw, skip_run_ids={old})

    assert [m.run_id for m in runs] == [new]
    assert _manifests_read(read) == [new]  # the unreadable manifest of the skipped run was never downloaded
    with pytest.raises(landing.ManifestError, match=re.escape(landing.manifest_uri(raw, "mpd", old))):
        landing.complete_runs(raw)  # without the skip it is read (and refused, naming it)


def test_a_job_run_downloads_only_the_manifests_of_new_runs(spark, tmp_path, monkeypatch):
    """After runs are processed, the next job run downloads the new run's manifest only; a processed run's
    manifest whose content is no longer readable is never read; ``reprocess`` reads every manifest."""
    raw, lake, db = str(tmp_path / "landing"), str(tmp_path / "lake"), _new_database()
    first, second = _land_mpd(raw, [1, 2]), _land_mpd(raw, [3])
    curate = ["raw_to_curated.py", "--JOB_NAME", "raw_to_curated", "--raw_path", raw, "--lake_path", lake,
              "--database", db]
    raw_to_curated.main(curate)
    third = _land_mpd(raw, [4])
    first_manifest = Path(landing.manifest_uri(raw, "mpd", first))
    intact = first_manifest.read_bytes()
    first_manifest.write_bytes(b"\x00 not a manifest any more")
    read = _spy_on_downloads(monkeypatch)

    raw_to_curated.main(curate)

    assert _manifests_read(read) == [third]
    tables = Lake(spark, lake, db)
    run = tables.load(schemas.JOB_RUNS).orderBy(F.col("finished_at").desc()).first()
    assert (run["status"], run["landing_runs"]) == ("succeeded", [third])
    assert {r["playlist_id"] for r in tables.load(schemas.PLAYLISTS).collect()} == {f"mpd:{p}" for p in (1, 2, 3, 4)}

    read.clear()
    assert bookkeeping.runs_to_process(tables, raw, reprocess=False) == []
    assert read == []
    first_manifest.write_bytes(intact)
    assert sorted(m.run_id for m in bookkeeping.runs_to_process(tables, raw, reprocess=True)) == sorted(
        [first, second, third])
    assert _manifests_read(read) == sorted([first, second, third])


# --- MERGE conditions --------------------------------------------------------------------------------------------
def _rows(spec: TableSpec, *rows: dict[str, Any]) -> list[tuple]:
    """Rows of ``spec``: the given values, ``OBSERVED`` / a run id for the required bookkeeping columns, else null."""
    filled = {"observed_at": OBSERVED, "run_id": "run-1", "item_type": "track"}
    return [tuple(row.get(f.name, filled.get(f.name)) for f in spec.schema.fields) for row in rows]


def _frame(spark, spec: TableSpec, *rows: dict[str, Any]) -> DataFrame:
    return spark.createDataFrame(_rows(spec, *rows), spec.schema)


def _append(tables: Lake, spec: TableSpec, frame: DataFrame) -> None:
    tables.ensure(spec)
    conform(frame, spec.schema).write.format("delta").mode("append").save(tables.location(spec))


def _delete_data_files(folder: Path, keep: Callable[[Path], bool] = lambda _: False) -> list[Path]:
    """Delete the Parquet files under ``folder`` behind Delta's back (the log still lists them)."""
    gone = [f for f in sorted(folder.rglob("*.parquet")) if not keep(f)]
    for f in gone:
        f.unlink()
    return gone


def _latest_merge(spark, tables: Lake, spec: TableSpec):
    row = spark.sql(f"DESCRIBE HISTORY delta.`{tables.location(spec)}`").orderBy(F.col("version").desc()).first()
    assert row["operation"] == "MERGE"
    return row


def test_a_batch_merge_scans_only_the_partitions_it_touches(spark, tmp_path):
    """A batch of API playlists into a table holding both sources: the MERGE condition names the batch's
    partition (``source = 'spotify'``), and the MPD partition's files are never read (deleted from disk here, a
    MERGE that scanned them would fail). A full sync (``delete_missing``) gets no such predicate: it must read
    the whole table, so on the same table it fails."""
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.PLAYLISTS
    stored = [{"playlist_id": f"mpd:{i}", "source": "mpd", "name": f"mpd {i}"} for i in range(20)]
    stored += [{"playlist_id": f"api{i}", "source": "spotify", "name": f"api {i}"} for i in range(5)]
    tables.merge(spec, _frame(spark, spec, *stored))
    gone = _delete_data_files(Path(tables.location(spec)) / "source=mpd")
    assert gone, "the MPD partition should hold files"

    batch = _frame(spark, spec, {"playlist_id": "api1", "source": "spotify", "name": "renamed"},
                   {"playlist_id": "api9", "source": "spotify", "name": "new"})
    assert tables.merge(spec, batch) == 2

    merge = _latest_merge(spark, tables, spec)
    predicate = merge["operationParameters"]["predicate"]
    assert "source" in predicate and "spotify" in predicate and "mpd" not in predicate
    assert "api1" in predicate and "api9" in predicate  # the batch's keys, for data skipping
    assert int(merge["operationMetrics"]["numTargetRowsUpdated"]) == 1
    api = tables.load(spec).filter(F.col("source") == "spotify")  # partition-pruned: the MPD files are gone
    assert {r["playlist_id"]: r["name"] for r in api.collect()} == {
        **{f"api{i}": f"api {i}" for i in range(5)}, "api1": "renamed", "api9": "new"}

    with pytest.raises(Exception, match=r"(?s)FileNotFound|does not exist|DELTA_FILE_NOT_FOUND"):
        tables.merge(spec, batch, delete_missing=True)


def test_a_small_batch_names_its_keys_so_files_are_skipped_on_their_statistics(spark, tmp_path, monkeypatch):
    """An unpartitioned table in two files of disjoint key ranges: a batch of a few keys names them (as literals,
    quotes and backslashes included), so the file of the other range is never read; over the threshold the keys
    are not named and that file is scanned."""
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.TRACKS
    low = [{"track_id": f"a{i:03d}", "track_name": f"low {i}", "source": "spotify"} for i in range(50)]
    low.append({"track_id": "a'q\\uote", "track_name": "quoted", "source": "spotify"})
    high = [{"track_id": f"z{i:03d}", "track_name": f"high {i}", "source": "spotify"} for i in range(50)]
    _append(tables, spec, _frame(spark, spec, *low))
    _append(tables, spec, _frame(spark, spec, *high))
    _delete_data_files(Path(tables.location(spec)), keep=lambda f: _min_track_id(spark, f).startswith("a"))

    batch = _frame(spark, spec, {"track_id": "a'q\\uote", "track_name": "still quoted", "source": "spotify"},
                   {"track_id": "a001", "track_name": "changed", "source": "spotify"})
    assert tables.merge(spec, batch) == 2
    predicate = _latest_merge(spark, tables, spec)["operationParameters"]["predicate"]
    assert "a001" in predicate and "uote" in predicate
    names = {r["track_id"]: r["track_name"] for r in tables.load(spec).filter(F.col("track_id") < "b").collect()}
    assert (names["a'q\\uote"], names["a001"], names["a002"]) == ("still quoted", "changed", "low 2")

    monkeypatch.setattr(lake_module, "MERGE_KEY_LITERALS_MAX", 1)  # two keys: over the threshold, no literals
    with pytest.raises(Exception, match=r"(?s)FileNotFound|does not exist|DELTA_FILE_NOT_FOUND"):
        tables.merge(spec, _frame(spark, spec, {"track_id": "a003", "track_name": "x", "source": "spotify"},
                                  {"track_id": "a004", "track_name": "y", "source": "spotify"}))


def _min_track_id(spark, parquet_file: Path) -> str:
    return spark.read.parquet(str(parquet_file)).agg(F.min("track_id")).first()[0]


def test_an_empty_batch_merges_nothing_but_an_empty_full_sync_still_empties_the_table(spark, tmp_path):
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.PLAYLISTS
    empty = _frame(spark, spec)
    assert tables.merge(spec, empty) == 0
    assert tables.exists(spec) and tables.version(spec) == 0  # created, nothing committed
    tables.merge(spec, _frame(spark, spec, {"playlist_id": "mpd:1", "source": "mpd"}))
    version = tables.version(spec)
    assert tables.merge(spec, empty) == 0 and tables.version(spec) == version
    assert tables.merge(spec, empty, delete_missing=True) == 1
    assert tables.load(spec).count() == 0


def test_a_record_quarantined_again_on_a_later_day_is_kept_once(spark, tmp_path):
    """``quarantine``'s partition (the day) does not follow its key: the MERGE must not be limited to the
    batch's days, or the same bad record quarantined again would be stored twice."""
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.QUARANTINE
    bad = {"quarantine_id": "q1", "source_file": "f", "reason": "malformed JSON line", "record": "x",
           "occurrences": 1, "job_run_id": "j1"}
    tables.merge(spec, _frame(spark, spec, {**bad, "quarantined_date": "2026-11-26"}))
    tables.merge(spec, _frame(spark, spec, {**bad, "quarantined_date": "2026-11-27", "job_run_id": "j2"}))
    assert [(r["quarantine_id"], r["quarantined_date"]) for r in tables.load(spec).collect()] == [
        ("q1", "2026-11-27")]


# --- fixed cost per MERGE ----------------------------------------------------------------------------------------
def _plans_during(spark, job: str, stage: str, action: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What ``action`` returned and the physical plans of every query it ran (its own and Delta's on its behalf,
    which Delta names ``Delta: <description>: ...``), from Spark's SQL status store."""
    with runtime.phase(spark, job, stage):
        result = action()
    store = spark._jsparkSession.sharedState().statusStore()
    executions = store.executionsList(max(0, store.executionsCount() - 200), 200)
    description = f"{job}: {stage}"
    plans = [e.physicalPlanDescription() for e in (executions.apply(i) for i in range(executions.size()))
             if description in e.description()]
    return result, plans


def test_a_merge_reads_its_commits_in_the_driver_and_creates_the_table_and_database_once(spark, tmp_path):
    """Around the MERGE the Delta log is read in the driver (no ``DESCRIBE DETAIL``, which computes the snapshot,
    and no ``DESCRIBE HISTORY``, a Spark job of its own), the first load into a new table is an append, and the
    ``CREATE`` statements run once per job's ``Lake``: not for a table it created or found registered here."""
    root, database = str(tmp_path / "lake"), _new_database()
    tables, spec = Lake(spark, root, database), schemas.TRACKS
    job = f"fixed_{uuid.uuid4().hex[:6]}"
    stored = [{"track_id": f"a{i:03d}", "track_name": f"track {i}", "source": "spotify"} for i in range(5)]
    batch = [{"track_id": "a001", "track_name": "renamed", "source": "spotify"},
             {"track_id": "b001", "track_name": "new", "source": "spotify"}]

    loaded, first = _plans_during(spark, job, "first", lambda: tables.merge(spec, _frame(spark, spec, *stored)))
    merged, second = _plans_during(spark, job, "second", lambda: tables.merge(spec, _frame(spark, spec, *batch)))
    next_job = Lake(spark, root, database)  # as the next run: its catalog check finds the table registered here
    next_job.check_registrations([spec])
    again, third = _plans_during(spark, job, "third", lambda: next_job.merge(
        spec, _frame(spark, spec, {"track_id": "c001", "track_name": "newer", "source": "spotify"})))
    _, probe = _plans_during(spark, job, "probe", lambda: (
        DeltaTable.forPath(spark, tables.location(spec)).detail().first(),
        DeltaTable.forPath(spark, tables.location(spec)).history(1).first()))

    assert (loaded, merged, again) == (5, 2, 1)
    # the probe sees a detail or history read when there is one
    assert any("DescribeDeltaDetail" in p for p in probe) and any("delta.DeltaHistory" in p for p in probe)
    assert not any("DescribeDeltaDetail" in p or "delta.DeltaHistory" in p for p in first + second + third)
    assert sum("CreateNamespace" in p for p in first) == 1
    assert any("CreateTable" in p for p in first)
    assert not any("CreateNamespace" in p or "CreateTable" in p for p in second + third)
    assert any("MergeIntoCommand" in p for p in second) and not any("MergeIntoCommand" in p for p in first)
    assert {r["track_id"]: r["track_name"] for r in tables.load(spec).collect()} == {
        **{r["track_id"]: r["track_name"] for r in stored}, "a001": "renamed", "b001": "new", "c001": "newer"}


def test_a_counted_first_load_is_written_from_its_partitions_without_the_optimized_writes_shuffle(
        spark, tmp_path, monkeypatch):
    """A first load whose rows the caller counted is written straight from the batch's partitions (one file each,
    or one file in all under ``FIRST_LOAD_ROWS_PER_FILE`` rows), not binned by the optimized write (a shuffle of
    every row, which would make one file of them); an uncounted one keeps the tables' optimized write."""
    monkeypatch.setattr(lake_module, "FIRST_LOAD_ROWS_PER_FILE", 4)
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.TRACKS
    rows = [{"track_id": f"a{i:03d}", "track_name": f"track {i}", "source": "spotify"} for i in range(10)]

    def load(name: str, batch: list[dict[str, Any]], counted: bool) -> tuple[int, int]:
        written = tables.merge(replace(spec, name=name), _frame(spark, spec, *batch).repartition(5),
                               rows=len(batch) if counted else None)
        return written, len(list((tmp_path / "lake" / name).rglob("*.parquet")))

    assert load("counted", rows, counted=True) == (10, 5)  # a file per partition
    assert load("small", rows[:3], counted=True) == (3, 1)
    assert load("uncounted", rows, counted=False) == (10, 1)  # the optimized write's one bin
    assert sorted(r["track_id"] for r in tables.load(replace(spec, name="counted")).collect()) == [
        r["track_id"] for r in rows]


def test_a_write_followed_by_auto_compaction_reports_its_own_row_counts(spark, tmp_path):
    """A table that auto-compacts (``delta.autoOptimize.autoCompact``, set on the tables of lakes made before
    housekeeping took compaction over, or by a session's ``spark.databricks.delta.autoCompact.enabled``) may commit
    an OPTIMIZE right after a write, so the rows written are read from the write's own commit, not the latest."""
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.TRACKS
    rows = [{"track_id": f"a{i:03d}", "track_name": f"track {i}", "source": "spotify"} for i in range(4)]
    settings = {"spark.databricks.delta.autoCompact.enabled": "true",
                "spark.databricks.delta.autoCompact.minNumFiles": "1"}  # compact after every write
    with session_conf(spark, settings):
        loaded = tables.merge(spec, _frame(spark, spec, *rows[:2]))
        merged = tables.merge(spec, _frame(spark, spec, *rows[2:]))  # two new: a file of their own

    operations = [r["operation"] for r in DeltaTable.forPath(spark, tables.location(spec)).history().orderBy(
        "version").collect()]
    assert operations[-1] == "OPTIMIZE" and "MERGE" in operations  # the MERGE is not the latest commit
    assert (loaded, merged) == (2, 2)


def test_writes_leave_compaction_to_housekeeping(spark, tmp_path):
    """The lake's tables do not auto-compact (its check after each write is a Spark job of its own): however many
    small files the writes leave, no OPTIMIZE commits until housekeeping runs one."""
    tables, spec = Lake(spark, str(tmp_path / "lake"), _new_database()), schemas.TRACKS
    # a table that auto-compacts would compact after each of these writes
    with session_conf(spark, {"spark.databricks.delta.autoCompact.minNumFiles": "1"}):
        for i in range(3):
            tables.merge(spec, _frame(spark, spec, {"track_id": f"a{i:03d}", "source": "spotify"}))

    table = DeltaTable.forPath(spark, tables.location(spec))
    assert [r["operation"] for r in table.history().orderBy("version").collect()] == [
        "CREATE TABLE", "WRITE", "MERGE", "MERGE"]
    assert table.detail().first()["properties"] == {"delta.autoOptimize.optimizeWrite": "true"}
