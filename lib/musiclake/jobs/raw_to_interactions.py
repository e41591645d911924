"""raw_to_interactions: ``raw_to_curated`` then ``build_interactions`` in one job run, on one Spark session.

Each step is the job of its own module, run exactly as it runs alone and recorded in ``job_runs`` under its own
name, ``<job name>/raw_to_curated`` and ``<job name>/build_interactions`` (``build_interactions`` continues from the
latest successful run that built the interactions, its step's or the job's alone). Run together, the second job
starts on the first one's session: no second start of the JVM, Spark, Delta and the catalog, and the code the first
compiled (classes loaded, queries' generated code, the JIT's work) serves the second (docs/etl.md, "One job run or
two"). On Glue that is one job run instead of two chained by a trigger: one start, one billing minimum.

``build_interactions`` runs only after ``raw_to_curated`` succeeded or skipped (it then skips cheaply itself when
``playlist_tracks`` did not change, and is recorded as skipped when there is no ``playlist_tracks`` yet); a
``raw_to_curated`` that fails records its failed run and raises, and ``build_interactions`` does not run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyspark.sql import SparkSession

from musiclake import schemas
from musiclake.bookkeeping import JobRun
from musiclake.jobs import build_interactions, raw_to_curated
from musiclake.lake import Lake

CURATE, INTERACTIONS = "raw_to_curated", "build_interactions"  # the steps' names under the job's name


@dataclass(frozen=True)
class RawToInteractionsOptions(raw_to_curated.RawToCuratedOptions):
    """``raw_to_curated``'s options; ``build_interactions`` reads the same ``lake_path`` and ``database``."""


def step_name(job_name: str, step: str) -> str:
    """The name a step's run is recorded under: ``<job name>/<step>``."""
    return f"{job_name}/{step}"


def run(spark: SparkSession, opts: RawToInteractionsOptions) -> tuple[JobRun, JobRun]:
    """Curate the new landing runs, then bring the interactions up to date; returns both recorded runs.

    A lake with no ``playlist_tracks`` yet after the first step (no batch has curated anything: an empty landing
    zone, or a first batch without files) records the second step as ``skipped``, where ``build_interactions``
    alone would stop with an error asking for ``raw_to_curated`` first.
    """
    curated = raw_to_curated.run(spark, replace(opts, job_name=step_name(opts.job_name, CURATE)))
    name = step_name(opts.job_name, INTERACTIONS)
    lake = Lake(spark, opts.lake_path, opts.database)
    if not lake.exists(schemas.PLAYLIST_TRACKS):
        interactions = JobRun(name)
        interactions.record(lake, "skipped", "no playlist_tracks yet: nothing curated")
        return curated, interactions
    interactions = build_interactions.run(spark, build_interactions.BuildInteractionsOptions(
        job_name=name, lake_path=opts.lake_path, database=opts.database))
    return curated, interactions
