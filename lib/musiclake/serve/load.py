"""Loading a model version for serving with pyarrow, delta-rs and numpy (no Spark, no JVM).

What :func:`load_model` reads from ``<lake>/models/als/v=<version>/`` (layout: :mod:`musiclake.recommend.store`)
and from the lake:

* ``model/itemFactors``, ``model/userFactors`` -> two float32 matrices whose row ``i`` is index ``i``;
* ``track_ids``, ``playlist_ids`` -> :class:`IdIndex` (ids <-> indices, one sorted bytes array each);
* ``item_gram.npy`` (``Y^T Y``, fold-in), ``popular_tracks`` (the fallback), ``metadata.json``;
* the training input (``metadata.input``: the ``interactions`` table at the Delta version trained on) -> each
  playlist's tracks as CSR arrays (excluded from its recommendations) and each track's playlist count (only tracks
  in at least two playlists are similar-track candidates, as in the ``similar_tracks`` table);
* the ``tracks`` and ``playlists`` tables -> track, artist and playlist names, aligned with the indices (packed
  as Arrow lays them out: :class:`musiclake.serve.model.Strings`).

``python -m musiclake.serve.load LAKE [MODEL]`` loads one in a child process and writes it to stdout pickled: how
the server loads (:func:`musiclake.serve.holder.load_in_child`), so that Arrow's and delta-rs's libraries and
allocations stay out of the serving process.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from musiclake import storage
from musiclake.serve import lakeio, layout
from musiclake.serve.layout import PLAYLIST_ID, PLAYLIST_IDX, RANK, SCORE, TRACK_ID, TRACK_IDX, WEIGHT
from musiclake.serve.model import IdIndex, Model, Popular, Strings, release_freed_memory

log = logging.getLogger("musiclake.serve.load")


def load_model(lake_path: str, model_path: str | None = None, *, names: bool = True) -> Model:
    """Load ``model_path``, or the model the lake's ``LATEST`` pointer names.

    Parameters
    ----------
    lake_path
        The lake root (local folder or ``s3://bucket/prefix``): the model, the training input, the names.
    model_path
        A model folder ``.../models/als/v=<version>`` (default: the latest).
    names
        Read track, artist and playlist names from the lake's ``tracks`` and ``playlists`` tables.

    Raises
    ------
    FileNotFoundError
        If there is no trained model (the message says how to train one) or a part of the folder is missing.
    """
    path = model_path or storage.join(layout.models_root(lake_path), layout.latest_folder(lake_path))
    metadata = json.loads(storage.get_bytes(storage.join(path, layout.METADATA)))
    track_map = lakeio.read_parquet_folder(storage.join(path, layout.TRACK_IDS), [TRACK_ID, TRACK_IDX])
    playlist_map = lakeio.read_parquet_folder(storage.join(path, layout.PLAYLIST_IDS), [PLAYLIST_ID, PLAYLIST_IDX])
    items, item_ids = _factors(storage.join(path, layout.SPARK_MODEL, layout.ITEM_FACTORS))
    users, user_ids = _factors(storage.join(path, layout.SPARK_MODEL, layout.USER_FACTORS))
    track_idx, playlist_idx = lakeio.to_numpy(track_map.column(TRACK_IDX)), lakeio.to_numpy(
        playlist_map.column(PLAYLIST_IDX))
    tracks = IdIndex.build(track_map.column(TRACK_ID).to_pylist(), track_idx, _size(track_idx, item_ids))
    playlists = IdIndex.build(playlist_map.column(PLAYLIST_ID).to_pylist(), playlist_idx,
                              _size(playlist_idx, user_ids))
    item_factors, item_present = _by_index(items, item_ids, tracks.size)
    user_factors, user_present = _by_index(users, user_ids, playlists.size)
    indptr, seen = _seen_lists(metadata.get("input") or {}, playlists, tracks)
    playlist_counts = np.bincount(seen, minlength=tracks.size)[: tracks.size]
    min_playlists = int((metadata.get("options") or {}).get("similar_min_playlists", layout.SIMILAR_MIN_PLAYLISTS))
    scale, penalty = _cosine_terms(item_factors, item_present & (playlist_counts >= min_playlists))
    track_names = artist_names = playlist_names = None
    if names:
        track_names, artist_names = _track_names(lake_path, tracks)
        playlist_names = _playlist_names(lake_path, playlists)
    model = Model(
        lake_path=lake_path,
        path=path,
        metadata=metadata,
        item_factors=item_factors,
        user_factors=user_factors,
        items_without_factors=np.flatnonzero(~item_present),
        users_with_factors=user_present,
        gram=np.load(io.BytesIO(storage.get_bytes(storage.join(path, layout.GRAM))), allow_pickle=False),
        playlists=playlists,
        tracks=tracks,
        popular=_popular(storage.join(path, layout.POPULAR_TRACKS)),
        seen_indptr=indptr,
        seen_tracks=seen,
        cosine_scale=scale,
        cosine_penalty=penalty,
        track_names=track_names,
        artist_names=artist_names,
        playlist_names=playlist_names,
    )
    _release_freed_memory()
    log.info("loaded model %s: %d playlists x %d tracks, rank %d (%.0f MB of factors)", model.version,
             playlists.size, tracks.size, model.rank, model.factor_bytes / 2**20)
    return model


# --- pieces ---------------------------------------------------------------------------------------------------------

def _factors(uri: str) -> tuple[np.ndarray, np.ndarray]:
    """``id, features`` rows of a Spark factor folder: (rows x rank float32, ids int64)."""
    table = lakeio.read_parquet_folder(uri, ["id", "features"])
    ids = lakeio.to_numpy(table.column("id")).astype(np.int64)
    features = table.column("features")
    lengths = pc.list_value_length(features)
    rank = int(pc.max(lengths).as_py() or 0) if len(ids) else 0
    if len(ids) and pc.min(lengths).as_py() != rank:
        raise ValueError(f"{uri}: factor vectors of different lengths")
    values = lakeio.to_numpy(pc.list_flatten(features)).astype(np.float32, copy=False)
    return values.reshape(len(ids), rank), ids


def _size(map_indices: np.ndarray, factor_ids: np.ndarray) -> int:
    """Number of indices: one past the largest in the id map or the factors."""
    largest = max(int(map_indices.max()) if len(map_indices) else -1, int(factor_ids.max()) if len(factor_ids) else -1)
    return largest + 1


def _by_index(rows: np.ndarray, ids: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows placed at their index (zeros where none), and which indices have one."""
    matrix = np.zeros((size, rows.shape[1]), dtype=np.float32)
    matrix[ids] = rows
    present = np.zeros(size, dtype=bool)
    present[ids] = True
    return matrix, present


def _popular(uri: str) -> Popular:
    table = lakeio.read_parquet_folder(uri, [TRACK_ID, TRACK_IDX, SCORE, RANK])
    table = table.sort_by([(RANK, "ascending")])
    return Popular(table.column(TRACK_ID).to_pylist(), lakeio.to_numpy(table.column(TRACK_IDX)).astype(np.int64),
                   lakeio.to_numpy(table.column(SCORE)).astype(np.float64))


def _seen_lists(source: dict[str, Any], playlists: IdIndex, tracks: IdIndex) -> tuple[np.ndarray, np.ndarray]:
    """Each trained playlist's tracks, from the training input the metadata names: CSR (indptr, track indices).

    Notes
    -----
    Pairs are cleaned as ``clean_interactions`` does before training (null ids and non-positive weights dropped,
    duplicates once). With the ETL's own indices (``id_maps == "input"``) only the int columns are read.
    """
    pairs = _training_pairs(source, playlists, tracks)
    if pairs is None:
        log.warning("training input %s not readable: playlists' own tracks are not excluded", source.get("path"))
        return np.zeros(playlists.size + 1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    playlist_idx, track_idx = pairs
    keep = (playlist_idx >= 0) & (playlist_idx < playlists.size) & (track_idx >= 0) & (track_idx < tracks.size)
    keys = np.unique(playlist_idx[keep] * np.int64(tracks.size) + track_idx[keep])  # sorted by playlist, track
    by_playlist, seen = np.divmod(keys, np.int64(tracks.size))
    indptr = np.zeros(playlists.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(by_playlist, minlength=playlists.size), out=indptr[1:])
    return indptr, seen.astype(np.int32)


def _training_pairs(
    source: dict[str, Any], playlists: IdIndex, tracks: IdIndex
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(playlist_idx, track_idx)`` of the training input's rows with both ids and a positive weight."""
    path, fmt = source.get("path"), source.get("format")
    if not path:
        return None
    if fmt == "delta":
        table = _interactions_table(path, source.get("delta_version"))
        if table is None:
            return None
        columns = set(lakeio.column_names(table))
    else:
        try:
            table, columns = None, set(lakeio.parquet_folder_schema(path).names)
        except FileNotFoundError:
            return None
    by_index = source.get("id_maps") == "input" and {PLAYLIST_IDX, TRACK_IDX} <= columns
    wanted = [PLAYLIST_IDX, TRACK_IDX] if by_index else [PLAYLIST_ID, TRACK_ID]
    read = [*wanted, *([WEIGHT] if WEIGHT in columns else [])]
    batches = (lakeio.iter_delta_batches(table, read) if table is not None
               else lakeio.read_parquet_folder(path, read).to_batches())
    playlist_parts, track_parts = [], []
    for batch in batches:  # a batch at a time: the read's peak memory stays small (see iter_delta_batches)
        if batch.column(0).null_count or batch.column(1).null_count:
            batch = batch.filter(pc.and_(pc.is_valid(batch.column(0)), pc.is_valid(batch.column(1))))
        if by_index:  # numpy straight from the Arrow buffers: Arrow's allocator keeps what its kernels allocate
            playlist_idx, track_idx = (lakeio.to_numpy(batch.column(0)).astype(np.int64),
                                       lakeio.to_numpy(batch.column(1)).astype(np.int64))
        else:
            playlist_idx, track_idx = _map_ids(batch.column(0), playlists), _map_ids(batch.column(1), tracks)
        if WEIGHT in columns:
            weights = batch.column(2)
            weights = pc.fill_null(weights, 0) if weights.null_count else weights
            positive = lakeio.to_numpy(pc.cast(weights, pa.float64()) if weights.type != pa.float64() else
                                       weights) > 0
            playlist_idx, track_idx = playlist_idx[positive], track_idx[positive]
        playlist_parts.append(playlist_idx)
        track_parts.append(track_idx)
    if not playlist_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(playlist_parts), np.concatenate(track_parts)


def _interactions_table(path: str, version: int | None):
    """The training input at the Delta version trained on (the latest when that one was vacuumed)."""
    try:
        table = lakeio.open_delta(path, version)
        if table is not None and version is not None:
            table.file_uris()  # fails here, not mid-read, when the version's files are gone
        return table
    except Exception as error:  # delta-rs raises several types for a missing version
        log.warning("interactions version %s at %s not readable (%s): using the latest", version, path, error)
        return lakeio.open_delta(path)


def _map_ids(ids: pa.Array, index: IdIndex) -> np.ndarray:
    """Indices of string ids through an IdIndex (-1 for unknown)."""
    return index.lookup(pc.cast(ids, pa.string()).to_pylist())


def _cosine_terms(factors: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per track: 1/|y| and an additive 0/-inf mask, so that ``(Y q) * scale + penalty`` ranks by cosine over the
    similar-track candidates (tracks with factors of non-zero length in enough playlists)."""
    norms = np.sqrt(np.einsum("ij,ij->i", factors, factors, dtype=np.float32))
    usable = candidates & (norms > 0)
    scale = np.zeros(len(factors), dtype=np.float32)
    scale[usable] = 1.0 / norms[usable]
    penalty = np.where(usable, np.float32(0), np.float32(-np.inf)).astype(np.float32)
    return scale, penalty


def _aligned(lake_path: str, table_name: str, key: str, columns: Sequence[str],
             index: IdIndex) -> list[Strings] | None:
    """Columns of a lake table aligned with an IdIndex's indices (null where the table has no row)."""
    table = lakeio.open_delta(layout.table_path(lake_path, table_name))
    if table is None:
        return None
    if not {key, *columns} <= set(lakeio.column_names(table)):
        return None
    rows = lakeio.read_delta_columns(table, [key, *columns])
    positions = pc.index_in(ids_by_index(index), value_set=rows.column(key).combine_chunks())
    return [lakeio.to_strings(rows.column(c).combine_chunks().take(positions)) for c in columns]


def _track_names(lake_path: str, tracks: IdIndex) -> tuple[Strings | None, Strings | None]:
    aligned = _aligned(lake_path, layout.TRACKS, TRACK_ID, ["track_name", "artist_name"], tracks)
    return (aligned[0], aligned[1]) if aligned else (None, None)


def _playlist_names(lake_path: str, playlists: IdIndex) -> Strings | None:
    aligned = _aligned(lake_path, layout.PLAYLISTS, PLAYLIST_ID, ["name"], playlists)
    return aligned[0] if aligned else None


def ids_by_index(index: IdIndex) -> pa.Array:
    """Every index's id as an Arrow string array (null where no id has that index)."""
    ids: list[str | None] = [None] * index.size
    for i, position in enumerate(index.positions.tolist()):
        if position >= 0:
            ids[i] = index.sorted_ids[position].decode()
    return lakeio.string_array(ids)


def _release_freed_memory() -> None:
    pa.default_memory_pool().release_unused()
    release_freed_memory()


def main(argv: Sequence[str] | None = None) -> int:
    """The child's side of :func:`musiclake.serve.holder.load_in_child`: load, pickle to stdout, exit 0.

    A failure is pickled too - ``("error", exception class name, message)`` - so the parent raises the same kind.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        outcome: tuple[Any, ...] = ("ok", load_model(args[0], args[1] if len(args) > 1 else None))
    except Exception as error:  # reported to the parent, which raises it
        outcome = ("error", type(error).__name__, str(error))
    pickle.dump(outcome, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
