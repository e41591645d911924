"""``musiclake-extract login``: a Spotify refresh token for the user flow, on a headless machine.

The authorization-code flow with PKCE (RFC 7636, ``S256``), as Spotify documents it, without a browser or a
listening port on the machine that runs it:

1. a code verifier and its challenge, and a random ``state``, are made (spotipy's ``SpotifyPKCE`` helpers);
2. the authorize URL is printed (stderr); the user opens it anywhere, signs in and approves;
3. Spotify redirects the browser to the app's redirect URI (nothing needs to listen there): the user pastes
   that URL from the address bar on stdin;
4. the ``state`` in it must be the one sent, then the ``code`` is exchanged at the token endpoint together
   with the ``code_verifier`` (and the client secret as HTTP Basic auth when it is known, so the refresh token
   is one the extractor, which refreshes with the secret, can use);
5. the refresh token is printed on stdout (``--print``) or written into the Secrets Manager secret
   (``--secret-id``; its other keys are kept) and then not shown anywhere.

The client secret is never printed, and neither are the code, the verifier or the access token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import requests
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyPKCE

from musiclake_extract.client import SPOTIFY_TOKEN_URL, USER_SCOPES, redact
from musiclake_extract.reporting import UsageError

SPOTIFY_AUTHORIZE_URL = "https://accounts.spotify.com/authorize"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"


class LoginError(UsageError):
    """The login could not complete (refused, wrong state, nothing pasted): exit code 2, nothing stored."""


@dataclass
class LoginOptions:
    """Options of ``login``: the app, where Spotify's endpoints are, where the redirect goes.

    Parameters
    ----------
    client_id : str
    client_secret : str, optional
        When known, the code exchange authenticates the client with it (confidential client with PKCE).
    redirect_uri : str
        Registered in the app's settings on the Spotify developer dashboard.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: tuple[str, ...] = USER_SCOPES
    authorize_url: str = SPOTIFY_AUTHORIZE_URL
    token_url: str = SPOTIFY_TOKEN_URL
    timeout: float = 10.0


@dataclass
class AuthorizationRequest:
    """One login attempt: the URL to open and what must come back with the code."""

    url: str
    state: str = field(repr=False)
    verifier: str = field(repr=False)


def authorization_request(options: LoginOptions) -> AuthorizationRequest:
    """The authorize URL (``response_type=code``, ``code_challenge_method=S256``, a fresh ``state``)."""
    state = secrets.token_urlsafe(24)
    pkce = SpotifyPKCE(
        client_id=options.client_id,
        redirect_uri=options.redirect_uri,
        state=state,
        scope=list(options.scopes),
        cache_handler=MemoryCacheHandler(),
        open_browser=False,
        requests_session=False,
    )
    pkce.OAUTH_AUTHORIZE_URL = options.authorize_url  # instance attribute shadows the class constant
    pkce.get_pkce_handshake_parameters()
    return AuthorizationRequest(pkce.get_authorize_url(state), state, pkce.code_verifier)


def code_from_redirect(pasted: str, request: AuthorizationRequest) -> str:
    """The ``code`` of the redirect URL the user pasted, once its ``state`` is checked.

    Raises
    ------
    LoginError
        Nothing pasted, an ``error`` from Spotify (e.g. ``access_denied``), no ``code``, or a ``state`` that is
        not this attempt's (a stale or forged redirect).
    """
    text = pasted.strip()
    if not text:
        raise LoginError("no redirect URL was pasted; run `musiclake-extract login` again")
    try:
        state, code = SpotifyPKCE.parse_auth_response_url(text)
    except SpotifyOauthError as exc:
        raise LoginError(f"Spotify did not authorise the app ({exc.error}); run the login again") from None
    if not state or not secrets.compare_digest(state, request.state):
        raise LoginError(
            "the pasted URL does not carry this login's state (a stale or foreign redirect): nothing was stored; "
            "run `musiclake-extract login` again and paste the URL the browser shows right after approving"
        )
    if not code:
        raise LoginError("the pasted URL has no code= parameter: paste the full address the browser was sent to")
    return code


def exchange_code(options: LoginOptions, code: str, request: AuthorizationRequest) -> dict[str, Any]:
    """Exchange the code (with the ``code_verifier``) for tokens at the token endpoint.

    Raises
    ------
    LoginError
        The token endpoint refused (its ``error`` is named) or answered without a refresh token.
    """
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": options.redirect_uri,
        "client_id": options.client_id,
        "code_verifier": request.verifier,
    }
    auth = (options.client_id, options.client_secret) if options.client_secret else None
    try:
        response = requests.post(options.token_url, data=form, auth=auth, timeout=options.timeout)
    except requests.RequestException as exc:
        raise LoginError(f"could not reach the token endpoint {options.token_url}: {type(exc).__name__}") from None
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    if response.status_code != 200 or not isinstance(doc, dict):
        error = doc.get("error") if isinstance(doc, dict) else None
        described = doc.get("error_description") if isinstance(doc, dict) else None
        hidden = [s for s in (options.client_secret, code, request.verifier) if s]
        detail = redact(f"{error or 'HTTP ' + str(response.status_code)}: {described or ''}", hidden)[:200]
        raise LoginError(f"the token endpoint refused the code ({detail}); run the login again")
    if not doc.get("refresh_token"):
        raise LoginError("the token endpoint answered without a refresh_token; nothing was stored")
    return doc


def read_secret(secret_id: str, client: Any = None) -> dict[str, Any]:
    """The JSON object stored in a Secrets Manager secret."""
    client = client or _secrets_client()
    value = client.get_secret_value(SecretId=secret_id).get("SecretString") or "{}"
    try:
        doc = json.loads(value)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise LoginError(f"secret {secret_id} does not hold a JSON object (SPOTIFY_CLIENT_ID, ...)")
    return doc


def store_refresh_token(secret_id: str, refresh_token: str, client: Any = None) -> str:
    """Write ``SPOTIFY_REFRESH_TOKEN`` into the secret's JSON, keeping its other keys; returns the version id."""
    client = client or _secrets_client()
    doc = read_secret(secret_id, client)
    doc["SPOTIFY_REFRESH_TOKEN"] = refresh_token
    answer = client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(doc))
    return str(answer.get("VersionId", ""))


def _secrets_client() -> Any:
    import boto3  # lazily: only --secret-id needs AWS

    return boto3.client("secretsmanager")


def login(
    options: LoginOptions,
    *,
    read_line: Callable[[], str],
    err: TextIO,
) -> str:
    """Run the interactive part: print the URL on ``err``, read the pasted redirect, return the refresh token."""
    request = authorization_request(options)
    err.write(
        "1. Open this URL in any browser, sign in to Spotify and approve musiclake:\n\n"
        f"   {request.url}\n\n"
        f"2. The browser is then sent to {options.redirect_uri}?code=... (the page may fail to load: that is "
        "fine).\n   Paste that whole address here and press Enter:\n> "
    )
    err.flush()
    code = code_from_redirect(read_line(), request)
    return str(exchange_code(options, code, request)["refresh_token"])
