"""Job bookkeeping: which landing runs to process, and the ``job_runs``, ``processed_runs`` and ``quarantine`` tables.

Incremental processing: a job reads only *complete* landing runs (manifest present) that are not yet in
``processed_runs``; Glue job bookmarks do not cover Delta tables, so this log is the bookmark.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from musiclake import landing, schemas, storage
from musiclake.lake import CatalogConflictError, Lake, file_sizes
from musiclake.runtime import SparkWork, small_frame

log = logging.getLogger("musiclake.bookkeeping")


class BadInputError(RuntimeError):
    """Too much of the input was quarantined: the run fails instead of publishing a partial picture."""


class LandingMismatchError(RuntimeError):
    """The landing zone does not hold what a manifest promises (a file missing, of another size or checksum)."""


@dataclass
class JobRun:
    """One run of a job: its id, start time and the counts it reports to ``job_runs``."""

    job_name: str
    job_run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    landing_runs: list[str] = field(default_factory=list)
    records_read: int = 0
    records_written: dict[str, int] = field(default_factory=dict)
    records_quarantined: int = 0
    input_versions: dict[str, int] = field(default_factory=dict)
    input_table_ids: dict[str, str] = field(default_factory=dict)
    spark_work: dict[str, SparkWork] = field(default_factory=dict)  # per stage of the job (logged, not stored)

    @property
    def today(self) -> str:
        return self.started_at.strftime("%Y-%m-%d")

    @contextmanager
    def failing_on_error(self, lake: Lake) -> Iterator[None]:
        """Record a ``failed`` run (with the error as its message) if the block raises, then re-raise.

        Wrap a job's whole body in it: whatever step fails (loading, planning, a check, a write), ``job_runs``
        says so. If recording fails too, that is logged and the job's own error raised. A catalog conflict
        (:meth:`Lake.checking_registrations`) records nothing: ``job_runs`` may be the conflicting table.
        """
        try:
            yield
        except CatalogConflictError:
            raise  # the tables it names are another lake's: nowhere safe to record even a failed run
        except Exception as exc:
            try:
                self.record(lake, "failed", str(exc))
            except Exception:  # the job's own error is the one to raise; this one is only logged
                log.exception("job %s failed (%s) and its failed run could not be recorded", self.job_name, exc)
            raise

    def record(self, lake: Lake, status: str, message: str = "") -> None:
        """Append this run's row to ``job_runs`` and log the same figures."""
        finished = datetime.now(UTC)
        row = (self.job_run_id, self.job_name, status, self.started_at.replace(tzinfo=None),
               finished.replace(tzinfo=None), self.landing_runs, self.records_read, self.records_written,
               self.records_quarantined, self.input_versions, message, self.input_table_ids)
        lake.append(schemas.JOB_RUNS, small_frame(lake.spark, [row], schemas.JOB_RUNS.schema))
        log.info("job %s %s: read %d, written %s, quarantined %d%s", self.job_name, status, self.records_read,
                 self.records_written, self.records_quarantined, f" ({message})" if message else "")


def runs_to_process(lake: Lake, raw_path: str, *, reprocess: bool) -> list[landing.Manifest]:
    """Complete landing runs not yet processed (all complete runs with ``reprocess``), oldest first.

    Notes
    -----
    The manifests' listing is filtered by the run id in each key before any is downloaded: a run reads the
    manifests of the new runs only, however many runs were processed before (with ``reprocess``, every one).
    """
    return landing.complete_runs(raw_path, skip_run_ids=set() if reprocess else processed_run_ids(lake))


def processed_run_ids(lake: Lake) -> set[str]:
    """The landing runs recorded in ``processed_runs`` (none when the table does not exist yet)."""
    if not lake.exists(schemas.PROCESSED_RUNS):
        return set()
    # small by construction: one row per landing run ever processed
    return {r["run_id"] for r in lake.load(schemas.PROCESSED_RUNS).select("run_id").collect()}


def check_landed_files(spark: SparkSession, runs: list[landing.Manifest], raw_path: str, *,
                       checksums: bool = False) -> None:
    """Check that every file the manifests name is there, of the promised size (and sha256 with ``checksums``).

    Parameters
    ----------
    runs
        The manifests of the landing runs about to be read.
    checksums
        Also read every file's bytes (on the driver, one file at a time) and compare its sha256: a full extra
        read of the batch, for when a same-size change must be caught too.

    Raises
    ------
    LandingMismatchError
        Naming each file that is missing or differs, and how.

    Notes
    -----
    Sizes cost one listing per run folder (a few per run), through the file system Spark reads with.
    """
    problems = []
    for manifest in runs:
        by_folder: dict[str, list[landing.ManifestFile]] = {}
        for promised in manifest.files:
            by_folder.setdefault(storage.join(raw_path, promised.path).rsplit("/", 1)[0], []).append(promised)
        for folder, promised_files in by_folder.items():
            sizes = file_sizes(spark, folder)
            for promised in promised_files:
                name = promised.path.rsplit("/", 1)[-1]
                uri = storage.join(raw_path, promised.path)
                if name not in sizes:
                    problems.append(f"{uri} is missing (run {manifest.run_id} promises {promised.bytes} bytes)")
                elif sizes[name] != promised.bytes:
                    problems.append(f"{uri} has {sizes[name]} bytes, run {manifest.run_id} promises {promised.bytes}")
                elif checksums and (found := landing.sha256(storage.get_bytes(uri))) != promised.sha256:
                    problems.append(f"{uri} has sha256 {found}, run {manifest.run_id} promises {promised.sha256}")
    if problems:
        raise LandingMismatchError(
            f"the landing zone does not hold what its manifests promise, so no table was changed: "
            f"{'; '.join(problems)}. Landed files are written once: find out what changed them, land the data "
            "again as a new run, and run the job again (the runs named are not marked processed)."
        )


