"""A trained model version as the read path holds it: numpy arrays and bytes, nothing else.

Loading one (:mod:`musiclake.serve.load`) needs pyarrow and delta-rs; holding and scoring one needs only numpy. The
server loads each version in a child process and receives the :class:`Model` pickled (:mod:`musiclake.serve.holder`),
so the serving process never imports pyarrow or delta-rs: its memory is the model's arrays plus Python, numpy and
the web stack (BENCHMARKS.md).

A :class:`Model` is immutable once loaded: the server swaps whole models and every request keeps the one it started
with.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from musiclake.serve.confidence import trained_weighting


@dataclass(frozen=True, eq=False)
class Strings:
    """A string column packed as Arrow lays it out (offsets into UTF-8 bytes, validity), read per item in plain
    Python: a few microseconds for a page of names, where an Arrow ``take`` costs tens."""

    offsets: np.ndarray  # int64, n + 1
    data: bytes
    valid: np.ndarray  # bool, n

    def __len__(self) -> int:
        return len(self.valid)

    def get(self, indices: Iterable[int]) -> list[str | None]:
        """The strings at ``indices`` (None for nulls)."""
        offsets, data, valid = self.offsets, self.data, self.valid
        return [data[offsets[i] : offsets[i + 1]].decode() if valid[i] else None for i in indices]


@dataclass(frozen=True, eq=False)
class IdIndex:
    """String ids <-> dense int indices, compactly: the ids as one sorted fixed-width bytes array.

    A Python dict of 2 million ids costs ~150 MB; this costs ``n x (longest id + 8)`` bytes and answers a lookup
    with one binary search.
    """

    sorted_ids: np.ndarray  # bytes (dtype S<width>), ascending
    indices: np.ndarray  # int32: the index of sorted_ids[i]
    positions: np.ndarray  # int32: position in sorted_ids of index j, -1 when no id has index j

    @classmethod
    def build(cls, ids: Sequence[str], indices: np.ndarray, size: int | None = None) -> IdIndex:
        """The index of ``ids[i] -> indices[i]`` (``size``: the number of indices, default ``max + 1``)."""
        indices = np.asarray(indices, dtype=np.int64)
        size = int(indices.max()) + 1 if size is None and len(indices) else (size or 0)
        encoded = [str(i).encode() for i in ids]
        width = max([len(e) for e in encoded] + [1])
        as_bytes = np.array(encoded, dtype=f"S{width}")
        order = np.argsort(as_bytes, kind="stable")
        positions = np.full(size, -1, dtype=np.int32)
        positions[indices[order]] = np.arange(len(order), dtype=np.int32)
        return cls(as_bytes[order], indices[order].astype(np.int32), positions)

    def __len__(self) -> int:
        return len(self.sorted_ids)

    @property
    def size(self) -> int:
        """The number of indices (``max index + 1``)."""
        return len(self.positions)

    def lookup(self, ids: Sequence[str]) -> np.ndarray:
        """The index of each id (int64), -1 for an id that is not in the map."""
        if not len(ids) or not len(self.sorted_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        width = self.sorted_ids.dtype.itemsize
        encoded = [str(i).encode() for i in ids]
        fits = np.array([0 < len(e) <= width for e in encoded])
        keys = np.array([e if ok else b"" for e, ok in zip(encoded, fits, strict=True)], dtype=self.sorted_ids.dtype)
        where = np.minimum(np.searchsorted(self.sorted_ids, keys), len(self.sorted_ids) - 1)
        found = fits & (self.sorted_ids[where] == keys)
        return np.where(found, self.indices[where], -1).astype(np.int64)

    def index_of(self, id_: str) -> int | None:
        """One id's index, or None."""
        found = int(self.lookup([id_])[0])
        return found if found >= 0 else None

    def ids(self, indices: np.ndarray) -> list[str]:
        """The id of each index (indices must be known)."""
        return [b.decode() for b in self.sorted_ids[self.positions[np.asarray(indices, dtype=np.int64)]]]


@dataclass(frozen=True)
class Popular:
    """The model's fallback list: tracks by number of playlists, best first."""

    track_ids: list[str]
    track_idx: np.ndarray  # int64
    scores: np.ndarray  # float64: number of playlists


@dataclass(frozen=True, eq=False)
class Model:
    """One model version, ready to answer (see the module docstring for where each piece comes from)."""

    lake_path: str
    path: str
    metadata: dict[str, Any]
    item_factors: np.ndarray  # (n_tracks, rank) float32, row = track_idx
    user_factors: np.ndarray  # (n_playlists, rank) float32, row = playlist_idx
    items_without_factors: np.ndarray  # int64 track indices with no factor row (never recommended)
    users_with_factors: np.ndarray  # bool per playlist_idx
    gram: np.ndarray  # (rank, rank) float64, Y^T Y
    playlists: IdIndex
    tracks: IdIndex
    popular: Popular
    seen_indptr: np.ndarray  # int64 (n_playlists + 1): playlist p's tracks are seen_tracks[indptr[p]:indptr[p+1]]
    seen_tracks: np.ndarray  # int32
    cosine_scale: np.ndarray  # float32 per track: 1 / |y| for similar-track candidates, else 0
    cosine_penalty: np.ndarray  # float32 per track: 0 for similar-track candidates, else -inf
    track_names: Strings | None = None  # by track_idx
    artist_names: Strings | None = None
    playlist_names: Strings | None = None  # by playlist_idx
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def folder(self) -> str:
        """``v=<version>``, as the ``LATEST`` pointer names it."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def rank(self) -> int:
        return int(self.item_factors.shape[1])

    @property
    def reg_param(self) -> float:
        return float(self.metadata["params"]["reg_param"])

    @property
    def alpha(self) -> float:
        return float(self.metadata["params"]["alpha"])

    @property
    def weighting(self) -> str:
        """The confidence weighting the model was trained with (``linear`` for models trained before the choice)."""
        return trained_weighting(self.metadata["params"])

    @property
    def factor_bytes(self) -> int:
        """Bytes of the two factor matrices (the yardstick of the serving process's memory)."""
        return int(self.item_factors.nbytes + self.user_factors.nbytes)

    def seen(self, playlist_idx: int) -> np.ndarray:
        """The tracks a trained playlist has (int32 indices)."""
        return self.seen_tracks[self.seen_indptr[playlist_idx] : self.seen_indptr[playlist_idx + 1]]

    def has_factors(self, playlist_idx: int) -> bool:
        return 0 <= playlist_idx < len(self.users_with_factors) and bool(self.users_with_factors[playlist_idx])

    def names_of(self, track_idx: np.ndarray) -> tuple[list[str | None], list[str | None]]:
        """Track and artist names of the given tracks (None where the lake's ``tracks`` table has none)."""
        indices = [int(i) for i in track_idx]
        if self.track_names is None or self.artist_names is None:
            return [None] * len(indices), [None] * len(indices)
        return self.track_names.get(indices), self.artist_names.get(indices)

    def playlist_name(self, playlist_idx: int) -> str | None:
        if self.playlist_names is None or not 0 <= playlist_idx < len(self.playlist_names):
            return None
        return self.playlist_names.get([playlist_idx])[0]


def release_freed_memory() -> None:
    """Give freed memory (a load's temporaries) back to the system: glibc keeps it for reuse otherwise, and in a
    server that holds one model for hours that is the size of the largest temporaries, kept for nothing."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc:
        with contextlib.suppress(OSError, AttributeError):  # no glibc (musl, macOS): nothing to trim
            ctypes.CDLL(libc).malloc_trim(0)
