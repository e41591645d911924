"""A spotipy wrapper for the 2026 Spotify Web API: bounded 429 waits, clean stops, counted requests, no leaks.

spotipy does the HTTP and the OAuth flows; this module adds what a long unattended extraction needs:

* **429** is handled here, not by urllib3 (whose ``Retry`` sleeps the full ``Retry-After``, hours at times):
  a wait up to ``max_retry_after`` seconds is honoured, a longer one raises :class:`StopRun` so the run
  stops with its checkpoint and a message saying when to resume. ``QUOTA_EXCEEDED`` stops at once.
  ``Retry-After`` is read by :func:`parse_retry_after`: any RFC 9110 value (delta-seconds or an HTTP-date),
  negative or past values as 0, longer than :data:`MAX_RETRY_AFTER_S` as that, garbage as absent.
* **5xx, timeouts and connection errors** are retried with exponential backoff, then stop the run cleanly.
* **401** (token expired early) forces one token refresh and a retry.
* Every response comes back as :class:`ApiResponse` with the exact request URL and the body as received,
  including the error body of a 4xx, so the landing zone can keep it verbatim.
* Tokens live in memory only (``MemoryCacheHandler``: no ``.cache`` file), and spotipy's debug log, which
  prints Authorization headers and refresh tokens, is silenced.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import spotipy
import urllib3
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOAuth

from musiclake.landing import MAX_RECORD_BYTES, utc_now

SPOTIFY_API_BASE_URL = "https://api.spotify.com/v1/"
SPOTIFY_TOKEN_URL = "https://accounts.spotify.com/api/token"
USER_SCOPES = (
    "playlist-read-private",
    "playlist-read-collaborative",
    "user-library-read",
    "user-top-read",
    "user-read-recently-played",
)
PAGE_LIMIT = 50
SEARCH_LIMIT = 10
RETRIABLE_STATUS = (500, 502, 503, 504)
# The longest Retry-After taken as said; a larger one (or an HTTP-date further away) counts as this much.
MAX_RETRY_AFTER_S = 7 * 24 * 3600.0
REAUTHORISE_HINT = (
    "re-authorise with `musiclake-extract login` (it prints a new refresh token or stores it in the "
    "Secrets Manager secret with --secret-id), then set SPOTIFY_REFRESH_TOKEN"
)
_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NEGATIVE_SECONDS = re.compile(r"-[0-9]+(?:\.[0-9]+)?")
_HTTP_DATE_FORMATS = ("%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y")
_REDIRECT_URI = "http://127.0.0.1:8888/callback"  # never used: the user flow only refreshes

log = logging.getLogger(__name__)
# spotipy logs request headers (the bearer token) and token request bodies (the refresh token) at DEBUG,
# and every 4xx at ERROR; the extractor logs what matters itself.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)


class StopRun(Exception):
    """The run must stop now and keep its checkpoint (rate limit too long, quota, server down, time budget).

    Attributes
    ----------
    reason : str
        ``rate_limited``, ``quota_exceeded``, ``server_errors`` or ``time_budget``.
    retry_after : float or None
        Seconds the API asked to wait, when it said.
    """

    def __init__(self, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class AuthError(Exception):
    """Credentials were refused (a configuration problem: retrying will not help)."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


class ResponseTooLarge(requests.ConnectionError):
    """An answer whose body grew past the limit while it was read: the rest is not read (the connection is closed).
    ``size`` is what had arrived, more than the limit."""

    def __init__(self, response: requests.Response, size: int, limit: int) -> None:
        super().__init__(f"the answer from {response.url[:200]} is over {limit} bytes ({size} read); not read further")
        self.response = response
        self.size = size


class ForeignLink(Exception):
    """A paging link (``next``) that does not lead under the API's base URL: never followed, since the request would
    carry the access token to whoever is there. ``url`` is the link as received."""

    def __init__(self, url: str, base_url: str) -> None:
        super().__init__(f"the link {url[:200]!r} is not under the API's base URL {base_url}")
        self.url = url


