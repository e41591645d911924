"""build_interactions: ``playlist_tracks`` -> ``interactions`` (playlist x track) and the stable id maps.

Skips (cheaply) when ``playlist_tracks`` has not changed since the last successful run.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from musiclake import bookkeeping, schemas
from musiclake.bookkeeping import JobRun
from musiclake.lake import Lake
from musiclake.options import JobOptions
from musiclake.transforms.ids import new_indices, with_indices
from musiclake.transforms.interactions import playlist_track_pairs


@dataclass(frozen=True)
class BuildInteractionsOptions(JobOptions):
    lake_path: str
    database: str


def run(spark: SparkSession, opts: BuildInteractionsOptions) -> JobRun:
    """Rebuild the interactions from the current ``playlist_tracks``; returns the recorded job run."""
    lake = Lake(spark, opts.lake_path, opts.database)
    job = JobRun(opts.job_name)
    if not lake.exists(schemas.PLAYLIST_TRACKS):
        raise SystemExit(f"no playlist_tracks table under {opts.lake_path}: run raw_to_curated first")
    version = lake.version(schemas.PLAYLIST_TRACKS)
    job.input_versions = {schemas.PLAYLIST_TRACKS.name: version}
    if bookkeeping.last_input_versions(lake, opts.job_name) == job.input_versions:
        job.record(lake, "skipped", f"playlist_tracks unchanged at v{version}")
        return job

    pairs = playlist_track_pairs(lake.load(schemas.PLAYLIST_TRACKS, version=version)).persist()
    job.records_read = pairs.count()
    extend_id_maps(lake, pairs, job)
    interactions = pairs.transform(with_indices(lake.load(schemas.PLAYLIST_IDS), lake.load(schemas.TRACK_IDS)))
    job.records_written[schemas.INTERACTIONS.name] = lake.merge(schemas.INTERACTIONS, interactions,
                                                                delete_missing=True)
    job.record(lake, "succeeded")
    pairs.unpersist()
    return job


def extend_id_maps(lake: Lake, pairs: DataFrame, job: JobRun) -> None:
    """Give every new playlist and track id the next free index (existing ids keep theirs forever)."""
    for spec, id_col, idx_col in [(schemas.PLAYLIST_IDS, schemas.PLAYLIST_ID, schemas.PLAYLIST_IDX),
                                  (schemas.TRACK_IDS, schemas.TRACK_ID, schemas.TRACK_IDX)]:
        new_ids = pairs.transform(new_indices(lake.load_current(spec), id_col, idx_col))
        job.records_written[spec.name] = lake.merge(spec, new_ids)
