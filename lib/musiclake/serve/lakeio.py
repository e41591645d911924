"""Reading the lake without Spark: Delta tables through delta-rs, the model's Parquet folders through pyarrow.

Delta tables are read with delta-rs's own query engine (``QueryBuilder``: it applies the Delta log - partitions,
deletion vectors, column mapping - and pushes filters down), Spark's plain Parquet folders (the model's factors and
id maps) file by file with :mod:`musiclake.storage`, so local folders and ``s3://`` work alike and
``AWS_ENDPOINT_URL_S3`` points both at a local S3 server.

pandas is never imported (half a second of every command's start where it is installed): ``pyarrow.dataset``,
``pa.array(...)`` and ``Array.to_numpy()`` import it, so Arrow and numpy meet here through buffers
(:func:`to_numpy`, :func:`int_array`, :func:`string_array`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable, QueryBuilder

from musiclake import storage
from musiclake.query import catalog
from musiclake.serve.model import Strings

_QUERY_TABLE = "t"
_NUMPY_TYPES = {
    pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
    pa.float32(): np.float32, pa.float64(): np.float64,
}


def storage_options(uri: str) -> dict[str, str] | None:
    """delta-rs storage options for an ``s3://`` URI (from the AWS environment); None for a local path."""
    return catalog.storage_options_from_env() if catalog.is_s3(uri) else None


def open_delta(uri: str, version: int | None = None) -> DeltaTable | None:
    """The Delta table at ``uri`` (optionally at a past version), or None when there is none."""
    location = catalog.normalize(uri)
    if not is_delta_table(location):
        return None
    return DeltaTable(location, version=version, storage_options=storage_options(location))


def is_delta_table(uri: str) -> bool:
    """Whether ``uri`` holds a Delta log.

    Notes
    -----
    Asked with boto3 on S3 rather than delta-rs's ``is_deltatable``, which keeps the GIL during its request: in
    the server that would stall every request for the length of a round trip to S3.
    """
    location = catalog.normalize(uri)
    if not catalog.is_s3(location):
        return (Path(location) / catalog.DELTA_LOG).is_dir()
    loc = storage.Location.parse(location)
    probe = storage._s3().list_objects_v2(Bucket=loc.bucket, Prefix=f"{loc.key}/{catalog.DELTA_LOG}/", MaxKeys=1)
    return bool(probe.get("KeyCount", 0))


def column_names(table: DeltaTable) -> list[str]:
    """The table's column names (partition columns included)."""
    return [f.name for f in table.schema().fields]


def read_delta(table: DeltaTable, columns: Sequence[str], where: str | None = None) -> pa.Table:
    """``SELECT columns FROM table [WHERE where]`` as an Arrow table (string columns as plain ``string``).

    Parameters
    ----------
    where
        A SQL condition on the table's columns; build literals with :func:`sql_in`.
    """
    names = ", ".join(_quoted(c) for c in columns)
    sql = f"SELECT {names} FROM {_QUERY_TABLE}" + (f" WHERE {where}" if where else "")
    reader = QueryBuilder().register(_QUERY_TABLE, table).execute(sql)
    return plain_strings(pa.RecordBatchReader.from_stream(reader).read_all())


def read_delta_columns(table: DeltaTable, columns: Sequence[str]) -> pa.Table:
    """Every row of some columns of a Delta table's current snapshot (string columns as plain ``string``)."""
    batches = list(iter_delta_batches(table, columns))
    if not batches:
        return read_delta(table, columns)
    return plain_strings(pa.Table.from_batches(batches))


def iter_delta_batches(table: DeltaTable, columns: Sequence[str], rows: int = 262_144) -> Iterator[pa.RecordBatch]:
    """The rows of some columns of a Delta table's current snapshot, a batch of at most ``rows`` at a time.

    Notes
    -----
    A table with the base reader protocol (no deletion vectors, no column mapping: what the Glue jobs write) is
    read file by file with pyarrow, the files listed by delta-rs, so that no more than a batch is decoded at a
    time: Arrow's allocator keeps what it once held, and delta-rs's query engine keeps ~60 MB of its own after a
    2-million-row read - memory a server holding a model for hours would carry for nothing. Other tables, and
    partition columns, are read through delta-rs's engine.
    """
    partitions = set(table.metadata().partition_columns)
    if table.protocol().min_reader_version > 1 or partitions & set(columns):
        names = ", ".join(_quoted(c) for c in columns)
        reader = QueryBuilder().register(_QUERY_TABLE, table).execute(f"SELECT {names} FROM {_QUERY_TABLE}")
        yield from pa.RecordBatchReader.from_stream(reader)
        return
    for uri in table.file_uris():
        yield from pq.ParquetFile(io.BytesIO(storage.get_bytes(uri))).iter_batches(batch_size=rows,
                                                                                   columns=list(columns))