def is_under(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the same origin as ``base_url`` (scheme, host, port; no user info) and under its path.

    >>> is_under("https://api.spotify.com/v1/playlists/x/tracks?offset=100", "https://api.spotify.com/v1/")
    True
    >>> is_under("https://api.spotify.com@evil.example/v1/x", "https://api.spotify.com/v1/")
    False
    """
    def origin(parts: Any) -> tuple[str, str | None, int | None]:
        scheme = parts.scheme.lower()
        return scheme, parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme)

    try:
        link, base = urlsplit(url), urlsplit(base_url)
        same_origin = origin(link) == origin(base)
    except ValueError:  # an unparsable port or host
        return False
    return (same_origin and link.username is None and link.password is None
            and link.path.startswith(base.path if base.path.endswith("/") else base.path + "/"))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None when it says nothing usable.

    Parameters
    ----------
    value : str or None
        The header as received: delta-seconds (``120``) or an HTTP-date (IMF-fixdate, RFC 850 or asctime).
    now : datetime, optional
        The current time (tests), for HTTP-dates.

    Returns
    -------
    float or None
        Between 0 and :data:`MAX_RETRY_AFTER_S`: negative values and dates in the past give 0, larger values
        and dates further away give the maximum. None for a missing or unreadable value (``abc``, ``1e12``,
        ``inf``), which the caller treats like a missing header (its own backoff).

    Examples
    --------
    >>> parse_retry_after("30"), parse_retry_after("-5"), parse_retry_after("1e12"), parse_retry_after("9" * 99)
    (30.0, 0.0, None, 604800.0)
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
    0.0
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        whole = text.split(".", 1)[0].lstrip("0")
        if len(whole) > 9:  # over 31 years: no float or int conversion needed (nor possible for huge ones)
            return MAX_RETRY_AFTER_S
        return min(float(text), MAX_RETRY_AFTER_S)
    if _NEGATIVE_SECONDS.fullmatch(text):
        return 0.0
    moment = _http_date(text)
    if moment is None:
        return None
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        moment = None
    if moment is None:
        for fmt in _HTTP_DATE_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass
class Credentials:
    """Spotify app credentials; ``repr`` never shows the secrets."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)

    @property
    def has_user(self) -> bool:
        return bool(self.refresh_token)

    def secrets(self) -> list[str]:
        """The values that must never appear in a log line."""
        return [s for s in (self.client_secret, self.refresh_token) if s]


@dataclass
class ApiResponse:
    """One API answer as received: final request URL, HTTP status, parsed JSON body (or text), time."""

    url: str
    status: int
    body: Any
    fetched_at: datetime
    over_limit: int | None = None  # the bytes read when the body grew past MAX_RECORD_BYTES (body then None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_message(self) -> str | None:
        if self.ok:
            return None
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("message"))
        return str(self.body)[:200] if self.body else None


@dataclass
class ClientStats:
    """Counters of one client: every HTTP request sent to the API (retries included) and what happened."""

    requests: int = 0
    retries: int = 0
    token_requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts: int = 0
    waited_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _RecordingSession(requests.Session):
    """A requests session that counts requests and keeps the last response (spotipy hides error bodies).

    Each body is read with two limits a server cannot stretch: at most ``max_bytes`` (decompressed; past it,
    :class:`ResponseTooLarge`) and at most ``read_seconds`` for the whole body (past it, ``requests.ReadTimeout``;
    the request timeout alone is per read, so an answer trickling a byte at a time never ended).
    """

    def __init__(self, max_bytes: int, read_seconds: float) -> None:
        super().__init__()
        self.count = 0
        self.last: requests.Response | None = None
        self.max_bytes = max_bytes
        self.read_seconds = read_seconds

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.count += 1
        self.last = None
        response = super().request(method, url, *args, **{**kwargs, "stream": True})
        self.last = response
        deadline, size, chunks = time.monotonic() + self.read_seconds, 0, []
        try:
            while chunk := _read_some(response):  # what one socket read brings: a trickle cannot hold it
                size += len(chunk)
                if size > self.max_bytes:
                    raise ResponseTooLarge(response, size, self.max_bytes)
                if time.monotonic() > deadline:
                    raise requests.ReadTimeout(f"the answer from {response.url[:200]} took over "
                                               f"{self.read_seconds:.0f} s to arrive; not read further")
                chunks.append(chunk)
        except requests.RequestException:
            response.close()
            raise
        response._content = b"".join(chunks)  # what requests keeps when it reads a body whole itself
        response._content_consumed = True
        return response


