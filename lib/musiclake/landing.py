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
import zlib
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
_ENTITY = re.compile(r"^[a-z][a-z0-9_]*$")
_INGEST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest that breaks the landing contract (not JSON, a field missing or of the wrong type, at another run's
    key, naming a file outside its run's folders): no consumer reads its run. The message names the manifest."""


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


def gunzip(data: bytes) -> bytes:
    """A whole gzip file's content.

    Raises
    ------
    ValueError
        ``truncated or corrupt gzip: <why>`` for bytes that are not a whole gzip file (cut short, not gzip, corrupt).
    """
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:  # truncated (EOFError), not gzip (BadGzipFile), corrupt
        raise ValueError(f"truncated or corrupt gzip: {exc or type(exc).__name__}") from exc


def decode_records(data: bytes) -> Iterator[dict[str, Any]]:
    """The records of a landed data file (gzipped JSON lines).

    Raises
    ------
    ValueError
        For bytes that are not a whole gzip file (:func:`gunzip`), not UTF-8, or a line that is not a JSON object.
    """
    for line in gunzip(data).decode("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"a line is a JSON {type(record).__name__}, not an object")
            yield record


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
        """Parse a manifest and check it against the contract (:meth:`layout_problem`).

        Raises
        ------
        ValueError
            Naming the first thing that breaks the contract (a ``json.JSONDecodeError`` for text that is not JSON).
        """
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError(f"a JSON {type(doc).__name__}, not an object")
        version = doc.get("manifest_version")
        if version != MANIFEST_VERSION:
            raise ValueError(f"unsupported manifest_version {version!r} (this code reads {MANIFEST_VERSION})")
        files = []
        for i, entry in enumerate(_typed(doc, "files", list, [])):
            if not isinstance(entry, dict):
                raise ValueError(f"files[{i}] is a {type(entry).__name__}, not an object")
            files.append(ManifestFile(**{name: _typed(entry, name, kind, where=f"files[{i}].")
                                         for name, kind in _FILE_FIELDS.items()}))
        known = {k: _typed(doc, k, str) for k in ("run_id", "source", "status", "started_at", "finished_at",
                                                  "ingest_date")}
        manifest = cls(files=files, summary=_typed(doc, "summary", dict, {}), **known)
        problem = manifest.layout_problem()
        if problem:
            raise ValueError(problem)
        return manifest

    def layout_problem(self) -> str | None:
        """Why the manifest does not describe a run of the landing layout, or None: a known source, a run id and
        an ingest date of their formats, and every file a part directly in its run's folder of its entity
        (``source=.../entity=.../ingest_date=.../run_id=.../<name>``) with a non-negative size and record count and a
        sha256. A consumer reads exactly these paths, so none may lead out of the run's folders."""
        if self.source not in SOURCES:
            return f"unknown source {self.source!r}"
        if not is_run_id(self.run_id):
            return f"run_id {self.run_id!r} is not a run id"
        if not _INGEST_DATE.match(self.ingest_date):
            return f"ingest_date {self.ingest_date!r} is not YYYY-MM-DD"
        for i, f in enumerate(self.files):
            if not _ENTITY.match(f.entity):
                return f"files[{i}].entity {f.entity!r} is not an entity name"
            folder = run_folder("", self.source, f.entity, self.ingest_date, self.run_id).lstrip("/")
            folder_of, _, name = f.path.rpartition("/")
            if folder_of != folder or name in ("", ".", ".."):
                return f"files[{i}].path {f.path!r} is not a file of the run's folder {folder}/"
            if f.records < 0 or f.bytes < 0:
                return f"files[{i}] has a negative count ({f.records} records, {f.bytes} bytes)"
            if not _SHA256.match(f.sha256):
                return f"files[{i}].sha256 {f.sha256!r} is not a sha256 in hex"
        return None

    def file_uris(self, landing: str, entity: str | None = None) -> list[str]:
        return [storage.join(landing, f.path) for f in self.files if entity is None or f.entity == entity]


_FILE_FIELDS = {"path": str, "entity": str, "records": int, "bytes": int, "sha256": str}
_KINDS = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
_MISSING = object()


def _typed(doc: dict[str, Any], name: str, kind: type, default: Any = _MISSING, where: str = "") -> Any:
    """``doc[name]``, which must be a ``kind`` (a bool is not an int); ``default`` when absent, if given."""
    value = doc.get(name, default)
    if value is _MISSING:
        raise ValueError(f"{where}{name} is missing")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where}{name} is {json.dumps(value)[:80]}, not {_KINDS[kind]}")
    return value


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

    Raises
    ------
    ManifestError
        For the first manifest read that breaks the contract (:func:`read_manifest`).
    """
    uris = [uri for uri in list_manifest_uris(landing, source) if run_id_of_manifest_uri(uri) not in skip_run_ids]
    manifests = [read_manifest(uri) for uri in uris]
    return sorted(manifests, key=lambda m: (m.started_at, m.run_id))


def read_manifest(uri: str) -> Manifest:
    """The manifest at ``uri``, checked against the contract (:meth:`Manifest.from_json`) and against its key,
    which must be its own run's (``_manifests/source=<source>/<run_id>.json``).

    Raises
    ------
    ManifestError
        Naming the manifest, what is wrong and what to do.
    """
    try:
        manifest = Manifest.from_json(storage.get_bytes(uri))
        key = f"/{MANIFESTS_DIR}/source={manifest.source}/{manifest.run_id}{MANIFEST_SUFFIX}"
        if not uri.endswith(key):
            raise ValueError(f"it describes run {manifest.run_id} of source {manifest.source}, whose key is ...{key}")
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ManifestError(
            f"{uri} is not a manifest of the landing contract ({exc}), so no run was read. Manifests are written "
            "last by the extractor and the importer: this one was written by something else, or changed. Remove it "
            "(its run is then never read), and land the data again as a new run if it is needed."
        ) from exc
    return manifest


def complete_runs(landing: str, source: str | None = None, *,
                  skip_run_ids: Collection[str] = frozenset()) -> list[Manifest]:
    """The runs a consumer may read: manifests with status ``complete``, oldest first.

    ``skip_run_ids``: runs left out before any manifest is downloaded (see :func:`read_manifests`).
    """
    return [m for m in read_manifests(landing, source, skip_run_ids=skip_run_ids) if m.status == STATUS_COMPLETE]
