"""A seeded, synthetic music catalog with real structure, and Million Playlist Dataset (MPD) slices made from it.

The catalog stands in for Spotify (the fake API server serves it) and for the MPD (``write_mpd_slices``), so
the whole pipeline can run end to end without data that may not be redistributed. It is built so that a
recommender has signal to learn:

* every artist belongs to one *taste cluster* (a genre-like tag); albums and tracks inherit it;
* track popularity is Zipf-like (weight ``rank ** -zipf_exponent``), so a few tracks are in many playlists;
* each playlist draws mostly from one primary cluster, often a second one, and rarely from the whole catalog;
* playlist lengths follow a clipped log-normal like the MPD's (min 5, max 250, median ~49, mean ~60).

Everything is deterministic for a seed: same parameters, same ids, names and playlists. Ids are 22-character
base62 strings, like Spotify's. numpy is needed here (a dependency of ``musiclake-sim``); nothing in the
extractor or the Glue wheel imports this package.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 22
MIN_PLAYLIST_LENGTH = 5
MAX_PLAYLIST_LENGTH = 250
MPD_EPOCH_START = int(datetime(2011, 1, 1, tzinfo=UTC).timestamp())
MPD_EPOCH_END = int(datetime(2017, 11, 1, tzinfo=UTC).timestamp())

CLUSTER_NAMES = (
    "indie rock",
    "hip hop",
    "edm",
    "country",
    "jazz",
    "classical",
    "k-pop",
    "latin",
    "metal",
    "r&b",
    "folk",
    "punk",
    "reggaeton",
    "lo-fi",
    "house",
    "techno",
    "soul",
    "blues",
    "pop",
    "ambient",
    "disco",
    "gospel",
    "grunge",
    "trap",
    "afrobeats",
    "bossa nova",
    "synthwave",
    "emo",
    "ska",
    "funk",
)
_PLAYLIST_WORDS = (
    "vibes",
    "mix",
    "favorites",
    "workout",
    "chill",
    "party",
    "road trip",
    "summer",
    "throwbacks",
    "study",
    "late night",
    "morning",
    "gym",
    "feels",
    "classics",
    "jams",
    "2017",
    "car",
    "sunday",
    "bangers",
)
_SYLLABLES = (
    "la",
    "mo",
    "ri",
    "ka",
    "zen",
    "tor",
    "vel",
    "ny",
    "sha",
    "do",
    "mi",
    "ra",
    "lu",
    "ko",
    "fa",
    "bel",
    "cor",
    "dan",
    "el",
    "gra",
    "hol",
    "is",
    "jo",
    "ken",
    "lor",
    "mar",
    "nor",
    "ol",
    "pen",
    "quin",
    "ros",
    "sol",
    "tam",
    "ur",
    "vin",
    "wes",
    "xo",
    "yan",
    "zu",
    "ba",
    "ce",
    "di",
    "fo",
    "ga",
    "he",
    "ji",
    "ki",
)
_TITLE_WORDS = (
    "Love",
    "Night",
    "Fire",
    "Dream",
    "Heart",
    "Rain",
    "Gold",
    "City",
    "River",
    "Light",
    "Shadow",
    "Echo",
    "Summer",
    "Midnight",
    "Ocean",
    "Stars",
    "Wild",
    "Blue",
    "Road",
    "Home",
    "Ghost",
    "Paper",
    "Glass",
    "Electric",
    "Silver",
    "Young",
    "Runaway",
    "Sugar",
    "Thunder",
    "Velvet",
    "Neon",
    "Storm",
    "Honey",
)


@dataclass
class Catalog:
    """A synthetic catalog in plain Python structures (lists of dicts; references are list indices).

    Attributes
    ----------
    seed : int
        The seed it was generated from.
    clusters : list of str
        Taste-cluster names; ``cluster`` fields below index this list.
    artists : list of dict
        ``{"id", "name", "cluster"}``.
    albums : list of dict
        ``{"id", "name", "artist", "cluster", "release_date", "album_type", "total_tracks", "upc"}``;
        ``artist`` indexes ``artists``.
    tracks : list of dict
        ``{"id", "name", "album", "artists", "cluster", "duration_ms", "explicit", "isrc", "track_number",
        "disc_number", "rank"}``; ``album`` indexes ``albums``, ``artists`` is a list of artist indices
        (primary first), ``rank`` is the popularity rank (1 = most popular).
    playlists : list of dict
        MPD-like playlists ``{"pid", "name", "description", "collaborative", "modified_at", "num_followers",
        "num_edits", "cluster", "second_cluster", "tracks"}``; ``tracks`` is a list of track indices in
        playlist order, ``description`` is ``None`` for most playlists, ``second_cluster`` may be ``None``.
    """

    seed: int
    clusters: list[str]
    artists: list[dict[str, Any]]
    albums: list[dict[str, Any]]
    tracks: list[dict[str, Any]]
    playlists: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)

    def track_uri(self, index: int) -> str:
        return f"spotify:track:{self.tracks[index]['id']}"

    def album_uri(self, index: int) -> str:
        return f"spotify:album:{self.albums[index]['id']}"

    def artist_uri(self, index: int) -> str:
        return f"spotify:artist:{self.artists[index]['id']}"


def _numpy():
    try:
        import numpy as np
    except ImportError as exc:  # pragma: no cover - numpy is a dependency of musiclake-sim
        raise ImportError("the catalog generator needs numpy: pip install ./sim (or numpy)") from exc
    return np


def spotify_ids(seed: int, kind: str, count: int) -> list[str]:
    """``count`` distinct 22-character base62 ids, deterministic for ``(seed, kind)``.

    Parameters
    ----------
    seed : int
        Catalog seed.
    kind : str
        Namespace (``"track"``, ``"artist"``, ...); different kinds give unrelated ids.
    count : int
        How many ids.

    Returns
    -------
    list of str
    """
    np = _numpy()
    kind_code = int.from_bytes(kind.encode("utf-8")[:8].ljust(8, b"\0"), "little")
    rng = np.random.default_rng([seed, kind_code])
    alphabet = np.frombuffer(BASE62.encode("ascii"), dtype="S1")
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        codes = rng.integers(0, len(BASE62), size=(count - len(ids), ID_LENGTH))
        for row in alphabet[codes].view(f"S{ID_LENGTH}").ravel():
            value = row.decode("ascii")
            if value not in seen:  # collisions are astronomically rare, but ids must be unique
                seen.add(value)
                ids.append(value)
    return ids


def _names(rng: Any, count: int, *, title: bool) -> list[str]:
    """Deterministic pseudo-words: artist names from syllables, titles from words."""
    if title:
        words = rng.integers(0, len(_TITLE_WORDS), size=(count, 2))
        shape = rng.integers(0, 3, size=count)
        out = []
        for (a, b), s in zip(words.tolist(), shape.tolist(), strict=True):
            first, second = _TITLE_WORDS[a], _TITLE_WORDS[b]
            out.append(first if s == 0 else f"{first} {second}" if s == 1 else f"{first} of {second}")
        return out
    syl = rng.integers(0, len(_SYLLABLES), size=(count, 4))
    shape = rng.integers(2, 5, size=count)
    return [
        "".join(_SYLLABLES[i] for i in row[:n]).capitalize()
        for row, n in zip(syl.tolist(), shape.tolist(), strict=True)
    ]


@dataclass(frozen=True)
class TrackSampler:
    """Inverse-CDF sampling of tracks by popularity, from the whole catalog or from one taste cluster.

    Cluster ``c``'s CDF is shifted by ``c`` (and the global pool, cluster ``-1``, by ``-1``) so one sorted array
    answers every pool with a single ``searchsorted``.
    """

    n_tracks: int
    n_clusters: int
    cluster_p: Any
    stacked_cdf: Any
    stacked_tracks: Any
    pool_start: Any
    pool_end: Any

    @classmethod
    def build(cls, track_cluster: Any, weight: Any, n_clusters: int) -> TrackSampler:
        """Sampler for tracks with cluster ``track_cluster[i]`` and popularity weight ``weight[i]``."""
        np = _numpy()
        n_tracks = len(weight)
        cluster_tracks = [np.flatnonzero(track_cluster == c) for c in range(n_clusters)]
        cluster_cdf = [np.cumsum(weight[t]) / weight[t].sum() for t in cluster_tracks]  # clusters are never empty
        global_cdf = np.cumsum(weight) / weight.sum()
        for cdf in [*cluster_cdf, global_cdf]:
            cdf[-1] = 1.0
        cluster_mass = np.array([weight[t].sum() for t in cluster_tracks]) ** 0.8
        pools = [np.arange(n_tracks)] + cluster_tracks
        sizes = np.array([len(p) for p in pools])
        pool_end = np.cumsum(sizes)
        return cls(
            n_tracks=n_tracks,
            n_clusters=n_clusters,
            cluster_p=cluster_mass / cluster_mass.sum(),
            stacked_cdf=np.concatenate([global_cdf - 1.0] + [cdf + c for c, cdf in enumerate(cluster_cdf)]),
            stacked_tracks=np.concatenate(pools),
            pool_start=pool_end - sizes,
            pool_end=pool_end,
        )

    def draw(self, entry_cluster: Any, draws: Any) -> Any:
        """Track indices for uniform ``draws`` in [0, 1) from the pools ``entry_cluster`` (-1 = whole catalog)."""
        np = _numpy()
        hit = np.searchsorted(self.stacked_cdf, entry_cluster + draws, side="right")
        # guard float rounding at the pool ends
        hit = np.clip(hit, self.pool_start[entry_cluster + 1], self.pool_end[entry_cluster + 1] - 1)
        return self.stacked_tracks[hit]


def draw_playlists(
    rng: Any,
    sampler: TrackSampler,
    n_playlists: int,
    *,
    mean_length: float = 60.0,
    length_sigma: float = 0.77,
    primary_share: float = 0.75,
    second_cluster_rate: float = 0.5,
    second_share: float = 0.2,
) -> tuple[Any, Any, Any, Any]:
    """Draw ``n_playlists`` playlists' clusters and tracks, vectorised over all entries.

    Returns
    -------
    primary, second, owner, track : numpy arrays
        Primary and second cluster per playlist (second ``-1`` when none); ``owner`` (playlist index, sorted)
        and ``track`` per entry, in playlist order, without duplicates inside a playlist.
    """
    np = _numpy()
    n_clusters, n_tracks = sampler.n_clusters, sampler.n_tracks
    primary = rng.choice(n_clusters, size=n_playlists, p=sampler.cluster_p)
    has_second = (rng.random(n_playlists) < second_cluster_rate) & (n_clusters > 1)
    second = np.where(has_second, (primary + rng.integers(1, max(2, n_clusters), size=n_playlists)) % n_clusters, -1)
    mu = math.log(mean_length) - length_sigma**2 / 2
    target = np.clip(
        np.rint(rng.lognormal(mu, length_sigma, size=n_playlists)), MIN_PLAYLIST_LENGTH, MAX_PLAYLIST_LENGTH
    )
    target = target.astype(np.int64)
    drawn = np.ceil(target * 1.3).astype(np.int64) + 2  # oversample: duplicates are dropped below
    owner = np.repeat(np.arange(n_playlists), drawn)
    u = rng.random(owner.size)
    entry_cluster = np.where(
        u < primary_share + np.where(second[owner] < 0, second_share, 0.0),
        primary[owner],
        np.where(u < primary_share + second_share, second[owner], -1),
    )
    entry_track = sampler.draw(entry_cluster, rng.random(owner.size))

    # De-duplicate per playlist keeping first occurrences in draw order, then cut to the target length.
    combined = owner * n_tracks + entry_track
    _, first = np.unique(combined, return_index=True)
    first.sort()
    owner, entry_track = owner[first], entry_track[first]
    starts = np.searchsorted(owner, np.arange(n_playlists))
    position = np.arange(owner.size) - starts[owner]
    keep = position < target[owner]
    return primary, second, owner[keep], entry_track[keep]


@dataclass(frozen=True)
class PlaylistMeta:
    """Per-playlist metadata draws (arrays of length n), shared by both generators so they agree in shape."""

    words: Any
    name_shape: Any
    modified: Any
    followers: Any
    collaborative: Any
    described: Any
    edit_noise: Any


def draw_playlist_meta(rng: Any, n: int) -> PlaylistMeta:
    """Draw the metadata of ``n`` playlists from ``rng`` (a numpy Generator), always in the same order."""
    words = rng.integers(0, len(_PLAYLIST_WORDS), size=n)
    name_shape = rng.integers(0, 4, size=n)
    modified = rng.integers(MPD_EPOCH_START, MPD_EPOCH_END, size=n)
    followers = rng.geometric(0.6, size=n).clip(max=5000)
    collaborative = rng.random(n) < 0.02
    described = rng.random(n) < 0.02
    edit_noise = rng.integers(1, 10, size=n)
    return PlaylistMeta(words, name_shape, modified, followers, collaborative, described, edit_noise)


def playlist_name(cluster: str, word: str, shape: int) -> str:
    """One of four MPD-like name shapes: the cluster, a word, both, or both title-cased the other way round."""
    return (cluster, word, f"{cluster} {word}", f"{word.title()} {cluster.title()}")[shape]


def generate_catalog(
    seed: int = 0,
    n_playlists: int = 1000,
    n_tracks: int = 5000,
    *,
    n_artists: int | None = None,
    n_clusters: int | None = None,
    zipf_exponent: float = 1.0,
    zipf_offset: float | None = None,
    mean_length: float = 60.0,
    length_sigma: float = 0.77,
    primary_share: float = 0.75,
    second_cluster_rate: float = 0.5,
    second_share: float = 0.2,
) -> Catalog:
    """Generate a deterministic catalog with taste clusters, Zipf-like popularity and MPD-like playlists.

    Parameters
    ----------
    seed : int
        Random seed; equal parameters give an equal catalog.
    n_playlists, n_tracks : int
        Catalog size. 100,000 playlists over 200,000 tracks take a few seconds.
    n_artists : int, optional
        Defaults to ``n_tracks // 12`` (at least 4).
    n_clusters : int, optional
        Taste clusters; defaults to ``n_artists // 20`` clipped to 4..30.
    zipf_exponent, zipf_offset : float
        Popularity weight of the track of rank ``r`` is ``(r + zipf_offset) ** -zipf_exponent`` (Zipf-Mandelbrot);
        the offset (default ``n_tracks / 1000``, at least 1) flattens the head as in the MPD, where the most
        popular track is in about 5% of playlists.
    mean_length, length_sigma : float
        Log-normal playlist length (before clipping to 5..250); the defaults match the MPD's shape.
    primary_share, second_share : float
        Expected share of a playlist's tracks drawn from its primary and (if any) second cluster; the rest
        comes from the whole catalog.
    second_cluster_rate : float
        Fraction of playlists that have a second cluster.

    Returns
    -------
    Catalog

    Notes
    -----
    Tracks are drawn with replacement and de-duplicated per playlist (order kept), so a playlist drawn from a
    small cluster may end up shorter than its drawn length; with realistic sizes the difference is small.
    """
    np = _numpy()
    if n_tracks < MIN_PLAYLIST_LENGTH or n_playlists < 0:
        raise ValueError("need at least 5 tracks and a non-negative number of playlists")
    rng = np.random.default_rng(seed)
    n_artists = max(4, n_artists if n_artists is not None else n_tracks // 12)
    n_clusters = n_clusters if n_clusters is not None else min(30, max(4, n_artists // 20))
    n_clusters = max(1, min(n_clusters, n_artists))
    clusters = [
        CLUSTER_NAMES[i % len(CLUSTER_NAMES)] + ("" if i < len(CLUSTER_NAMES) else f" {i // len(CLUSTER_NAMES) + 1}")
        for i in range(n_clusters)
    ]

    # Artists: every cluster gets at least one; the rest by a mildly skewed cluster size.
    cluster_size_w = 1.0 / np.arange(1, n_clusters + 1) ** 0.6
    artist_cluster = np.concatenate(
        [
            np.arange(n_clusters),
            rng.choice(n_clusters, size=n_artists - n_clusters, p=cluster_size_w / cluster_size_w.sum()),
        ]
    )
    rng.shuffle(artist_cluster)

    # Albums: about 8 tracks each; every artist has at least one album.
    n_albums = max(n_artists, n_tracks // 8)
    album_artist = np.concatenate([np.arange(n_artists), rng.integers(0, n_artists, size=n_albums - n_artists)])
    rng.shuffle(album_artist)
    # Tracks: every album gets at least one, the rest spread at random; tracks of an album are contiguous.
    track_album = np.sort(np.concatenate([np.arange(n_albums), rng.integers(0, n_albums, size=n_tracks - n_albums)]))
    track_cluster = artist_cluster[album_artist[track_album]]
    album_sizes = np.bincount(track_album, minlength=n_albums)
    album_starts = np.concatenate([[0], np.cumsum(album_sizes)[:-1]])
    track_number = np.arange(n_tracks) - album_starts[track_album] + 1

    # Popularity: a random permutation of Zipf-Mandelbrot ranks.
    rank = rng.permutation(n_tracks) + 1
    offset = zipf_offset if zipf_offset is not None else max(1.0, n_tracks / 1000)
    weight = (rank.astype(np.float64) + offset) ** -zipf_exponent

    sampler = TrackSampler.build(track_cluster, weight, n_clusters)
    primary, second, owner, entry_track = draw_playlists(
        rng, sampler, n_playlists, mean_length=mean_length, length_sigma=length_sigma, primary_share=primary_share,
        second_cluster_rate=second_cluster_rate, second_share=second_share,
    )
    bounds = np.searchsorted(owner, np.arange(n_playlists + 1))
    track_lists = [entry_track[bounds[i] : bounds[i + 1]].tolist() for i in range(n_playlists)]

    # Names and attributes.
    name_rng = np.random.default_rng([seed, 1])
    artist_ids = spotify_ids(seed, "artist", n_artists)
    album_ids = spotify_ids(seed, "album", n_albums)
    track_ids = spotify_ids(seed, "track", n_tracks)
    artist_names = _names(name_rng, n_artists, title=False)
    album_names = _names(name_rng, n_albums, title=True)
    track_names = _names(name_rng, n_tracks, title=True)
    release_days = name_rng.integers(0, 365 * 40, size=n_albums)
    durations = np.clip(name_rng.normal(225_000, 50_000, size=n_tracks), 30_000, 900_000).astype(np.int64)
    explicit = name_rng.random(n_tracks) < 0.15
    featured = name_rng.random(n_tracks) < 0.1
    feature_pick = name_rng.random(n_tracks)
    isrc_country = name_rng.choice(["US", "GB", "SE", "DE", "FR", "KR", "BR", "JP"], size=n_tracks)
    base_day = datetime(1980, 1, 1, tzinfo=UTC).toordinal()

    artists = [
        {"id": artist_ids[i], "name": artist_names[i], "cluster": int(artist_cluster[i])} for i in range(n_artists)
    ]
    cluster_artists = [np.flatnonzero(artist_cluster == c) for c in range(n_clusters)]
    albums = []
    for i in range(n_albums):
        size = int(album_sizes[i])
        day = datetime.fromordinal(base_day + int(release_days[i]))
        albums.append(
            {
                "id": album_ids[i],
                "name": album_names[i],
                "artist": int(album_artist[i]),
                "cluster": int(artist_cluster[album_artist[i]]),
                "release_date": day.strftime("%Y-%m-%d"),
                "album_type": "single" if size <= 3 else "album",
                "total_tracks": size,
                "upc": f"{(seed * 7919 + i) % 10**12:012d}",
            }
        )
    tracks = []
    for i in range(n_tracks):
        album = int(track_album[i])
        main = int(album_artist[album])
        performers = [main]
        if featured[i]:
            pool = cluster_artists[int(track_cluster[i])]
            guest = int(pool[int(feature_pick[i] * len(pool))])
            if guest != main:
                performers.append(guest)
        year = albums[album]["release_date"][2:4]
        tracks.append(
            {
                "id": track_ids[i],
                "name": track_names[i],
                "album": album,
                "artists": performers,
                "cluster": int(track_cluster[i]),
                "duration_ms": int(durations[i]),
                "explicit": bool(explicit[i]),
                "isrc": f"{isrc_country[i]}ML{'ABCDEFGHIJ'[i % 10]}{year}{i % 100000:05d}",
                "track_number": int(track_number[i]),
                "disc_number": 1,
                "rank": int(rank[i]),
            }
        )

    meta = draw_playlist_meta(np.random.default_rng([seed, 2]), n_playlists)
    playlists = []
    for pid in range(n_playlists):
        cluster_name = clusters[int(primary[pid])]
        word = _PLAYLIST_WORDS[int(meta.words[pid])]
        length = len(track_lists[pid])
        playlists.append(
            {
                "pid": pid,
                "name": playlist_name(cluster_name, word, int(meta.name_shape[pid])),
                "description": f"my {cluster_name} {word}" if meta.described[pid] else None,
                "collaborative": bool(meta.collaborative[pid]),
                "modified_at": int(meta.modified[pid]),
                "num_followers": int(meta.followers[pid]),
                "num_edits": int(max(1, length // 10 + int(meta.edit_noise[pid]))),
                "cluster": int(primary[pid]),
                "second_cluster": int(second[pid]) if second[pid] >= 0 else None,
                "tracks": track_lists[pid],
            }
        )
    params = {
        "seed": seed,
        "n_playlists": n_playlists,
        "n_tracks": n_tracks,
        "n_artists": n_artists,
        "n_clusters": n_clusters,
        "zipf_exponent": zipf_exponent,
        "zipf_offset": offset,
        "mean_length": mean_length,
    }
    return Catalog(seed, clusters, artists, albums, tracks, playlists, params)


def mpd_playlist(catalog: Catalog, playlist: Mapping[str, Any]) -> dict[str, Any]:
    """One playlist in the MPD's format (``pid, name, collaborative, modified_at, num_* , tracks[]...``)."""
    rows = []
    albums: set[int] = set()
    artists: set[int] = set()
    duration = 0
    for pos, t in enumerate(playlist["tracks"]):
        track = catalog.tracks[t]
        album = catalog.albums[track["album"]]
        artist = track["artists"][0]
        albums.add(track["album"])
        artists.add(artist)
        duration += track["duration_ms"]
        rows.append(
            {
                "pos": pos,
                "artist_name": catalog.artists[artist]["name"],
                "track_uri": f"spotify:track:{track['id']}",
                "artist_uri": f"spotify:artist:{catalog.artists[artist]['id']}",
                "track_name": track["name"],
                "album_uri": f"spotify:album:{album['id']}",
                "duration_ms": track["duration_ms"],
                "album_name": album["name"],
            }
        )
    doc: dict[str, Any] = {
        "name": playlist["name"],
        "collaborative": "true" if playlist["collaborative"] else "false",
        "pid": playlist["pid"],
        "modified_at": playlist["modified_at"],
        "num_tracks": len(rows),
        "num_albums": len(albums),
        "num_followers": playlist["num_followers"],
        "tracks": rows,
        "num_edits": playlist["num_edits"],
        "duration_ms": duration,
        "num_artists": len(artists),
    }
    if playlist.get("description"):
        doc["description"] = playlist["description"]
    return doc


