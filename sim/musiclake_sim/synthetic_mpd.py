"""Synthetic Million Playlist Dataset slices at any scale, streamed slice by slice (bounded memory).

The catalog (tracks, albums, artists, taste clusters, Zipf-like popularity) is the one
:func:`~musiclake_sim.catalog.generate_catalog` makes for the seed; playlists are drawn per slice with the
same model (:func:`~musiclake_sim.catalog.draw_playlists`) from a generator seeded by ``(seed, slice)``, so
every slice is deterministic on its own and memory holds one slice at a time. The JSON is assembled from
pre-rendered per-track fragments instead of one ``dict`` per item, which makes 1M playlists (~66M items) a
matter of minutes rather than hours. Files have the MPD's shape (``info`` + ``playlists[]`` with the MPD's
fields), written compactly with one playlist per line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musiclake_sim.catalog import (
    _PLAYLIST_WORDS,
    Catalog,
    TrackSampler,
    _numpy,
    draw_playlist_meta,
    draw_playlists,
    generate_catalog,
    playlist_name,
)

SLICE_STREAM = 7  # namespace of the per-slice generators, apart from the catalog's own streams
GENERATED_ON = "2017-12-03 08:41:42.057563"


@dataclass(frozen=True)
class SliceStats:
    """What one call of :func:`write_synthetic_mpd` wrote."""

    files: list[Path]
    playlists: int
    items: int
    seconds: float


def default_tracks(n_playlists: int) -> int:
    """A catalog size that keeps the MPD's ratio of distinct tracks to playlists (2.26M for 1M) within reason."""
    return max(10_000, 2 * n_playlists)


def _track_fragments(catalog: Catalog) -> list[str]:
    """Each track's MPD item fields as a JSON fragment without ``pos`` and braces (rendered once)."""
    fragments = []
    for track in catalog.tracks:
        album = catalog.albums[track["album"]]
        artist = catalog.artists[track["artists"][0]]
        body = json.dumps(
            {
                "artist_name": artist["name"],
                "track_uri": f"spotify:track:{track['id']}",
                "artist_uri": f"spotify:artist:{artist['id']}",
                "track_name": track["name"],
                "album_uri": f"spotify:album:{album['id']}",
                "duration_ms": track["duration_ms"],
                "album_name": album["name"],
            },
            ensure_ascii=False,
        )
        fragments.append(body[1:-1])
    return fragments


