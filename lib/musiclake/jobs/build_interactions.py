"""build_interactions: ``playlist_tracks`` -> ``interactions`` (playlist x track) and the stable id maps.

Skips (cheaply) when ``playlist_tracks`` has not changed since the last successful run that built ``interactions``
(the same table id, the same version): this job's, or the ``build_interactions`` step of ``raw_to_interactions``.
Otherwise only the playlists whose membership changed since then are recomputed, read from the table's change data
feed; the first run, a ``playlist_tracks`` that is not the table the last run read (created again since), and any
run whose versions the feed does not cover, sync every playlist. Any failure records a ``failed`` job run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake import bookkeeping, schemas
from musiclake.bookkeeping import JobRun
from musiclake.lake import Lake, TableState
from musiclake.options import JobOptions
from musiclake.runtime import concurrently, queries_for_batch
from musiclake.schemas import PLAYLIST_ID, TableSpec
from musiclake.transforms.curate import DELETE_FLAG  # the MERGE batch's rows that delete (as for memberships)
from musiclake.transforms.ids import new_indices, with_indices
from musiclake.transforms.interactions import playlist_track_pairs

log = logging.getLogger("musiclake.jobs.build_interactions")

# playlist_tracks' partition column: naming it lets a changed-playlists read skip the others
(SOURCE,) = schemas.PLAYLIST_TRACKS.partition_by

# The tables this job creates or writes (their catalog registrations are checked before it writes anything).
WRITES = (schemas.INTERACTIONS, schemas.PLAYLIST_IDS, schemas.TRACK_IDS, schemas.JOB_RUNS)
# A batch of at most this many pairs extends the id maps and writes ``interactions`` with its queries interpreted
# (:func:`runtime.queries_for_batch`); where compiling stops paying is measured in BENCHMARKS.md.
INTERPRETED_MAX_PAIRS = 200_000


@dataclass(frozen=True)
class BuildInteractionsOptions(JobOptions):
    lake_path: str
    database: str


def run(spark: SparkSession, opts: BuildInteractionsOptions) -> JobRun:
    """Rebuild the interactions from the current ``playlist_tracks``; returns the recorded job run.

    Any failure records a ``failed`` job run (then raises), except a missing ``playlist_tracks`` and a catalog
    conflict, which write nothing.
    """
    lake = Lake(spark, opts.lake_path, opts.database)
    job = JobRun(opts.job_name)
    with job.failing_on_error(lake):
        # reads only until the catalog check (in a thread meanwhile) has passed: a conflict leaves nowhere safe to
        # record even a failed run
        with lake.checking_registrations(WRITES):
            state = lake.state(schemas.PLAYLIST_TRACKS)  # the version and the table id, one read of the log
            if not state.exists:
                raise SystemExit(f"no playlist_tracks table under {opts.lake_path}: run raw_to_curated first")
            last = bookkeeping.last_inputs(lake, schemas.INTERACTIONS, schemas.PLAYLIST_TRACKS)
        build(lake, opts, job, state, last)
    return job


def build(lake: Lake, opts: BuildInteractionsOptions, job: JobRun, state: TableState,
          last: bookkeeping.Inputs | None) -> None:
    """The job's stages: skip if ``playlist_tracks`` is unchanged (``state``, against the ``last`` successful
    run's inputs), else extend the id maps and bring ``interactions`` up to date: for the playlists changed since
    the last successful run when the table's change feed says which (:func:`changed_playlists`), else for all of
    them (a full sync)."""
    name = schemas.PLAYLIST_TRACKS.name
    version = state.version
    job.input_versions = {name: version}
    job.input_table_ids = {name: state.table_id}
    # the same version of the same table: a table deleted and created again may be back at that version number
    same_table = last is not None and last.table_ids == job.input_table_ids
    if same_table and last.versions == job.input_versions:
        job.record(lake, "skipped", f"playlist_tracks unchanged at v{version}")
        return
    membership = lake.load(schemas.PLAYLIST_TRACKS, version=version)
    after = last.versions.get(name) if same_table else None
    incremental = after is not None
    changed, n_changed = changed_playlists(lake, after, version) if incremental else (None, 0)
    pairs = batch = None
    try:
        pairs = playlist_track_pairs(membership if changed is None else of_playlists(membership, changed)).persist()
        job.records_read = pairs.count()
        with queries_for_batch(lake.spark, job.records_read <= INTERPRETED_MAX_PAIRS,
                               f"{job.records_read:,} playlist-track pairs"):
            extend_id_maps(lake, pairs, job)
            interactions = pairs.transform(with_indices(lake.load(schemas.PLAYLIST_IDS),
                                                        lake.load(schemas.TRACK_IDS)))
            if changed is None:
                # every pair has both its indices (the maps were just extended), so no pair read means no row
                written = lake.merge(schemas.INTERACTIONS, interactions, delete_missing=True,
                                     rows=job.records_read)
                note = f"full sync of playlist_tracks v{version}"
                if last is not None and not same_table:
                    note += " (not the table the last run read: created again since)"
            else:
                # persisted: the MERGE reads its batch twice (the batch's key literals, then the MERGE itself)
                batch = replacing(lake, interactions, changed).persist()
                written = lake.merge(schemas.INTERACTIONS, batch, delete_flag=DELETE_FLAG)
                note = f"{n_changed} playlists changed in playlist_tracks v{after + 1}-v{version} (change data feed)"
            job.records_written[schemas.INTERACTIONS.name] = written
            job.record(lake, "succeeded", note)
    finally:
        for frame in (pairs, batch, changed):
            if frame is not None:
                frame.unpersist()


def of_playlists(membership: DataFrame, changed: DataFrame) -> DataFrame:
    """The membership rows of the ``changed`` playlists, reading only the partitions they are in."""
    sources = [r[SOURCE] for r in changed.select(SOURCE).distinct().collect()]  # small: one row per partition
    # no broadcast hint: the cached set's measured size decides (a full MPD import changes a million playlists)
    return membership.filter(F.col(SOURCE).isin(sources)).join(changed, [PLAYLIST_ID, SOURCE], "left_semi")


def changed_playlists(lake: Lake, after: int, version: int) -> tuple[DataFrame | None, int]:
    """``(playlist_id, source)`` of every playlist whose membership rows changed after ``after`` up to ``version``,
    cached (one row per changed playlist), and how many; ``(None, 0)`` when the change data feed of
    ``playlist_tracks`` does not cover those versions (a lake made before the feed was switched on, or VACUUM
    removed what it needs): then the job syncs every playlist."""
    changes = lake.changes(schemas.PLAYLIST_TRACKS, after, version)
    changed = None
    try:
        changed = changes.select(PLAYLIST_ID, SOURCE).distinct().persist()
        n_changed = changed.count()
        log.info("playlist_tracks v%d-v%d: %d playlists changed", after + 1, version, n_changed)
        return changed, n_changed
    except Exception as exc:  # noqa: BLE001 - whatever stops the feed being read, the full sync is correct
        if changed is not None:
            changed.unpersist()
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        log.warning("playlist_tracks v%d-v%d: no change data feed (%s); syncing every playlist", after + 1, version,
                    reason)
        return None, 0


def replacing(lake: Lake, interactions: DataFrame, changed: DataFrame) -> DataFrame:
    """The MERGE batch that makes the stored interactions of the ``changed`` playlists equal ``interactions``
    (theirs, recomputed): those rows, plus each stored pair of those playlists they no longer hold, flagged for
    deletion (:data:`DELETE_FLAG`)."""
    keys = list(schemas.INTERACTIONS.keys)
    stored = lake.load(schemas.INTERACTIONS).join(changed.select(PLAYLIST_ID), PLAYLIST_ID, "left_semi")
    gone = stored.join(interactions.select(*keys), keys, "left_anti").withColumn(DELETE_FLAG, F.lit(True))
    return interactions.withColumn(DELETE_FLAG, F.lit(False)).unionByName(gone, allowMissingColumns=False)


def extend_id_maps(lake: Lake, pairs: DataFrame, job: JobRun) -> None:
    """Give every new playlist and track id the next free index (existing ids keep theirs forever); the two maps
    are extended at the same time (:func:`runtime.concurrently`)."""
    def extend(spec: TableSpec, id_col: str, idx_col: str) -> int:
        # persisted: the MERGE reads its batch twice (the batch's key literals, then the MERGE itself)
        new_ids = pairs.transform(new_indices(lake.load_current(spec), id_col, idx_col)).persist()
        try:
            # ``empty`` serves a first load only (a map without rows), where every id of the pairs is new
            return lake.merge(spec, new_ids, empty=job.records_read == 0)
        finally:
            new_ids.unpersist()

    job.records_written.update(concurrently({
        schemas.PLAYLIST_IDS.name: partial(extend, schemas.PLAYLIST_IDS, schemas.PLAYLIST_ID, schemas.PLAYLIST_IDX),
        schemas.TRACK_IDS.name: partial(extend, schemas.TRACK_IDS, schemas.TRACK_ID, schemas.TRACK_IDX),
    }))
