"""raw -> curated: the named stages of the ``raw_to_curated`` job, between loading and saving (no I/O here).

:func:`plan` composes them::

    parse_sources -> item_rows -> playlist_updates -> membership_updates -> dimension_updates -> quarantine_rows

validating envelopes, flattening both sources (:mod:`~musiclake.transforms.mpd`,
:mod:`~musiclake.transforms.spotify_api`), keeping the latest observation per key, keeping only what is newer
than the stored tables, and working out which membership rows a newer playlist snapshot replaces. The job checks
the plan (:mod:`~musiclake.transforms.quality`) and saves only a plan that passed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake.runtime import kept, release, small_frame
from musiclake.transforms import items as item_shape
from musiclake.transforms import mpd, spotify_api
from musiclake.transforms.dedupe import latest_by, latest_of_repeats, newer_than_current
from musiclake.transforms.envelopes import (
    REASON,
    RECORD,
    bad_rows,
    good_rows,
    ok_response,
    run_of_file,
    split_problems,
    to_quarantine,
    with_envelope_problem,
)

DELETE_FLAG = "_delete"
# A playlists update whose observation says what the playlist holds (items of it landed, or it holds none): its
# stored membership rows at positions it no longer has are deleted. One fetched without its items says nothing.
REPLACES = "_replaces_membership"
PLAYLIST_RUN = ["playlist_id", "run_id"]
# Entities the curated model reads; others (search, me_playlists) stay in the landing zone and are reported.
MODELLED_ENTITIES = (
    "playlists", "playlist_items", "tracks", "artists", "albums", "saved_tracks", "recently_played", "top_tracks",
    "top_artists",
)


@dataclass(frozen=True)
class Parsed:
    """Stage 1: every envelope checked, and each source's records parsed (each frame still carries ``_reason``)."""

    envelopes: DataFrame  # all envelopes with ``_reason`` (kept: parsed by many branches)
    bad_envelopes: DataFrame
    mpd_playlists: DataFrame
    api_playlists: DataFrame
    api_pages: DataFrame
    track_objects: DataFrame
    artist_objects: DataFrame
    album_objects: DataFrame
    holds_api_items: bool = True  # the batch holds API playlists or item pages
    holds_mpd_items: bool = True  # the batch holds MPD playlists


@dataclass(frozen=True)
class Items:
    """Stage 2: item rows of both sources. The MPD's are kept in a batch small enough, else exploded from the kept
    stage by each query that reads them (three: the dimension observations, the count, the membership; see
    :func:`item_rows`); the API's, which take joins and shuffles of playlists and pages, are kept."""

    all: DataFrame  # with ``_reason`` for the bad ones
    incomplete: DataFrame  # playlist_id, run_id of API snapshots that did not land whole
    api: DataFrame  # the API's item rows (kept when the batch holds any)
    mpd: DataFrame  # the MPD's item rows (kept or not: see item_rows)


@dataclass(frozen=True)
class Dimensions:
    """Stage 5: the dimension tables' updates, and the kept rows they are read from."""

    tracks: DataFrame
    artists: DataFrame
    albums: DataFrame
    observations: DataFrame


@dataclass(frozen=True)
class BatchCounts:
    """What one pass over the batch counted (see :meth:`CuratedPlan.count`)."""

    read_per_run: dict[str, int]  # envelopes read per landing run (for the manifest check)
    items: int  # item rows inside the envelopes
    quarantined: int  # bad records (occurrences)
    unmodelled: dict[str, int]  # envelopes per entity the curated model does not read
    error_answers: dict[str, int]  # envelopes of error answers (not curated) per "<entity> <http status>"

    @property
    def records_read(self) -> int:
        """Envelopes read plus items inside them (the denominator of the bad fraction)."""
        return sum(self.read_per_run.values()) + self.items


