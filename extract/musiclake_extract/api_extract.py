"""The ``api`` command: Spotify Web API responses into the raw landing zone, resumable and without waste.

A run is a list of *tasks* kept in the checkpoint state (so a stopped or killed run resumes exactly):

* ``me_playlists`` (``--me``): pages of ``/me/playlists``; each listed playlist becomes a ``playlist`` task
  carrying the ``snapshot_id`` from the listing;
* ``saved_tracks``, ``top`` (tracks/artists per time range), ``recently_played`` (``--me``), ``search``;
* ``playlist``: ``GET /playlists/{id}`` (landed as entity ``playlists``, embedded first page included), then
  the further pages through the absolute ``next`` links (entity ``playlist_items``). A playlist whose
  ``snapshot_id`` equals the one landed by an earlier complete run is not fetched again. A 403 on its items
  (a playlist the user neither owns nor collaborates on) is landed with its error body and listed in the
  summary; the run goes on;
* ``enrich`` (planned once all else is done): single-item ``/tracks/{id}``, ``/albums/{id}``,
  ``/artists/{id}`` for ids referenced by this run and not landed by any complete run.

Entities: ``playlists``, ``playlist_items``, ``tracks``, ``artists``, ``albums``, ``me_playlists``,
``saved_tracks``, ``top_tracks``, ``top_artists``, ``recently_played``, ``search``. Every record is a
``musiclake.landing.envelope`` of one response body as received, with its request URL and HTTP status.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from musiclake import landing, storage
from musiclake.landing import Manifest
from musiclake_extract.checkpoint import RecordTooLarge, RunLedger
from musiclake_extract.client import (
    MAX_RETRY_AFTER_S,
    SPOTIFY_API_BASE_URL,
    SPOTIFY_TOKEN_URL,
    ApiResponse,
    Credentials,
    ForeignLink,
    SpotifyClient,
    StopRun,
)
from musiclake_extract.reporting import Progress, RunResult, human_bytes

SOURCE = "spotify"
ENRICHABLE = ("tracks", "albums", "artists")
TIME_RANGES = ("short_term", "medium_term", "long_term")
INDEX_NAME = "index"
ITEMS_FIRST = "items:first"  # cursor: the playlist body had no items, ask /playlists/{id}/items from offset 0
MAX_ERRORS_KEPT = 500
_PLAYLIST_REF = re.compile(r"(?:spotify:playlist:|open\.spotify\.com/(?:intl-[a-z]{2}/)?playlist/)([0-9A-Za-z]+)")
log = logging.getLogger(__name__)


def playlist_id(value: str) -> str:
    """A playlist id from an id, a ``spotify:playlist:`` URI or an ``open.spotify.com`` URL.

    Raises
    ------
    ValueError
        If no base62 id can be found.
    """
    value = value.strip()
    match = _PLAYLIST_REF.search(value)
    candidate = match.group(1) if match else value
    if not re.fullmatch(r"[0-9A-Za-z]+", candidate):
        raise ValueError(f"not a Spotify playlist id, URI or URL: {value!r}")
    return candidate


def read_playlists_file(uri: str) -> list[str]:
    """Playlist ids from a text file (local or ``s3://``): one per line, ``#`` comments allowed.

    Raises
    ------
    ValueError
        Naming the file and the line number of the first line that is not a playlist id, URI or URL, or
        saying that the file is not UTF-8 text.
    FileNotFoundError
        If the file does not exist.
    """
    try:
        text = storage.get_bytes(uri).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{uri}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    ids = []
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.split("#", 1)[0]
        if not value.strip():
            continue
        try:
            ids.append(playlist_id(value))
        except ValueError as exc:
            raise ValueError(f"{uri}, line {number}: {exc}") from None
    return ids


@dataclass
class ApiOptions:
    """Options of the ``api`` command (the CLI and the Lambda handler both build one).

    Parameters
    ----------
    landing : str
        Landing root: ``s3://bucket/prefix`` or a local folder.
    playlists : list of str
        Playlist ids to extract.
    me : bool
        Also the signed-in user's playlists, saved tracks, top items and recently played (needs a refresh token).
    searches : list of str
        Search queries (``limit`` 10, the 2026 maximum).
    enrich : tuple of str
        Which of ``tracks``, ``albums``, ``artists`` to fetch through the single-item endpoints.
    max_retry_after : float
        Longest ``Retry-After`` to sleep through; beyond it the run stops with its checkpoint.
    records_per_part : int
        Responses buffered before a commit (a part per entity, then a checkpoint).
    time_budget : float, optional
        Seconds after which the run stops cleanly (e.g. a Lambda's remaining time).
    resume_now : bool
        Resume even before the time the API asked to wait until.
    """

    landing: str
    playlists: list[str] = field(default_factory=list)
    me: bool = False
    searches: list[str] = field(default_factory=list)
    search_types: str = "track"
    search_pages: int = 1
    top_time_ranges: tuple[str, ...] = ("medium_term",)
    enrich: tuple[str, ...] = ENRICHABLE
    api_base_url: str = SPOTIFY_API_BASE_URL
    token_url: str = SPOTIFY_TOKEN_URL
    max_retry_after: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0
    timeout: float = 10.0
    records_per_part: int = 200
    time_budget: float | None = None
    resume_now: bool = False

    def __post_init__(self) -> None:
        self.playlists = list(dict.fromkeys(playlist_id(p) for p in self.playlists))
        unknown = set(self.enrich) - set(ENRICHABLE)
        if unknown:
            raise ValueError(f"--enrich takes {', '.join(ENRICHABLE)} (or none); got {sorted(unknown)}")
        bad = set(self.top_time_ranges) - set(TIME_RANGES)
        if bad:
            raise ValueError(f"time ranges are {', '.join(TIME_RANGES)}; got {sorted(bad)}")
        if self.records_per_part < 1:
            raise ValueError("records_per_part must be at least 1")

    def targets(self) -> dict[str, Any]:
        """What the run is asked to extract (kept in the checkpoint and the manifest summary)."""
        return {
            "playlists": self.playlists,
            "me": self.me,
            "searches": list(self.searches),
            "search_types": self.search_types,
            "search_pages": self.search_pages,
            "top_time_ranges": list(self.top_time_ranges),
            "enrich": list(self.enrich),
        }


@dataclass
class LandedIndex:
    """What complete runs have landed: playlist snapshots and enriched ids (``_checkpoints/.../index.json``).

    It is a cache: any complete run it has not seen yet is read from its manifest's files on load.
    """

    runs: set[str] = field(default_factory=set)
    playlists: dict[str, str] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=lambda: {e: set() for e in ENRICHABLE})

    def to_json(self) -> bytes:
        doc = {
            "version": 1,
            "runs": sorted(self.runs),
            "playlists": self.playlists,
            "ids": {k: sorted(v) for k, v in self.ids.items()},
        }
        return json.dumps(doc, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> LandedIndex:
        doc = json.loads(data)
        ids = {e: set(doc.get("ids", {}).get(e, [])) for e in ENRICHABLE}
        return cls(set(doc.get("runs", [])), dict(doc.get("playlists", {})), ids)

    def add_manifest(self, landing_root: str, manifest: Manifest) -> None:
        """Fold one complete run in, reading its ``playlists`` and enrichment files.

        A run with a file that cannot be read (missing, cut short, not JSON lines) is left out whole, with a warning
        naming the file: the index only spares requests, so without the run's snapshots its playlists are fetched
        again (and its objects enriched again); a later run tries the run again.
        """
        playlists: dict[str, str] = {}
        ids: dict[str, set[str]] = {e: set() for e in ENRICHABLE}
        for f in manifest.files:
            if f.entity != "playlists" and f.entity not in ENRICHABLE:
                continue
            try:
                records = list(landing.decode_records(storage.get_bytes(storage.join(landing_root, f.path))))
            except (OSError, ValueError) as exc:
                log.warning("landed run %s left out of the index of landed snapshots: %s cannot be read (%s); what "
                            "it holds is fetched again", manifest.run_id, f.path, exc)
                return
            for record in records:
                body = record.get("body")
                if f.entity == "playlists":
                    if (record.get("http_status") == 200 and isinstance(body, dict) and body.get("snapshot_id")
                            and record.get("key")):
                        playlists[record["key"]] = body["snapshot_id"]
                elif record.get("key"):
                    ids[f.entity].add(record["key"])
        self.playlists.update(playlists)
        for entity, landed in ids.items():
            self.ids[entity] |= landed
        self.runs.add(manifest.run_id)


def index_uri(landing_root: str) -> str:
    return landing.checkpoint_uri(landing_root, SOURCE, INDEX_NAME)


def load_index(landing_root: str) -> LandedIndex:
    """The landed-data index, brought up to date with every complete ``spotify`` run."""
    uri = index_uri(landing_root)
    index = LandedIndex()
    if storage.exists(uri):
        try:
            index = LandedIndex.from_json(storage.get_bytes(uri))
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not the index's shape
            log.warning("the index of landed snapshots %s cannot be read (%s): rebuilt from the landed runs", uri, exc)
    for manifest in landing.complete_runs(landing_root, SOURCE):
        if manifest.run_id not in index.runs:
            index.add_manifest(landing_root, manifest)
    return index


def playlist_paging(body: dict[str, Any]) -> dict[str, Any] | None:
    """The paging object of a playlist body: ``items`` (2026) or the deprecated ``tracks``."""
    for key in ("items", "tracks"):
        value = body.get(key)
        if isinstance(value, dict):
            return value
    return None


def entry_item(entry: Any) -> Any:
    """The track/episode of a playlist entry: ``item`` (2026) or the deprecated ``track``; None if unavailable."""
    if not isinstance(entry, dict):
        return None
    item = entry.get("item")
    return item if item is not None else entry.get("track")


class ApiExtraction:
    """One invocation of the ``api`` command (a new run, or the resumption of the interrupted one).

    Parameters
    ----------
    options : ApiOptions
    credentials : Credentials
    progress : Progress, optional
        Terminal progress line.
    sleep : callable
        Used for Retry-After waits and backoff (tests inject a fake).
    """

    def __init__(
        self,
        options: ApiOptions,
        credentials: Credentials,
        *,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if options.me and not credentials.has_user:
            raise ValueError("--me needs SPOTIFY_REFRESH_TOKEN (the user flow)")
        self.options = options
        self.credentials = credentials
        self.progress = progress or Progress("spotify", enabled=False)
        self._sleep = sleep

    # ---- state --------------------------------------------------------------------------------------
    def _initial_state(self) -> dict[str, Any]:
        o = self.options
        tasks: list[dict[str, Any]] = []
        if o.me:
            tasks.append({"kind": "me_playlists"})
        tasks += [{"kind": "playlist", "id": pid} for pid in o.playlists]
        if o.me:
            tasks.append({"kind": "saved_tracks"})
            tasks += [{"kind": "top", "type": "tracks", "time_range": r} for r in o.top_time_ranges]
            tasks += [{"kind": "top", "type": "artists", "time_range": r} for r in o.top_time_ranges]
            tasks.append({"kind": "recently_played"})
        tasks += [{"kind": "search", "q": q} for q in o.searches]
        return {
            "targets": o.targets(),
            "tasks": tasks,
            "pos": 0,
            "cursor": None,
            "pages": 0,
            "enrichment_planned": False,
            "seen": {e: [] for e in ENRICHABLE},
            "landed_playlists": {},
            "unchanged": [],
            "forbidden": [],
            "errors": [],
            "errors_by_status": {},
            "rejected": [],
            "links_refused": [],
            "playlist_items": 0,
            "enriched": {e: 0 for e in ENRICHABLE},
        }

    def _load_state(self, doc: dict[str, Any]) -> None:
        self.state = doc
        doc.setdefault("rejected", [])  # checkpoints written before record-size checks
        doc.setdefault("links_refused", [])  # ... and before paging links were checked
        self.seen = {e: set(doc["seen"].get(e, [])) for e in ENRICHABLE}
        self.queued = {t["id"] for t in doc["tasks"] if t["kind"] == "playlist"}

    def _state_doc(self) -> dict[str, Any]:
        self.state["seen"] = {e: sorted(v) for e, v in self.seen.items()}
        return self.state

    def _stats(self) -> dict[str, Any]:
        current = self.client.stats.as_dict()
        return {k: self.base_stats.get(k, 0) + v for k, v in current.items()}

    # ---- running ------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Extract until done (manifest written) or stopped (checkpoint kept).

        Returns
        -------
        RunResult
            ``exit_code`` 0 when complete, 3 when stopped cleanly (run the same command again to resume).
        """
        o = self.options
        self.ledger = ledger = RunLedger.open(o.landing, SOURCE)
        if ledger.resumed:
            log.info("resuming run %s (attempt %d)", ledger.run_id, ledger.attempt)
            self._load_state(ledger.state or self._initial_state())
            if self.state["targets"] != o.targets():
                log.warning(
                    "an interrupted run exists: resuming it with its own targets %s, not the ones given",
                    json.dumps(self.state["targets"]),
                )
            blocked = self._not_before()
            if blocked is not None and not o.resume_now:
                return self._stopped_early(blocked)
        else:
            log.info("starting run %s", ledger.run_id)
            self._load_state(self._initial_state())
        self.base_stats = dict(ledger.stats)
        deadline = time.monotonic() + o.time_budget if o.time_budget else None
        self.client = SpotifyClient(
            self.credentials,
            api_base_url=o.api_base_url,
            token_url=o.token_url,
            max_retry_after=o.max_retry_after,
            max_retries=o.max_retries,
            backoff=o.backoff,
            timeout=o.timeout,
            deadline=deadline,
            sleep=self._sleep,
        )
        self.index = load_index(o.landing)
        try:
            self._work()
        except StopRun as stop:
            ledger.stop(self._state_doc(), self._stats(), stop.reason, stop.message, stop.retry_after)
            self.progress.close()
            return self._stopped(stop)
        finally:
            self.progress.close()
        ledger.commit(self._state_doc(), self._stats())  # land the rest first: the summary counts it
        manifest = ledger.finish(self._state_doc(), self._stats(), self._summary(None))
        self._update_index(manifest)
        uri = landing.manifest_uri(o.landing, SOURCE, ledger.run_id)
        too_large, refused = len(self.state["rejected"]), len(self.state["links_refused"])
        rejected = too_large + refused
        notes = []
        if too_large:
            notes.append(f"{too_large} response(s) over MAX_RECORD_BYTES were not landed (summary.records_rejected)")
        if refused:
            notes.append(f"{refused} paging link(s) leading away from the API were not followed "
                         "(summary.links_refused)")
        message = "; ".join(notes)
        return RunResult(
            "complete", ledger.run_id, SOURCE, manifest.summary, manifest_uri=uri, message=message, rejected=rejected
        )

    def _work(self) -> None:
        while True:
            if self.state["pos"] < len(self.state["tasks"]):
                self._run_task(self.state["tasks"][self.state["pos"]])
            elif not self.state["enrichment_planned"]:
                self._plan_enrichment()
            else:
                return

    def _run_task(self, task: dict[str, Any]) -> None:
        kind, c = task["kind"], self.client
        if kind == "playlist":
            self._playlist(task)
        elif kind == "enrich":
            self._enrich(task)
        elif kind == "me_playlists":
            self._paged("me_playlists", "me", c.me_playlists, self._on_me_playlists)
        elif kind == "saved_tracks":
            self._paged("saved_tracks", "me", c.saved_tracks, self._on_track_items)
        elif kind == "top":
            on_page = self._on_top_tracks if task["type"] == "tracks" else self._on_top_artists
            self._paged(
                f"top_{task['type']}", task["time_range"], lambda: c.top(task["type"], task["time_range"]), on_page
            )
        elif kind == "recently_played":
            self._paged("recently_played", "me", c.recently_played, self._on_track_items)
        elif kind == "search":
            self._paged(
                "search",
                task["q"],
                lambda: c.search(task["q"], self.state["targets"]["search_types"]),
                self._on_search,
                max_pages=self.state["targets"]["search_pages"],
                next_of=_search_next,
            )
        else:  # pragma: no cover - tasks are made here
            raise ValueError(f"unknown task kind {kind!r}")

    def _task_done(self) -> None:
        self.state["pos"] += 1
        self.state["cursor"] = None
        self.state["pages"] = 0
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        if self.ledger.buffered >= self.options.records_per_part:
            self.ledger.commit(self._state_doc(), self._stats())

    def _land(self, entity: str, key: str | None, response: ApiResponse) -> bool:
        """Buffer one response as an envelope; False when it is over MAX_RECORD_BYTES (reported, not landed)."""
        if response.over_limit is not None:  # the client stopped reading it: nothing of it is landed
            self.state["rejected"].append({"entity": entity, "key": key, "url": response.url,
                                           "bytes": response.over_limit,
                                           "reason": f"response over MAX_RECORD_BYTES ({response.over_limit} bytes "
                                                     f"read > {landing.MAX_RECORD_BYTES}; not read further)"})
            self._show()
            return False
        landed = True
        record = landing.envelope(
            run_id=self.ledger.run_id,
            source=SOURCE,
            entity=entity,
            key=key,
            request_url=response.url,
            http_status=response.status,
            body=response.body,
            fetched_at=response.fetched_at,
        )
        try:
            self.ledger.add(record)
        except RecordTooLarge as exc:  # counted and reported, never landed: the ETL would quarantine it
            log.warning("not landing %s %s from %s: %s", entity, key, response.url, exc.reason)
            self.state["rejected"].append(
                {"entity": entity, "key": key, "url": response.url, "bytes": exc.size, "reason": exc.reason}
            )
            landed = False
        if not response.ok:
            self._error(entity, key, response)
        self._show()
        return landed

    def _follow(self, entity: str, key: str | None, url: str) -> ApiResponse | None:
        """The next page of a listing, or None for a ``next`` link away from the API: not followed (the listing stops
        there), reported, counted as rejected input. What the API answered so far is landed as it is, the link
        included."""
        try:
            return self.client.get_url(url)
        except ForeignLink as refused:
            log.warning("not following the next page of %s %s: %s", entity, key, refused)
            self.state["links_refused"].append({"entity": entity, "key": key, "url": refused.url[:500]})
            return None

    def _error(self, entity: str, key: str | None, response: ApiResponse) -> None:
        status = str(response.status)
        self.state["errors_by_status"][status] = self.state["errors_by_status"].get(status, 0) + 1
        if len(self.state["errors"]) < MAX_ERRORS_KEPT:
            self.state["errors"].append(
                {
                    "entity": entity,
                    "key": key,
                    "status": response.status,
                    "message": response.error_message,
                    "url": response.url,
                }
            )
        log.info("HTTP %s for %s %s (landed, run continues)", status, entity, key)

    def _show(self) -> None:
        s, st = self.state, self.client.stats
        records = sum(f.records for f in self.ledger.files) + self.ledger.buffered
        task = s["tasks"][s["pos"]]["kind"] if s["pos"] < len(s["tasks"]) else "planning"
        self.progress.update(
            f"task {min(s['pos'] + 1, len(s['tasks']))}/{len(s['tasks'])} {task} | requests "
            f"{st.requests} retries {st.retries} | records {records} | "
            f"{human_bytes(sum(f.bytes for f in self.ledger.files))}"
        )

    # ---- paged listings -----------------------------------------------------------------------------
    def _paged(
        self,
        entity: str,
        key: str,
        first: Callable[[], ApiResponse],
        on_page: Callable[[dict[str, Any]], None],
        *,
        max_pages: int | None = None,
        next_of: Callable[[dict[str, Any]], str | None] = lambda body: body.get("next"),
    ) -> None:
        s = self.state
        while True:
            response = first() if s["cursor"] is None else self._follow(entity, key, s["cursor"])
            if response is None:
                break
            self._land(entity, key, response)
            if not response.ok or not isinstance(response.body, dict):
                break
            on_page(response.body)
            s["pages"] += 1
            following = next_of(response.body)
            if not following or (max_pages and s["pages"] >= max_pages):
                break
            s["cursor"] = following
            self._maybe_commit()
        self._task_done()

    def _on_me_playlists(self, body: dict[str, Any]) -> None:
        listed = {p["id"]: p.get("snapshot_id") for p in body.get("items") or [] if isinstance(p, dict) and p.get("id")}
        for task in self.state["tasks"][self.state["pos"] + 1 :]:  # explicit playlists also listed: use the snapshot
            if task["kind"] == "playlist" and task.get("snapshot_id") is None and listed.get(task["id"]):
                task["snapshot_id"] = listed[task["id"]]
        for pid, snapshot in listed.items():
            if pid not in self.queued:
                self.queued.add(pid)
                self.state["tasks"].append({"kind": "playlist", "id": pid, "snapshot_id": snapshot})

    def _on_track_items(self, body: dict[str, Any]) -> None:
        for entry in body.get("items") or []:
            self._see_track(entry.get("track") if isinstance(entry, dict) else None)

    def _on_top_tracks(self, body: dict[str, Any]) -> None:
        for track in body.get("items") or []:
            self._see_track(track)

    def _on_top_artists(self, body: dict[str, Any]) -> None:
        for artist in body.get("items") or []:
            if isinstance(artist, dict) and artist.get("id"):
                self.seen["artists"].add(artist["id"])

    def _on_search(self, body: dict[str, Any]) -> None:
        for track in (body.get("tracks") or {}).get("items") or []:
            self._see_track(track)
        for album in (body.get("albums") or {}).get("items") or []:
            if isinstance(album, dict) and album.get("id"):
                self.seen["albums"].add(album["id"])
        for artist in (body.get("artists") or {}).get("items") or []:
            if isinstance(artist, dict) and artist.get("id"):
                self.seen["artists"].add(artist["id"])

    def _see_track(self, track: Any) -> None:
        """Remember the ids a track references (not episodes, local files or unavailable tracks)."""
        if not isinstance(track, dict) or track.get("type", "track") != "track" or track.get("is_local"):
            return
        if track.get("id"):
            self.seen["tracks"].add(track["id"])
        album = track.get("album")
        if isinstance(album, dict) and album.get("id"):
            self.seen["albums"].add(album["id"])
        for artist in track.get("artists") or []:
            if isinstance(artist, dict) and artist.get("id"):
                self.seen["artists"].add(artist["id"])

    # ---- playlists ----------------------------------------------------------------------------------
    def _unchanged(self, task: dict[str, Any]) -> bool:
        """True when the playlist's snapshot equals the one landed by an earlier complete run."""
        known = self.index.playlists.get(task["id"])
        if known is None:
            return False
        if task.get("snapshot_id") is not None:
            return task["snapshot_id"] == known
        check = self.client.playlist(task["id"], fields="snapshot_id")  # one small request instead of pages
        return check.ok and isinstance(check.body, dict) and check.body.get("snapshot_id") == known

    def _playlist(self, task: dict[str, Any]) -> None:
        s, pid = self.state, task["id"]
        if s["cursor"] is None:
            if self._unchanged(task):
                s["unchanged"].append(pid)
                self._task_done()
                return
            response = self.client.playlist(pid)
            landed = self._land("playlists", pid, response)
            if not response.ok or not isinstance(response.body, dict):
                self._task_done()
                return
            if landed:  # only a landed body makes the snapshot count as known to later runs
                s["landed_playlists"][pid] = response.body.get("snapshot_id")
            paging = playlist_paging(response.body)
            following: str | None = None
            if isinstance(paging, dict) and isinstance(paging.get("items"), list):
                self._see_entries(paging["items"])
                following = paging.get("next")
            elif paging is None or paging.get("total") != 0:
                following = ITEMS_FIRST  # metadata without items: the items endpoint tells (200 or 403)
            if not following:
                self._task_done()
                return
            s["cursor"] = following
            self._maybe_commit()
        while s["cursor"]:
            cursor = s["cursor"]
            if cursor == ITEMS_FIRST:
                response = self.client.playlist_items(pid)
            else:
                response = self._follow("playlist_items", pid, cursor)
            if response is None:
                break
            self._land("playlist_items", pid, response)
            if not response.ok or not isinstance(response.body, dict):
                if response.status == 403:
                    s["forbidden"].append(pid)
                break
            self._see_entries(response.body.get("items") or [])
            following = response.body.get("next")
            if not following:
                break
            s["cursor"] = following
            self._maybe_commit()
        self._task_done()

    def _see_entries(self, entries: list[Any]) -> None:
        self.state["playlist_items"] += len(entries)
        for entry in entries:
            self._see_track(entry_item(entry))

    # ---- enrichment ---------------------------------------------------------------------------------
    def _plan_enrichment(self) -> None:
        for entity in ENRICHABLE:
            if entity not in self.state["targets"]["enrich"]:  # the run's own targets, also when resumed
                continue
            ids = sorted(self.seen[entity] - self.index.ids[entity])
            if ids:
                self.state["tasks"].append({"kind": "enrich", "entity": entity, "ids": ids})
        self.state["enrichment_planned"] = True
        self._maybe_commit()

    def _enrich(self, task: dict[str, Any]) -> None:
        s, entity, ids = self.state, task["entity"], task["ids"]
        fetch = {"tracks": self.client.track, "albums": self.client.album, "artists": self.client.artist}[entity]
        position = s["cursor"] or 0
        while position < len(ids):
            self._land(entity, ids[position], fetch(ids[position]))
            s["enriched"][entity] += 1
            position += 1
            s["cursor"] = position
            self._maybe_commit()
        self._task_done()

    # ---- endings ------------------------------------------------------------------------------------
    def _summary(self, stop: StopRun | None) -> dict[str, Any]:
        s, files = self.state, self.ledger.files
        return {
            **self._stats(),
            "records": sum(f.records for f in files),
            "records_by_entity": self.ledger.counts(),
            "bytes": sum(f.bytes for f in files),
            "files": len(files),
            "playlist_items": s["playlist_items"],
            "playlists_landed": len(s["landed_playlists"]),
            "playlists_unchanged": list(s["unchanged"]),
            "forbidden_playlists": list(s["forbidden"]),
            "enriched": dict(s["enriched"]),
            "errors": list(s["errors"]),
            "errors_by_status": dict(s["errors_by_status"]),
            "records_rejected": list(s["rejected"]),
            "links_refused": list(s["links_refused"]),
            "attempts": self.ledger.attempt,
            "orphaned_parts": list(self.ledger.orphans),
            "stop_reason": stop.reason if stop else None,
            "stops": list(self.ledger.stops),
            "targets": s["targets"],
        }

    def _update_index(self, manifest: Manifest) -> None:
        index = self.index
        index.playlists.update({k: v for k, v in self.state["landed_playlists"].items() if v})
        for task in self.state["tasks"]:
            if task["kind"] == "enrich":
                index.ids[task["entity"]].update(task["ids"])
        index.runs.add(manifest.run_id)
        storage.put_bytes(index_uri(self.options.landing), index.to_json(), overwrite=True)

    def _not_before(self) -> datetime | None:
        """When the rate-limited stop of this run asked to resume, if still ahead (any checkpoint value reads)."""
        stop = self.ledger.last_stop or {}
        if stop.get("reason") != "rate_limited" or not stop.get("retry_after"):
            return None
        try:
            at = datetime.strptime(stop["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=landing.utc_now().tzinfo)
            seconds = float(stop["retry_after"])
        except (KeyError, TypeError, ValueError):
            log.warning("unreadable rate-limit stop in the checkpoint %r; resuming", stop)
            return None
        not_before = _after(at, seconds)
        return not_before if not_before > landing.utc_now() else None

    def _resume_hint(self) -> str:
        return (
            f"The checkpoint is kept at {self.ledger.checkpoint_uri}: run the same command again to resume "
            f"run {self.ledger.run_id} (nothing landed is lost or landed twice)."
        )

    def _stopped(self, stop: StopRun) -> RunResult:
        when = ""
        if stop.retry_after:
            resume_at = _after(landing.utc_now(), stop.retry_after)
            when = f" Spotify asked to wait until {resume_at:%Y-%m-%d %H:%M:%S} UTC."
        return self._stopped_result(stop, f"stopped ({stop.reason}): {stop.message}.{when} {self._resume_hint()}")

    def _stopped_early(self, not_before: datetime) -> RunResult:
        self.client = SpotifyClient(
            self.credentials, api_base_url=self.options.api_base_url, token_url=self.options.token_url
        )
        self.base_stats = dict(self.ledger.stats)
        message = (
            f"not resuming yet: Spotify asked to wait until {not_before:%Y-%m-%d %H:%M:%S} UTC (retrying "
            f"early makes the wait longer); use --resume-now to override. {self._resume_hint()}"
        )
        return self._stopped_result(StopRun("rate_limited", message), message)

    def _stopped_result(self, stop: StopRun, message: str) -> RunResult:
        """A ``stopped`` result: resumable from the checkpoint, the message says when and how."""
        return RunResult(
            "stopped",
            self.ledger.run_id,
            SOURCE,
            self._summary(stop),
            checkpoint_uri=self.ledger.checkpoint_uri,
            message=message,
        )


def _after(moment: datetime, seconds: float) -> datetime:
    """``moment`` plus ``seconds``, read as 0..MAX_RETRY_AFTER_S (NaN as 0): never an overflow."""
    bounded = min(max(seconds, 0.0), MAX_RETRY_AFTER_S) if seconds == seconds else 0.0
    return moment + timedelta(seconds=bounded)


def _search_next(body: dict[str, Any]) -> str | None:
    for value in body.values():
        if isinstance(value, dict) and "next" in value:
            return value.get("next")
    return None


def run_api(options: ApiOptions, credentials: Credentials, **kwargs: Any) -> RunResult:
    """Run the ``api`` command; see :class:`ApiExtraction`."""
    return ApiExtraction(options, credentials, **kwargs).run()


def options_dict(options: ApiOptions) -> dict[str, Any]:
    return asdict(options)
