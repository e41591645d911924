"""Glue job build_interactions (v1): playlist_tracks -> interactions (playlist x track) + stable id maps.

    --JOB_NAME name --lake_path URI --database NAME

Skips (cheaply) when playlist_tracks has not changed since the last successful run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from musiclake import io, pipeline, runtime, schemas
from musiclake.options import JobOptions
from musiclake.transforms.interactions import assign_new_ids, playlist_track_pairs, with_indices


@dataclass(frozen=True)
class BuildInteractionsOptions(JobOptions):
    lake_path: str
    database: str


def main(argv: list[str] | None = None) -> None:
    runtime.configure_logging()
    opts = BuildInteractionsOptions.from_argv(argv)
    with runtime.job_session(opts, argv) as spark:
        job = pipeline.JobRun(opts.job_name)
        if not io.table_exists(spark, schemas.PLAYLIST_TRACKS, opts.lake_path):
            raise SystemExit(f"no playlist_tracks table under {opts.lake_path}: run raw_to_curated first")
        version = io.current_version(spark, schemas.PLAYLIST_TRACKS, opts.lake_path)
        job.input_versions = {"playlist_tracks": version}
        if pipeline.last_input_versions(spark, opts.lake_path, opts.job_name) == job.input_versions:
            job.record(spark, opts.lake_path, opts.database, "skipped", f"playlist_tracks unchanged at v{version}")
            return
        membership = io.load_table(spark, schemas.PLAYLIST_TRACKS, opts.lake_path, version=version)
        pairs = playlist_track_pairs(membership).persist()
        job.records_read = pairs.count()
        for spec, id_col, idx_col in [(schemas.PLAYLIST_IDS, "playlist_id", "playlist_idx"),
                                      (schemas.TRACK_IDS, "track_id", "track_idx")]:
            new_ids = pairs.transform(assign_new_ids(io.load_current(spark, spec, opts.lake_path), id_col, idx_col))
            metrics = io.merge_upsert(spark, spec, new_ids, opts.lake_path, opts.database)
            job.records_written[spec.name] = pipeline.written(metrics)
        interactions = pairs.transform(
            with_indices(io.load_table(spark, schemas.PLAYLIST_IDS, opts.lake_path),
                         io.load_table(spark, schemas.TRACK_IDS, opts.lake_path))
        )
        metrics = io.merge_upsert(spark, schemas.INTERACTIONS, interactions, opts.lake_path, opts.database,
                                  delete_missing=True)
        job.records_written["interactions"] = pipeline.written(metrics)
        job.record(spark, opts.lake_path, opts.database, "succeeded")
        pairs.unpersist()


if __name__ == "__main__":
    main(sys.argv)
