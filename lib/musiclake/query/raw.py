"""The raw landing zone as one table, ``raw``: every envelope line, partitioned like the folders.

Columns: the envelope fields ``key, request_url, http_status, fetched_at, body`` (``body`` is the record as
received, JSON text; query it with ``json_extract_scalar(body, '$.name')``), then the partition columns
``source, entity, ingest_date, run_id`` taken from the Hive-style folders
``source=/entity=/ingest_date=/run_id=/part-NNNNN.jsonl.gz``. ``_manifests/`` and ``_checkpoints/`` are not data
and never match. All partition values are strings, as in the Glue table ``raw`` that
``deploy/cloudformation/glue.yaml`` declares with these same columns (so the same SQL runs on Athena).

Like a crawler (and unlike the ETL jobs, which read only the files complete manifests name) this is a listing:
it shows every landed file, including parts a crashed run left behind.

Locally DuckDB reads the gzip JSON Lines itself (lazily, pruning folders on partition filters). On S3 the files
are listed and read through boto3 (DuckDB's S3 support is an extension download, not available everywhere), so
the whole raw zone is read when the table is first queried: fine for inspection, not for a large zone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

from musiclake import landing, storage

TABLE = "raw"
PARTITIONS = ("source", "entity", "ingest_date", "run_id")
ENVELOPE_COLUMNS = ("key", "request_url", "http_status", "fetched_at", "body")
DATA_GLOB = "source=*/entity=*/ingest_date=*/run_id=*/*.jsonl.gz"
_DATA_FILE = re.compile(
    r"^source=(?P<source>[^/]+)/entity=(?P<entity>[^/]+)/ingest_date=(?P<ingest_date>[^/]+)"
    r"/run_id=(?P<run_id>[^/]+)/[^/]+\.jsonl\.gz$"
)
SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("request_url", pa.string()),
        ("http_status", pa.int32()),
        ("fetched_at", pa.string()),
        ("body", pa.string()),
        *[(name, pa.string()) for name in PARTITIONS],
    ]
)
_COMPACT = (",", ":")  # as the landing files are written (landing.encode_records)
_SELECT = ", ".join((*ENVELOPE_COLUMNS[:-1], "CAST(body AS JSON) AS body", *PARTITIONS))


def has_local_data(raw_path: str) -> bool:
    root = Path(raw_path)
    return root.is_dir() and next(root.glob(DATA_GLOB), None) is not None


def local_view_sql(raw_path: str) -> str:
    """DuckDB SQL of the ``raw`` view over a local landing folder (partition values from the folder names)."""
    pattern = str(Path(raw_path) / DATA_GLOB).replace("'", "''")
    columns = "{key: 'VARCHAR', request_url: 'VARCHAR', http_status: 'INTEGER', fetched_at: 'VARCHAR', body: 'JSON'}"
    source = (
        f"read_json('{pattern}', format = 'newline_delimited', compression = 'gzip', hive_partitioning = true, "
        f"hive_types_autocast = false, columns = {columns})"
    )
    return f"SELECT {_SELECT} FROM {source}"


def arrow_view_sql(arrow_name: str) -> str:
    """DuckDB SQL of the ``raw`` view over an Arrow table with :data:`SCHEMA` (``body`` as JSON text)."""
    return f"SELECT {_SELECT} FROM {arrow_name}"


def data_files(raw_path: str) -> list[tuple[str, dict[str, str]]]:
    """Every data file under a landing root with its partition values, sorted by path."""
    root = raw_path.rstrip("/")
    files = []
    for uri in storage.list_uris(root):
        match = _DATA_FILE.match(uri[len(root):].lstrip("/"))
        if match:
            files.append((uri, match.groupdict()))
    return files


def read_arrow(raw_path: str) -> pa.Table:
    """Read every envelope under a landing root (local or S3, through :mod:`musiclake.storage`) as Arrow.

    Notes
    -----
    Reads the whole zone into memory: used for S3, where DuckDB cannot list and read by itself here.
    """
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    for uri, partition in data_files(raw_path):
        try:
            records = list(landing.decode_records(storage.get_bytes(uri)))
        except ValueError as exc:  # cut short, not gzip, not JSON objects one per line
            raise ValueError(f"landed file {uri} cannot be read: {exc}") from exc
        for record in records:
            key = record.get("key")
            columns["key"].append(None if key is None else str(key))
            columns["request_url"].append(record.get("request_url"))
            columns["http_status"].append(record.get("http_status"))
            columns["fetched_at"].append(record.get("fetched_at"))
            body = record.get("body")
            columns["body"].append(None if body is None else json.dumps(body, ensure_ascii=False, separators=_COMPACT))
            for name in PARTITIONS:
                columns[name].append(partition[name])
    return pa.table(columns, schema=SCHEMA)
