"""A run's ledger: buffered records, write-once part files and a resumable checkpoint, then the manifest.

The landing contract (``musiclake.landing``) says what a complete run looks like; this module makes runs
complete even when the process is killed or stopped half way:

* records are buffered per entity and written as parts (``part-NNNNN.jsonl.gz``, write-once) by
  :meth:`RunLedger.commit`, which also saves the caller's resume state in the checkpoint
  (``_checkpoints/source=<source>/run.json``, the only mutable object);
* a commit is two-phase: the checkpoint first records the *pending* parts (paths, sizes, sha256) and the state
  they lead to, then the parts are written, then the checkpoint is saved again with them committed. If the
  process dies in between, the next run adopts the pending parts when all of them are in place with the
  expected checksum, and otherwise rolls back to the last committed state (the records are fetched again);
  the parts left behind are *orphans*, never named by a manifest and listed in the summary. A part path that
  is already taken by an orphan is skipped over, so nothing is overwritten, landed twice or lost;
* :meth:`RunLedger.add` refuses an envelope whose JSON line is over ``landing.MAX_RECORD_BYTES``
  (:class:`RecordTooLarge`): the caller reports it, nothing of it is landed;
* :meth:`RunLedger.finish` writes the manifest last (the run becomes visible) and then removes the checkpoint.
  A checkpoint whose run already has a manifest (a crash between the two) is simply discarded.

One writer per source and landing root at a time (as one scheduled task or Lambda per source ensures).
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from musiclake import landing, storage
from musiclake.landing import Manifest, ManifestFile

CHECKPOINT_NAME = "run"
CHECKPOINT_VERSION = 1
log = logging.getLogger(__name__)


def _copy(doc: Any) -> Any:
    return json.loads(json.dumps(doc))


class RecordTooLarge(ValueError):
    """An envelope line over ``landing.MAX_RECORD_BYTES``: refused, never landed (the ETL would quarantine it).

    Attributes
    ----------
    size : int
        UTF-8 bytes of the envelope's JSON line (newline excluded).
    limit : int
        The limit it exceeds.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        self.reason = f"record over MAX_RECORD_BYTES ({size} bytes > {limit})"
        super().__init__(self.reason)


