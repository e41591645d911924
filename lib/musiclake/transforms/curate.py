"""raw -> curated: the named stages of the ``raw_to_curated`` job, between loading and saving (no I/O here).

:func:`plan` composes them::

    parse_sources -> item_rows -> playlist_updates -> membership_updates -> dimension_updates -> quarantine_rows

validating envelopes, flattening both sources (:mod:`~musiclake.transforms.mpd`,
:mod:`~musiclake.transforms.spotify_api`), keeping the latest observation per key, keeping only what is newer
than the stored tables, and working out which membership rows a newer playlist snapshot replaces. The job checks
the plan (:mod:`~musiclake.transforms.quality`) and saves only a plan that passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake.transforms import items as item_shape
from musiclake.transforms import mpd, spotify_api
from musiclake.transforms.dedupe import latest_by, newer_than_current
from musiclake.transforms.envelopes import (
    REASON,
    RECORD,
    bad_rows,
    good_rows,
    split_problems,
    to_quarantine,
    with_envelope_problem,
)

DELETE_FLAG = "_delete"
PLAYLIST_RUN = ["playlist_id", "run_id"]
# Entities the curated model reads; others (search, me_playlists) stay in the landing zone and are reported.
MODELLED_ENTITIES = (
    "playlists", "playlist_items", "tracks", "artists", "albums", "saved_tracks", "recently_played", "top_tracks",
    "top_artists",
)


@dataclass(frozen=True)
class Parsed:
    """Stage 1: every envelope checked, and each source's records parsed (each frame still carries ``_reason``)."""

    envelopes: DataFrame  # all envelopes with ``_reason`` (persisted: parsed by many branches)
    bad_envelopes: DataFrame
    mpd_playlists: DataFrame
    api_playlists: DataFrame
    api_pages: DataFrame
    track_objects: DataFrame
    artist_objects: DataFrame
    album_objects: DataFrame


@dataclass(frozen=True)
class Items:
    """Stage 2: item rows of both sources (persisted: the bulk of the data, parsed once)."""

    all: DataFrame  # with ``_reason`` for the bad ones
    api: DataFrame  # the API's share, with ``_reason`` marking incomplete snapshots
    incomplete: DataFrame  # playlist_id, run_id of API snapshots that did not land whole

    @property
    def good(self) -> DataFrame:
        return good_rows(self.all)


@dataclass
class CuratedPlan:
    """What one job run will write. ``playlist_tracks`` carries ``_delete`` for rows a newer snapshot removes."""

    playlists: DataFrame
    playlist_tracks: DataFrame
    tracks: DataFrame
    artists: DataFrame
    albums: DataFrame
    quarantine: DataFrame
    envelopes: DataFrame
    items: DataFrame

    def records_read(self) -> int:
        """Envelopes read plus items inside them (the denominator of the bad fraction)."""
        return self.envelopes.count() + self.items.count()

    def unmodelled(self) -> dict[str, int]:
        """Records per entity that the curated model does not read (kept in the landing zone, reported)."""
        other = self.envelopes.filter(F.col("entity").isNotNull() & ~F.col("entity").isin(*MODELLED_ENTITIES))
        return {r["entity"]: r["count"] for r in other.groupBy("entity").count().collect()}  # small: per entity

    def updates(self) -> list[tuple[str, DataFrame]]:
        """``(table name, updates)`` in the order they are merged (dimensions before what refers to them)."""
        return [("tracks", self.tracks), ("artists", self.artists), ("albums", self.albums),
                ("playlist_tracks", self.playlist_tracks), ("playlists", self.playlists)]

    def release(self) -> None:
        """Drop the cached intermediates once the plan is saved."""
        for frame in (self.envelopes, self.items, self.playlists, self.playlist_tracks, self.tracks, self.artists,
                      self.albums, self.quarantine):
            frame.unpersist()


def plan(envelopes: DataFrame, stored: dict[str, DataFrame], job_run_id: str, today: str) -> CuratedPlan:
    """Turn raw envelopes into the updates for every curated table.

    Parameters
    ----------
    envelopes
        Raw landing records read with :data:`schemas.ENVELOPE` plus ``source_file``.
    stored
        The stored ``playlists``, ``playlist_tracks``, ``tracks``, ``artists``, ``albums`` (empty DataFrames with
        the table schema when a table does not exist yet).
    job_run_id, today
        Stamped on quarantine rows.
    """
    parsed = parse_sources(envelopes)
    items = item_rows(parsed)
    playlists, snapshots = playlist_updates(parsed, items, stored["playlists"])
    playlist_tracks = membership_updates(items, playlists, snapshots, stored["playlist_tracks"])
    tracks, artists, albums = dimension_updates(parsed, items, stored)
    quarantine = quarantine_rows(parsed, items, job_run_id, today)
    # Each output is checked, counted and merged: compute it once.
    return CuratedPlan(
        playlists=playlists.persist(),
        playlist_tracks=playlist_tracks.persist(),
        tracks=tracks.persist(),
        artists=artists.persist(),
        albums=albums.persist(),
        quarantine=quarantine.persist(),
        envelopes=parsed.envelopes,
        items=items.all,
    )