def write_mpd_slices(
    catalog_or_params: Catalog | Mapping[str, Any],
    out_dir: str | Path,
    playlists_per_slice: int = 1000,
) -> list[Path]:
    """Write the catalog's playlists as MPD slice files ``mpd.slice.<start>-<end>.json``.

    Parameters
    ----------
    catalog_or_params : Catalog or mapping
        A catalog, or keyword arguments for :func:`generate_catalog`.
    out_dir : str or Path
        Folder to write into (created if needed).
    playlists_per_slice : int
        Playlists per file (the MPD has 1,000).

    Returns
    -------
    list of Path
        The files written, in pid order.
    """
    catalog = catalog_or_params if isinstance(catalog_or_params, Catalog) else generate_catalog(**catalog_or_params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    generated_on = datetime(2017, 12, 3, 8, 41, 42, 57563).isoformat(sep=" ")
    for start in range(0, len(catalog.playlists), playlists_per_slice):
        chunk = catalog.playlists[start : start + playlists_per_slice]
        end = start + playlists_per_slice - 1
        doc = {
            "info": {"generated_on": generated_on, "slice": f"{start}-{end}", "version": "v1"},
            "playlists": [mpd_playlist(catalog, p) for p in chunk],
        }
        path = out / f"mpd.slice.{start}-{end}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path)
    return written
