"""housekeeping: compact, expire old quarantine and VACUUM the lake's Delta tables (weekly).

For each table that exists (every table of :data:`schemas.TABLES` by default): drop the quarantine partitions older
than the quarantine retention (``quarantine`` only), ``OPTIMIZE`` (bin-packing compaction of small files), then
``VACUUM`` the data files no version younger than the vacuum retention still needs. The files a run removes or adds
are recorded per table in ``job_runs``; any failure records a ``failed`` job run.

Idempotent: a second run finds nothing to compact, delete or vacuum and commits nothing to any table but
``job_runs`` (its own row, and the previous run's row compacted). VACUUM first lists what it would delete (a dry
run, which commits nothing) and runs only when there is something, since Delta logs every VACUUM as two commits even
when it deletes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from musiclake import schemas
from musiclake.bookkeeping import JobRun
from musiclake.lake import Lake
from musiclake.options import JobOptions, OptionsError
from musiclake.runtime import session_conf
from musiclake.schemas import TableSpec

log = logging.getLogger("musiclake.housekeeping")

# Delta's default delta.deletedFileRetentionDuration (7 days): the shortest retention Delta itself allows.
SAFE_RETENTION_HOURS = 168
# Delta refuses a VACUUM retention under the table's deletedFileRetentionDuration unless this is false.
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# The number of tasks VACUUM lists a table's files with; Spark's default (10000) makes even a small table's listing
# take a minute on a few cores, so a run uses the cluster's parallelism unless the session sets it.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
QUARANTINE_DATE = "quarantined_date"
# A path VACUUM lists that ends in a ``column=value`` folder is a partition folder (a data file's name has no '=').
PARTITION_FOLDER = r"/[^/]*=[^/]*/?$"


class HousekeepingError(RuntimeError):
    """Housekeeping one table failed; the message names it and what the run had done before."""


@dataclass(frozen=True)
class HousekeepingOptions(JobOptions):
    """Options of the housekeeping job.

    Parameters
    ----------
    vacuum_retention_hours
        VACUUM keeps every data file a version younger than this still reads (time travel to those versions
        keeps working). At least :data:`SAFE_RETENTION_HOURS` unless ``allow_short_retention``.
    allow_short_retention
        Allow a retention under 168 hours (tests, a lake nobody else reads or writes).
    quarantine_retention_days
        Quarantine partitions (``quarantined_date``) older than this many days are deleted.
    optimize
        Compact small files (``OPTIMIZE``) before vacuuming.
    tables
        The tables to look after (names in :data:`schemas.TABLES`); every table that exists when empty.
    """

    lake_path: str
    database: str
    vacuum_retention_hours: int = SAFE_RETENTION_HOURS
    allow_short_retention: bool = False
    quarantine_retention_days: int = 90
    optimize: bool = True
    tables: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.vacuum_retention_hours < 0:
            raise OptionsError(f"--vacuum_retention_hours: expected 0 or more hours, got {self.vacuum_retention_hours}")
        if self.vacuum_retention_hours < SAFE_RETENTION_HOURS and not self.allow_short_retention:
            raise OptionsError(
                f"--vacuum_retention_hours {self.vacuum_retention_hours} is under {SAFE_RETENTION_HOURS} hours "
                "(7 days, Delta's default): VACUUM would delete files that readers of older versions (time travel, "
                "a query or job that started before the latest commit) and concurrent writers (a MERGE committing "
                "a version it planned on older files) may still need, failing them or corrupting what they "
                "write. Use at least 168, or pass --allow_short_retention true when nothing else reads or writes "
                "the lake"
            )
        if self.quarantine_retention_days < 1:
            raise OptionsError(
                f"--quarantine_retention_days: expected 1 or more days, got {self.quarantine_retention_days}"
            )
        unknown = sorted(set(self.tables) - set(schemas.TABLES))
        if unknown:
            raise OptionsError(f"--tables: unknown table(s) {', '.join(unknown)}; the lake's tables are "
                               f"{', '.join(schemas.TABLES)}")

    def specs(self) -> list[TableSpec]:
        """The tables named by ``--tables``, in :data:`schemas.TABLES` order (all of them when none is named)."""
        return [spec for name, spec in schemas.TABLES.items() if not self.tables or name in self.tables]


@dataclass
class TableHousekeeping:
    """What one run did to one table (file counts from the Delta operations' metrics)."""

    name: str
    version_before: int
    files_compacted: int = 0  # removed by OPTIMIZE
    files_written: int = 0  # added by OPTIMIZE (and by the quarantine DELETE, 0 when it drops whole partitions)
    rows_expired: int = 0  # quarantine rows deleted
    files_expired: int = 0  # removed by the quarantine DELETE
    files_vacuumed: int = 0  # deleted from storage by VACUUM

    @property
    def files_changed(self) -> int:
        return self.files_compacted + self.files_written + self.files_expired + self.files_vacuumed

    def summary(self) -> str:
        parts = [f"optimize -{self.files_compacted}/+{self.files_written} files"] if self.files_compacted else []
        if self.rows_expired:
            parts.append(f"{self.rows_expired} expired quarantine rows deleted ({self.files_expired} files)")
        if self.files_vacuumed:
            parts.append(f"vacuum deleted {self.files_vacuumed} files")
        return f"{self.name}: {', '.join(parts) or 'nothing to do'}"


def run(spark: SparkSession, opts: HousekeepingOptions) -> JobRun:
    """Compact, expire and vacuum the lake's tables; returns the recorded job run.

    Any failure after the catalog is checked records a ``failed`` job run (then raises).
    """
    lake = Lake(spark, opts.lake_path, opts.database)
    job = JobRun(opts.job_name)
    lake.check_registrations((*opts.specs(), schemas.JOB_RUNS))  # first: as every job, before writing anything
    with job.failing_on_error(lake):
        housekeep(lake, opts, job)
    return job


def housekeep(lake: Lake, opts: HousekeepingOptions, job: JobRun) -> None:
    """The job's stages: the existing tables, each expired (quarantine), compacted and vacuumed; the job run."""
    specs = [spec for spec in opts.specs() if lake.exists(spec)]
    if opts.tables and len(specs) < len(opts.tables):
        log.info("housekeeping: no table yet for %s", sorted(set(opts.tables) - {spec.name for spec in specs}))
    if not specs:
        job.record(lake, "skipped", f"no Delta tables to look after under {opts.lake_path}")
        return
    cutoff = quarantine_cutoff(job.started_at, opts.quarantine_retention_days)
    done = []
    with session_conf(lake.spark, vacuum_conf(lake.spark, opts)):
        for spec in specs:
            try:
                done.append(housekeep_table(lake, spec, opts, cutoff))
            except Exception as exc:
                before = "; ".join(t.summary() for t in done) or "nothing"
                raise HousekeepingError(f"housekeeping {spec.name} failed: {exc} (done before it: {before})") from exc
            log.info("housekeeping %s", done[-1].summary())
    job.input_versions = {t.name: t.version_before for t in done}
    job.records_written = {t.name: t.files_changed for t in done}
    changed = [t.summary() for t in done if t.files_changed]
    job.record(lake, "succeeded",
               f"{len(done)} tables, vacuum retention {opts.vacuum_retention_hours} h, quarantine kept from "
               f"{cutoff}: {'; '.join(changed) or 'nothing to do'}")


def housekeep_table(lake: Lake, spec: TableSpec, opts: HousekeepingOptions, cutoff: str) -> TableHousekeeping:
    """Expire old quarantine partitions (before the VACUUM, which then removes their files), OPTIMIZE, VACUUM."""
    table = DeltaTable.forPath(lake.spark, lake.location(spec))
    done = TableHousekeeping(spec.name, lake.version(spec))
    log.info("housekeeping %s at v%d", spec.name, done.version_before)
    if spec.name == schemas.QUARANTINE.name:
        expire_quarantine(lake, table, cutoff, done)
    if opts.optimize:
        compact(table, done)
    vacuum(lake, spec, opts.vacuum_retention_hours, done)
    return done


def quarantine_cutoff(started_at: datetime, retention_days: int) -> str:
    """The oldest ``quarantined_date`` kept (``YYYY-MM-DD``): rows more than ``retention_days`` old go."""
    return (started_at - timedelta(days=retention_days)).strftime("%Y-%m-%d")


def expire_quarantine(lake: Lake, table: DeltaTable, cutoff: str, done: TableHousekeeping) -> None:
    """DELETE the quarantine partitions dated before ``cutoff``.

    Notes
    -----
    The predicate is a literal comparison on the partition column only, so Delta drops those partitions' files
    from the table without reading or rewriting any file, and commits nothing when no partition is that old.
    The files stay on storage (older versions still read them) until a VACUUM past the retention.
    """
    before = lake.version(schemas.QUARANTINE)
    table.delete(F.col(QUARANTINE_DATE) < F.lit(cutoff))
    metrics = lake.commit_metrics(schemas.QUARANTINE, before, "DELETE")
    done.rows_expired = metrics.get("numDeletedRows", 0)
    done.files_expired = metrics.get("numRemovedFiles", 0)
    done.files_written += metrics.get("numAddedFiles", 0)


def compact(table: DeltaTable, done: TableHousekeeping) -> None:
    """OPTIMIZE (bin-packing): small files of each partition rewritten into few large ones; no data change.

    Commits nothing when there is nothing to compact (a partition with one file is left alone).
    """
    metrics = table.optimize().executeCompaction().first()["metrics"]  # one row by construction
    done.files_compacted = int(metrics["numFilesRemoved"] or 0)
    done.files_written += int(metrics["numFilesAdded"] or 0)


def vacuum(lake: Lake, spec: TableSpec, retention_hours: int, done: TableHousekeeping) -> None:
    """VACUUM the table: delete the data files no version younger than the retention reads.

    A dry run first lists those files (it commits nothing); the VACUUM itself, which Delta logs as two commits
    even when it deletes nothing, runs only when there are data files to delete. A partition folder emptied by
    an earlier VACUUM (listed too) is not a reason to run one: it goes with the next VACUUM that deletes files.
    """
    location = lake.location(spec)
    table_ref = f"delta.`{location.replace('`', '``')}`"
    listed = lake.spark.sql(f"VACUUM {table_ref} RETAIN {retention_hours} HOURS DRY RUN")
    deletable = listed.filter(~F.col("path").rlike(PARTITION_FOLDER)).count()
    if not deletable:
        return
    before = lake.version(spec)
    DeltaTable.forPath(lake.spark, location).vacuum(float(retention_hours))
    # VACUUM END's metric when Delta logs vacuums (it does by default), else what the dry run found.
    done.files_vacuumed = lake.commit_metrics(spec, before, "VACUUM END").get("numDeletedFiles", deletable)


def vacuum_conf(spark: SparkSession, opts: HousekeepingOptions) -> dict[str, str]:
    """The session settings VACUUM runs with: the listing parallelism, and Delta's retention check turned off
    when a short retention was explicitly allowed (never otherwise)."""
    settings = {}
    if spark.conf.get(LISTING_PARALLELISM, None) is None:  # not set by the session: Spark's default of 10000
        settings[LISTING_PARALLELISM] = str(max(1, spark.sparkContext.defaultParallelism))
    if opts.allow_short_retention and opts.vacuum_retention_hours < SAFE_RETENTION_HOURS:
        settings[RETENTION_CHECK] = "false"
    return settings
