"""Glue job raw_to_curated (v1): complete, unprocessed landing runs -> curated Delta tables.

    --JOB_NAME name --raw_path URI --lake_path URI --database NAME
    [--reprocess true|false] [--max_bad_fraction 0.05]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from musiclake import curate, io, pipeline, runtime, schemas
from musiclake.options import JobOptions


@dataclass(frozen=True)
class RawToCuratedOptions(JobOptions):
    raw_path: str
    lake_path: str
    database: str
    reprocess: bool = False
    max_bad_fraction: float = 0.05


def main(argv: list[str] | None = None) -> None:
    runtime.configure_logging()
    opts = RawToCuratedOptions.from_argv(argv)
    with runtime.job_session(opts, argv) as spark:
        job = pipeline.JobRun(opts.job_name)
        runs = pipeline.runs_to_process(spark, opts.raw_path, opts.lake_path, reprocess=opts.reprocess)
        if not runs:
            job.record(spark, opts.lake_path, opts.database, "skipped", "no new complete landing runs")
            return
        job.landing_runs = [m.run_id for m in runs]
        files = [uri for m in runs for uri in m.file_uris(opts.raw_path)]
        if not files:  # e.g. an API run that found nothing new: nothing to curate, but the runs are done
            pipeline.mark_processed(spark, runs, job, opts.lake_path, opts.database)
            job.record(spark, opts.lake_path, opts.database, "skipped", "new landing runs hold no files")
            return
        envelopes = io.load_envelopes(spark, files, schemas.ENVELOPE, schemas.CORRUPT_COLUMN)  # plan persists it
        current = {t.name: io.load_current(spark, t, opts.lake_path) for t in schemas.CURATED_TABLES}
        plan = curate.plan(envelopes, current, job.job_run_id, job.today)
        job.records_read = plan.records_read()
        job.records_quarantined = pipeline.save_quarantine(spark, plan.quarantine, opts.lake_path, opts.database)
        try:
            pipeline.check_bad_fraction(job.records_quarantined, job.records_read, opts.max_bad_fraction)
            curate.check(plan, current["tracks"], {m.run_id: sum(f.records for f in m.files) for m in runs})
        except Exception as exc:
            job.record(spark, opts.lake_path, opts.database, "failed", str(exc))
            raise
        for spec, updates, flag in [
            (schemas.TRACKS, plan.tracks, None), (schemas.ARTISTS, plan.artists, None),
            (schemas.ALBUMS, plan.albums, None), (schemas.PLAYLIST_TRACKS, plan.playlist_tracks, curate.DELETE_FLAG),
            (schemas.PLAYLISTS, plan.playlists, None),
        ]:
            metrics = io.merge_upsert(spark, spec, updates, opts.lake_path, opts.database, delete_flag=flag)
            job.records_written[spec.name] = pipeline.written(metrics)
        pipeline.mark_processed(spark, runs, job, opts.lake_path, opts.database)
        unmodelled = plan.unmodelled()
        note = f"not modelled, kept in the landing zone: {unmodelled}" if unmodelled else ""
        job.record(spark, opts.lake_path, opts.database, "succeeded", note)
        plan.release()


if __name__ == "__main__":
    main(sys.argv)
