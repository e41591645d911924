"""A local Spotify Web API server with the 2026 semantics, serving a deterministic synthetic catalog.

It is a real HTTP server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1) so that spotipy, requests and the
extractor are exercised exactly as against Spotify: token endpoint, absolute ``next`` links, the removed
endpoints answering 403/404, playlist items only for playlists the signed-in user owns or collaborates on,
search ``limit`` at most 10, and faults injected at run time (429 with ``Retry-After``, quota exhaustion, 5xx,
slow responses, latency).

Use it in-process (tests)::

    with FakeSpotify(seed=7) as api:
        api.inject_429(count=2, retry_after=1)
        run_extractor(api_base_url=api.api_base_url, token_url=api.token_url, **api.credentials())

or from a shell (demo)::

    musiclake-sim spotify --port 0 --url-file /tmp/fake.url &   # prints and writes http://127.0.0.1:PORT
    curl -s -X POST "$(cat /tmp/fake.url)/_admin/faults" -d '{"inject_429": {"count": 3, "retry_after": 1}}'

Admin endpoints (not part of Spotify's API): ``GET /_admin/stats``, ``GET /_admin/requests``,
``POST /_admin/faults`` (JSON: ``inject_429``, ``inject_5xx``, ``inject_slow``, ``quota_exceeded_after``,
``latency``, ``clear``), ``POST /_admin/reset``, ``POST /_admin/playlists/<id>/modify``,
``POST /_admin/revoke-refresh-token`` (the token endpoint then answers ``invalid_grant`` for it).
``inject_429``'s ``retry_after`` is a number, any string (sent verbatim as the ``Retry-After`` header, e.g. an
HTTP-date or garbage) or null (no header).

Authorization (the user flow): ``GET /authorize`` with ``response_type=code``, ``code_challenge_method=S256``,
``code_challenge``, ``redirect_uri`` and ``state`` approves at once as the demo user and redirects (302) to
``redirect_uri?code=...&state=...``; ``POST /api/token`` with ``grant_type=authorization_code`` checks the
code (once), the redirect URI and the ``code_verifier``, and returns a new refresh token that the
``refresh_token`` grant then accepts. The client authenticates with its secret (Basic) or, as a public PKCE
client, with ``client_id`` alone.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from musiclake_sim.catalog import Catalog, generate_catalog, spotify_ids

DEMO_USER = "musiclake-demo"
FRIEND_USER = "musiclake-friend"
DEFAULT_CLIENT_ID = "musiclake-demo-client"
DEFAULT_CLIENT_SECRET = "musiclake-demo-secret"
DEFAULT_REFRESH_TOKEN = "musiclake-demo-refresh-token"
USER_SCOPE = (
    "playlist-read-collaborative playlist-read-private user-library-read user-read-recently-played user-top-read"
)
ITEMS_MAX_LIMIT = 50
SEARCH_MAX_LIMIT = 10
QUOTA_BODY = {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}

# Endpoints removed from the API (2024-11 for new apps, 2026-02 for development-mode apps).
_REMOVED_403 = re.compile(
    r"^/v1/(audio-features|audio-analysis|artists/[^/]+/related-artists|browse/featured-playlists"
    r"|browse/categories/[^/]+/playlists)(/.*)?$"
)
_REMOVED_404 = re.compile(
    r"^/v1/(recommendations|browse/new-releases|browse/categories|markets|artists/[^/]+/top-tracks"
    r"|users/[^/]+/playlists|users/[^/]+)(/.*)?$"
)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Entry:
    """One playlist entry: a catalog track, an episode, a local file or a null (unavailable) track."""

    kind: str  # "track" | "episode" | "local" | "null"
    ref: int  # catalog track index, episode index, local-file number; -1 for null
    added_at: str
    added_by: str | None


@dataclass
class Playlist:
    """A served playlist; ``version`` changes its ``snapshot_id``."""

    id: str
    name: str
    owner: str
    entries: list[Entry]
    description: str = ""
    collaborative: bool = False
    collaborators: set[str] = field(default_factory=set)
    public: bool = True
    followers: int = 0
    version: int = 1

    @property
    def snapshot_id(self) -> str:
        digest = hashlib.sha256(f"{self.id}:{self.version}:{len(self.entries)}".encode()).digest()
        return base64.b64encode(digest[:24]).decode("ascii")

    def readable_by(self, user: str | None) -> bool:
        return user is not None and (user == self.owner or user in self.collaborators)


@dataclass
class Fault:
    """A fault applied to the next ``count`` API requests whose path starts with ``path``."""

    kind: str  # "429" | "5xx" | "slow"
    count: int
    path: str = "/v1/"
    retry_after: int | str | None = 1  # a string is sent verbatim; None sends no Retry-After
    status: int = 503
    seconds: float = 0.0


class SpotifyWorld:
    """The state served: catalog, demo user, playlists, tokens, faults and the request log (thread-safe).

    Parameters
    ----------
    catalog : Catalog
        What to serve; catalog playlist ``pid`` becomes a Spotify playlist (ids are deterministic).
    user_playlists : int
        Catalog playlists owned by the demo user (the first ones).
    followed_playlists : int
        Further catalog playlists, owned by other users, that the demo user follows (403 on their items).
    long_playlist_length : int
        Length of the demo user's long playlist (several pages of items).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        user_playlists: int = 8,
        followed_playlists: int = 3,
        long_playlist_length: int = 420,
        token_ttl: int = 3600,
    ) -> None:
        self.catalog = catalog
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.token_ttl = token_ttl
        self.lock = threading.RLock()
        self.tokens: dict[str, tuple[str | None, float]] = {}
        self.issued_refresh_tokens: set[str] = set()  # from the authorization-code grant
        self.revoked_refresh_tokens: set[str] = set()
        self.auth_codes: dict[str, dict[str, str]] = {}  # code -> client_id, redirect_uri, code_challenge
        self.faults: list[Fault] = []
        self.quota_after: int | None = None
        self.latency_s = 0.0
        self.links_to: str | None = None  # an adversarial server: paging links lead to this base URL instead
        self.log: list[dict[str, Any]] = []
        self._build(user_playlists, followed_playlists, long_playlist_length)

    # ---- world construction -------------------------------------------------------------------------
    def _build(self, user_playlists: int, followed_playlists: int, long_length: int) -> None:
        cat = self.catalog
        n = len(cat.playlists)
        ids = spotify_ids(cat.seed, "playlist", n + 3)
        base = datetime(2019, 1, 1, tzinfo=UTC)
        self.playlists: dict[str, Playlist] = {}
        order: list[str] = []
        for p in cat.playlists:
            pid = p["pid"]
            owner = DEMO_USER if pid < user_playlists else f"user-{pid % 41:02d}"
            old = pid % 5 == 4  # very old playlists have no added_by
            entries = [
                Entry("track", t, _iso(base + timedelta(days=pid % 700, hours=pos)), None if old else owner)
                for pos, t in enumerate(p["tracks"])
            ]
            pl = Playlist(
                ids[pid],
                p["name"],
                owner,
                entries,
                description=p.get("description") or "",
                collaborative=p["collaborative"],
                followers=p["num_followers"],
            )
            self.playlists[pl.id] = pl
            order.append(pl.id)
        self.n_episodes = 6
        self.episode_ids = spotify_ids(cat.seed, "episode", self.n_episodes)
        self.show_ids = spotify_ids(cat.seed, "show", 2)
        # The demo user's taste: tracks of their playlists, most frequent first.
        freq: dict[int, int] = {}
        for p in cat.playlists[: max(user_playlists, 1)]:
            for t in p["tracks"]:
                freq[t] = freq.get(t, 0) + 1
        taste = sorted(freq, key=lambda t: (-freq[t], cat.tracks[t]["rank"]))
        by_rank = sorted(range(len(cat.tracks)), key=lambda t: cat.tracks[t]["rank"])
        pool = taste + [t for t in by_rank if t not in freq]
        # Special playlists of the demo user.
        long_entries = [
            Entry("track", pool[i % len(pool)], _iso(base + timedelta(minutes=i)), DEMO_USER)
            for i in range(long_length)
        ]
        odd_entries: list[Entry] = []
        for i in range(30):
            when = _iso(base + timedelta(days=3, minutes=i))
            if i % 10 == 3:
                odd_entries.append(Entry("null", -1, when, DEMO_USER))
            elif i % 10 == 6:
                odd_entries.append(Entry("local", i, when, DEMO_USER))
            elif i % 10 == 8:
                odd_entries.append(Entry("episode", i % self.n_episodes, when, DEMO_USER))
            else:
                odd_entries.append(Entry("track", pool[(i * 7) % len(pool)], when, None if i == 0 else DEMO_USER))
        shared_entries = [
            Entry(
                "track",
                pool[(i * 3 + 1) % len(pool)],
                _iso(base + timedelta(days=9, minutes=i)),
                DEMO_USER if i % 2 else FRIEND_USER,
            )
            for i in range(24)
        ]
        specials = [
            Playlist(ids[n], "Long Mix", DEMO_USER, long_entries, description="several pages of items", followers=3),
            Playlist(
                ids[n + 1],
                "Odds and Ends",
                DEMO_USER,
                odd_entries,
                description="null tracks, local files and podcast episodes",
            ),
            Playlist(
                ids[n + 2],
                "Shared Jams",
                FRIEND_USER,
                shared_entries,
                collaborative=True,
                collaborators={DEMO_USER},
                public=False,
            ),
        ]
        for pl in specials:
            self.playlists[pl.id] = pl
        self.long_playlist_id, self.odd_playlist_id, self.shared_playlist_id = (pl.id for pl in specials)
        own = order[:user_playlists]
        self.followed_ids = [i for i in order[user_playlists : user_playlists + followed_playlists]]
        self.me_playlist_ids = own + [pl.id for pl in specials] + self.followed_ids
        self.saved_tracks = [
            (t, _iso(base + timedelta(days=30, hours=i))) for i, t in enumerate(pool[: min(120, len(pool))])
        ]
        self.top_tracks = pool[: min(30, len(pool))]
        top_artists: list[int] = []
        for t in pool:
            for a in cat.tracks[t]["artists"]:
                if a not in top_artists:
                    top_artists.append(a)
            if len(top_artists) >= 20:
                break
        self.top_artists = top_artists[:20]
        played_base = datetime(2026, 11, 1, tzinfo=UTC)
        self.recently_played = [(pool[(i * 5) % len(pool)], played_base - timedelta(minutes=4 * i)) for i in range(60)]
        self._search_tracks = [t["name"].lower() for t in cat.tracks]
        self._search_artists = [a["name"].lower() for a in cat.artists]
        self._search_albums = [a["name"].lower() for a in cat.albums]
        self.track_index = {t["id"]: i for i, t in enumerate(cat.tracks)}
        self.artist_index = {a["id"]: i for i, a in enumerate(cat.artists)}
        self.album_index = {a["id"]: i for i, a in enumerate(cat.albums)}
        self.album_tracks: dict[int, list[int]] = {}
        for i, t in enumerate(cat.tracks):
            self.album_tracks.setdefault(t["album"], []).append(i)

    # ---- serialisation (2026 field sets) ------------------------------------------------------------
    def artist_simple(self, base: str, i: int) -> dict[str, Any]:
        a = self.catalog.artists[i]
        return {
            "external_urls": {"spotify": f"https://open.spotify.com/artist/{a['id']}"},
            "href": f"{base}/v1/artists/{a['id']}",
            "id": a["id"],
            "name": a["name"],
            "type": "artist",
            "uri": f"spotify:artist:{a['id']}",
        }

    def artist_full(self, base: str, i: int) -> dict[str, Any]:
        return {**self.artist_simple(base, i), "images": []}

    def album_simple(self, base: str, i: int) -> dict[str, Any]:
        a = self.catalog.albums[i]
        return {
            "album_type": a["album_type"],
            "artists": [self.artist_simple(base, a["artist"])],
            "external_urls": {"spotify": f"https://open.spotify.com/album/{a['id']}"},
            "href": f"{base}/v1/albums/{a['id']}",
            "id": a["id"],
            "images": [],
            "name": a["name"],
            "release_date": a["release_date"],
            "release_date_precision": "day",
            "total_tracks": a["total_tracks"],
            "type": "album",
            "uri": f"spotify:album:{a['id']}",
        }

    def album_full(self, base: str, i: int) -> dict[str, Any]:
        a = self.catalog.albums[i]
        tracks = [self.track_simple(base, t) for t in self.album_tracks.get(i, [])]
        return {
            **self.album_simple(base, i),
            "copyrights": [{"text": f"(C) {a['release_date'][:4]} musiclake", "type": "C"}],
            "external_ids": {"upc": a["upc"]},
            "tracks": _page(tracks, 0, 50, f"{base}/v1/albums/{a['id']}/tracks", {}),
        }

    def track_simple(self, base: str, i: int) -> dict[str, Any]:
        t = self.catalog.tracks[i]
        return {
            "artists": [self.artist_simple(base, a) for a in t["artists"]],
            "disc_number": t["disc_number"],
            "duration_ms": t["duration_ms"],
            "explicit": t["explicit"],
            "external_urls": {"spotify": f"https://open.spotify.com/track/{t['id']}"},
            "href": f"{base}/v1/tracks/{t['id']}",
            "id": t["id"],
            "is_local": False,
            "is_playable": True,
            "name": t["name"],
            "preview_url": None,
            "track_number": t["track_number"],
            "type": "track",
            "uri": f"spotify:track:{t['id']}",
        }

    def track_full(self, base: str, i: int) -> dict[str, Any]:
        t = self.catalog.tracks[i]
        return {
            **self.track_simple(base, i),
            "album": self.album_simple(base, t["album"]),
            "external_ids": {"isrc": t["isrc"]},
        }

    def episode(self, base: str, j: int) -> dict[str, Any]:
        eid, show = self.episode_ids[j], self.show_ids[j % 2]
        return {
            "type": "episode",
            "id": eid,
            "uri": f"spotify:episode:{eid}",
            "href": f"{base}/v1/episodes/{eid}",
            "name": f"Episode {j + 1}: the making of musiclake",
            "duration_ms": 1_800_000 + 60_000 * j,
            "explicit": False,
            "release_date": f"2025-0{1 + j % 9}-15",
            "release_date_precision": "day",
            "description": "A podcast episode in a playlist.",
            "is_local": False,
            "is_playable": True,
            "external_urls": {"spotify": f"https://open.spotify.com/episode/{eid}"},
            "images": [],
            "show": {
                "id": show,
                "name": f"Show {j % 2 + 1}",
                "publisher": "musiclake",
                "type": "show",
                "uri": f"spotify:show:{show}",
                "href": f"{base}/v1/shows/{show}",
            },
        }

    def local_track(self, k: int) -> dict[str, Any]:
        artist, album, title, secs = f"Garage Band {k}", "Demo Tapes", f"Rough Take {k}", 174 + k
        return {
            "id": None,
            "uri": f"spotify:local:{artist.replace(' ', '+')}:{album.replace(' ', '+')}:"
            f"{title.replace(' ', '+')}:{secs}",
            "href": None,
            "name": title,
            "type": "track",
            "is_local": True,
            "duration_ms": secs * 1000,
            "explicit": False,
            "disc_number": 0,
            "track_number": 0,
            "external_ids": {},
            "external_urls": {},
            "album": {
                "id": None,
                "name": album,
                "type": "album",
                "uri": None,
                "href": None,
                "artists": [],
                "images": [],
                "album_type": None,
                "release_date": None,
                "release_date_precision": None,
                "total_tracks": None,
            },
            "artists": [{"id": None, "name": artist, "type": "artist", "uri": None, "href": None, "external_urls": {}}],
        }

    def user_ref(self, base: str, user: str | None) -> dict[str, Any] | None:
        if user is None:
            return None
        return {
            "external_urls": {"spotify": f"https://open.spotify.com/user/{user}"},
            "href": f"{base}/v1/users/{user}",
            "id": user,
            "type": "user",
            "uri": f"spotify:user:{user}",
        }

    def playlist_entry(self, base: str, e: Entry) -> dict[str, Any]:
        if e.kind == "track":
            item: dict[str, Any] | None = self.track_full(base, e.ref)
        elif e.kind == "episode":
            item = self.episode(base, e.ref)
        elif e.kind == "local":
            item = self.local_track(e.ref)
        else:
            item = None
        return {
            "added_at": e.added_at,
            "added_by": self.user_ref(base, e.added_by),
            "is_local": e.kind == "local",
            "primary_color": None,
            "item": item,
            "track": item,
            "video_thumbnail": {"url": None},
        }

    def playlist_simple(self, base: str, pl: Playlist) -> dict[str, Any]:
        owner = {**(self.user_ref(base, pl.owner) or {}), "display_name": pl.owner.replace("-", " ").title()}
        ref = {"href": f"{base}/v1/playlists/{pl.id}/items", "total": len(pl.entries)}
        return {
            "collaborative": pl.collaborative,
            "description": pl.description,
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{pl.id}"},
            "href": f"{base}/v1/playlists/{pl.id}",
            "id": pl.id,
            "images": [],
            "name": pl.name,
            "owner": owner,
            "primary_color": None,
            "public": pl.public,
            "snapshot_id": pl.snapshot_id,
            "items": ref,
            "tracks": dict(ref),
            "type": "playlist",
            "uri": f"spotify:playlist:{pl.id}",
        }

    def items_page(self, base: str, pl: Playlist, offset: int, limit: int, extra: dict[str, str]) -> dict[str, Any]:
        entries = [self.playlist_entry(base, e) for e in pl.entries[offset : offset + limit]]
        page = _page(entries, offset, limit, f"{base}/v1/playlists/{pl.id}/items", extra, total=len(pl.entries))
        return page

    def playlist_full(self, base: str, pl: Playlist, user: str | None, extra: dict[str, str]) -> dict[str, Any]:
        doc = self.playlist_simple(base, pl)
        doc["followers"] = {"href": None, "total": pl.followers}
        if pl.readable_by(user):
            page = self.items_page(base, pl, 0, ITEMS_MAX_LIMIT, extra)
            page["href"] = f"{base}/v1/playlists/{pl.id}/items?" + urlencode(
                {"offset": 0, "limit": ITEMS_MAX_LIMIT, **extra}
            )
            doc["items"], doc["tracks"] = page, json.loads(json.dumps(page))
        return doc

    # ---- tokens, faults, log --------------------------------------------------------------------------
    def issue_token(self, user: str | None) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = (user, time.monotonic() + self.token_ttl)
        doc: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        if user is not None:
            doc["scope"] = USER_SCOPE
        return doc

    def check_token(self, header: str | None) -> tuple[bool, str | None, str]:
        if not header or not header.startswith("Bearer "):
            return False, None, "No token provided"
        with self.lock:
            found = self.tokens.get(header[len("Bearer ") :])
        if found is None:
            return False, None, "Invalid access token"
        user, expires = found
        if time.monotonic() > expires:
            return False, None, "The access token expired"
        return True, user, ""

    def next_fault(self, path: str) -> Fault | None:
        """The fault (if any) for an API request; consumes one unit of it. Quota exhaustion wins."""
        with self.lock:
            if self.quota_after is not None:
                if self.quota_after <= 0:
                    return Fault("quota", 1)
                self.quota_after -= 1
            for fault in self.faults:
                if fault.count > 0 and path.startswith(fault.path):
                    fault.count -= 1
                    return fault
        return None

    def record(self, method: str, path: str, query: dict[str, list[str]], status: int, user: str | None) -> None:
        with self.lock:
            self.log.append(
                {
                    "method": method,
                    "path": path,
                    "query": {k: v[-1] for k, v in query.items()},
                    "status": status,
                    "user": user,
                    "at": time.time(),
                }
            )