@dataclass
class CuratedPlan:
    """What one job run will write. ``playlist_tracks`` carries ``_delete`` for rows a newer snapshot removes.

    Nothing is computed until :meth:`count` (one query: reads the kept stage, parsed once, and the items exploded
    from it; in a big batch, computes every cached frame that reads the stage, which :meth:`release_stage` then
    drops) and the job's checks (one query over the outputs, which caches them for the MERGEs).
    """

    playlist_tracks: DataFrame
    tracks: DataFrame
    artists: DataFrame
    albums: DataFrame
    quarantine: DataFrame
    winners: DataFrame  # cached: the playlists updates with :data:`REPLACES` (see :attr:`playlists`)
    envelopes: DataFrame
    items: DataFrame
    observations: DataFrame  # the dimension columns of the items, repeats collapsed (kept: read by three tables)
    api_items: DataFrame  # kept when the batch holds any
    mpd_items: DataFrame  # kept or not (see item_rows)
    membership: DataFrame  # kept: playlist_tracks' rows that are not deletes
    stale: DataFrame  # cached: playlist_tracks' deletes
    # Whether the stage is dropped after the count (a batch too big to keep its items: memory is short); a small
    # batch's stage stays until the end, and its count computes no frame for the check (fewer Spark jobs).
    stage_dropped_after_count: bool

    @property
    def playlists(self) -> DataFrame:
        """The ``playlists`` updates: :attr:`winners` without the flag (read from its cache)."""
        return self.winners.drop(REPLACES)

    def count(self) -> BatchCounts:
        """Records read per run, items, quarantined records, unmodelled entities and error answers, in one query.

        When the stage is dropped after it (:attr:`stage_dropped_after_count`), the same query computes the cached
        frames that read the kept stage and are not computed yet (the quarantine, the playlists, the dimension
        tables): after it, nothing reads the stage (:meth:`release_stage`). The membership reads only the items'
        shuffle, which the plan wrote."""
        run_of_record = F.coalesce(run_of_file(F.col("source_file")), "run_id")  # as the manifest counts it
        error_status = F.when(F.col(REASON).isNull() & ~ok_response(), F.col("http_status"))
        # the envelopes in one aggregation (one scan of the stage): a group per run, entity and error status
        envelope_groups = F.to_json(F.struct(run_of_record.alias("run"), F.col("entity"), error_status.alias("error")))
        computed = [
            frame.agg(F.lit("computed").alias("kind"), F.lit(name).alias("name"), F.count(F.lit(1)).alias("n"))
            for name, frame in (("playlists", self.winners), ("tracks", self.tracks), ("artists", self.artists),
                                ("albums", self.albums))
        ] if self.stage_dropped_after_count else []
        rows = reduce(DataFrame.unionByName, [
            self.envelopes.groupBy(F.lit("envelopes").alias("kind"), envelope_groups.alias("name"))
            .agg(F.count(F.lit(1)).alias("n")),
            self.items.agg(F.lit("items").alias("kind"), F.lit(None).cast("string").alias("name"),
                           F.count(F.lit(1)).alias("n")),
            self.quarantine.agg(F.lit("quarantined").alias("kind"), F.lit(None).cast("string").alias("name"),
                                F.coalesce(F.sum("occurrences"), F.lit(0)).alias("n")),
            *computed,
        ]).collect()  # small: a row per (run, entity, error status) and per computed table update
        read_per_run: Counter[str] = Counter()
        unmodelled: Counter[str] = Counter()
        error_answers: Counter[str] = Counter()
        totals = {"items": 0, "quarantined": 0}
        for r in rows:  # the "computed" rows are not read: their query only filled the caches
            if r["kind"] in totals:
                totals[r["kind"]] = int(r["n"])
            elif r["kind"] == "envelopes":
                group = json.loads(r["name"])
                entity, error = group.get("entity"), group.get("error")
                read_per_run[group.get("run") or ""] += int(r["n"])
                if entity is not None and entity not in MODELLED_ENTITIES:
                    unmodelled[entity] += int(r["n"])
                if error is not None:
                    error_answers[f"{entity} {error}"] += int(r["n"])
        return BatchCounts(read_per_run=dict(read_per_run), items=totals["items"], quarantined=totals["quarantined"],
                           unmodelled=dict(unmodelled), error_answers=dict(error_answers))

    def updates(self) -> list[dict[str, DataFrame]]:
        """``{table name: updates}`` in waves: the dimensions, then what refers to them. The tables of a wave are
        merged at the same time, a wave only after the one before committed (a reader never sees a membership
        row whose track is not there yet)."""
        return [{"tracks": self.tracks, "artists": self.artists, "albums": self.albums},
                {"playlist_tracks": self.playlist_tracks, "playlists": self.playlists}]

    def release_stage(self) -> None:
        """Drop the kept stage (the parsed batch: the largest kept frame) once :meth:`count` has run, when
        :attr:`stage_dropped_after_count`, so that the membership the check keeps next has its memory: at 100k
        playlists both together exceed a 4 GB driver's storage memory, and keeping the membership wrote the stage
        to disk."""
        if self.stage_dropped_after_count:
            release(self.envelopes)

    def release(self) -> None:
        """Drop the kept and cached intermediates (the job calls it whether the plan was saved or not)."""
        for frame in (self.envelopes, self.api_items, self.mpd_items, self.observations, self.winners,
                      self.membership, self.stale, self.tracks, self.artists, self.albums, self.quarantine):
            release(frame)


