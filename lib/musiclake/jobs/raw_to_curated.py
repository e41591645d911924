"""raw_to_curated: complete, unprocessed landing runs -> curated Delta tables.

Load the landing runs no earlier run processed, verify the files their manifests promise and plan the curated
updates (:func:`musiclake.transforms.curate.plan`) while checking that the catalog registers this lake's tables (not
a deleted or another lake's); then quarantine what cannot be curated, check the plan, MERGE it into the tables, and
record the runs as processed. Any failure records a ``failed`` job run, except a catalog conflict (nothing is
written then); a plan that fails a check writes nothing but the quarantine and that job run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake import bookkeeping, landing, schemas
from musiclake.bookkeeping import JobRun
from musiclake.lake import Lake, TypedBody, load_envelopes
from musiclake.options import JobOptions, OptionsError
from musiclake.runtime import concurrently, phase, queries_for_batch, storage_memory
from musiclake.transforms import curate, mpd, quality

log = logging.getLogger("musiclake.jobs.raw_to_curated")

# The tables this job creates or writes (their catalog registrations are checked before it writes anything).
WRITES = (*schemas.CURATED_TABLES, *schemas.BOOKKEEPING_TABLES)
# A batch up to this many landed bytes runs its queries interpreted (:func:`runtime.queries_for_batch`): about
# 3,500 MPD playlists. Where compiling stops paying is measured in BENCHMARKS.md.
INTERPRETED_MAX_LANDED_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RawToCuratedOptions(JobOptions):
    raw_path: str
    lake_path: str
    database: str
    reprocess: bool = False
    max_bad_fraction: float = 0.05
    verify_checksums: bool = False
    max_record_bytes: int = landing.MAX_RECORD_BYTES

    def __post_init__(self) -> None:
        if not 0 < self.max_record_bytes <= landing.MAX_RECORD_BYTES:
            raise OptionsError(f"--max_record_bytes: expected 1 to {landing.MAX_RECORD_BYTES} (MAX_RECORD_BYTES, "
                               f"the limit the importer lands under), got {self.max_record_bytes}")


def run(spark: SparkSession, opts: RawToCuratedOptions) -> JobRun:
    """Curate the new landing runs under ``opts.raw_path`` into the lake; returns the recorded job run."""
    lake = Lake(spark, opts.lake_path, opts.database)
    job = JobRun(opts.job_name)
    with job.failing_on_error(lake):
        curate_new_runs(lake, opts, job)
    return job


def curate_new_runs(lake: Lake, opts: RawToCuratedOptions, job: JobRun) -> None:
    """The job's stages, from the runs to process to the recorded ``succeeded`` (or ``skipped``) run.

    Each stage's Spark jobs run under a job group ``<job name>/<stage>`` (:func:`runtime.phase`): the plan of
    actions in docs/etl.md, kept by a test. Up to the plan the job only reads, while the catalog registrations
    are checked in a thread (:meth:`Lake.checking_registrations`); nothing is written before that check passed.
    Once the runs are known, a batch of at most :data:`INTERPRETED_MAX_LANDED_BYTES` runs its queries interpreted
    (:func:`runtime.queries_for_batch`).
    """
    stage = partial(phase, lake.spark, opts.job_name, work=job.spark_work)
    plan = None
    with ExitStack() as batch_settings:
        try:
            with lake.checking_registrations(WRITES):  # a conflict leaves nowhere safe to record even a failed run
                with stage("find runs"):
                    runs = bookkeeping.runs_to_process(lake, opts.raw_path, reprocess=opts.reprocess)
                job.landing_runs = [m.run_id for m in runs]
                files = [uri for m in runs for uri in m.file_uris(opts.raw_path)]
                if files:
                    landed = sum(f.bytes for m in runs for f in m.files)
                    batch_settings.enter_context(queries_for_batch(
                        lake.spark, landed <= INTERPRETED_MAX_LANDED_BYTES, f"batch of {landed:,} landed bytes"))
                    bookkeeping.check_landed_files(lake.spark, runs, opts.raw_path, checksums=opts.verify_checksums)
                    with stage("plan"), bookkeeping.naming_unreadable_files(runs, opts.raw_path):
                        stored = {t.name: lake.load_current(t) for t in schemas.CURATED_TABLES}
                        plan = plan_batch(lake, opts, job, runs, files, stored, landed)
            if not runs:
                job.record(lake, "skipped", "no new complete landing runs")
                return
            if plan is None:  # e.g. an API run that found nothing new: nothing to curate, but the runs are done
                bookkeeping.mark_processed(lake, runs, job)
                job.record(lake, "skipped", "new landing runs hold no files")
                return
            # one query over the kept stage: records per run, items, quarantined records, what is not curated (and,
            # in a big batch, the cached frames that read the stage computed)
            with stage("count"), bookkeeping.naming_unreadable_files(runs, opts.raw_path):
                counts = plan.count()
            plan.release_stage()  # a big batch's: read by nothing after the count, its memory goes to the membership
            job.records_read = counts.records_read
            job.records_quarantined = counts.quarantined
            rows = quarantine_and_check(lake, plan, counts, stored["tracks"], manifest_records(runs),
                                        opts.max_bad_fraction, stage)
            with stage("merge"):
                save(lake, plan, job, rows)
            with stage("record"):
                bookkeeping.mark_processed(lake, runs, job)
                job.record(lake, "succeeded", uncurated_note(counts))
        finally:
            if plan is not None:
                plan.release()  # the plan's cached frames, whether it was saved or not


def plan_batch(lake: Lake, opts: RawToCuratedOptions, job: JobRun, runs: list[landing.Manifest], files: list[str],
               stored: dict[str, DataFrame], landed: int) -> curate.CuratedPlan:
    """The curated updates of the batch's landing ``files`` (``landed`` bytes, as the manifests list them) against
    the ``stored`` tables (lazily, but for the small queries :func:`curate.plan` runs)."""
    # The MPD's playlist files (most of a big batch) parsed once, each body typed, as the reader reads the line.
    mpd_files = tuple(uri for m in runs if m.source == "mpd" for uri in m.file_uris(opts.raw_path, "playlists"))
    typed = TypedBody("mpd", "playlists", mpd.BODY, mpd_files) if mpd_files else None
    envelopes = load_envelopes(lake.spark, files, opts.max_record_bytes, typed)
    present = {(m.source, f.entity) for m in runs for f in m.files}
    storage = storage_memory(lake.spark)
    keep_items = curate.keeps_items(landed, storage)
    log.info("%d bytes of storage memory: MPD items %s", storage,
             "kept" if keep_items else "exploded again by each query (not kept)")
    return curate.plan(envelopes, stored, job.job_run_id, job.today, present, keep_items)


def quarantine_and_check(lake: Lake, plan: curate.CuratedPlan, counts: curate.BatchCounts, stored_tracks: DataFrame,
                         promised: dict[str, int], max_bad_fraction: float,
                         stage: Callable[[str], AbstractContextManager[None]]) -> dict[str, int]:
    """Save the batch's quarantine and :func:`check` the plan, at the same time (:func:`runtime.concurrently`:
    each is mostly the driver's planning and, on a first run, creating a table); returns the check's row counts.

    The quarantine is saved whatever follows, to be inspected: a batch with more bad records than
    ``--max_bad_fraction`` allows saves it alone and fails without the check, and a failing check raises only
    after the quarantine is saved (a re-run MERGEs the same bad records once)."""
    def quarantined() -> None:
        with stage("quarantine"):
            save_quarantine(lake, plan.quarantine, counts.quarantined)

    def checked() -> dict[str, int]:
        with stage("check"):  # every check, in one query over the outputs (which it caches for the MERGEs)
            return check(plan, stored_tracks, counts.read_per_run, promised)

    try:
        bookkeeping.check_bad_fraction(counts.quarantined, counts.records_read, max_bad_fraction)
    except bookkeeping.BadInputError:
        quarantined()
        raise
    return concurrently({"quarantine": quarantined, "check": checked})["check"]


def save_quarantine(lake: Lake, quarantine: DataFrame, bad: int) -> None:
    """MERGE the batch's quarantine rows (the same bad record is kept once); a clean batch (the usual case)
    only makes sure the table exists: a MERGE of nothing still costs two passes."""
    if bad:
        lake.merge(schemas.QUARANTINE, quarantine)
    else:
        lake.ensure(schemas.QUARANTINE)


def check(plan: curate.CuratedPlan, stored_tracks: DataFrame, read_per_run: dict[str, int],
          manifest_records: dict[str, int]) -> dict[str, int]:
    """The data-quality gate, in one query over the plan's outputs (which it caches for the MERGEs): keys
    unique and not null, membership refers to known tracks, nothing lost between the manifests and the records
    read. Returns the rows of each table's updates (``playlist_tracks``: those that are not deletes), counted by
    the key checks. Raises :class:`quality.DataQualityError` on any failure."""
    membership = plan.playlist_tracks.filter(~F.col(curate.DELETE_FLAG))
    known_tracks = plan.tracks.select("track_id").unionByName(stored_tracks.select("track_id"))
    keyed = {"playlists": plan.playlists, "playlist_tracks": membership, "tracks": plan.tracks,
             "artists": plan.artists, "albums": plan.albums}
    results = quality.evaluate([
        *(quality.key_check(rows, schemas.TABLES[name].keys, name) for name, rows in keyed.items()),
        quality.reference_check(membership, known_tracks, "track_id", "playlist_tracks -> tracks"),
    ])
    quality.raise_on_failure([*results, quality.counts_match_manifests(read_per_run, manifest_records)])
    return {name: r.rows for name, r in zip(keyed, results[:len(keyed)], strict=True)}  # in the checks' order


def save(lake: Lake, plan: curate.CuratedPlan, job: JobRun, rows: dict[str, int]) -> None:
    """MERGE the plan's updates into the curated tables (``_delete`` rows remove replaced memberships), the
    tables of each wave at the same time (:func:`runtime.concurrently`). ``rows``: each table's updates counted by
    the check (a first load then needs no query to know whether it has anything to write)."""
    for wave in plan.updates():
        written = concurrently({
            name: partial(lake.merge, schemas.TABLES[name], updates,
                          delete_flag=curate.DELETE_FLAG if name == schemas.PLAYLIST_TRACKS.name else None,
                          rows=rows[name])
            for name, updates in wave.items()
        })
        job.records_written.update(written)


def manifest_records(runs: list[landing.Manifest]) -> dict[str, int]:
    """Records each landing run's manifest promises."""
    return {m.run_id: sum(f.records for f in m.files) for m in runs}


def uncurated_note(counts: curate.BatchCounts) -> str:
    """What the batch held that is neither curated nor quarantined: envelopes of entities the model does not read,
    and error answers the extractor landed (a 404 for a deleted playlist, a 403 for items it may not read); both
    stay in the landing zone."""
    notes = [f"not modelled, kept in the landing zone: {counts.unmodelled}" if counts.unmodelled else "",
             f"error answers, not curated: {counts.error_answers}" if counts.error_answers else ""]
    return "; ".join(n for n in notes if n)