def unreadable_files(runs: list[landing.Manifest], raw_path: str) -> dict[str, list[str]]:
    """``{run id: problems}`` of the runs whose files (as the manifests name them) do not decompress whole as gzip,
    each problem naming the file and why. Read and decompressed in the driver, one file at a time (a landed part is
    a slice or a page batch: a few MB)."""
    found: dict[str, list[str]] = {}
    for manifest in runs:
        for promised in manifest.files:
            uri = storage.join(raw_path, promised.path)
            try:
                landing.gunzip(storage.get_bytes(uri))
            except ValueError as exc:
                found.setdefault(manifest.run_id, []).append(f"{uri} is not a whole gzip file ({exc})")
    return found


@contextmanager
def naming_unreadable_files(runs: list[landing.Manifest], raw_path: str) -> Iterator[None]:
    """Around the Spark work that reads the batch's landed files: a failure becomes a :class:`LandingMismatchError`
    naming the files that are not whole gzip files, when some are (Spark's own error names none: a truncated file
    ends its task with ``Unexpected end of input stream``); any other failure passes unchanged. The files are read
    again, in the driver, only after a failure: a batch that reads costs nothing more."""
    try:
        yield
    except Exception as exc:
        found = unreadable_files(runs, raw_path)
        if not found:
            raise
        problems = [problem for run_problems in found.values() for problem in run_problems]
        manifests = [landing.manifest_uri(raw_path, m.source, m.run_id) for m in runs if m.run_id in found]
        raise LandingMismatchError(
            f"landed files that cannot be read, so no table was changed: {'; '.join(problems)}. They are the files "
            "their manifests promise (sizes match), so they were landed broken: land the data again as a new run. "
            "The job reads a run until it is processed; to go on without the runs named, remove their manifests "
            f"(their files are then never read): {', '.join(manifests)}."
        ) from exc


def mark_processed(lake: Lake, runs: list[landing.Manifest], job: JobRun) -> None:
    """Record landing runs as processed (a MERGE: marking twice is harmless)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(m.run_id, m.source, sum(f.records for f in m.files), job.job_run_id, now) for m in runs]
    lake.merge(schemas.PROCESSED_RUNS, small_frame(lake.spark, rows, schemas.PROCESSED_RUNS.schema), rows=len(rows))


@dataclass(frozen=True)
class Inputs:
    """What a job run read: each input table's Delta version and table id."""

    versions: dict[str, int]
    table_ids: dict[str, str]


def last_inputs(lake: Lake, built: schemas.TableSpec, source: schemas.TableSpec) -> Inputs | None:
    """The inputs of the latest successful run that built the table ``built`` from ``source`` (None if none did),
    whatever the job's name: ``build_interactions`` alone and the step of ``raw_to_interactions`` (each recorded
    under its own name) keep the same table up to date, so the latest of either is what the table was built from.
    Such a run recorded what it wrote to ``built`` and the Delta id of the ``source`` it read; ``housekeeping``,
    which also records the tables it rewrote, records no table ids. A run recorded before table ids were is not
    found (the caller then syncs everything, as it would for a run whose source it cannot identify), nor is one
    whose ``built`` table is no longer there (a first build, or the table deleted since: what it built is gone)."""
    if not lake.exists(built) or not lake.exists(schemas.JOB_RUNS):
        return None
    runs = lake.load(schemas.JOB_RUNS)
    if "input_table_ids" not in runs.columns:
        return None
    runs = runs.filter((F.col("status") == "succeeded") & F.col("records_written").getItem(built.name).isNotNull()
                       & F.col("input_table_ids").getItem(source.name).isNotNull())
    latest = runs.orderBy(F.col("finished_at").desc()).select("input_versions", "input_table_ids").first()
    if latest is None:
        return None
    return Inputs(dict(latest["input_versions"] or {}), dict(latest["input_table_ids"] or {}))


def check_bad_fraction(quarantined: int, read: int, max_fraction: float) -> None:
    """Fail when more than ``max_fraction`` of the records read went to quarantine."""
    fraction = quarantined / read if read else 0.0
    if fraction > max_fraction:
        raise BadInputError(
            f"{quarantined} of {read} records ({fraction:.1%}) were quarantined, more than the allowed "
            f"{max_fraction:.1%}. Inspect them with: SELECT reason, count(*) FROM quarantine GROUP BY reason; "
            "fix the input (or raise --max_bad_fraction if this much bad data is expected) and run the job again."
        )
