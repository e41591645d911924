"""``musiclake-extract login``: authorization code with PKCE on a headless machine, against the local server."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from musiclake import landing
from musiclake_extract import cli
from musiclake_extract.api_extract import ApiOptions, run_api
from musiclake_extract.client import Credentials
from musiclake_extract.login import LoginError, LoginOptions, authorization_request, exchange_code

REDIRECT = "http://127.0.0.1:8888/callback"  # registered in the app; nothing listens there


class _Browser:
    """Stands for the user: reads the URL the command printed, approves it, pastes where the browser went."""

    def __init__(self, capsys, tamper=None) -> None:
        self.capsys, self.tamper = capsys, tamper
        self.authorize_url: str | None = None

    def readline(self) -> str:
        err = self.capsys.readouterr().err
        (url,) = re.findall(r"^\s+(http\S+/authorize\?\S+)$", err, flags=re.MULTILINE)
        self.authorize_url = url
        answer = requests.get(url, allow_redirects=False, timeout=5)  # the consent page (approves at once)
        assert answer.status_code == 302
        location = answer.headers["Location"]
        return (self.tamper(location) if self.tamper else location) + "\n"


def _login(fake_spotify, *extra):
    return cli.main(
        [
            "login",
            *extra,
            "--authorize-url",
            fake_spotify.authorize_url,
            "--token-url",
            fake_spotify.token_url,
            "--redirect-uri",
            REDIRECT,
        ]
    )


@pytest.fixture
def app_env(fake_spotify, monkeypatch):
    for key in ("SPOTIFY_REFRESH_TOKEN", "SPOTIFY_SECRET_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", fake_spotify.world.client_id)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", fake_spotify.world.client_secret)


def test_login_prints_a_refresh_token_the_extractor_can_use(fake_spotify, app_env, capsys, monkeypatch, tmp_path):
    browser = _Browser(capsys)
    monkeypatch.setattr("sys.stdin", browser)

    assert _login(fake_spotify, "--print") == 0

    captured = capsys.readouterr()
    token = captured.out.strip()
    assert captured.out == token + "\n"  # stdout holds the token and nothing else
    assert token in fake_spotify.world.issued_refresh_tokens
    query = parse_qs(urlsplit(browser.authorize_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert len(query["state"][0]) >= 16 and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [REDIRECT] and "user-top-read" in query["scope"][0]
    assert fake_spotify.world.client_secret not in captured.out + captured.err + browser.authorize_url
    assert token not in captured.err

    world = fake_spotify.world
    result = run_api(
        ApiOptions(
            landing=str(tmp_path / "landing"),
            me=True,
            enrich=(),
            api_base_url=fake_spotify.api_base_url,
            token_url=fake_spotify.token_url,
        ),
        Credentials(world.client_id, world.client_secret, token),
    )
    assert result.status == "complete" and landing.complete_runs(str(tmp_path / "landing"), "spotify")


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (lambda url: re.sub(r"state=[^&]+", "state=forged", url), "state"),
        (lambda url: url.split("?")[0] + "?error=access_denied&state=x", "access_denied"),
        (lambda url: "", "no redirect URL"),
        (lambda url: re.sub(r"code=[^&]+&?", "", url), "no code="),
    ],
    ids=["forged-state", "denied", "nothing-pasted", "no-code"],
)
def test_login_refuses_a_redirect_that_is_not_this_logins(fake_spotify, app_env, capsys, monkeypatch, tamper, says):
    monkeypatch.setattr("sys.stdin", _Browser(capsys, tamper))
    assert _login(fake_spotify, "--print") == 2
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == "" and "Traceback" not in captured.err
    assert fake_spotify.request_count("/api/token") == 0  # no code was exchanged
    assert fake_spotify.world.issued_refresh_tokens == set()


def test_the_token_endpoint_checks_the_code_verifier(fake_spotify):
    options = LoginOptions(
        fake_spotify.world.client_id,
        fake_spotify.world.client_secret,
        redirect_uri=REDIRECT,
        authorize_url=fake_spotify.authorize_url,
        token_url=fake_spotify.token_url,
    )
    request = authorization_request(options)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(request.verifier.encode()).digest()).decode().rstrip("=")
    assert parse_qs(urlsplit(request.url).query)["code_challenge"] == [challenge]
    code = parse_qs(urlsplit(requests.get(request.url, allow_redirects=False, timeout=5).headers["Location"]).query)
    request.verifier = "x" * 64  # not the one whose challenge was sent
    with pytest.raises(LoginError, match="code_verifier was incorrect") as refused:
        exchange_code(options, code["code"][0], request)
    assert fake_spotify.world.client_secret not in str(refused.value)


def test_login_as_a_public_client_without_the_secret(fake_spotify, app_env, capsys, monkeypatch):
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET")
    monkeypatch.setattr("sys.stdin", _Browser(capsys))
    assert _login(fake_spotify, "--print") == 0
    assert capsys.readouterr().out.strip() in fake_spotify.world.issued_refresh_tokens


def test_login_needs_print_or_secret_id(fake_spotify, app_env):
    with pytest.raises(SystemExit) as usage:
        _login(fake_spotify)
    assert usage.value.code == 2


def test_login_stores_the_refresh_token_in_the_secret_without_printing_it(fake_spotify, s3_server, capsys, monkeypatch):
    import boto3

    for key in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_server)  # the moto server serves every service
    secrets = boto3.client("secretsmanager")
    name = f"spotify-{uuid.uuid4().hex[:8]}"
    world = fake_spotify.world
    stored = {"SPOTIFY_CLIENT_ID": world.client_id, "SPOTIFY_CLIENT_SECRET": world.client_secret, "note": "kept"}
    secrets.create_secret(Name=name, SecretString=json.dumps({**stored, "SPOTIFY_REFRESH_TOKEN": "expired"}))
    monkeypatch.setattr("sys.stdin", _Browser(capsys))

    assert _login(fake_spotify, "--secret-id", name) == 0

    captured = capsys.readouterr()
    doc = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    assert doc["SPOTIFY_REFRESH_TOKEN"] in world.issued_refresh_tokens
    assert {k: doc[k] for k in stored} == stored
    assert f"secret {name}" in captured.out
    for secret in (doc["SPOTIFY_REFRESH_TOKEN"], world.client_secret):
        assert secret not in captured.out + captured.err
    assert _login(fake_spotify, "--secret-id", "no-such-secret") == 2
    assert "no-such-secret" in capsys.readouterr().err


def test_the_fake_authorize_endpoint_insists_on_pkce(fake_spotify):
    base = {"client_id": fake_spotify.world.client_id, "response_type": "code", "redirect_uri": REDIRECT}
    plain = requests.get(f"{fake_spotify.authorize_url}?{urlencode(base)}", allow_redirects=False, timeout=5)
    assert plain.status_code == 400
    pkce = {**base, "code_challenge_method": "S256", "code_challenge": "abc", "state": "s"}
    ok = requests.get(f"{fake_spotify.authorize_url}?{urlencode(pkce)}", allow_redirects=False, timeout=5)
    assert ok.status_code == 302 and ok.headers["Location"].startswith(REDIRECT + "?code=")