def delta_rows(table: DeltaTable) -> int:
    """Rows of the table's current snapshot: from the files' statistics in the log, else counted."""
    actions = pa.RecordBatchReader.from_stream(table.get_add_actions(flatten=True)).read_all()
    if "num_records" in actions.column_names and actions.column("num_records").null_count == 0:
        return int(pc.sum(actions.column("num_records")).as_py() or 0)
    reader = QueryBuilder().register(_QUERY_TABLE, table).execute(f"SELECT count(*) AS n FROM {_QUERY_TABLE}")
    return int(pa.RecordBatchReader.from_stream(reader).read_all().column("n")[0].as_py())


def read_parquet_folder(uri: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Every Parquet part under a folder Spark wrote (``_SUCCESS`` and hidden files skipped), concatenated.

    Raises
    ------
    FileNotFoundError
        If the folder holds no Parquet file.
    """
    tables = [pq.ParquetFile(io.BytesIO(storage.get_bytes(u))).read(columns=columns) for u in _parquet_parts(uri)]
    return pa.concat_tables(tables)


def parquet_folder_schema(uri: str) -> pa.Schema:
    """The schema of the first Parquet part under a folder.

    Raises
    ------
    FileNotFoundError
        If the folder holds no Parquet file.
    """
    return pq.ParquetFile(io.BytesIO(storage.get_bytes(_parquet_parts(uri)[0]))).schema_arrow


def _parquet_parts(uri: str) -> list[str]:
    parts = [u for u in storage.list_uris(uri) if _is_part(u)]
    if not parts:
        raise FileNotFoundError(f"no Parquet files under {uri}")
    return parts


def sql_in(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` with the values quoted as SQL string literals."""
    literals = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
    return f"{_quoted(column)} IN ({literals})" if literals else "FALSE"


def plain_strings(table: pa.Table) -> pa.Table:
    """The table with ``string_view`` / ``large_string`` columns cast to ``string`` (what compute kernels take)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string_view(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(index, field.name, pc.cast(table.column(index), pa.string()))
    return table


def _is_part(uri: str) -> bool:
    name = uri.rsplit("/", 1)[-1]
    return name.endswith(".parquet") and not name.startswith(("_", "."))


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def to_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column without nulls as a numpy array, read from its buffers.

    Raises
    ------
    ValueError
        If the column has nulls or is not a fixed-width number type.
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    dtype = _NUMPY_TYPES.get(values.type)
    if dtype is None:
        raise ValueError(f"not a number column: {values.type}")
    parts = []
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError("column has nulls")
        parts.append(np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset *
                                   np.dtype(dtype).itemsize))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def int_array(values: np.ndarray) -> pa.Array:
    """An int64 Arrow array over a copy of ``values``."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def string_array(values: Sequence[str | None]) -> pa.Array:
    """A string Arrow array (None -> null)."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in values], dtype=bool)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if not valid.all() else None
    return pa.Array.from_buffers(pa.string(), len(encoded), [bitmap, pa.py_buffer(offsets),
                                                             pa.py_buffer(b"".join(encoded))])


def to_strings(values: pa.Array | pa.ChunkedArray) -> Strings:
    array = pc.cast(values, pa.large_string())
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    n = len(array)
    validity, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64, count=n + 1, offset=array.offset * 8) if n else np.zeros(
        1, dtype=np.int64)
    if validity is None:
        valid = np.ones(n, dtype=bool)
    else:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        valid = bits[array.offset : array.offset + n].astype(bool)
    start = int(offsets[0])
    return Strings(offsets - start, data.to_pybytes()[start : int(offsets[-1])] if data is not None else b"", valid)