def plan(envelopes: DataFrame, stored: dict[str, DataFrame], job_run_id: str, today: str,
         present: set[tuple[str, str]] | None = None, keep_items: bool = True) -> CuratedPlan:
    """Turn raw envelopes into the updates for every curated table (lazily: see :class:`CuratedPlan`).

    Parameters
    ----------
    envelopes
        Raw landing records read with :data:`schemas.ENVELOPE` plus ``source_file``.
    stored
        The stored ``playlists``, ``playlist_tracks``, ``tracks``, ``artists``, ``albums`` (empty DataFrames with
        the table schema when a table does not exist yet).
    job_run_id, today
        Stamped on quarantine rows.
    present
        The ``(source, entity)`` pairs the batch's manifests list (None: any); see :func:`parse_sources`.
    keep_items
        Keep the MPD items for the queries that read them (see :func:`item_rows` and :func:`keeps_items`).
    """
    parsed = parse_sources(envelopes, present)
    items = item_rows(parsed, keep_items)
    # First the dimension observations: keeping them parses the batch into the kept stage and explodes the items
    # in the same pass; the queries after read the stage.
    dimensions = dimension_updates(parsed, items, stored)
    winners = playlist_updates(parsed, items, stored["playlists"]).persist()  # before the membership's plan
    membership, stale = membership_updates(items, winners, stored["playlist_tracks"], mpd_observations_repeat(parsed))
    stale = stale.persist()
    quarantine = quarantine_rows(parsed, items, job_run_id, today)
    # Each output is checked, then merged: cached by the one job that checks them all. Small next to the stage.
    return CuratedPlan(
        playlist_tracks=with_deletes(membership, stale),
        tracks=dimensions.tracks.persist(),
        artists=dimensions.artists.persist(),
        albums=dimensions.albums.persist(),
        quarantine=quarantine.persist(),
        winners=winners,
        envelopes=parsed.envelopes,
        items=items.all,
        api_items=items.api,
        mpd_items=items.mpd,
        observations=dimensions.observations,
        membership=membership,
        stale=stale,
        stage_dropped_after_count=not keep_items,  # memory is short when the items are not kept either
    )


# Bytes a kept MPD item takes per byte of landed (gzip) JSON: 3.66 GB of rows for the 429 MB of 100k playlists.
KEPT_BYTES_PER_LANDED_BYTE = 9


def keeps_items(landed_bytes: int, storage_bytes: int) -> bool:
    """Whether a batch of ``landed_bytes`` (its landing files, as the manifests list them) keeps its MPD items
    (:func:`item_rows`): when they take at most a quarter of ``storage_bytes``, the memory Spark may keep blocks
    in (:func:`musiclake.runtime.storage_memory`). With the 4 GB local driver: up to ~60 MB landed (~15k
    playlists); on Glue, the executors' memory together."""
    return landed_bytes * KEPT_BYTES_PER_LANDED_BYTE <= storage_bytes // 4