def envelope_line(record: dict[str, Any]) -> str:
    """One envelope as the JSON line ``landing.encode_records`` writes (newline included)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


class RunLedger:
    """What one run has landed so far and where it stands; see the module docstring for the protocol.

    Use :meth:`open` to start a run or resume the interrupted one.
    """

    def __init__(
        self,
        landing_root: str,
        source: str,
        run_id: str,
        started_at: str,
        ingest_date: str,
        *,
        attempt: int = 1,
        files: list[ManifestFile] | None = None,
        next_part: dict[str, int] | None = None,
        state: dict[str, Any] | None = None,
        stats: dict[str, Any] | None = None,
        orphans: list[str] | None = None,
        resumed: bool = False,
    ) -> None:
        self.landing = landing_root
        self.source = source
        self.run_id = run_id
        self.started_at = started_at
        self.ingest_date = ingest_date
        self.attempt = attempt
        self.files = list(files or [])
        self.next_part = dict(next_part or {})
        self.state = state
        self.stats = dict(stats or {})
        self.orphans = list(orphans or [])
        self.resumed = resumed
        self.last_stop: dict[str, Any] | None = None
        self.stops: list[dict[str, Any]] = []  # every clean stop of this run, oldest first
        self._buffers: dict[str, list[bytes]] = {}  # encoded envelope lines per entity

    # ---- opening --------------------------------------------------------------------------------------
    @property
    def checkpoint_uri(self) -> str:
        return landing.checkpoint_uri(self.landing, self.source, CHECKPOINT_NAME)

    @staticmethod
    def peek(landing_root: str, source: str) -> dict[str, Any] | None:
        """The checkpoint document of the interrupted run of ``source``, without resuming it (None if none).

        A checkpoint whose run already has its manifest (a crash between the two) does not count.
        """
        uri = landing.checkpoint_uri(landing_root, source, CHECKPOINT_NAME)
        if not storage.exists(uri):
            return None
        doc = json.loads(storage.get_bytes(uri))
        if storage.exists(landing.manifest_uri(landing_root, source, doc["run_id"])):
            return None
        return doc

    @classmethod
    def open(cls, landing_root: str, source: str, now: datetime | None = None) -> RunLedger:
        """Resume the interrupted run of ``source`` if its checkpoint exists, else start a new run.

        Parameters
        ----------
        landing_root : str
            ``s3://bucket/prefix`` or a local folder.
        source : str
            ``spotify`` or ``mpd``.
        now : datetime, optional
            Start time of a new run (tests).

        Returns
        -------
        RunLedger
            ``resumed`` tells which; ``state`` is the caller's saved state (``None`` for a new run).
        """
        uri = landing.checkpoint_uri(landing_root, source, CHECKPOINT_NAME)
        if storage.exists(uri):
            doc = json.loads(storage.get_bytes(uri))
            if storage.exists(landing.manifest_uri(landing_root, source, doc["run_id"])):
                log.info("run %s already has its manifest; discarding its stale checkpoint", doc["run_id"])
                storage.delete(uri)
            else:
                return cls._resume(landing_root, source, doc)
        moment = now or landing.utc_now()
        run_id = landing.new_run_id(source, moment)
        ledger = cls(landing_root, source, run_id, landing.iso_utc(moment), moment.strftime("%Y-%m-%d"))
        return ledger

    @classmethod
    def _resume(cls, landing_root: str, source: str, doc: dict[str, Any]) -> RunLedger:
        if doc.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"unsupported checkpoint version {doc.get('version')!r} in {source} checkpoint")
        committed = doc["committed"]
        orphans = list(committed.get("orphans", []))
        pending = doc.get("pending")
        if pending:
            pending_files = [ManifestFile(**f) for f in pending["files"]]
            present = [f for f in pending_files if _has_part(landing_root, f)]
            if len(present) == len(pending_files):
                log.info("adopting %d part(s) written just before the interruption", len(present))
                committed = {
                    **committed,
                    "files": committed["files"] + pending["files"],
                    "next_part": pending["next_part"],
                    "state": pending["state"],
                    "stats": pending["stats"],
                }
            else:
                stray = [f.path for f in pending_files if storage.exists(storage.join(landing_root, f.path))]
                log.info("rolling back an interrupted commit; %d stray part(s) left as orphans", len(stray))
                orphans.extend(p for p in stray if p not in orphans)
        ledger = cls(
            landing_root,
            source,
            doc["run_id"],
            doc["started_at"],
            doc["ingest_date"],
            attempt=int(doc.get("attempt", 1)) + 1,
            files=[ManifestFile(**f) for f in committed["files"]],
            next_part=committed["next_part"],
            state=committed["state"],
            stats=committed["stats"],
            orphans=orphans,
            resumed=True,
        )
        ledger.last_stop = doc.get("last_stop")
        ledger.stops = list(doc.get("stops", []))
        ledger._save(None)
        return ledger

    # ---- buffering and committing ---------------------------------------------------------------------
    def add(self, record: dict[str, Any]) -> int:
        """Buffer one envelope (``landing.envelope(...)``) for the next commit; returns its line's size.

        Raises
        ------
        RecordTooLarge
            If the envelope's JSON line is over ``landing.MAX_RECORD_BYTES`` (nothing is buffered).
        """
        line = envelope_line(record).encode("utf-8")
        size = len(line) - 1
        if size > landing.MAX_RECORD_BYTES:
            raise RecordTooLarge(size, landing.MAX_RECORD_BYTES)
        self._buffers.setdefault(record["entity"], []).append(line)
        return size

    @property
    def buffered(self) -> int:
        return sum(len(v) for v in self._buffers.values())

    def _part_rel(self, entity: str, index: int) -> str:
        folder = landing.run_folder("", self.source, entity, self.ingest_date, self.run_id).lstrip("/")
        return f"{folder}/{landing.part_name(index)}"

    def commit(self, state: dict[str, Any], stats: dict[str, Any]) -> list[ManifestFile]:
        """Write the buffered records as parts and save ``state`` as the point to resume from.

        Parameters
        ----------
        state : dict
            JSON-serialisable resume state that accounts for exactly the records buffered so far.
        stats : dict
            Cumulative counters to carry across attempts.

        Returns
        -------
        list of ManifestFile
            The parts written by this commit.
        """
        state, stats = _copy(state), _copy(stats)
        next_part = dict(self.next_part)
        planned: list[tuple[ManifestFile, bytes]] = []
        for entity in sorted(self._buffers):
            records = self._buffers[entity]
            if not records:
                continue
            data = gzip.compress(b"".join(records), mtime=0)  # = landing.encode_records of the envelopes
            index = next_part.get(entity, 0)
            next_part[entity] = index + 1
            planned.append(
                (
                    ManifestFile(self._part_rel(entity, index), entity, len(records), len(data), landing.sha256(data)),
                    data,
                )
            )
        if planned:
            self._save(
                {"files": [asdict(f) for f, _ in planned], "next_part": next_part, "state": state, "stats": stats}
            )
            for part, data in planned:
                self._put_part(part, data, next_part)
        self.files.extend(f for f, _ in planned)
        self.next_part, self.state, self.stats = next_part, state, stats
        self._buffers.clear()
        self._save(None)
        return [f for f, _ in planned]

    def _put_part(self, part: ManifestFile, data: bytes, next_part: dict[str, int]) -> None:
        """Write one part; skip over indices taken by orphans (a write-once object is never replaced)."""
        while True:
            uri = storage.join(self.landing, part.path)
            try:
                storage.put_bytes(uri, data)
                return
            except storage.ObjectExistsError:
                if landing.sha256(storage.get_bytes(uri)) == part.sha256:
                    return  # the very same bytes are already there
                if part.path not in self.orphans:
                    self.orphans.append(part.path)
                index = int(part.path.rsplit("part-", 1)[1].split(".", 1)[0]) + 1
                index = max(index, next_part.get(part.entity, 0))
                part.path = self._part_rel(part.entity, index)
                next_part[part.entity] = index + 1

    def _save(self, pending: dict[str, Any] | None) -> None:
        doc = {
            "version": CHECKPOINT_VERSION,
            "run_id": self.run_id,
            "source": self.source,
            "started_at": self.started_at,
            "ingest_date": self.ingest_date,
            "attempt": self.attempt,
            "updated_at": landing.iso_utc(landing.utc_now()),
            "last_stop": self.last_stop,
            "stops": self.stops,
            "committed": {
                "files": [asdict(f) for f in self.files],
                "next_part": self.next_part,
                "state": self.state,
                "stats": self.stats,
                "orphans": self.orphans,
            },
            "pending": pending,
        }
        storage.put_bytes(self.checkpoint_uri, json.dumps(doc, sort_keys=True).encode("utf-8"), overwrite=True)

    # ---- ending ---------------------------------------------------------------------------------------
    def stop(
        self, state: dict[str, Any], stats: dict[str, Any], reason: str, message: str, retry_after: float | None = None
    ) -> None:
        """Commit what is buffered and keep the checkpoint, noting why the run stopped (it resumes later)."""
        self.last_stop = {
            "reason": reason,
            "message": message,
            "retry_after": retry_after,
            "at": landing.iso_utc(landing.utc_now()),
        }
        self.stops.append(self.last_stop)
        self.commit(state, stats)

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f.entity] = totals.get(f.entity, 0) + f.records
        return totals

    def finish(self, state: dict[str, Any], stats: dict[str, Any], summary: dict[str, Any]) -> Manifest:
        """Commit the rest, write the manifest (last: the run becomes visible), remove the checkpoint."""
        self.commit(state, stats)
        manifest = Manifest(
            run_id=self.run_id,
            source=self.source,
            status=landing.STATUS_COMPLETE,
            started_at=self.started_at,
            finished_at=landing.iso_utc(landing.utc_now()),
            ingest_date=self.ingest_date,
            files=list(self.files),
            summary=summary,
        )
        landing.write_manifest(self.landing, manifest)
        storage.delete(self.checkpoint_uri)
        return manifest


def _has_part(landing_root: str, part: ManifestFile) -> bool:
    uri = storage.join(landing_root, part.path)
    return storage.exists(uri) and landing.sha256(storage.get_bytes(uri)) == part.sha256


def landed_bytes(files: list[ManifestFile]) -> int:
    return sum(f.bytes for f in files)