def _read_some(response: requests.Response) -> bytes:
    """The next bytes of the body (decoded, e.g. gunzipped) from at most one read of the socket; b"" at its end.
    urllib3's errors become requests' (as ``iter_content`` does), so callers see the usual exceptions."""
    try:
        return response.raw.read1(_CHUNK_BYTES, decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.ReadTimeout(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as exc:
        raise requests.ConnectionError(exc) from exc


_CHUNK_BYTES = 64 * 1024
# A body the extractor may land is at most MAX_RECORD_BYTES (its envelope line is longer still); the token
# endpoint's answer is a few hundred bytes.
_TOKEN_ANSWER_BYTES = 1024 * 1024
_READ_TIMEOUTS = 6  # a whole answer may take this many request timeouts to arrive


class _RefreshOnlyOAuth(SpotifyOAuth):
    """SpotifyOAuth that refreshes a stored refresh token and never falls back to an interactive login."""

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise AuthError("the user token could not be refreshed and interactive login is disabled")


def _body_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or JSON nested deeper than Python decodes
        return response.text or None


class SpotifyClient:
    """Spotify Web API calls through spotipy, with the retry and stop rules of the extractor.

    Parameters
    ----------
    credentials : Credentials
        With a refresh token the user flow is used (``/me/...`` and items of the user's playlists), else
        client credentials.
    api_base_url, token_url : str
        Where spotipy sends requests (``sp.prefix``) and token requests; Spotify's by default.
    max_retry_after : float
        Longest ``Retry-After`` honoured by sleeping; a longer one raises :class:`StopRun`.
    max_retries : int
        Retries of 5xx/timeouts per request (and of consecutive 429s) before :class:`StopRun`.
    backoff : float
        First backoff in seconds for 5xx/timeouts; doubles per retry (capped at 60 s).
    timeout : float
        Per-request timeout in seconds.
    deadline : float, optional
        ``time.monotonic()`` value after which no request is started (:class:`StopRun` ``time_budget``).
    sleep : callable
        Injected for tests.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_base_url: str = SPOTIFY_API_BASE_URL,
        token_url: str = SPOTIFY_TOKEN_URL,
        max_retry_after: float = 120.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.max_retry_after = max_retry_after
        self.max_retries = max_retries
        self.backoff = backoff
        self.deadline = deadline
        self._sleep = sleep
        self.stats = ClientStats()
        self._api_session = _RecordingSession(MAX_RECORD_BYTES, _READ_TIMEOUTS * timeout)
        self._auth_session = _RecordingSession(_TOKEN_ANSWER_BYTES, _READ_TIMEOUTS * timeout)
        self.auth_manager = self._auth_manager(token_url, timeout)
        self.sp = spotipy.Spotify(
            auth_manager=self.auth_manager,
            requests_session=self._api_session,  # our session: no urllib3 Retry, so 429s come back to us
            requests_timeout=timeout,
            retries=0,
            status_retries=0,
            status_forcelist=RETRIABLE_STATUS,
        )
        self.sp.prefix = api_base_url if api_base_url.endswith("/") else api_base_url + "/"

    @property
    def user_flow(self) -> bool:
        return self.credentials.has_user

    def _auth_manager(self, token_url: str, timeout: float) -> SpotifyClientCredentials | SpotifyOAuth:
        creds = self.credentials
        if creds.has_user:
            auth: SpotifyClientCredentials | SpotifyOAuth = _RefreshOnlyOAuth(
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                redirect_uri=_REDIRECT_URI,
                scope=",".join(USER_SCOPES),
                requests_session=self._auth_session,
                requests_timeout=timeout,
                open_browser=False,
                cache_handler=MemoryCacheHandler(),
            )
            # An already expired token holding the refresh token: spotipy refreshes it on first use.
            auth.cache_handler.save_token_to_cache(
                {
                    "access_token": "",
                    "token_type": "Bearer",
                    "expires_in": 0,
                    "expires_at": 0,
                    "refresh_token": creds.refresh_token,
                    "scope": auth.scope,
                }
            )
        else:
            auth = SpotifyClientCredentials(
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                requests_session=self._auth_session,
                requests_timeout=timeout,
                cache_handler=MemoryCacheHandler(),
            )
        auth.OAUTH_TOKEN_URL = token_url  # instance attribute shadows the class constant
        return auth

    def _expire_token(self) -> None:
        info = self.auth_manager.cache_handler.get_cached_token()
        if info:
            info["expires_at"] = 0
            self.auth_manager.cache_handler.save_token_to_cache(info)

    def _check_deadline(self, wait: float = 0.0) -> None:
        if self.deadline is not None and time.monotonic() + wait > self.deadline:
            raise StopRun("time_budget", "the run's time budget is used up")

    def _pause(self, seconds: float) -> None:
        self._check_deadline(seconds)
        self.stats.waited_seconds += seconds
        self._sleep(seconds)

    def _backoff(self, attempt: int, what: str) -> None:
        if attempt > self.max_retries:
            raise StopRun("server_errors", f"{what}: still failing after {self.max_retries} retries")
        delay = min(60.0, self.backoff * 2 ** (attempt - 1))
        log.warning("%s; retry %d/%d in %.1f s", what, attempt, self.max_retries, delay)
        self.stats.retries += 1
        self._pause(delay)

    def call(self, fn: Callable[[spotipy.Spotify], Any]) -> ApiResponse:
        """Run one spotipy call with the retry and stop rules; 4xx answers are returned, not raised.

        Parameters
        ----------
        fn : callable
            Receives the ``spotipy.Spotify`` instance and makes exactly one API request.

        Returns
        -------
        ApiResponse

        Raises
        ------
        StopRun
            429 longer than ``max_retry_after`` (or too many in a row), ``QUOTA_EXCEEDED``, persistent
            5xx/timeouts, or the time budget used up.
        AuthError
            The token endpoint refused the credentials.
        """
        failures = throttles = 0
        refreshed = False
        while True:
            self._check_deadline()
            sent_before = self._api_session.count
            tokens_before = self._auth_session.count
            try:
                body = fn(self.sp)
                response = self._api_session.last
                if response is None:  # pragma: no cover - spotipy always sends one request
                    raise RuntimeError("no request was sent")
                if body is None:  # spotipy's None for a body that is not JSON: keep its text, as received
                    body = _body_of(response)
                return ApiResponse(response.url, response.status_code, body, utc_now())
            except SpotifyException as exc:
                response = self._api_session.last
                if response is None:
                    raise  # spotipy refused the arguments before any request (a bug on our side)
                status, body = response.status_code, _body_of(response)
                if status == 429:
                    self.stats.throttled += 1
                    throttles += 1
                    self._throttled(response, body, throttles)
                    self.stats.retries += 1
                    continue
                if status in RETRIABLE_STATUS:
                    self.stats.server_errors += 1
                    failures += 1
                    self._backoff(failures, f"HTTP {status} from {response.request.path_url}")
                    continue
                if status == 401 and not refreshed:
                    log.info("access token refused (401); refreshing it once")
                    refreshed = True
                    self._expire_token()
                    self.stats.retries += 1
                    continue
                log.debug("HTTP %s from %s: %s", status, response.url, exc.msg)
                return ApiResponse(response.url, status, body, utc_now())
            except SpotifyOauthError as exc:
                token_response = self._auth_session.last
                if token_response is not None and (
                    token_response.status_code >= 500 or token_response.status_code == 429
                ):
                    failures += 1
                    self._backoff(failures, f"token endpoint answered HTTP {token_response.status_code}")
                    continue
                error = getattr(exc, "error", None) or "refused"
                if error == "invalid_grant" and self.user_flow:
                    description = getattr(exc, "error_description", None) or "expired or revoked"
                    raise AuthError(
                        f"Spotify refused the refresh token (invalid_grant: "
                        f"{redact(str(description), self.credentials.secrets())[:200]}): refresh tokens expire and "
                        f"can be revoked; {REAUTHORISE_HINT}"
                    ) from None
                raise AuthError(
                    f"Spotify refused the credentials ({error}); check SPOTIFY_CLIENT_ID/"
                    "SPOTIFY_CLIENT_SECRET/SPOTIFY_REFRESH_TOKEN"
                ) from None
            except RecursionError:  # spotipy decoding JSON nested deeper than Python can: a hostile answer
                response = self._api_session.last
                if response is None:  # pragma: no cover - raised before any request: our own bug
                    raise
                log.warning("the answer from %s nests too deep to decode as JSON; its text is kept as the body",
                            response.url[:200])
                return ApiResponse(response.url, response.status_code, response.text, utc_now())
            except ResponseTooLarge as exc:
                if exc.response is not self._api_session.last:  # the token endpoint's: a server fault, retried
                    failures += 1
                    self._backoff(failures, str(exc))
                    continue
                log.warning("%s", exc)  # never landable: reported by the caller, like any record over the limit
                return ApiResponse(exc.response.url, exc.response.status_code, None, utc_now(), over_limit=exc.size)
            except (requests.Timeout, requests.ConnectionError) as exc:
                self.stats.timeouts += 1
                failures += 1
                self._backoff(failures, f"{type(exc).__name__} talking to Spotify")
                continue
            finally:
                self.stats.requests += self._api_session.count - sent_before
                self.stats.token_requests += self._auth_session.count - tokens_before

    def _throttled(self, response: requests.Response, body: Any, throttles: int) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        reason = error.get("reason") if isinstance(error, dict) else None
        header = response.headers.get("Retry-After")
        retry_after = parse_retry_after(header)
        if header is not None and retry_after is None:
            log.warning("unreadable Retry-After %r; backing off on our own", header[:40])
        if reason == "QUOTA_EXCEEDED":
            raise StopRun("quota_exceeded", "Spotify answered QUOTA_EXCEEDED: the app's quota is used up", retry_after)
        wait = retry_after if retry_after is not None else min(60.0, self.backoff * 2 ** (throttles - 1))
        if wait > self.max_retry_after:
            raise StopRun(
                "rate_limited",
                f"Spotify asked to wait {wait:.0f} s (Retry-After), more than "
                f"--max-retry-after {self.max_retry_after:.0f} s",
                wait,
            )
        if throttles > self.max_retries:
            raise StopRun("rate_limited", f"still rate limited after {throttles - 1} waits", wait)
        log.warning("rate limited (429); waiting %.1f s as Retry-After says", wait)
        self._pause(wait)

    # ---- the endpoints the extractor uses -------------------------------------------------------------
    def get_url(self, url: str) -> ApiResponse:
        """GET an absolute URL as given (a paging object's ``next``), if it is under the API's base URL.

        Raises
        ------
        ForeignLink
            For any other URL, before a request is made: it would carry the access token elsewhere.
        """
        if not is_under(url, self.sp.prefix):
            raise ForeignLink(url, self.sp.prefix)
        return self.call(lambda sp: sp.next({"next": url}))

    def playlist(self, playlist_id: str, fields: str | None = None) -> ApiResponse:
        return self.call(lambda sp: sp.playlist(playlist_id, fields=fields, additional_types=("track", "episode")))

    def playlist_items(self, playlist_id: str, offset: int = 0) -> ApiResponse:
        return self.call(
            lambda sp: sp.playlist_items(
                playlist_id, limit=PAGE_LIMIT, offset=offset, additional_types=("track", "episode")
            )
        )

    def track(self, track_id: str) -> ApiResponse:
        return self.call(lambda sp: sp.track(track_id))

    def artist(self, artist_id: str) -> ApiResponse:
        return self.call(lambda sp: sp.artist(artist_id))

    def album(self, album_id: str) -> ApiResponse:
        return self.call(lambda sp: sp.album(album_id))

    def me_playlists(self) -> ApiResponse:
        return self.call(lambda sp: sp.current_user_playlists(limit=PAGE_LIMIT))

    def saved_tracks(self) -> ApiResponse:
        return self.call(lambda sp: sp.current_user_saved_tracks(limit=PAGE_LIMIT))

    def top(self, kind: str, time_range: str) -> ApiResponse:
        if kind == "artists":
            return self.call(lambda sp: sp.current_user_top_artists(limit=PAGE_LIMIT, time_range=time_range))
        return self.call(lambda sp: sp.current_user_top_tracks(limit=PAGE_LIMIT, time_range=time_range))

    def recently_played(self) -> ApiResponse:
        return self.call(lambda sp: sp.current_user_recently_played(limit=PAGE_LIMIT))

    def search(self, query: str, types: str = "track", limit: int = SEARCH_LIMIT) -> ApiResponse:
        return self.call(lambda sp: sp.search(query, limit=min(limit, SEARCH_LIMIT), type=types))


class RedactSecrets(logging.Filter):
    """A logging filter that masks given secret values and any bearer/basic credentials in messages."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact(text: str, secrets: list[str]) -> str:
    """Mask secret values and ``Bearer``/``Basic`` credentials in a string."""
    import re

    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", r"\1 ***", text)