def _distinct_per_owner(owner: Any, value: Any, n_owners: int) -> Any:
    """Number of distinct ``value`` per ``owner`` (both int arrays of one length)."""
    np = _numpy()
    pairs = np.unique(owner.astype(np.int64) * (int(value.max(initial=0)) + 1) + value)
    return np.bincount(pairs // (int(value.max(initial=0)) + 1), minlength=n_owners)


def iter_slice_entries(
    catalog: Catalog, n_playlists: int, playlists_per_slice: int = 1000
) -> Iterator[tuple[int, Any, Any, Any, Any]]:
    """Yield ``(first pid, primary cluster per playlist, owner, track, rng)`` per slice, in pid order.

    ``owner`` (index within the slice, sorted) and ``track`` (catalog index) list the slice's items in playlist
    order; ``rng`` is the slice's generator, to draw the playlists' other fields from. This is what the slice
    files hold, without the JSON: benchmarks use it to build the same interactions in memory.
    """
    np = _numpy()
    params = catalog.params
    track_cluster = np.array([t["cluster"] for t in catalog.tracks])
    rank = np.array([t["rank"] for t in catalog.tracks], dtype=np.float64)
    weight = (rank + params["zipf_offset"]) ** -params["zipf_exponent"]
    sampler = TrackSampler.build(track_cluster, weight, len(catalog.clusters))
    for index, start in enumerate(range(0, n_playlists, playlists_per_slice)):
        n = min(playlists_per_slice, n_playlists - start)
        rng = np.random.default_rng([catalog.seed, SLICE_STREAM, index])
        primary, _, owner, track = draw_playlists(rng, sampler, n, mean_length=params.get("mean_length", 60.0))
        yield start, primary, owner, track, rng


def iter_slice_docs(
    catalog: Catalog, n_playlists: int, playlists_per_slice: int = 1000
) -> Iterator[tuple[str, str, int]]:
    """Yield ``(file name, JSON text, items)`` per slice, drawing each slice's playlists on demand."""
    np = _numpy()
    fragments = _track_fragments(catalog)
    duration = np.array([t["duration_ms"] for t in catalog.tracks], dtype=np.int64)
    album_of = np.array([t["album"] for t in catalog.tracks], dtype=np.int64)
    artist_of = np.array([t["artists"][0] for t in catalog.tracks], dtype=np.int64)
    clusters = catalog.clusters

    for start, primary, owner, track, rng in iter_slice_entries(catalog, n_playlists, playlists_per_slice):
        n = len(primary)
        bounds = np.searchsorted(owner, np.arange(n + 1))
        lengths = np.diff(bounds)
        durations = np.bincount(owner, weights=duration[track], minlength=n).astype(np.int64)
        n_albums = _distinct_per_owner(owner, album_of[track], n)
        n_artists = _distinct_per_owner(owner, artist_of[track], n)
        meta = draw_playlist_meta(rng, n)
        edits = np.maximum(1, lengths // 10 + meta.edit_noise)
        tracks = track.tolist()
        lines = []
        for i in range(n):
            cluster, word = clusters[int(primary[i])], _PLAYLIST_WORDS[int(meta.words[i])]
            name = playlist_name(cluster, word, int(meta.name_shape[i]))
            items = ", ".join(
                f'{{"pos": {pos}, {fragments[t]}}}' for pos, t in enumerate(tracks[bounds[i] : bounds[i + 1]])
            )
            description = f', "description": {json.dumps(f"my {cluster} {word}")}' if meta.described[i] else ""
            lines.append(
                f'{{"name": {json.dumps(name)}, "collaborative": "{"true" if meta.collaborative[i] else "false"}", '
                f'"pid": {start + i}, "modified_at": {int(meta.modified[i])}, "num_tracks": {int(lengths[i])}, '
                f'"num_albums": {int(n_albums[i])}, "num_followers": {int(meta.followers[i])}, "tracks": [{items}], '
                f'"num_edits": {int(edits[i])}, "duration_ms": {int(durations[i])}, '
                f'"num_artists": {int(n_artists[i])}{description}}}'
            )
        end = start + playlists_per_slice - 1
        info = json.dumps({"generated_on": GENERATED_ON, "slice": f"{start}-{end}", "version": "v1"})
        text = '{"info": ' + info + ', "playlists": [\n' + ",\n".join(lines) + "\n]}\n"
        yield f"mpd.slice.{start}-{end}.json", text, len(tracks)


def write_synthetic_mpd(
    out_dir: str | Path,
    n_playlists: int,
    n_tracks: int | None = None,
    seed: int = 0,
    playlists_per_slice: int = 1000,
    on_slice: Callable[[int, int], None] | None = None,
) -> SliceStats:
    """Write ``n_playlists`` synthetic playlists as MPD slice files ``mpd.slice.<start>-<end>.json``.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed).
    n_playlists
        Playlists in total (the MPD has 1,000,000).
    n_tracks
        Catalog tracks; default :func:`default_tracks`.
    seed
        Same seed and sizes, same bytes.
    playlists_per_slice
        Playlists per file (the MPD has 1,000).
    on_slice
        Called with (playlists written so far, items written so far) after each file, e.g. for progress.

    Returns
    -------
    SliceStats
    """
    started = time.monotonic()
    catalog = generate_catalog(seed, 0, n_tracks or default_tracks(n_playlists))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files, items, done = [], 0, 0
    for name, text, count in iter_slice_docs(catalog, n_playlists, playlists_per_slice):
        path = out / name
        path.write_text(text, encoding="utf-8")
        files.append(path)
        items += count
        done = min(n_playlists, done + playlists_per_slice)
        if on_slice:
            on_slice(done, items)
    return SliceStats(files, n_playlists, items, time.monotonic() - started)
