"""The landing-zone contract, shared by the extractor (writer) and the Glue jobs (readers).

Layout under a landing root (``s3://bucket/raw`` or a local folder)::

    source=<source>/entity=<entity>/ingest_date=<YYYY-MM-DD>/run_id=<run_id>/part-<NNNNN>.jsonl.gz
    _manifests/source=<source>/<run_id>.json        written last: its presence makes the run visible
    _checkpoints/source=<source>/<name>.json        the extractor's resume state (not data)

Every data file is gzip-compressed JSON Lines, written once and never modified. Each line is an
*envelope* around one record exactly as received (an API response body, or one MPD playlist)::

    {"run_id": ..., "source": "spotify" | "mpd", "entity": ..., "key": ...,
     "request_url": ..., "http_status": 200, "fetched_at": "2026-11-26T10:00:00.000000Z", "body": {...}}

A consumer lists ``_manifests/``, leaves out (by the run id in the key, before downloading anything) the runs
it has processed, keeps the runs whose status is ``complete`` and reads exactly the files each manifest names
(never a listing of the data folders, which may hold a run in progress).
This module imports nothing from Spark, so the extractor image stays small.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from musiclake import storage

MANIFEST_VERSION = 1
MANIFESTS_DIR = "_manifests"
MANIFEST_SUFFIX = ".json"
CHECKPOINTS_DIR = "_checkpoints"
STATUS_COMPLETE = "complete"
SOURCES = ("spotify", "mpd")
# The largest envelope line (UTF-8 bytes, newline excluded) anyone may land or curate: the importer and the
# extractor refuse a record over it, the ETL quarantines one with reason "record over MAX_RECORD_BYTES".
# A real MPD playlist (at most a few hundred tracks) is well under 1 MiB; an API page is under 1 MiB.
MAX_RECORD_BYTES = 16 * 1024 * 1024
_RUN_ID = re.compile(r"^[a-z]+-\d{8}T\d{6}Z-[0-9a-f]{8}$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """Format a timestamp as ISO-8601 UTC with microseconds and a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id(source: str, started_at: datetime | None = None) -> str:
    """A unique, sortable run id: ``<source>-<YYYYMMDDTHHMMSSZ>-<8 hex>``."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
    moment = (started_at or utc_now()).astimezone(UTC)
    return f"{source}-{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def is_run_id(value: str) -> bool:
    return bool(_RUN_ID.match(value))


def run_folder(landing: str, source: str, entity: str, ingest_date: str, run_id: str) -> str:
    """The folder holding one run's files of one entity (Hive-style partitions)."""
    return storage.join(
        landing, f"source={source}", f"entity={entity}", f"ingest_date={ingest_date}", f"run_id={run_id}"
    )


def part_name(index: int) -> str:
    return f"part-{index:05d}.jsonl.gz"


def manifest_uri(landing: str, source: str, run_id: str) -> str:
    return storage.join(landing, MANIFESTS_DIR, f"source={source}", f"{run_id}{MANIFEST_SUFFIX}")


def checkpoint_uri(landing: str, source: str, name: str) -> str:
    return storage.join(landing, CHECKPOINTS_DIR, f"source={source}", f"{name}.json")


def envelope(
    *,
    run_id: str,
    source: str,
    entity: str,
    key: str | None,
    request_url: str,
    http_status: int | None,
    body: Any,
    fetched_at: datetime | None = None,
) -> dict[str, Any]:
    """Wrap one record as received; ``body`` is kept exactly as parsed from the response or file."""
    return {
        "run_id": run_id,
        "source": source,
        "entity": entity,
        "key": key,
        "request_url": request_url,
        "http_status": http_status,
        "fetched_at": iso_utc(fetched_at or utc_now()),
        "body": body,
    }


def encode_records(records: Iterable[dict[str, Any]]) -> bytes:
    """Envelopes -> gzip JSON Lines. Deterministic (gzip mtime 0), so equal input gives equal bytes."""
    lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    return gzip.compress(lines.encode("utf-8"), mtime=0)