def parse_sources(envelopes: DataFrame, present: set[tuple[str, str]] | None = None) -> Parsed:
    """Stage 1: check every envelope, then parse the good ones by source and entity.

    ``present``: the ``(source, entity)`` pairs the batch holds (from its manifests; None: any). An envelope of
    another pair is quarantined (:func:`with_envelope_problem`), and the branches of absent pairs are left out.

    The stage is kept (:func:`musiclake.runtime.kept`): every branch below reads it, and each MPD body in it is
    already parsed (typed, its text dropped), so the landing files are read and parsed once whatever the batch
    holds, and no plan after it carries the parse.
    """
    checked = kept(with_envelope_problem(envelopes, present).transform(mpd.with_typed_body))
    good, bad = split_problems(checked)

    def holds(*entities: tuple[str, str]) -> bool:
        return present is None or any(e in present for e in entities)

    def parsed(parse: Callable[[DataFrame], DataFrame], *entities: tuple[str, str]) -> DataFrame:
        """``parse`` of the good envelopes if the batch holds any of ``entities``, else a frame of no rows with the
        parse's columns: Spark would prune the branch too (an MPD batch plans no API joins and shuffles, and an
        API batch none of the MPD's), but only after analysing and optimising its parse in every query that
        reads it (each quarantine and dimension query reads every branch)."""
        if holds(*entities):
            return parse(good)
        return small_frame(good.sparkSession, [], parse(good.limit(0)).schema)

    return Parsed(
        envelopes=checked,
        bad_envelopes=bad,
        mpd_playlists=parsed(mpd.parse_playlists, ("mpd", "playlists")),
        api_playlists=parsed(spotify_api.parse_playlists, ("spotify", "playlists")),
        api_pages=parsed(spotify_api.parse_item_pages, ("spotify", "playlist_items")),
        track_objects=parsed(spotify_api.track_objects, *(("spotify", e) for e in spotify_api.TRACK_SOURCES)),
        artist_objects=parsed(spotify_api.artist_objects, *(("spotify", e) for e in spotify_api.ARTIST_SOURCES)),
        album_objects=parsed(spotify_api.album_objects, ("spotify", "albums")),
        holds_api_items=holds(("spotify", "playlists"), ("spotify", "playlist_items")),
        holds_mpd_items=holds(("mpd", "playlists")),
    )


def item_rows(parsed: Parsed, keep: bool = True) -> Items:
    """Stage 2: the item rows of both sources; items of API snapshots that did not land whole are flagged.

    ``keep``: keep the MPD items for the three queries that read them (the dimension observations, the count,
    the membership). Kept, each query's plan starts at them; not kept, each explodes them from the kept stage
    again, which costs the driver more planning and code generation per query (~10 s at 1k-10k playlists) but
    spares keeping every item: ~3.7 GB of rows for 100k playlists, much of it spilled to disk, which cost more
    than three explodes (raw_to_curated 176 -> 162 s). The job decides by the batch's size
    (:func:`keeps_items`). The API items are kept whenever the batch holds any (:attr:`Parsed.holds_api_items`):
    each plan that reads them then starts there instead of joining playlists and pages again.

    A source the batch does not hold gets no items at all, as a frame of no rows: Spark would prune its branch
    anyway, but only after analysing and optimising it in each query (the API's joins took the plan stage of a
    1k MPD batch from 11.7 to 19.2 s).
    """
    spark = parsed.envelopes.sparkSession
    if parsed.holds_api_items:
        api_playlists = good_rows(parsed.api_playlists)
        api_items = kept(spotify_api.with_incomplete_snapshots(
            spotify_api.item_rows(api_playlists, good_rows(parsed.api_pages)), api_playlists
        ))
    else:
        api_items = small_frame(spark, [], item_shape.ITEM_SCHEMA)
    if parsed.holds_mpd_items:
        mpd_items = mpd.item_rows(good_rows(parsed.mpd_playlists)).transform(item_shape.without_quarantine_lineage)
        if keep:
            mpd_items = kept(mpd_items)
    else:
        mpd_items = small_frame(spark, [], item_shape.ITEM_SCHEMA)
    all_items = mpd_items.unionByName(api_items.transform(item_shape.without_quarantine_lineage))
    incomplete = (
        bad_rows(api_items).filter(F.col(REASON).startswith("incomplete")).select(*PLAYLIST_RUN).distinct()
    )
    return Items(all=all_items, incomplete=incomplete, api=api_items, mpd=mpd_items)


