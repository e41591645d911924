"""Job bookkeeping shared by the ETL jobs: which landing runs to process, job_runs, processed_runs, quarantine.

Incremental processing: a job reads only *complete* landing runs (manifest present) that are not yet in
``processed_runs``; Glue job bookmarks do not cover Delta tables, so this log is the bookmark.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake import io, landing, schemas

log = logging.getLogger("musiclake.pipeline")


class BadInputError(RuntimeError):
    """Too much of the input was quarantined: the run fails instead of publishing a partial picture."""


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

    @property
    def today(self) -> str:
        return self.started_at.strftime("%Y-%m-%d")

    def record(self, spark: SparkSession, lake_path: str, database: str, status: str, message: str = "") -> None:
        """Append this run's row to ``job_runs`` and log the same figures."""
        finished = datetime.now(UTC)
        row = (self.job_run_id, self.job_name, status, self.started_at.replace(tzinfo=None),
               finished.replace(tzinfo=None), self.landing_runs, self.records_read, self.records_written,
               self.records_quarantined, self.input_versions, message)
        io.append_rows(spark, schemas.JOB_RUNS, spark.createDataFrame([row], schemas.JOB_RUNS.schema), lake_path,
                       database)
        log.info("job %s %s: read %d, written %s, quarantined %d%s", self.job_name, status, self.records_read,
                 self.records_written, self.records_quarantined, f" ({message})" if message else "")


def runs_to_process(spark: SparkSession, raw_path: str, lake_path: str, *, reprocess: bool) -> list[landing.Manifest]:
    """Complete landing runs not yet processed (all complete runs with ``reprocess``), oldest first."""
    complete = landing.complete_runs(raw_path)
    if reprocess or not io.table_exists(spark, schemas.PROCESSED_RUNS, lake_path):
        return complete
    # small by construction: one row per landing run ever processed
    done = {r["run_id"] for r in io.load_table(spark, schemas.PROCESSED_RUNS, lake_path).select("run_id").collect()}
    return [m for m in complete if m.run_id not in done]


def mark_processed(spark: SparkSession, runs: list[landing.Manifest], job: JobRun, lake_path: str,
                   database: str) -> None:
    """Record landing runs as processed (a MERGE: marking twice is harmless)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(m.run_id, m.source, sum(f.records for f in m.files), job.job_run_id, now) for m in runs]
    frame = spark.createDataFrame(rows, schemas.PROCESSED_RUNS.schema)
    io.merge_upsert(spark, schemas.PROCESSED_RUNS, frame, lake_path, database)


def last_input_versions(spark: SparkSession, lake_path: str, job_name: str) -> dict[str, int] | None:
    """Input versions of the job's latest successful run (None if it never succeeded)."""
    if not io.table_exists(spark, schemas.JOB_RUNS, lake_path):
        return None
    runs = io.load_table(spark, schemas.JOB_RUNS, lake_path).filter(
        (F.col("job_name") == job_name) & (F.col("status") == "succeeded")
    )
    latest = runs.orderBy(F.col("finished_at").desc()).select("input_versions").first()
    return dict(latest["input_versions"] or {}) if latest else None


def check_bad_fraction(quarantined: int, read: int, max_fraction: float) -> None:
    """Fail when more than ``max_fraction`` of the records read went to quarantine."""
    fraction = quarantined / read if read else 0.0
    if fraction > max_fraction:
        raise BadInputError(
            f"{quarantined} of {read} records ({fraction:.1%}) were quarantined, more than the allowed "
            f"{max_fraction:.1%}. Inspect them with: SELECT reason, count(*) FROM quarantine GROUP BY reason; "
            "fix the input (or raise --max_bad_fraction if this much bad data is expected) and run the job again."
        )


def save_quarantine(spark: SparkSession, quarantine: DataFrame, lake_path: str, database: str) -> int:
    """MERGE quarantine rows (the same bad record is kept once); returns how many bad records the batch had.

    A clean batch (the usual case) only makes sure the table exists: a MERGE of nothing still costs two passes.
    """
    bad = int(quarantine.agg(F.coalesce(F.sum("occurrences"), F.lit(0))).first()[0])
    if bad:
        io.merge_upsert(spark, schemas.QUARANTINE, quarantine, lake_path, database)
    else:
        io.ensure_table(spark, schemas.QUARANTINE, lake_path, database)
    return bad


def written(metrics: dict[str, int]) -> int:
    return sum(metrics.get(k, 0) for k in ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted"))
