"""The fake Spotify API speaks the 2026 Web API: tokens, paging, removed endpoints, limits, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from musiclake_sim.fake_server import QUOTA_BODY


def _token(api, user: bool = True, secret: str | None = None) -> requests.Response:
    data = (
        {"grant_type": "refresh_token", "refresh_token": api.world.refresh_token}
        if user
        else {"grant_type": "client_credentials"}
    )
    return requests.post(api.token_url, data=data, auth=(api.world.client_id, secret or api.world.client_secret))


def _get(api, path: str, token: str, **params) -> requests.Response:
    url = path if path.startswith("http") else api.api_base_url + path
    return requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def user_token(fake_spotify) -> str:
    return _token(fake_spotify).json()["access_token"]


def test_token_endpoint_checks_the_client_and_the_grant(fake_spotify):
    assert _token(fake_spotify, secret="wrong").status_code == 400
    app = _token(fake_spotify, user=False).json()
    assert app["token_type"] == "Bearer" and app["expires_in"] > 0 and "scope" not in app
    bad = requests.post(
        fake_spotify.token_url,
        data={"grant_type": "refresh_token", "refresh_token": "nope"},
        auth=(fake_spotify.world.client_id, fake_spotify.world.client_secret),
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert _get(fake_spotify, "me", "not-a-token").status_code == 401
    assert _get(fake_spotify, "me", app["access_token"]).status_code == 401  # user endpoints need a user token


def test_tokens_expire(fake_spotify):
    fake_spotify.world.token_ttl = 0
    token = _token(fake_spotify).json()["access_token"]
    time.sleep(0.01)
    reply = _get(fake_spotify, "me", token)
    assert reply.status_code == 401 and reply.json()["error"]["message"] == "The access token expired"


def test_playlist_items_page_by_50_through_absolute_next_links(fake_spotify, user_token):
    pid = fake_spotify.long_playlist_id
    body = _get(fake_spotify, f"playlists/{pid}", user_token).json()
    assert body["items"] == body["tracks"]  # 2026 key and the deprecated one
    page, seen = body["items"], 0
    while True:
        assert len(page["items"]) <= 50
        assert all(e["item"] == e["track"] for e in page["items"])
        seen += len(page["items"])
        if not page["next"]:
            break
        assert page["next"].startswith(fake_spotify.base_url + "/v1/playlists/")
        page = _get(fake_spotify, page["next"], user_token).json()
    assert seen == page["total"] == len(fake_spotify.playlist(pid).entries)
    assert _get(fake_spotify, f"playlists/{pid}/items", user_token, limit=51).status_code == 400


def test_items_only_for_playlists_the_user_owns_or_collaborates_on(fake_spotify, user_token):
    foreign = fake_spotify.foreign_playlist_ids[0]
    reply = _get(fake_spotify, f"playlists/{foreign}/items", user_token)
    assert reply.status_code == 403
    metadata = _get(fake_spotify, f"playlists/{foreign}", user_token).json()
    assert "items" not in metadata["items"] and metadata["items"]["total"] > 0
    assert _get(fake_spotify, f"playlists/{fake_spotify.shared_playlist_id}/items", user_token).status_code == 200
    app_token = _token(fake_spotify, user=False).json()["access_token"]
    assert _get(fake_spotify, f"playlists/{fake_spotify.long_playlist_id}/items", app_token).status_code == 403


def test_2026_field_sets(fake_spotify, user_token):
    track = fake_spotify.world.catalog.tracks[0]
    body = _get(fake_spotify, f"tracks/{track['id']}", user_token).json()
    assert body["external_ids"]["isrc"] == track["isrc"]
    assert not {"popularity", "available_markets", "linked_from"} & set(body)
    artist = _get(fake_spotify, f"artists/{body['artists'][0]['id']}", user_token).json()
    assert not {"followers", "popularity", "genres"} & set(artist)
    album = _get(fake_spotify, f"albums/{body['album']['id']}", user_token).json()
    assert not {"popularity", "label"} & set(album) and album["external_ids"]["upc"]
    assert _get(fake_spotify, "tracks/" + "0" * 22, user_token).status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("tracks?ids=a,b", 403),
        ("artists?ids=a", 403),
        ("albums?ids=a", 403),
        ("playlists/{pid}/tracks", 403),
        ("audio-features/x", 403),
        ("artists/{artist}/related-artists", 403),
        ("recommendations?seed_genres=pop", 404),
        ("browse/new-releases", 404),
        ("artists/{artist}/top-tracks", 404),
        ("users/someone", 404),
        ("users/someone/playlists", 404),
        ("markets", 404),
    ],
)
def test_removed_endpoints_answer_403_or_404(fake_spotify, user_token, path, status):
    path = path.format(pid=fake_spotify.long_playlist_id, artist=fake_spotify.world.catalog.artists[0]["id"])
    assert _get(fake_spotify, path, user_token).status_code == status


def test_search_limit_is_at_most_10(fake_spotify, user_token):
    word = fake_spotify.world.catalog.tracks[0]["name"].split()[0].lower()
    assert _get(fake_spotify, "search", user_token, q=word, type="track", limit=11).status_code == 400
    default = _get(fake_spotify, "search", user_token, q=word, type="track").json()["tracks"]
    assert default["limit"] == 5 and default["items"]
    page = _get(fake_spotify, "search", user_token, q=word, type="track", limit=10).json()["tracks"]
    assert len(page["items"]) == min(10, page["total"])
    assert all(word in t["name"].lower() for t in page["items"])


def test_user_library_endpoints(fake_spotify, user_token):
    saved = _get(fake_spotify, "me/tracks", user_token, limit=50).json()
    assert saved["total"] == len(fake_spotify.world.saved_tracks) and saved["next"]
    top = _get(fake_spotify, "me/top/artists", user_token, limit=50).json()
    assert len(top["items"]) == len(fake_spotify.world.top_artists)
    played = _get(fake_spotify, "me/player/recently-played", user_token, limit=50).json()
    second = _get(fake_spotify, played["next"], user_token).json()
    assert len(played["items"]) + len(second["items"]) == len(fake_spotify.world.recently_played)
    assert second["next"] is None


def test_injected_faults(fake_spotify, user_token):
    fake_spotify.inject_429(count=1, retry_after=42)
    reply = _get(fake_spotify, "me", user_token)
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "42"
    fake_spotify.inject_5xx(count=1, status=502)
    assert _get(fake_spotify, "me", user_token).status_code == 502
    fake_spotify.quota_exceeded_after(1)
    assert _get(fake_spotify, "me", user_token).status_code == 200
    quota = _get(fake_spotify, "me", user_token)
    assert quota.status_code == 429 and quota.json() == QUOTA_BODY
    fake_spotify.clear_faults()
    assert _get(fake_spotify, "me", user_token).status_code == 200
    assert fake_spotify.request_count("/v1/me", status=429) == 2


def test_admin_endpoints_over_http(fake_spotify, user_token):
    admin = fake_spotify.base_url + "/_admin"
    assert requests.post(admin + "/faults", json={"inject_429": {"count": 1, "retry_after": 9}}).status_code == 200
    assert _get(fake_spotify, "me", user_token).status_code == 429
    stats = requests.get(admin + "/stats").json()
    assert stats["api_requests"] == 1 and stats["by_status"] == {"429": 1}
    before = fake_spotify.playlist(fake_spotify.odd_playlist_id).snapshot_id
    changed = requests.post(f"{admin}/playlists/{fake_spotify.odd_playlist_id}/modify").json()["snapshot_id"]
    assert changed != before
    assert requests.post(admin + "/reset").status_code == 200
    assert requests.get(admin + "/stats").json()["api_requests"] == 0


def test_spotify_command_serves_until_terminated(tmp_path):
    url_file = tmp_path / "url"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "musiclake_sim",
            "spotify",
            "--port",
            "0",
            "--playlists",
            "20",
            "--tracks",
            "300",
            "--url-file",
            str(url_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        base = url_file.read_text().strip()
        assert base.startswith("http://127.0.0.1:")
        assert json.loads(requests.get(base + "/_admin/stats").text)["api_requests"] == 0
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "fake Spotify API listening on http://127.0.0.1:" in out