def playlist_updates(parsed: Parsed, items: Items, stored_playlists: DataFrame) -> DataFrame:
    """Stage 3: the latest observation of each playlist, newer than stored: the ``playlists`` rows to merge, with
    :data:`REPLACES`: whether that observation says what the playlist holds (every MPD playlist does; an API
    snapshot does when items of it landed, or it holds none; one fetched without its items, the body only
    referring to them and the items endpoint answering 403, says nothing)."""
    mpd_playlists = mpd.playlist_rows(good_rows(parsed.mpd_playlists))
    complete_api = good_rows(parsed.api_playlists).join(items.incomplete, PLAYLIST_RUN, "left_anti")
    candidates = mpd_playlists.unionByName(spotify_api.playlist_rows(complete_api))
    playlists = candidates.transform(latest_by(["playlist_id"])).transform(
        newer_than_current(stored_playlists, ["playlist_id"])
    )
    mpd_playlist = F.col("source") == "mpd"
    if not parsed.holds_api_items:  # every candidate is an MPD playlist: no snapshot to look up
        return playlists.withColumn(REPLACES, mpd_playlist)
    api_snapshots = complete_api.select(*PLAYLIST_RUN, F.col("_page.total").alias("_total"))
    says = (
        api_snapshots.join(items.api, PLAYLIST_RUN, "left_semi").select(*PLAYLIST_RUN)
        .unionByName(api_snapshots.filter(F.col("_total") == 0).select(*PLAYLIST_RUN))
        .distinct().withColumn("_says", F.lit(True))
    )
    # the flag is a function of (playlist_id, run_id), computed after the dedupe: it takes no part in its choice
    return (playlists.join(says, PLAYLIST_RUN, "left")
            .withColumn(REPLACES, mpd_playlist | F.coalesce(F.col("_says"), F.lit(False)))
            .drop("_says"))


def winning_membership(items: Items, playlists: DataFrame, mpd_repeats: bool = True) -> DataFrame:
    """The membership rows of each playlist's winning observation (``playlists``: one row per playlist), one per
    position.

    ``mpd_repeats``: whether an MPD observation of the batch is held by more than one envelope
    (:func:`mpd_observations_repeat`). When none is (the usual case), each MPD observation holds each position once
    already (its items are exploded with their index), so only the API's rows (pages of a snapshot may overlap or
    land twice) go through the dedupe's window, which at 100k playlists sorted all 5.9M items. (Broadcasting the
    winners instead of shuffling the items for the join was slower at 100k playlists: 182 s vs 157 s for the job,
    one run each.)
    """
    winners = playlists.select("playlist_id", F.col("run_id").alias("_won_run"),
                               F.col("observed_at").alias("_won_at"))
    # The items are joined on the playlist id alone (each playlist has one winner): the rows come out partitioned
    # by playlist id, which the dedupe per (playlist id, position) uses as it is. Joined on all three columns they
    # came out partitioned by those, and the dedupe shuffled every item again. The match on run and time is wrapped
    # in coalesce so that the optimizer keeps it a condition of the join instead of making the two columns join keys
    # again (a null never matches, as in an equi-join).
    same_observation = (F.col("run_id") == F.col("_won_run")) & (F.col("observed_at") == F.col("_won_at"))

    def of_winners(rows: DataFrame) -> DataFrame:
        return (item_shape.membership_rows(good_rows(rows)).join(winners, "playlist_id")
                .filter(F.coalesce(same_observation, F.lit(False))).drop("_won_run", "_won_at"))

    dedupe = latest_by(["playlist_id", "position"])
    if mpd_repeats:
        return of_winners(items.all).transform(dedupe)
    return of_winners(items.mpd).unionByName(of_winners(items.api).transform(dedupe))


def mpd_observations_repeat(parsed: Parsed) -> bool:
    """Whether any MPD playlist observation (``playlist_id, run_id, observed_at``) is held by more than one
    envelope of the batch (the same playlist twice in a run, with the same ``modified_at``): one small query."""
    if not parsed.holds_mpd_items:
        return False
    observations = mpd.playlist_rows(good_rows(parsed.mpd_playlists)).groupBy(*PLAYLIST_RUN, "observed_at")
    return bool(observations.count().filter(F.col("count") > 1).limit(1).collect())