def _page(
    items: list[Any], offset: int, limit: int, href: str, extra: dict[str, str], total: int | None = None
) -> dict[str, Any]:
    """A paging object; ``items`` is the page (already sliced) unless ``total`` is None (then it is all items)."""
    if total is None:
        total = len(items)
        items = items[offset : offset + limit]

    def link(off: int) -> str:
        return f"{href}?" + urlencode({"offset": off, "limit": limit, **extra})

    return {
        "href": link(offset),
        "items": items,
        "limit": limit,
        "next": link(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


def _relinked(doc: Any, own: str, other: str) -> Any:
    """``doc`` with every ``next`` link to ``own`` (this server's base URL) leading to ``other`` instead."""
    if isinstance(doc, list):
        return [_relinked(v, own, other) for v in doc]
    if not isinstance(doc, dict):
        return doc
    return {k: other + v[len(own):] if k == "next" and isinstance(v, str) and v.startswith(own)
            else _relinked(v, own, other) for k, v in doc.items()}


class _Reply(Exception):
    """Raised by route handlers to answer with a status and a JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, {"error": {"status": status, "message": message}})


def _int_arg(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[-1])
    except ValueError:
        raise _error(400, f"Invalid {name}") from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:
            sys.stderr.write("fake-spotify: " + (format % args) + "\n")

    @property
    def world(self) -> SpotifyWorld:
        return self.server.world

    @property
    def base(self) -> str:
        return self.server.base_url

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8") if body is not None else b""
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, killed): fine
            self.close_connection = True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        body = self._body() if method in ("POST", "PUT") else b""
        user: str | None = None
        try:
            if path.startswith("/_admin/"):
                self._admin(method, path, body)
                return
            if path == "/api/token" and method == "POST":
                status, doc = self._token(body)
                self.world.record(method, path, {}, status, None)
                self._send(status, doc)
                return
            if path == "/authorize" and method == "GET":
                status, doc, headers = self._authorize(query)
                self.world.record(method, path, {}, status, None)
                self._send(status, doc, headers)
                return
            if not path.startswith("/v1/"):
                raise _error(404, "Service not found")
            status, doc, headers, user = self._api(method, path, query)
            if self.world.links_to:
                doc = _relinked(doc, self.base, self.world.links_to)
        except _Reply as reply:
            status, doc, headers = reply.status, reply.body, reply.headers
        self.world.record(method, path, query, status, user)
        self._send(status, doc, headers)

    # ---- token endpoint ---------------------------------------------------------------------------
    def _authorize(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """The consent page, approved at once by the demo user: 302 to the redirect URI with a one-time code."""
        q = {k: v[-1] for k, v in query.items()}
        w = self.world
        if q.get("client_id") != w.client_id:
            return 400, {"error": "invalid_client", "error_description": "Invalid client"}, {}
        redirect = q.get("redirect_uri") or ""
        if not redirect.startswith(("http://", "https://")):
            return 400, {"error": "invalid_request", "error_description": "Invalid redirect URI"}, {}
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return 400, {"error": "invalid_request", "error_description": "code + S256 code_challenge required"}, {}
        code = secrets.token_urlsafe(24)
        with w.lock:
            w.auth_codes[code] = {
                "client_id": w.client_id,
                "redirect_uri": redirect,
                "code_challenge": q["code_challenge"],
            }
        answer = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        sep = "&" if "?" in redirect else "?"
        return 302, None, {"Location": f"{redirect}{sep}{urlencode(answer)}"}

    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except ValueError:
                return 400, {"error": "invalid_client", "error_description": "Invalid client"}
        w = self.world
        grant = form.get("grant_type")
        public_pkce = grant == "authorization_code" and client_secret is None and "code_verifier" in form
        if client_id != w.client_id or (client_secret != w.client_secret and not public_pkce):
            return 400, {"error": "invalid_client", "error_description": "Invalid client secret"}
        if grant == "client_credentials":
            return 200, w.issue_token(None)
        if grant == "refresh_token":
            token = form.get("refresh_token")
            if token in w.revoked_refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}
            if token != w.refresh_token and token not in w.issued_refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
            return 200, w.issue_token(DEMO_USER)
        if grant == "authorization_code":
            return self._code_grant(form)
        return 400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"}

    def _code_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        w = self.world
        with w.lock:
            issued = w.auth_codes.pop(form.get("code") or "", None)  # a code is good once
        if issued is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid authorization code"}
        if form.get("redirect_uri") != issued["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "Invalid redirect URI"}
        verifier = form.get("code_verifier") or ""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not verifier or challenge != issued["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "code_verifier was incorrect"}
        refresh = secrets.token_urlsafe(32)
        with w.lock:
            w.issued_refresh_tokens.add(refresh)
        return 200, {**w.issue_token(DEMO_USER), "refresh_token": refresh}

    # ---- Web API ----------------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str], str | None]:
        w = self.world
        if w.latency_s:
            time.sleep(w.latency_s)
        fault = w.next_fault(path)
        if fault is not None:
            if fault.kind == "quota":
                raise _Reply(429, QUOTA_BODY, {"Retry-After": "86400"})
            if fault.kind == "429":
                raise _Reply(
                    429,
                    {"error": {"status": 429, "message": "API rate limit exceeded"}},
                    {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)},
                )
            if fault.kind == "5xx":
                raise _error(fault.status, "Service unavailable" if fault.status == 503 else "Server error")
            if fault.kind == "slow":
                time.sleep(fault.seconds)
        ok, user, message = w.check_token(self.headers.get("Authorization"))
        if not ok:
            raise _error(401, message)
        if method != "GET":
            raise _error(405, "Method not allowed (read-only fake)")
        for route, handler in _ROUTES:
            match = route.match(path)
            if match:
                return 200, handler(self, user, query, *match.groups()), {}, user
        if _REMOVED_403.match(path):
            raise _error(403, "Forbidden")
        if _REMOVED_404.match(path):
            raise _error(404, "Not found.")
        raise _error(404, "Service not found")

    def _need_user(self, user: str | None) -> str:
        if user is None:
            raise _error(401, "This endpoint needs a user access token (Authorization Code or PKCE)")
        return user

    def _limit(self, query: dict[str, list[str]], default: int, maximum: int) -> tuple[int, int]:
        limit, offset = _int_arg(query, "limit", default), _int_arg(query, "offset", 0)
        if not 1 <= limit <= maximum:
            raise _error(400, "Invalid limit")
        if offset < 0:
            raise _error(400, "Invalid offset")
        return limit, offset

    def _playlist_or_404(self, playlist_id: str) -> Playlist:
        pl = self.world.playlists.get(playlist_id)
        if pl is None:
            raise _error(404, "Resource not found")
        return pl

    def r_me(self, user: str | None, query: dict[str, list[str]]) -> Any:
        uid = self._need_user(user)
        return {
            **(self.world.user_ref(self.base, uid) or {}),
            "display_name": "Musiclake Demo",
            "country": "SE",
            "product": "premium",
            "images": [],
            "followers": {"href": None, "total": 0},
        }

    def r_me_playlists(self, user: str | None, query: dict[str, list[str]]) -> Any:
        self._need_user(user)
        limit, offset = self._limit(query, 20, 50)
        w = self.world
        items = [w.playlist_simple(self.base, w.playlists[i]) for i in w.me_playlist_ids]
        return _page(items, offset, limit, f"{self.base}/v1/me/playlists", {})

    def r_playlist(self, user: str | None, query: dict[str, list[str]], playlist_id: str) -> Any:
        pl = self._playlist_or_404(playlist_id)
        extra = {"additional_types": query["additional_types"][-1]} if "additional_types" in query else {}
        with self.world.lock:
            doc = self.world.playlist_full(self.base, pl, user, extra)
        fields = query.get("fields", [""])[-1]
        if fields:  # top-level field names only (enough for snapshot checks)
            wanted = [f.strip() for f in fields.split(",") if f.strip()]
            doc = {k: doc[k] for k in wanted if k in doc}
        return doc

    def r_playlist_items(self, user: str | None, query: dict[str, list[str]], playlist_id: str) -> Any:
        pl = self._playlist_or_404(playlist_id)
        if not pl.readable_by(user):
            raise _error(403, "Forbidden")
        limit, offset = self._limit(query, 20, ITEMS_MAX_LIMIT)
        extra = {"additional_types": query["additional_types"][-1]} if "additional_types" in query else {}
        with self.world.lock:
            return self.world.items_page(self.base, pl, offset, limit, extra)

    def r_playlist_tracks(self, user: str | None, query: dict[str, list[str]], playlist_id: str) -> Any:
        raise _error(403, "Forbidden")  # renamed to /items in 2026; the old path answers 403

    def _lookup(self, index: dict[str, int], item_id: str) -> int:
        if not re.fullmatch(r"[0-9A-Za-z]{22}", item_id):
            raise _error(400, "Invalid base62 id")
        if item_id not in index:
            raise _error(404, "Resource not found")
        return index[item_id]

    def r_track(self, user: str | None, query: dict[str, list[str]], track_id: str) -> Any:
        return self.world.track_full(self.base, self._lookup(self.world.track_index, track_id))

    def r_artist(self, user: str | None, query: dict[str, list[str]], artist_id: str) -> Any:
        return self.world.artist_full(self.base, self._lookup(self.world.artist_index, artist_id))

    def r_album(self, user: str | None, query: dict[str, list[str]], album_id: str) -> Any:
        return self.world.album_full(self.base, self._lookup(self.world.album_index, album_id))

    def r_album_tracks(self, user: str | None, query: dict[str, list[str]], album_id: str) -> Any:
        i = self._lookup(self.world.album_index, album_id)
        limit, offset = self._limit(query, 20, 50)
        tracks = [self.world.track_simple(self.base, t) for t in self.world.album_tracks.get(i, [])]
        return _page(tracks, offset, limit, f"{self.base}/v1/albums/{album_id}/tracks", {})

    def r_batch(self, user: str | None, query: dict[str, list[str]], kind: str) -> Any:
        raise _error(403, "Forbidden")  # batch GETs were removed in 2026-02

    def r_search(self, user: str | None, query: dict[str, list[str]]) -> Any:
        q = query.get("q", [""])[-1].strip().lower()
        types = [t for t in query.get("type", [""])[-1].split(",") if t]
        if not q or not types:
            raise _error(400, "No search query" if not q else "Missing parameter type")
        limit, offset = self._limit(query, 5, SEARCH_MAX_LIMIT)
        if offset + limit > 1000:
            raise _error(400, "Invalid offset")
        w, out = self.world, {}
        sources: dict[str, tuple[list[str], Callable[[str, int], Any]]] = {
            "track": (w._search_tracks, w.track_full),
            "artist": (w._search_artists, w.artist_full),
            "album": (w._search_albums, w.album_simple),
        }
        for t in types:
            if t not in sources:
                if t in ("playlist", "show", "episode", "audiobook"):
                    out[f"{t}s"] = _page([], offset, limit, f"{self.base}/v1/search", {"query": q, "type": t})
                    continue
                raise _error(400, f"Invalid type {t}")
            names, render = sources[t]
            hits = [i for i, name in enumerate(names) if q in name]
            page = _page(hits, offset, limit, f"{self.base}/v1/search", {"query": q, "type": t})
            page["items"] = [render(self.base, i) for i in page["items"]]
            out[f"{t}s"] = page
        return out

    def r_saved_tracks(self, user: str | None, query: dict[str, list[str]]) -> Any:
        self._need_user(user)
        limit, offset = self._limit(query, 20, 50)
        items = [
            {"added_at": at, "track": self.world.track_full(self.base, t)}
            for t, at in self.world.saved_tracks[offset : offset + limit]
        ]
        return _page(items, offset, limit, f"{self.base}/v1/me/tracks", {}, total=len(self.world.saved_tracks))

    def r_top(self, user: str | None, query: dict[str, list[str]], kind: str) -> Any:
        self._need_user(user)
        limit, offset = self._limit(query, 20, 50)
        time_range = query.get("time_range", ["medium_term"])[-1]
        if time_range not in ("short_term", "medium_term", "long_term"):
            raise _error(400, "Invalid time range")
        w = self.world
        shift = ("short_term", "medium_term", "long_term").index(time_range)
        source = w.top_tracks if kind == "tracks" else w.top_artists
        ordered = source[shift:] + source[:shift]
        render = w.track_full if kind == "tracks" else w.artist_full
        page = _page(ordered, offset, limit, f"{self.base}/v1/me/top/{kind}", {"time_range": time_range})
        page["items"] = [render(self.base, i) for i in page["items"]]
        return page

    def r_recently_played(self, user: str | None, query: dict[str, list[str]]) -> Any:
        self._need_user(user)
        limit, _ = self._limit(query, 20, 50)
        before = _int_arg(query, "before", 0)
        plays = self.world.recently_played
        ms = [int(at.timestamp() * 1000) for _, at in plays]
        chosen = [i for i in range(len(plays)) if not before or ms[i] < before][:limit]
        items = [
            {"track": self.world.track_full(self.base, plays[i][0]), "played_at": _iso(plays[i][1]), "context": None}
            for i in chosen
        ]
        more = bool(chosen) and chosen[-1] + 1 < len(plays)
        href = f"{self.base}/v1/me/player/recently-played"
        return {
            "href": f"{href}?" + urlencode({"limit": limit, **({"before": before} if before else {})}),
            "items": items,
            "limit": limit,
            "next": f"{href}?" + urlencode({"before": ms[chosen[-1]], "limit": limit}) if more else None,
            "cursors": {"after": str(ms[chosen[0]]), "before": str(ms[chosen[-1]])} if chosen else None,
        }

    # ---- admin ------------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: bytes) -> None:
        w = self.world
        if method == "GET" and path == "/_admin/stats":
            self._send(200, stats(w.log))
            return
        if method == "GET" and path == "/_admin/requests":
            with w.lock:
                self._send(200, list(w.log))
            return
        if method == "POST" and path == "/_admin/reset":
            with w.lock:
                w.log.clear()
                w.faults.clear()
                w.quota_after, w.latency_s = None, 0.0
            self._send(200, {"ok": True})
            return
        if method == "POST" and path == "/_admin/faults":
            try:
                apply_fault_spec(w, json.loads(body or b"{}"))
            except (ValueError, TypeError, KeyError) as exc:
                self._send(400, {"error": str(exc)})
                return
            self._send(200, {"ok": True})
            return
        if method == "POST" and path == "/_admin/revoke-refresh-token":
            token = json.loads(body or b"{}").get("refresh_token") or w.refresh_token
            with w.lock:
                w.revoked_refresh_tokens.add(token)
            self._send(200, {"ok": True})
            return
        match = re.fullmatch(r"/_admin/playlists/([^/]+)/modify", path)
        if method == "POST" and match and match.group(1) in w.playlists:
            modify_playlist(w, match.group(1))
            self._send(200, {"snapshot_id": w.playlists[match.group(1)].snapshot_id})
            return
        self._send(404, {"error": "unknown admin endpoint"})


_ROUTES: list[tuple[re.Pattern[str], Callable[..., Any]]] = [
    (re.compile(r"^/v1/me$"), _Handler.r_me),
    (re.compile(r"^/v1/me/playlists$"), _Handler.r_me_playlists),
    (re.compile(r"^/v1/me/tracks$"), _Handler.r_saved_tracks),
    (re.compile(r"^/v1/me/top/(artists|tracks)$"), _Handler.r_top),
    (re.compile(r"^/v1/me/player/recently-played$"), _Handler.r_recently_played),
    (re.compile(r"^/v1/playlists/([^/]+)$"), _Handler.r_playlist),
    (re.compile(r"^/v1/playlists/([^/]+)/items$"), _Handler.r_playlist_items),
    (re.compile(r"^/v1/playlists/([^/]+)/tracks$"), _Handler.r_playlist_tracks),
    (re.compile(r"^/v1/(tracks|artists|albums)$"), _Handler.r_batch),
    (re.compile(r"^/v1/tracks/([^/]+)$"), _Handler.r_track),
    (re.compile(r"^/v1/artists/([^/]+)$"), _Handler.r_artist),
    (re.compile(r"^/v1/albums/([^/]+)$"), _Handler.r_album),
    (re.compile(r"^/v1/albums/([^/]+)/tracks$"), _Handler.r_album_tracks),
    (re.compile(r"^/v1/search$"), _Handler.r_search),
]


def stats(log: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of a request log: API requests in total, by path pattern and by status, and token requests."""
    api = [r for r in log if r["path"].startswith("/v1/")]
    by_status: dict[str, int] = {}
    by_path: dict[str, int] = {}
    for r in api:
        by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
        shape = re.sub(r"/[0-9A-Za-z]{22}(?=/|$)", "/{id}", r["path"])
        by_path[shape] = by_path.get(shape, 0) + 1
    return {
        "api_requests": len(api),
        "token_requests": sum(r["path"] == "/api/token" for r in log),
        "by_status": by_status,
        "by_path": by_path,
    }


def apply_fault_spec(world: SpotifyWorld, spec: dict[str, Any]) -> None:
    """Apply an admin fault document (the JSON accepted by ``POST /_admin/faults``)."""
    with world.lock:
        if spec.get("clear"):
            world.faults.clear()
            world.quota_after, world.latency_s, world.links_to = None, 0.0, None
        if "inject_429" in spec:
            f = spec["inject_429"]
            raw = f.get("retry_after", 1)
            retry_after = raw if raw is None or isinstance(raw, str) else int(raw)
            world.faults.append(Fault("429", int(f.get("count", 1)), f.get("path", "/v1/"), retry_after=retry_after))
        if "inject_5xx" in spec:
            f = spec["inject_5xx"]
            world.faults.append(
                Fault("5xx", int(f.get("count", 1)), f.get("path", "/v1/"), status=int(f.get("status", 503)))
            )
        if "inject_slow" in spec:
            f = spec["inject_slow"]
            world.faults.append(
                Fault("slow", int(f.get("count", 1)), f.get("path", "/v1/"), seconds=float(f.get("seconds", 1.0)))
            )
        if "quota_exceeded_after" in spec:
            value = spec["quota_exceeded_after"]
            world.quota_after = None if value is None else int(value)
        if "latency" in spec:
            world.latency_s = float(spec["latency"])
        if "links_to" in spec:
            world.links_to = spec["links_to"] or None


def modify_playlist(world: SpotifyWorld, playlist_id: str) -> str:
    """Add one track to a playlist (a new ``snapshot_id``), as a user editing it would."""
    with world.lock:
        pl = world.playlists[playlist_id]
        used = {e.ref for e in pl.entries if e.kind == "track"}
        extra = next((t for t in range(len(world.catalog.tracks)) if t not in used), 0)
        when = _iso(datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=pl.version))
        pl.entries.append(Entry("track", extra, when, pl.owner))
        pl.version += 1
        return pl.snapshot_id


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], world: SpotifyWorld, verbose: bool = False) -> None:
        super().__init__(address, _Handler)
        self.world = world
        self.verbose = verbose
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class FakeSpotify:
    """The fake Spotify API on a background thread; a context manager for tests.

    Parameters
    ----------
    seed, n_playlists, n_tracks : int
        Passed to :func:`~musiclake_sim.catalog.generate_catalog` (unless ``catalog`` is given).
    host, port : str, int
        Where to listen; port 0 picks a free one (see ``base_url``).
    **world_options
        Passed to :class:`SpotifyWorld` (``user_playlists``, ``followed_playlists``, ``long_playlist_length``,
        ``client_id``, ``client_secret``, ``refresh_token``, ``token_ttl``).

    Examples
    --------
    >>> with FakeSpotify(seed=1) as api:                       # doctest: +SKIP
    ...     api.inject_429(count=1, retry_after=2)
    ...     print(api.base_url, api.request_count("/v1/playlists/"))
    """

    def __init__(
        self,
        seed: int = 0,
        n_playlists: int = 60,
        n_tracks: int = 1500,
        *,
        catalog: Catalog | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        **world_options: Any,
    ) -> None:
        self.catalog = catalog or generate_catalog(seed, n_playlists, n_tracks)
        self.world = SpotifyWorld(self.catalog, **world_options)
        self._address = (host, port)
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeSpotify:
        self._server = _Server(self._address, self.world, self._verbose)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-spotify", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSpotify:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # addresses and credentials
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return self._server.base_url

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/api/token"

    def credentials(self, user: bool = True) -> dict[str, str]:
        """Environment variables for the extractor (``SPOTIFY_CLIENT_ID``, ... , ``SPOTIFY_REFRESH_TOKEN``)."""
        env = {"SPOTIFY_CLIENT_ID": self.world.client_id, "SPOTIFY_CLIENT_SECRET": self.world.client_secret}
        if user:
            env["SPOTIFY_REFRESH_TOKEN"] = self.world.refresh_token
        return env

    # faults
    def inject_429(self, count: int = 1, retry_after: int | str | None = 1, path: str = "/v1/") -> None:
        """The next ``count`` API requests (under ``path``) answer 429 with ``Retry-After: retry_after``.

        A string is sent verbatim (an HTTP-date, or garbage such as ``1e12``); None sends no ``Retry-After``.
        """
        apply_fault_spec(self.world, {"inject_429": {"count": count, "retry_after": retry_after, "path": path}})

    def inject_5xx(self, count: int = 1, status: int = 503, path: str = "/v1/") -> None:
        """The next ``count`` API requests (under ``path``) answer ``status``."""
        apply_fault_spec(self.world, {"inject_5xx": {"count": count, "status": status, "path": path}})

    def inject_slow(self, count: int = 1, seconds: float = 1.0, path: str = "/v1/") -> None:
        """The next ``count`` API requests wait ``seconds`` before answering (client timeouts)."""
        apply_fault_spec(self.world, {"inject_slow": {"count": count, "seconds": seconds, "path": path}})

    def quota_exceeded_after(self, n: int | None) -> None:
        """After ``n`` more API requests, every request answers the QUOTA_EXCEEDED 429 (None lifts it)."""
        apply_fault_spec(self.world, {"quota_exceeded_after": n})

    def latency(self, seconds: float) -> None:
        """Every API request waits ``seconds`` first."""
        apply_fault_spec(self.world, {"latency": seconds})

    def link_elsewhere(self, base_url: str | None) -> None:
        """Paging ``next`` links lead to ``base_url`` (e.g. ``http://evil.example``) instead of this server: a
        hostile or compromised API (None: back to normal)."""
        apply_fault_spec(self.world, {"links_to": base_url})

    def clear_faults(self) -> None:
        apply_fault_spec(self.world, {"clear": True})

    def revoke_refresh_token(self, token: str | None = None) -> None:
        """The token endpoint answers ``invalid_grant`` for this refresh token from now on (default: the demo's)."""
        with self.world.lock:
            self.world.revoked_refresh_tokens.add(token or self.world.refresh_token)

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    # request log
    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log: ``{"method", "path", "query", "status", "user", "at"}`` per request."""
        with self.world.lock:
            return list(self.world.log)

    def request_count(self, path: str = "/v1/", status: int | None = None) -> int:
        """Requests whose path starts with ``path`` (API requests by default), optionally of one status."""
        return sum(1 for r in self.requests if r["path"].startswith(path) and (status is None or r["status"] == status))

    def stats(self) -> dict[str, Any]:
        return stats(self.requests)

    def reset_log(self) -> None:
        with self.world.lock:
            self.world.log.clear()

    # the served world
    def playlist(self, playlist_id: str) -> Playlist:
        return self.world.playlists[playlist_id]

    @property
    def me_playlist_ids(self) -> list[str]:
        """The demo user's playlists in ``/me/playlists`` order (own, specials, followed)."""
        return list(self.world.me_playlist_ids)

    @property
    def foreign_playlist_ids(self) -> list[str]:
        """Playlists in ``/me/playlists`` the demo user may not read the items of (403)."""
        return list(self.world.followed_ids)

    @property
    def long_playlist_id(self) -> str:
        return self.world.long_playlist_id

    @property
    def odd_playlist_id(self) -> str:
        """The playlist with null tracks, local files and episodes."""
        return self.world.odd_playlist_id

    @property
    def shared_playlist_id(self) -> str:
        """A collaborative playlist owned by another user, readable by the demo user."""
        return self.world.shared_playlist_id

    def modify_playlist(self, playlist_id: str) -> str:
        """Add a track to a playlist; returns its new ``snapshot_id``."""
        return modify_playlist(self.world, playlist_id)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``musiclake-sim spotify`` (the catalog served, the credentials accepted, faults)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (see --url-file)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--playlists", type=int, default=60, help="catalog playlists served")
    parser.add_argument("--tracks", type=int, default=1500, help="catalog tracks")
    parser.add_argument("--user-playlists", type=int, default=8, help="catalog playlists owned by the demo user")
    parser.add_argument("--followed-playlists", type=int, default=3, help="others' playlists the user follows")
    parser.add_argument("--long-playlist-length", type=int, default=420)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--refresh-token", default=DEFAULT_REFRESH_TOKEN)
    parser.add_argument("--token-ttl", type=int, default=3600)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--url-file", help="write the base URL here once listening (for scripts)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def serve(args: argparse.Namespace) -> int:
    """Handler of ``musiclake-sim spotify``: serve the fake API until SIGINT/SIGTERM; returns the exit status."""
    fake = FakeSpotify(
        args.seed,
        args.playlists,
        args.tracks,
        host=args.host,
        port=args.port,
        verbose=args.verbose,
        user_playlists=args.user_playlists,
        followed_playlists=args.followed_playlists,
        long_playlist_length=args.long_playlist_length,
        client_id=args.client_id,
        client_secret=args.client_secret,
        refresh_token=args.refresh_token,
        token_ttl=args.token_ttl,
    ).start()
    if args.latency:
        fake.latency(args.latency)
    print(f"fake Spotify API listening on {fake.base_url}", flush=True)
    print(f"  --api-base-url {fake.api_base_url} --token-url {fake.token_url}", flush=True)
    if args.url_file:
        tmp = Path(args.url_file).with_suffix(".tmp")
        tmp.write_text(fake.base_url + "\n")
        tmp.replace(args.url_file)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    fake.stop()
    return 0
