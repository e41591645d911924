"""The ``mpd`` command: Million Playlist Dataset slice files into the raw landing zone.

Each slice ``mpd.slice.<start>-<end>.json`` (or ``.json.gz``) is checked for the MPD's shape and landed as one
part of entity ``playlists`` (source ``mpd``), one envelope per playlist: ``key`` = ``str(pid)``,
``request_url`` = the slice file's URI, ``http_status`` null, ``body`` = the playlist object exactly as in the
file. A malformed slice (invalid JSON, a truncated or corrupt ``.gz``, no ``info``/``playlists``, a playlist
without ``pid``/``tracks``...) is rejected whole and reported; the others land. A playlist whose envelope line
is over ``landing.MAX_RECORD_BYTES`` is not landed and reported (the rest of its slice lands). Rejections make
the exit code 4 (:data:`~musiclake_extract.reporting.EXIT_REJECTED`). A slice whose content (sha256 of the
JSON, decompressed) was landed by an earlier complete run is skipped, so importing the same folder again
lands nothing new. Other files under the source are listed in the summary (``files_ignored``).

The run commits after every slice: a killed import resumes with the next slice. The checkpoint belongs to its
source: while an import of one source is unfinished, an import of another source is refused (exit 2) with a
message naming the checkpoint and how to finish or drop it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from musiclake import landing, storage
from musiclake_extract.checkpoint import CHECKPOINT_NAME, RecordTooLarge, RunLedger
from musiclake_extract.reporting import Progress, RunResult, UsageError, human_bytes

SOURCE = "mpd"
ENTITY = "playlists"
SLICE_NAME = re.compile(r"(?:^|/)mpd\.slice\.(\d+)-(\d+)\.json(?:\.gz)?$")
MAX_IGNORED_LISTED = 100
REQUIRED_PLAYLIST_KEYS = {"pid": int, "name": str, "tracks": list}
REQUIRED_TRACK_KEYS = {"pos": int, "track_uri": str}
log = logging.getLogger(__name__)


@dataclass
class MpdOptions:
    """Options of the ``mpd`` command: a slice file or a folder/prefix of them, and the landing root."""

    source: str
    landing: str


class CheckpointConflict(UsageError):
    """An unfinished import of another source holds the ``mpd`` checkpoint (exit code 2)."""


def same_source(a: str, b: str) -> bool:
    """Whether two ``--source`` values name the same place (``s3://b/mpd/`` = ``s3://b/mpd``, paths resolved)."""

    def norm(value: str) -> str:
        try:
            return storage.Location.parse(value).uri().rstrip("/")
        except ValueError:
            return value.rstrip("/")

    return norm(a) == norm(b)


def list_source(source: str) -> tuple[list[str], list[str]]:
    """Slice files at ``source`` (one file, or every ``mpd.slice.*.json[.gz]`` under a folder or S3 prefix), by
    start, and the other files found there.

    Raises
    ------
    FileNotFoundError
        If no slice file is found.
    """
    if SLICE_NAME.search(source) and storage.exists(source):
        return [source], []
    found, ignored = [], []
    for uri in storage.list_uris(source):
        (found if SLICE_NAME.search(uri) else ignored).append(uri)
    if not found:
        raise FileNotFoundError(f"no mpd.slice.*.json or .json.gz files at {source}")
    found.sort(key=lambda uri: (int(SLICE_NAME.search(uri).group(1)), uri))  # type: ignore[union-attr]
    return found, ignored


def list_slices(source: str) -> list[str]:
    """Slice files at ``source``, by start; see :func:`list_source`."""
    return list_source(source)[0]


def read_slice(uri: str, data: bytes) -> tuple[bytes | None, str | None]:
    """The JSON bytes of a slice file (decompressed when ``.gz``), or None and why they cannot be read."""
    if not uri.endswith(".gz"):
        return data, None
    try:
        return landing.gunzip(data), None
    except ValueError as exc:
        return None, str(exc)


def _kind(value: Any) -> str:
    return type(value).__name__


def validate_slice(doc: Any) -> str | None:
    """Why a parsed slice is not MPD-shaped, or None when it is.

    Checks the top level (``info`` object with ``slice``, ``playlists`` array), every playlist (``pid`` int,
    ``name`` string, ``tracks`` array, ``num_tracks`` matching when present, unique ``pid``) and every track
    (``pos`` int, ``track_uri`` string).
    """
    if not isinstance(doc, dict):
        return f"top level is a {_kind(doc)}, not an object"
    if not isinstance(doc.get("info"), dict):
        return "missing 'info' object"
    if "slice" not in doc["info"]:
        return "'info' has no 'slice'"
    playlists = doc.get("playlists")
    if not isinstance(playlists, list):
        return "missing 'playlists' array"
    pids: set[int] = set()
    for i, p in enumerate(playlists):
        if not isinstance(p, dict):
            return f"playlists[{i}] is a {_kind(p)}, not an object"
        for key, kind in REQUIRED_PLAYLIST_KEYS.items():
            if not isinstance(p.get(key), kind) or (kind is int and isinstance(p.get(key), bool)):
                return f"playlists[{i}] has no {kind.__name__} '{key}'"
        if p["pid"] in pids:
            return f"playlists[{i}] repeats pid {p['pid']}"
        pids.add(p["pid"])
        if "num_tracks" in p and p["num_tracks"] != len(p["tracks"]):
            return f"playlist pid {p['pid']}: num_tracks {p['num_tracks']} but {len(p['tracks'])} tracks"
        for j, t in enumerate(p["tracks"]):
            if not isinstance(t, dict):
                return f"playlist pid {p['pid']}: tracks[{j}] is not an object"
            for key, kind in REQUIRED_TRACK_KEYS.items():
                if not isinstance(t.get(key), kind):
                    return f"playlist pid {p['pid']}: tracks[{j}] has no {kind.__name__} '{key}'"
    return None


def landed_slices(landing_root: str) -> dict[str, str]:
    """sha256 of every slice landed by a complete ``mpd`` run -> that run's id (from the manifests' summaries)."""
    seen: dict[str, str] = {}
    for manifest in landing.complete_runs(landing_root, SOURCE):
        for s in manifest.summary.get("slices_landed", []):
            seen.setdefault(s["sha256"], manifest.run_id)
    return seen


def check_checkpoint(options: MpdOptions) -> None:
    """Refuse to start while an unfinished import of another source holds the checkpoint.

    Raises
    ------
    CheckpointConflict
        Naming the other source, its checkpoint and what to do.
    """
    doc = RunLedger.peek(options.landing, SOURCE)
    if doc is None:
        return
    committed = (doc.get("committed") or {}).get("state") or (doc.get("pending") or {}).get("state") or {}
    other = committed.get("source")
    if other is None or same_source(other, options.source):
        return
    uri = landing.checkpoint_uri(options.landing, SOURCE, CHECKPOINT_NAME)
    landed = len(committed.get("landed", []))
    raise CheckpointConflict(
        f"an interrupted import of {other} (run {doc.get('run_id')}, {landed} slice(s) landed so far) holds the "
        f"checkpoint {uri}; it must finish before {options.source} is imported. Run "
        f"`musiclake-extract mpd --source {other} --landing {options.landing}` (it resumes where it stopped), "
        f"then this command again. If {other} is gone for good, delete {uri}: what that run landed is never "
        "read (no manifest names it) and its slices land again whenever they are imported."
    )


def run_mpd(options: MpdOptions, *, progress: Progress | None = None) -> RunResult:
    """Land MPD slices; resumes the interrupted import of the same source first.

    Parameters
    ----------
    options : MpdOptions
    progress : Progress, optional

    Returns
    -------
    RunResult
        Complete (manifest written); ``rejected`` counts the slices and playlists refused (exit code 4).

    Raises
    ------
    CheckpointConflict
        An unfinished import of another source exists (nothing is read or written).
    FileNotFoundError
        No slice file at the source.
    """
    progress = progress or Progress("mpd", enabled=False)
    check_checkpoint(options)
    ledger = RunLedger.open(options.landing, SOURCE)
    state: dict[str, Any] = ledger.state or {
        "source": options.source,
        "landed": [],
        "skipped": [],
        "rejected": [],
        "playlists": 0,
        "tracks": 0,
        "bytes_read": 0,
    }
    state.setdefault("rejected_records", [])  # checkpoints written before record-size checks
    if ledger.resumed:
        log.info("resuming mpd run %s of %s (attempt %d)", ledger.run_id, state["source"], ledger.attempt)
    before = landed_slices(options.landing)
    slices, ignored = list_source(state["source"])
    for uri in ignored:
        log.warning("ignored %s: not an mpd.slice.<start>-<end>.json or .json.gz file", uri)
    handled = {s["name"] for key in ("landed", "skipped", "rejected") for s in state[key]}
    this_run = {s["sha256"] for s in state["landed"]}
    for number, uri in enumerate(slices, start=1):
        name = uri.rsplit("/", 1)[-1]
        if name in handled:
            continue
        raw = storage.get_bytes(uri)
        state["bytes_read"] += len(raw)
        data, unreadable = read_slice(uri, raw)
        if data is None:
            log.warning("rejected %s: %s", name, unreadable)
            state["rejected"].append({"name": name, "uri": uri, "sha256": landing.sha256(raw), "reason": unreadable})
            continue
        digest = landing.sha256(data)
        progress.update(
            f"slice {number}/{len(slices)} {name} | playlists {state['playlists']} | "
            f"{human_bytes(sum(f.bytes for f in ledger.files))}",
            force=True,
        )
        if digest in before or digest in this_run:
            state["skipped"].append({"name": name, "sha256": digest, "run_id": before.get(digest, ledger.run_id)})
            continue
        try:
            doc = json.loads(data)
        except ValueError as exc:
            reason: str | None = f"invalid JSON: {exc}"
        except RecursionError:  # JSON nested deeper than Python decodes (no MPD slice nests so deep)
            reason = "invalid JSON: nested too deep to decode"
        else:
            reason = validate_slice(doc)
        if reason:
            log.warning("rejected %s: %s", name, reason)
            state["rejected"].append({"name": name, "uri": uri, "sha256": digest, "reason": reason})
            continue
        tracks = playlists = too_large = 0
        for playlist in doc["playlists"]:
            try:
                ledger.add(
                    landing.envelope(
                        run_id=ledger.run_id,
                        source=SOURCE,
                        entity=ENTITY,
                        key=str(playlist["pid"]),
                        request_url=uri,
                        http_status=None,
                        body=playlist,
                    )
                )
            except RecordTooLarge as exc:  # the ETL would quarantine it: refuse it here, loudly
                log.warning("not landing playlist pid %s of %s: %s", playlist["pid"], name, exc.reason)
                state["rejected_records"].append(
                    {
                        "entity": ENTITY,
                        "key": str(playlist["pid"]),
                        "slice": name,
                        "bytes": exc.size,
                        "reason": exc.reason,
                    }
                )
                too_large += 1
                continue
            playlists += 1
            tracks += len(playlist["tracks"])
        state["landed"].append(
            {
                "name": name,
                "uri": uri,
                "sha256": digest,
                "slice": doc["info"].get("slice"),
                "playlists": playlists,
                "tracks": tracks,
                **({"playlists_rejected": too_large} if too_large else {}),
            }
        )
        state["playlists"] += playlists
        state["tracks"] += tracks
        this_run.add(digest)
        ledger.commit(state, {})  # one part per slice, then the checkpoint
    progress.close()
    summary = {
        "records": sum(f.records for f in ledger.files) + ledger.buffered,
        "records_by_entity": ledger.counts(),
        "bytes": sum(f.bytes for f in ledger.files),
        "files": len(ledger.files),
        "source": state["source"],
        "slices_landed": state["landed"],
        "slices_skipped": state["skipped"],
        "slices_rejected": state["rejected"],
        "records_rejected": state["rejected_records"],
        "files_ignored": [u.rsplit("/", 1)[-1] for u in ignored[:MAX_IGNORED_LISTED]],
        "playlists": state["playlists"],
        "tracks": state["tracks"],
        "bytes_read": state["bytes_read"],
        "attempts": ledger.attempt,
        "orphaned_parts": list(ledger.orphans),
    }
    manifest = ledger.finish(state, {}, summary)
    rejected = len(state["rejected"]) + len(state["rejected_records"])
    message = (
        f"rejected: {len(state['rejected'])} slice(s), {len(state['rejected_records'])} playlist(s) over "
        "MAX_RECORD_BYTES (see the summary); the rest is landed"
        if rejected
        else ""
    )
    return RunResult(
        "complete",
        ledger.run_id,
        SOURCE,
        manifest.summary,
        manifest_uri=landing.manifest_uri(options.landing, SOURCE, ledger.run_id),
        message=message,
        rejected=rejected,
    )