def decode_records(data: bytes) -> Iterator[dict[str, Any]]:
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ManifestFile:
    """One landed data file: its path relative to the landing root, entity, record count, size, checksum."""

    path: str
    entity: str
    records: int
    bytes: int
    sha256: str


@dataclass
class Manifest:
    """What a complete run landed. Written last; a run without one is invisible to consumers."""

    run_id: str
    source: str
    status: str
    started_at: str
    finished_at: str
    ingest_date: str
    files: list[ManifestFile] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    manifest_version: int = MANIFEST_VERSION

    @property
    def counts(self) -> dict[str, int]:
        """Records landed per entity."""
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f.entity] = totals.get(f.entity, 0) + f.records
        return totals

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["counts"] = self.counts
        return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        doc = json.loads(data)
        version = doc.get("manifest_version")
        if version != MANIFEST_VERSION:
            raise ValueError(f"unsupported manifest_version {version!r} (this code reads {MANIFEST_VERSION})")
        files = [ManifestFile(**f) for f in doc.get("files", [])]
        known = {k: doc[k] for k in ("run_id", "source", "status", "started_at", "finished_at", "ingest_date")}
        return cls(files=files, summary=doc.get("summary", {}), **known)

    def file_uris(self, landing: str, entity: str | None = None) -> list[str]:
        return [storage.join(landing, f.path) for f in self.files if entity is None or f.entity == entity]


def write_manifest(landing: str, manifest: Manifest) -> str:
    """Write a run's manifest (once). Call it after every data file of the run is landed."""
    uri = manifest_uri(landing, manifest.source, manifest.run_id)
    storage.put_bytes(uri, manifest.to_json())
    return uri


def list_manifest_uris(landing: str, source: str | None = None) -> list[str]:
    """The URIs of every manifest under ``landing`` (optionally of one source), in key order; nothing is read.

    One listing of ``_manifests/`` (paged on S3): the run id of each is in its name
    (:func:`run_id_of_manifest_uri`), so a consumer can leave out the runs it has seen before downloading any.
    """
    prefix = storage.join(landing, MANIFESTS_DIR) if source is None else storage.join(
        landing, MANIFESTS_DIR, f"source={source}"
    )
    return [uri for uri in storage.list_uris(prefix) if uri.endswith(MANIFEST_SUFFIX)]


def run_id_of_manifest_uri(uri: str) -> str:
    """The run id a manifest's key names: ``.../_manifests/source=mpd/<run_id>.json`` -> ``<run_id>``."""
    name = uri.rsplit("/", 1)[-1]
    return name[: -len(MANIFEST_SUFFIX)] if name.endswith(MANIFEST_SUFFIX) else name


def read_manifests(landing: str, source: str | None = None, *,
                   skip_run_ids: Collection[str] = frozenset()) -> list[Manifest]:
    """The manifests under ``landing`` (optionally of one source), oldest run first.

    Parameters
    ----------
    skip_run_ids
        Runs to leave out, by the run id in the manifest's key: their manifests are never downloaded (a job
        passes the runs it already processed, so what it reads grows with the new runs, not with the history).
    """
    uris = [uri for uri in list_manifest_uris(landing, source) if run_id_of_manifest_uri(uri) not in skip_run_ids]
    manifests = [Manifest.from_json(storage.get_bytes(uri)) for uri in uris]
    return sorted(manifests, key=lambda m: (m.started_at, m.run_id))


def complete_runs(landing: str, source: str | None = None, *,
                  skip_run_ids: Collection[str] = frozenset()) -> list[Manifest]:
    """The runs a consumer may read: manifests with status ``complete``, oldest first.

    ``skip_run_ids``: runs left out before any manifest is downloaded (see :func:`read_manifests`).
    """
    return [m for m in read_manifests(landing, source, skip_run_ids=skip_run_ids) if m.status == STATUS_COMPLETE]
