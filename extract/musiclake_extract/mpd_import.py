"""The ``mpd`` command: Million Playlist Dataset slice files into the raw landing zone.

Each slice ``mpd.slice.<start>-<end>.json`` is checked for the MPD's shape and landed as one part of entity
``playlists`` (source ``mpd``), one envelope per playlist: ``key`` = ``str(pid)``, ``request_url`` = the slice
file's URI, ``http_status`` null, ``body`` = the playlist object exactly as in the file. A malformed slice
(invalid JSON, no ``info``/``playlists``, a playlist without ``pid``/``tracks``...) is rejected whole and
reported; the others land. A slice whose bytes (sha256) were landed by an earlier complete run is skipped, so
importing the same folder again lands nothing new. The run commits after every slice: a killed import resumes
with the next slice.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from musiclake import landing, storage
from musiclake_extract.checkpoint import RunLedger
from musiclake_extract.reporting import Progress, RunResult, human_bytes

SOURCE = "mpd"
ENTITY = "playlists"
SLICE_NAME = re.compile(r"(?:^|/)mpd\.slice\.(\d+)-(\d+)\.json$")
REQUIRED_PLAYLIST_KEYS = {"pid": int, "name": str, "tracks": list}
REQUIRED_TRACK_KEYS = {"pos": int, "track_uri": str}
log = logging.getLogger(__name__)


@dataclass
class MpdOptions:
    """Options of the ``mpd`` command: a slice file or a folder/prefix of them, and the landing root."""

    source: str
    landing: str


def list_slices(source: str) -> list[str]:
    """Slice files at ``source`` (one file, or every ``mpd.slice.*.json`` under a folder or S3 prefix), by start.

    Raises
    ------
    FileNotFoundError
        If no slice file is found.
    """
    if SLICE_NAME.search(source) and storage.exists(source):
        return [source]
    found = [uri for uri in storage.list_uris(source) if SLICE_NAME.search(uri)]
    if not found:
        raise FileNotFoundError(f"no mpd.slice.*.json files at {source}")
    return sorted(found, key=lambda uri: int(SLICE_NAME.search(uri).group(1)))  # type: ignore[union-attr]


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


def run_mpd(options: MpdOptions, *, progress: Progress | None = None) -> RunResult:
    """Land MPD slices; resumes an interrupted import first.

    Parameters
    ----------
    options : MpdOptions
    progress : Progress, optional

    Returns
    -------
    RunResult
        Complete (manifest written) unless the source cannot be listed.
    """
    progress = progress or Progress("mpd", enabled=False)
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
    if ledger.resumed:
        log.info("resuming mpd run %s (attempt %d)", ledger.run_id, ledger.attempt)
        if state["source"] != options.source:
            log.warning("an interrupted import of %s exists: resuming it first", state["source"])
    before = landed_slices(options.landing)
    slices = list_slices(state["source"])
    handled = {s["name"] for key in ("landed", "skipped", "rejected") for s in state[key]}
    this_run = {s["sha256"] for s in state["landed"]}
    for number, uri in enumerate(slices, start=1):
        name = uri.rsplit("/", 1)[-1]
        if name in handled:
            continue
        data = storage.get_bytes(uri)
        digest = landing.sha256(data)
        state["bytes_read"] += len(data)
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
        else:
            reason = validate_slice(doc)
        if reason:
            log.warning("rejected %s: %s", name, reason)
            state["rejected"].append({"name": name, "uri": uri, "sha256": digest, "reason": reason})
            continue
        tracks = 0
        for playlist in doc["playlists"]:
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
            tracks += len(playlist["tracks"])
        state["landed"].append(
            {
                "name": name,
                "uri": uri,
                "sha256": digest,
                "slice": doc["info"].get("slice"),
                "playlists": len(doc["playlists"]),
                "tracks": tracks,
            }
        )
        state["playlists"] += len(doc["playlists"])
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
        "playlists": state["playlists"],
        "tracks": state["tracks"],
        "bytes_read": state["bytes_read"],
        "attempts": ledger.attempt,
        "orphaned_parts": list(ledger.orphans),
    }
    manifest = ledger.finish(state, {}, summary)
    return RunResult(
        "complete",
        ledger.run_id,
        SOURCE,
        manifest.summary,
        manifest_uri=landing.manifest_uri(options.landing, SOURCE, ledger.run_id),
    )