def parse_sources(envelopes: DataFrame) -> Parsed:
    """Stage 1: check every envelope, then parse the good ones by source and entity."""
    checked = envelopes.transform(with_envelope_problem).persist()  # parsed by many branches below
    good, bad = split_problems(checked)
    return Parsed(
        envelopes=checked,
        bad_envelopes=bad,
        mpd_playlists=mpd.parse_playlists(good),
        api_playlists=spotify_api.parse_playlists(good),
        api_pages=spotify_api.parse_item_pages(good),
        track_objects=spotify_api.track_objects(good),
        artist_objects=spotify_api.artist_objects(good),
        album_objects=spotify_api.album_objects(good),
    )


def item_rows(parsed: Parsed) -> Items:
    """Stage 2: the item rows of both sources; items of API snapshots that did not land whole are flagged."""
    api_playlists = good_rows(parsed.api_playlists)
    api_items = spotify_api.with_incomplete_snapshots(
        spotify_api.item_rows(api_playlists, good_rows(parsed.api_pages)), api_playlists
    )
    incomplete = bad_rows(api_items).filter(F.col(REASON).startswith("incomplete")).select(*PLAYLIST_RUN).distinct()
    all_items = mpd.item_rows(good_rows(parsed.mpd_playlists)).unionByName(api_items).persist()
    return Items(all=all_items, api=api_items, incomplete=incomplete)


def playlist_updates(parsed: Parsed, items: Items, stored_playlists: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Stage 3: the latest observation of each playlist, newer than stored; and the snapshots that hold items.

    Returns
    -------
    ``(playlists, snapshots)``: ``playlists`` rows to merge; ``snapshots`` (playlist_id, run_id) of the
    observations that say what the playlist holds: items of them landed, or they hold none. A playlist fetched
    without its items (the body only refers to them and the items endpoint answered 403) says nothing.
    """
    mpd_playlists = mpd.playlist_rows(good_rows(parsed.mpd_playlists))
    complete_api = good_rows(parsed.api_playlists).join(items.incomplete, PLAYLIST_RUN, "left_anti")
    candidates = mpd_playlists.unionByName(spotify_api.playlist_rows(complete_api))
    api_snapshots = complete_api.select(*PLAYLIST_RUN, F.col("_page.total").alias("_total"))
    is_empty = F.col("_total") == 0
    snapshots = (
        mpd_playlists.select(*PLAYLIST_RUN)
        .unionByName(api_snapshots.join(items.all, PLAYLIST_RUN, "left_semi").select(*PLAYLIST_RUN))
        .unionByName(api_snapshots.filter(is_empty).select(*PLAYLIST_RUN))
    )
    playlists = candidates.transform(latest_by(["playlist_id"])).transform(
        newer_than_current(stored_playlists, ["playlist_id"])
    )
    return playlists, snapshots


def membership_updates(items: Items, playlists: DataFrame, snapshots: DataFrame,
                       stored_playlist_tracks: DataFrame) -> DataFrame:
    """Stage 4: ``playlist_tracks`` rows of the playlists being updated, plus ``_delete`` rows for the stored
    positions a newer snapshot no longer has."""
    membership = (
        item_shape.membership_rows(items.good)
        .join(playlists.select("playlist_id", "run_id", "observed_at"), ["playlist_id", "run_id", "observed_at"],
              "left_semi")
        .transform(latest_by(["playlist_id", "position"]))
    )
    replaced = playlists.join(snapshots, PLAYLIST_RUN, "left_semi").select("playlist_id")
    stale = (
        stored_playlist_tracks.join(replaced, "playlist_id", "left_semi")
        .join(membership.select("playlist_id", "position"), ["playlist_id", "position"], "left_anti")
    )
    return membership.withColumn(DELETE_FLAG, F.lit(False)).unionByName(stale.withColumn(DELETE_FLAG, F.lit(True)))


def dimension_updates(parsed: Parsed, items: Items,
                      stored: dict[str, DataFrame]) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Stage 5: ``tracks``, ``artists``, ``albums`` rows from items and API objects, latest and newer than stored."""
    dim_items = items.good.unionByName(good_rows(parsed.track_objects), allowMissingColumns=True)
    with_artists = dim_items.unionByName(good_rows(parsed.artist_objects), allowMissingColumns=True)
    with_albums = dim_items.unionByName(good_rows(parsed.album_objects), allowMissingColumns=True)

    def latest_new(candidates: DataFrame, key: str, name: str) -> DataFrame:
        return candidates.transform(latest_by([key])).transform(newer_than_current(stored[name], [key]))

    return (
        latest_new(item_shape.track_rows(dim_items), "track_id", "tracks"),
        latest_new(item_shape.artist_rows(with_artists), "artist_id", "artists"),
        latest_new(item_shape.album_rows(with_albums), "album_id", "albums"),
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
