"""raw -> curated: the steps of the ``raw_to_curated`` job, between loading and saving.

:func:`plan` is pure (DataFrames in, DataFrames out): it validates envelopes, flattens both sources, keeps the
latest observation per key, keeps only what is newer than the stored tables, and works out which membership
rows a newer playlist snapshot replaces. :func:`check` runs the data-quality checks on that plan; the job saves
only a plan that passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake import schemas
from musiclake.transforms import flatten, quality
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
# Entities the curated model reads; others (search, me_playlists) stay in the landing zone and are reported.
MODELLED_ENTITIES = (
    "playlists", "playlist_items", "tracks", "artists", "albums", "saved_tracks", "recently_played", "top_tracks",
    "top_artists",
)


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

    def release(self) -> None:
        """Drop the cached intermediates once the plan is saved."""
        for frame in (self.envelopes, self.items, self.playlists, self.playlist_tracks, self.tracks, self.artists,
                      self.albums, self.quarantine):
            frame.unpersist()


def plan(envelopes: DataFrame, current: dict[str, DataFrame], job_run_id: str, today: str) -> CuratedPlan:
    """Turn raw envelopes into the updates for every curated table.

    Parameters
    ----------
    envelopes
        Raw landing records read with :data:`schemas.ENVELOPE` plus ``source_file``.
    current
        The stored ``playlists``, ``playlist_tracks``, ``tracks``, ``artists``, ``albums`` (empty DataFrames with
        the table schema when a table does not exist yet).
    job_run_id, today
        Stamped on quarantine rows.
    """
    checked = envelopes.transform(with_envelope_problem).persist()  # parsed by many branches below
    good, bad_envelopes = split_problems(checked)

    mpd = flatten.parse_mpd_playlists(good)
    api_playlists = flatten.parse_api_playlists(good)
    api_pages = flatten.parse_api_item_pages(good)
    mpd_ok, api_playlists_ok, api_pages_ok = good_rows(mpd), good_rows(api_playlists), good_rows(api_pages)

    api_items = flatten.with_incomplete_snapshots(
        flatten.api_item_rows(api_playlists_ok, api_pages_ok), api_playlists_ok
    )
    items = flatten.mpd_item_rows(mpd_ok).unionByName(api_items).persist()  # the bulk: parse items once
    items_ok = good_rows(items)
    incomplete = (
        bad_rows(api_items).filter(F.col(REASON).startswith("incomplete")).select("playlist_id", "run_id").distinct()
    )

    track_objects = flatten.api_track_objects(good)
    artist_objects = flatten.api_artist_objects(good)
    album_objects = flatten.api_album_objects(good)
    dim_items = items_ok.unionByName(good_rows(track_objects), allowMissingColumns=True)

    complete_api_playlists = api_playlists_ok.join(incomplete, ["playlist_id", "run_id"], "left_anti")
    mpd_playlists = flatten.mpd_playlist_rows(mpd_ok)
    playlist_rows = mpd_playlists.unionByName(flatten.api_playlist_rows(complete_api_playlists))
    # Snapshots that say what the playlist holds: items of them landed, or they hold none. A playlist fetched
    # without its items (the body only refers to them and the items endpoint answered 403) says nothing.
    api_snapshots = complete_api_playlists.select("playlist_id", "run_id", F.col("_page.total").alias("_total"))
    with_items = (
        mpd_playlists.select("playlist_id", "run_id")
        .unionByName(api_snapshots.join(items, ["playlist_id", "run_id"], "left_semi").select("playlist_id", "run_id"))
        .unionByName(api_snapshots.filter(F.col("_total") == 0).select("playlist_id", "run_id"))
    )
    playlists = playlist_rows.transform(latest_by(["playlist_id"])).transform(
        newer_than_current(current["playlists"], ["playlist_id"])
    )
    membership = (
        flatten.membership_rows(items_ok)
        .join(playlists.select("playlist_id", "run_id", "observed_at"), ["playlist_id", "run_id", "observed_at"],
              "left_semi")
        .transform(latest_by(["playlist_id", "position"]))
    )
    replaced = playlists.join(with_items, ["playlist_id", "run_id"], "left_semi").select("playlist_id")
    stale = (
        current["playlist_tracks"]
        .join(replaced, "playlist_id", "left_semi")
        .join(membership.select("playlist_id", "position"), ["playlist_id", "position"], "left_anti")
    )
    playlist_tracks = membership.withColumn(DELETE_FLAG, F.lit(False)).unionByName(
        stale.withColumn(DELETE_FLAG, F.lit(True))
    )

    def dimension(candidates: DataFrame, key: str, name: str) -> DataFrame:
        return candidates.transform(latest_by([key])).transform(newer_than_current(current[name], [key]))

    tracks = dimension(flatten.track_rows(dim_items), "track_id", "tracks")
    artists = dimension(
        flatten.artist_rows(dim_items.unionByName(good_rows(artist_objects), allowMissingColumns=True)),
        "artist_id", "artists",
    )
    albums = dimension(
        flatten.album_rows(dim_items.unionByName(good_rows(album_objects), allowMissingColumns=True)),
        "album_id", "albums",
    )

    incomplete_playlists = (
        api_playlists_ok.join(incomplete, ["playlist_id", "run_id"], "left_semi")
        .withColumn(REASON, F.lit("incomplete playlist snapshot: playlist not updated"))
        .withColumn(RECORD, F.col("body"))
    )
    bad = [
        bad_envelopes,
        bad_rows(mpd),
        bad_rows(api_playlists),
        bad_rows(api_pages),
        bad_rows(items),
        bad_rows(track_objects),
        bad_rows(artist_objects),
        bad_rows(album_objects),
        incomplete_playlists,
    ]
    quarantine_rows = [to_quarantine(b, job_run_id, today) for b in bad]
    quarantine = quarantine_rows[0]
    for rows in quarantine_rows[1:]:
        quarantine = quarantine.unionByName(rows)
    # Each output is checked, counted and merged: compute it once.
    return CuratedPlan(
        playlists=playlists.persist(),
        playlist_tracks=playlist_tracks.persist(),
        tracks=tracks.persist(),
        artists=artists.persist(),
        albums=albums.persist(),
        quarantine=quarantine.groupBy(*quarantine.columns).agg(F.count(F.lit(1)).alias("occurrences")).persist(),
        envelopes=checked,
        items=items,
    )


def check(plan_: CuratedPlan, current_tracks: DataFrame, manifest_records: dict[str, int]) -> list[quality.CheckResult]:
    """Data-quality checks of a plan; raise :class:`quality.DataQualityError` on any failure."""
    membership = plan_.playlist_tracks.filter(~F.col(DELETE_FLAG))
    known_tracks = plan_.tracks.select("track_id").unionByName(current_tracks.select("track_id"))
    read_per_run = {
        r["run"]: r["n"]
        for r in plan_.envelopes.groupBy(F.coalesce("run_id", F.regexp_extract("source_file", r"run_id=([^/]+)", 1))
                                         .alias("run")).agg(F.count(F.lit(1)).alias("n")).collect()
    }  # small: one row per landing run
    results = [
        quality.keys_unique_not_null(plan_.playlists, schemas.PLAYLISTS.keys, "playlists"),
        quality.keys_unique_not_null(membership, schemas.PLAYLIST_TRACKS.keys, "playlist_tracks"),
        quality.keys_unique_not_null(plan_.tracks, schemas.TRACKS.keys, "tracks"),
        quality.keys_unique_not_null(plan_.artists, schemas.ARTISTS.keys, "artists"),
        quality.keys_unique_not_null(plan_.albums, schemas.ALBUMS.keys, "albums"),
        quality.references_exist(membership, known_tracks, "track_id", "playlist_tracks -> tracks"),
        quality.counts_match_manifests(read_per_run, manifest_records),
    ]
    quality.raise_on_failure(results)
    return results
