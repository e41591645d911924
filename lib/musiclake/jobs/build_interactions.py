"""build_interactions: ``playlist_tracks`` -> ``interactions`` (playlist x track) and the stable id maps.

Skips (cheaply) when ``playlist_tracks`` has not changed since the last successful run. Any failure records a
``failed`` job run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame, SparkSession

from musiclake import bookkeeping, schemas
from musiclake.bookkeeping import JobRun
from musiclake.lake import Lake
from musiclake.options import JobOptions
from musiclake.runtime import concurrently
from musiclake.schemas import TableSpec
from musiclake.transforms.ids import new_indices, with_indices
from musiclake.transforms.interactions import playlist_track_pairs

# The tables this job creates or writes (their catalog registrations are checked before any work).
WRITES = (schemas.INTERACTIONS, schemas.PLAYLIST_IDS, schemas.TRACK_IDS, schemas.JOB_RUNS)


@dataclass(frozen=True)
class BuildInteractionsOptions(JobOptions):
    lake_path: str
    database: str


def run(spark: SparkSession, opts: BuildInteractionsOptions) -> JobRun:
    """Rebuild the interactions from the current ``playlist_tracks``; returns the recorded job run.

    Any failure after the input and the catalog are checked records a ``failed`` job run (then raises).
    """
    lake = Lake(spark, opts.lake_path, opts.database)
    job = JobRun(opts.job_name)
    if not lake.exists(schemas.PLAYLIST_TRACKS):
        raise SystemExit(f"no playlist_tracks table under {opts.lake_path}: run raw_to_curated first")
    lake.check_registrations(WRITES)  # first: a conflict leaves nowhere safe to record even a failed run
    with job.failing_on_error(lake):
        build(lake, opts, job)
    return job


def build(lake: Lake, opts: BuildInteractionsOptions, job: JobRun) -> None:
    """The job's stages: skip if ``playlist_tracks`` is unchanged, else extend the id maps and sync interactions."""
    version = lake.version(schemas.PLAYLIST_TRACKS)
    job.input_versions = {schemas.PLAYLIST_TRACKS.name: version}
    if bookkeeping.last_input_versions(lake, opts.job_name) == job.input_versions:
        job.record(lake, "skipped", f"playlist_tracks unchanged at v{version}")
        return
    pairs = playlist_track_pairs(lake.load(schemas.PLAYLIST_TRACKS, version=version)).persist()
    try:
        job.records_read = pairs.count()
        extend_id_maps(lake, pairs, job)
        interactions = pairs.transform(with_indices(lake.load(schemas.PLAYLIST_IDS), lake.load(schemas.TRACK_IDS)))
        job.records_written[schemas.INTERACTIONS.name] = lake.merge(schemas.INTERACTIONS, interactions,
                                                                    delete_missing=True)
        job.record(lake, "succeeded")
    finally:
        pairs.unpersist()


def extend_id_maps(lake: Lake, pairs: DataFrame, job: JobRun) -> None:
    """Give every new playlist and track id the next free index (existing ids keep theirs forever); the two maps
    are extended at the same time (:func:`runtime.concurrently`)."""
    def extend(spec: TableSpec, id_col: str, idx_col: str) -> int:
        # persisted: the MERGE reads its batch twice (the batch's key literals, then the MERGE itself)
        new_ids = pairs.transform(new_indices(lake.load_current(spec), id_col, idx_col)).persist()
        try:
            return lake.merge(spec, new_ids)
        finally:
            new_ids.unpersist()

    job.records_written.update(concurrently({
        schemas.PLAYLIST_IDS.name: partial(extend, schemas.PLAYLIST_IDS, schemas.PLAYLIST_ID, schemas.PLAYLIST_IDX),
        schemas.TRACK_IDS.name: partial(extend, schemas.TRACK_IDS, schemas.TRACK_ID, schemas.TRACK_IDX),
    }))