def membership_updates(items: Items, playlists: DataFrame, stored_playlist_tracks: DataFrame,
                       mpd_repeats: bool = True) -> tuple[DataFrame, DataFrame]:
    """Stage 4: ``(membership, stale)``: the ``playlist_tracks`` rows of the playlists being updated
    (``playlists``: with :data:`REPLACES`; kept), and the stored rows at positions a newer snapshot no longer has
    (see :func:`with_deletes`). Neither reads the kept stage after the plan: the membership reads the items'
    shuffle, the stale rows the cached playlists."""
    # Kept: the stale rows below are checked against it, and a second reference to the plan behind it explodes,
    # shuffles and sorts every item again (at 100k playlists 24 s of task time, even on a first load).
    membership = kept(winning_membership(items, playlists, mpd_repeats))
    replaced = playlists.filter(F.col(REPLACES)).select("playlist_id")
    stale = (
        stored_playlist_tracks.join(replaced, "playlist_id", "left_semi")
        .join(membership.select("playlist_id", "position"), ["playlist_id", "position"], "left_anti")
    )
    return membership, stale


def with_deletes(membership: DataFrame, stale: DataFrame) -> DataFrame:
    """The ``playlist_tracks`` MERGE batch: ``membership`` rows, and ``stale`` rows flagged :data:`DELETE_FLAG`."""
    return membership.withColumn(DELETE_FLAG, F.lit(False)).unionByName(stale.withColumn(DELETE_FLAG, F.lit(True)))


def dimension_updates(parsed: Parsed, items: Items, stored: dict[str, DataFrame]) -> Dimensions:
    """Stage 5: ``tracks``, ``artists``, ``albums`` rows from items and API objects, latest and newer than stored.

    The items are read once for all three: their dimension columns, the repeats of each (a track in thousands of
    playlists) collapsed to the latest by a hash aggregation (:func:`latest_of_repeats`: the same choice as
    over every item) and kept; each table's dedupe then reads those few rows. Read three times, the 5.9M items
    of 100k playlists took 55 s of task time; sorted for a window each, 75 s.
    """
    dimensions = [*item_shape.DIMENSION_COLUMNS, "observed_at"]

    def collapsed(rows: DataFrame, derived: tuple[str, ...] = ()) -> DataFrame:
        return latest_of_repeats(rows.select(*[c for c in dimensions if c not in derived]), "observed_at")

    # The MPD's artist and album ids, functions of their URIs, are added after the collapse: two regular
    # expressions per remaining row instead of per item (at 100k playlists 0.2M rows instead of 5.9M).
    mpd_observations = collapsed(good_rows(items.mpd), tuple(mpd.URI_IDS)).transform(mpd.with_uri_ids)
    api_rows = good_rows(items.api).unionByName(good_rows(parsed.track_objects), allowMissingColumns=True)
    observations = kept(mpd_observations.unionByName(collapsed(api_rows)))
    with_artists = observations.unionByName(good_rows(parsed.artist_objects), allowMissingColumns=True)
    with_albums = observations.unionByName(good_rows(parsed.album_objects), allowMissingColumns=True)

    def latest_new(candidates: DataFrame, key: str, name: str) -> DataFrame:
        return candidates.transform(latest_by([key], repeated=True)).transform(newer_than_current(stored[name], [key]))

    return Dimensions(
        tracks=latest_new(item_shape.track_rows(observations), "track_id", "tracks"),
        artists=latest_new(item_shape.artist_rows(with_artists), "artist_id", "artists"),
        albums=latest_new(item_shape.album_rows(with_albums), "album_id", "albums"),
        observations=observations,
    )


def quarantine_rows(parsed: Parsed, items: Items, job_run_id: str, today: str) -> DataFrame:
    """Stage 6: every record that could not be curated, with its reason, once per distinct bad record."""
    incomplete_playlists = (
        good_rows(parsed.api_playlists).join(items.incomplete, PLAYLIST_RUN, "left_semi")
        .withColumn(REASON, F.lit("incomplete playlist snapshot: playlist not updated"))
        .withColumn(RECORD, F.col("body"))
    )
    bad = [
        parsed.bad_envelopes,
        bad_rows(parsed.mpd_playlists),
        bad_rows(parsed.api_playlists),
        bad_rows(parsed.api_pages),
        bad_rows(items.all),
        bad_rows(parsed.track_objects),
        bad_rows(parsed.artist_objects),
        bad_rows(parsed.album_objects),
        incomplete_playlists,
    ]
    rows = [to_quarantine(b, job_run_id, today) for b in bad]
    quarantine = rows[0]
    for more in rows[1:]:
        quarantine = quarantine.unionByName(more)
    return quarantine.groupBy(*quarantine.columns).agg(F.count(F.lit(1)).alias("occurrences"))
