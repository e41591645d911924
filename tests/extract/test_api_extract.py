"""The ``api`` command against the fake Spotify API: what lands, how many requests, and under faults."""

from __future__ import annotations

import math
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests
import requests.adapters

from musiclake import landing, storage
from musiclake_extract.api_extract import entry_item, playlist_id
from musiclake_extract.client import is_under

DEMO_USER = "musiclake-demo"


def _by_entity(records):
    out: dict[str, list] = {}
    for r in records:
        out.setdefault(r["entity"], []).append(r)
    return out


def test_me_run_lands_every_response_once_with_exactly_the_needed_requests(lake, extract, fake_spotify, landing_dir):
    result = extract()

    assert result.status == "complete" and result.exit_code == 0
    records = lake.records(landing_dir)
    identities = [lake.identity(r, fake_spotify.base_url) for r in records]
    assert len(identities) == len(set(identities)), "a response was landed twice"
    expected = lake.expected_me_requests(fake_spotify)
    assert fake_spotify.request_count("/v1/") == expected == result.summary["requests"]
    assert len(records) == expected  # every API answer is landed, nothing else
    served = [
        (r["path"], tuple(sorted(r["query"].items()))) for r in fake_spotify.requests if r["path"] != "/api/token"
    ]
    assert len(served) == len(set(served)), "the same request was sent twice"
    assert fake_spotify.request_count("/api/token") == 1 == result.summary["token_requests"]
    by_entity = _by_entity(records)
    assert sorted(r["key"] for r in by_entity["playlists"]) == sorted(fake_spotify.me_playlist_ids)
    assert {r["run_id"] for r in records} == {result.run_id}
    assert all(r["source"] == "spotify" and r["fetched_at"].endswith("Z") for r in records)


def test_long_playlist_is_paged_through_absolute_next_links(lake, extract, fake_spotify, landing_dir):
    long_id = fake_spotify.long_playlist_id
    result = extract(me=False, playlists=[long_id], enrich=())

    records = lake.records(landing_dir)
    pages = [r for r in records if r["entity"] == "playlist_items"]
    total = len(fake_spotify.playlist(long_id).entries)
    assert total >= 300
    offsets = sorted(
        int(requests.utils.urlparse(r["request_url"]).query.split("offset=")[1].split("&")[0]) for r in pages
    )
    assert offsets == list(range(50, total, 50))
    assert all(r["request_url"].startswith(fake_spotify.base_url + "/v1/playlists/") for r in pages)
    (meta,) = [r for r in records if r["entity"] == "playlists"]
    embedded = meta["body"]["items"]["items"]
    entries = embedded + [e for r in sorted(pages, key=lambda r: r["body"]["offset"]) for e in r["body"]["items"]]
    assert len(entries) == total == result.summary["playlist_items"]
    assert [entry_item(e)["id"] for e in entries] == [
        fake_spotify.world.catalog.tracks[e.ref]["id"] for e in fake_spotify.playlist(long_id).entries
    ]
    assert fake_spotify.request_count("/v1/") == 1 + math.ceil((total - 50) / 50)


def test_a_next_link_away_from_the_api_is_never_requested_and_is_reported(lake, extract, fake_spotify, landing_dir):
    """A hostile API's paging links lead to another server: the extractor does not request them (the request would
    carry the access token there), lands what the API answered as received, and reports each refused link as
    rejected input (exit code 4). Before, the other server received ``Authorization: Bearer <token>``."""
    asked: list[tuple[str, str | None]] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            asked.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    elsewhere = HTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    other = f"http://127.0.0.1:{elsewhere.server_port}"
    long_id = fake_spotify.long_playlist_id
    try:
        fake_spotify.link_elsewhere(other)
        result = extract(me=False, playlists=[long_id], enrich=())
    finally:
        elsewhere.shutdown()
        elsewhere.server_close()

    assert asked == []
    assert (result.status, result.exit_code, result.rejected) == ("complete", 4, 1)
    (refused,) = result.summary["links_refused"]
    assert (refused["entity"], refused["key"]) == ("playlist_items", long_id)
    assert refused["url"].startswith(f"{other}/v1/playlists/{long_id}/items?")
    (landed,) = lake.records(landing_dir)  # the playlist with its first page of items, its link as received
    assert landed["body"]["items"]["next"] == refused["url"]
    assert fake_spotify.request_count("/v1/") == 1


@pytest.mark.parametrize(("url", "under"), [
    ("https://api.spotify.com/v1/playlists/x/items?offset=50&limit=50", True),
    ("https://api.spotify.com:443/v1/me/playlists", True),
    ("https://API.Spotify.com/v1/me", True),
    ("http://api.spotify.com/v1/me", False),
    ("https://api.spotify.com.evil.example/v1/me", False),
    ("https://api.spotify.com@evil.example/v1/me", False),
    ("https://api.spotify.com:8443/v1/me", False),
    ("https://api.spotify.com/v10/me", False),
    ("https://api.spotify.com/v1", False),
    ("//evil.example/v1/me", False),
    ("/v1/me", False),
    ("https://api.spotify.com:99999/v1/me", False),
])
def test_is_under_the_api_means_same_scheme_host_and_port_no_user_info_and_under_its_path(url, under):
    assert is_under(url, "https://api.spotify.com/v1/") is under


def test_bodies_are_landed_verbatim_with_their_envelope(lake, extract, fake_spotify, landing_dir):
    odd = fake_spotify.odd_playlist_id
    extract(me=False, playlists=[odd], enrich=())

    (record,) = [r for r in lake.records(landing_dir) if r["entity"] == "playlists"]
    assert record["key"] == odd and record["http_status"] == 200
    again = requests.get(record["request_url"], headers={"Authorization": "Bearer " + _user_token(fake_spotify)})
    assert record["body"] == again.json()
    assert set(record) == {"run_id", "source", "entity", "key", "request_url", "http_status", "fetched_at", "body"}


def _user_token(api) -> str:
    reply = requests.post(
        api.token_url,
        data={"grant_type": "refresh_token", "refresh_token": api.world.refresh_token},
        auth=(api.world.client_id, api.world.client_secret),
    )
    return reply.json()["access_token"]


def test_null_local_and_episode_items_are_landed_but_only_real_tracks_are_enriched(
    lake, extract, fake_spotify, landing_dir
):
    odd = fake_spotify.odd_playlist_id
    result = extract(me=False, playlists=[odd])

    records = _by_entity(lake.records(landing_dir))
    entries = records["playlists"][0]["body"]["items"]["items"]
    kinds = Counter(
        "null" if entry_item(e) is None else "local" if e["is_local"] else entry_item(e)["type"] for e in entries
    )
    assert kinds == {"track": 21, "null": 3, "local": 3, "episode": 3}
    assert all(entry_item(e) is e["track"] or entry_item(e) == e["track"] for e in entries)  # deprecated key kept
    real = {
        entry_item(e)["id"] for e in entries if entry_item(e) and entry_item(e)["type"] == "track" and not e["is_local"]
    }
    assert {r["key"] for r in records["tracks"]} == real
    assert None not in {r["key"] for r in records["tracks"]}
    assert result.summary["enriched"]["tracks"] == len(real)
    assert not [r for r in records["tracks"] if r["http_status"] != 200]


def test_forbidden_playlists_are_recorded_and_the_run_continues(lake, extract, fake_spotify, landing_dir):
    foreign = fake_spotify.foreign_playlist_ids
    result = extract(me=False, playlists=[*foreign, fake_spotify.shared_playlist_id], enrich=())

    assert result.status == "complete"
    assert sorted(result.summary["forbidden_playlists"]) == sorted(foreign)
    records = lake.records(landing_dir)
    forbidden = [r for r in records if r["entity"] == "playlist_items" and r["http_status"] == 403]
    assert sorted(r["key"] for r in forbidden) == sorted(foreign)
    assert all(r["body"] == {"error": {"status": 403, "message": "Forbidden"}} for r in forbidden)
    assert result.summary["errors_by_status"] == {"403": len(foreign)}
    shared = [r for r in records if r["key"] == fake_spotify.shared_playlist_id]
    assert {r["http_status"] for r in shared} == {200}  # a collaborator may read the items


def test_client_credentials_land_metadata_and_record_403_on_items(lake, extract, fake_spotify, landing_dir):
    result = extract(user=False, me=False, playlists=[fake_spotify.long_playlist_id], enrich=())

    records = _by_entity(lake.records(landing_dir))
    assert records["playlists"][0]["http_status"] == 200
    assert records["playlist_items"][0]["http_status"] == 403
    assert result.summary["forbidden_playlists"] == [fake_spotify.long_playlist_id]


def test_rerun_lands_nothing_new_and_only_asks_what_may_have_changed(extract, fake_spotify, landing_dir):
    first = extract()
    fake_spotify.reset_log()
    second = extract()

    assert second.status == "complete" and second.run_id != first.run_id
    counts = second.summary["records_by_entity"]
    for entity in ("playlists", "playlist_items", "tracks", "albums", "artists"):
        assert entity not in counts
    assert sorted(second.summary["playlists_unchanged"]) == sorted(fake_spotify.me_playlist_ids)
    by_path = fake_spotify.stats()["by_path"]
    assert "/v1/playlists/{id}" not in by_path and "/v1/tracks/{id}" not in by_path  # snapshots from the listing
    assert set(by_path) == {
        "/v1/me/playlists",
        "/v1/me/tracks",
        "/v1/me/top/tracks",
        "/v1/me/top/artists",
        "/v1/me/player/recently-played",
    }


def test_explicit_playlists_are_checked_by_snapshot_and_refetched_only_when_changed(
    lake, extract, fake_spotify, landing_dir
):
    ids = [fake_spotify.long_playlist_id, fake_spotify.odd_playlist_id]
    extract(me=False, playlists=ids)
    changed = fake_spotify.modify_playlist(fake_spotify.odd_playlist_id)
    fake_spotify.reset_log()
    second = extract(me=False, playlists=ids)

    assert second.summary["playlists_unchanged"] == [fake_spotify.long_playlist_id]
    landed = [r for r in lake.records(landing_dir) if r["run_id"] == second.run_id]
    assert [(r["entity"], r["key"]) for r in landed if r["entity"] == "playlists"] == [
        ("playlists", fake_spotify.odd_playlist_id)
    ]
    assert [r["body"]["snapshot_id"] for r in landed if r["entity"] == "playlists"] == [changed]
    assert {r["entity"] for r in landed} == {"playlists", "tracks"}  # the added track is new; its album/artists not
    checks = [r for r in fake_spotify.requests if r["query"].get("fields") == "snapshot_id"]
    assert len(checks) == 2
    assert fake_spotify.request_count("/v1/") == 2 + 1 + 1  # two checks, one playlist, one new track


def test_enrichment_skips_ids_landed_by_earlier_runs(lake, extract, fake_spotify, landing_dir):
    extract(me=False, playlists=[fake_spotify.odd_playlist_id])
    fake_spotify.reset_log()
    result = extract(me=False, playlists=[fake_spotify.shared_playlist_id])

    landed_before = {
        r["key"] for r in lake.records(landing_dir) if r["entity"] == "tracks" and r["run_id"] != result.run_id
    }
    now = {r["key"] for r in lake.records(landing_dir) if r["entity"] == "tracks" and r["run_id"] == result.run_id}
    shared = {
        fake_spotify.world.catalog.tracks[e.ref]["id"]
        for e in fake_spotify.playlist(fake_spotify.shared_playlist_id).entries
    }
    assert now == shared - landed_before and now
    assert fake_spotify.stats()["by_path"]["/v1/tracks/{id}"] == len(now)


def test_short_retry_after_is_waited_and_counted(lake, extract, fake_spotify, landing_dir, sleeps):
    fake_spotify.inject_429(count=2, retry_after=3, path="/v1/playlists/")
    result = extract(me=False, playlists=[fake_spotify.odd_playlist_id], enrich=())

    assert result.status == "complete"
    assert sleeps.calls == [3.0, 3.0]
    assert result.summary["retries"] == 2 and result.summary["throttled"] == 2
    assert result.summary["waited_seconds"] == 6.0
    assert fake_spotify.request_count("/v1/", status=429) == 2
    assert len(lake.records(landing_dir)) == 1


def test_short_retry_after_really_sleeps(extract, fake_spotify):
    import time

    fake_spotify.inject_429(count=1, retry_after=1)
    started = time.monotonic()
    result = extract(me=False, playlists=[fake_spotify.odd_playlist_id], enrich=(), sleep=time.sleep)
    assert result.status == "complete" and time.monotonic() - started >= 1.0


def test_too_long_retry_after_stops_cleanly_and_the_next_run_resumes(
    lake, extract, fake_spotify, landing_dir, tmp_path, sleeps
):
    reference_root = str(tmp_path / "reference")
    extract(landing_root=reference_root, enrich=("albums",))
    fake_spotify.reset_log()
    fake_spotify.inject_429(count=1, retry_after=7200, path="/v1/playlists/")

    stopped = extract(max_retry_after=60, enrich=("albums",))
    assert stopped.status == "stopped" and stopped.exit_code == 3
    assert stopped.summary["stop_reason"] == "rate_limited"
    assert "run the same command again" in stopped.message and "wait until" in stopped.message
    assert sleeps.calls == []  # never sleeps through a long Retry-After
    assert landing.complete_runs(landing_dir, "spotify") == []
    assert storage.exists(stopped.checkpoint_uri)

    early = extract(enrich=("albums",))  # Spotify said 2 h: do not hammer it before then
    assert early.status == "stopped" and "not resuming yet" in early.message
    resumed = extract(resume_now=True, enrich=("albums",))
    assert resumed.status == "complete" and resumed.run_id == stopped.run_id
    assert resumed.summary["attempts"] == 3
    assert not storage.exists(stopped.checkpoint_uri)
    lake.assert_same(landing_dir, reference_root, fake_spotify.base_url)
    # the resumed attempt asks the rejected request again and everything after it, nothing before
    assert fake_spotify.request_count("/v1/") == lake.expected_me_requests(fake_spotify, enrich=("albums",)) + 1


def test_server_error_burst_is_retried_with_backoff(lake, extract, fake_spotify, landing_dir, sleeps):
    fake_spotify.inject_5xx(count=3, status=503, path="/v1/playlists/")
    fake_spotify.inject_5xx(count=1, status=502, path="/v1/tracks/")
    result = extract(me=False, playlists=[fake_spotify.odd_playlist_id], backoff=0.5)

    assert result.status == "complete"
    assert sleeps.calls == [0.5, 1.0, 2.0, 0.5]
    assert result.summary["retries"] == 4 and result.summary["server_errors"] == 4
    records = lake.records(landing_dir)
    assert all(r["http_status"] == 200 for r in records)
    assert fake_spotify.request_count("/v1/", status=503) == 3


def test_persistent_server_errors_stop_the_run_which_resumes_later(lake, extract, fake_spotify, landing_dir, tmp_path):
    reference_root = str(tmp_path / "reference")
    extract(landing_root=reference_root, enrich=("albums",))
    fake_spotify.inject_5xx(count=50, path="/v1/albums/")
    stopped = extract(max_retries=2, enrich=("albums",))
    assert stopped.status == "stopped" and stopped.summary["stop_reason"] == "server_errors"
    fake_spotify.clear_faults()
    resumed = extract(enrich=("albums",))
    assert resumed.status == "complete" and resumed.run_id == stopped.run_id
    lake.assert_same(landing_dir, reference_root, fake_spotify.base_url)


class TimingOut:
    """Requests to ``path`` time out at the transport (``requests.ReadTimeout``) ``count`` times, then go through.

    Deterministic, unlike a slow answer racing a short timeout; records the timeout each request was sent with.
    How long real timeouts take is measured by ``bench/extract_bench.py`` (its slow-answers scenario).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: str, count: int) -> None:
        self.path, self.left, self.timeouts = path, count, []
        send = requests.adapters.HTTPAdapter.send

        def timing_out(adapter, request, **kwargs):
            if self.path in request.url:
                self.timeouts.append(kwargs.get("timeout"))
                if self.left:
                    self.left -= 1
                    raise requests.ReadTimeout("injected: no answer within the timeout", request=request)
            return send(adapter, request, **kwargs)

        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", timing_out)


def test_a_timed_out_request_is_retried_after_the_backoff(lake, extract, fake_spotify, landing_dir, sleeps,
                                                          monkeypatch):
    timing_out = TimingOut(monkeypatch, "/v1/playlists/", count=1)
    result = extract(me=False, playlists=[fake_spotify.odd_playlist_id], enrich=(), timeout=0.3)

    assert result.status == "complete"
    assert result.summary["timeouts"] == 1 and result.summary["retries"] == 1
    assert timing_out.timeouts == [0.3, 0.3]  # the configured timeout, on the first try and on the retry
    assert sleeps.calls == [0.01]  # the first backoff
    assert fake_spotify.request_count("/v1/playlists/") == 1  # only the retry reached the server
    assert len(lake.records(landing_dir)) == 1


def test_timeouts_that_persist_stop_the_run_cleanly(lake, extract, fake_spotify, landing_dir, sleeps, monkeypatch):
    TimingOut(monkeypatch, "/v1/playlists/", count=100)
    stopped = extract(me=False, playlists=[fake_spotify.odd_playlist_id], enrich=(), timeout=0.3, max_retries=2)

    assert stopped.status == "stopped" and stopped.exit_code == 3
    assert stopped.summary["stop_reason"] == "server_errors" and stopped.summary["timeouts"] == 3
    assert "ReadTimeout" in stopped.message and "run the same command again" in stopped.message
    assert sleeps.calls == [0.01, 0.02]
    assert landing.complete_runs(landing_dir, "spotify") == []


def test_quota_exceeded_stops_cleanly_and_resume_lands_the_rest_without_duplicates(
    lake, extract, fake_spotify, landing_dir, tmp_path
):
    reference_root = str(tmp_path / "reference")
    extract(landing_root=reference_root, records_per_part=7, enrich=("albums",))
    fake_spotify.quota_exceeded_after(40)
    stopped = extract(records_per_part=7, enrich=("albums",))

    assert stopped.status == "stopped" and stopped.summary["stop_reason"] == "quota_exceeded"
    assert 0 < stopped.summary["records"] <= 40
    quota = [r for r in fake_spotify.requests if r["status"] == 429]
    assert len(quota) == 1  # stops at the first quota answer, no retry storm
    fake_spotify.quota_exceeded_after(None)
    resumed = extract(records_per_part=7, enrich=("albums",))
    assert resumed.status == "complete" and resumed.run_id == stopped.run_id
    assert [s["reason"] for s in resumed.summary["stops"]] == ["quota_exceeded"]
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    assert manifest.summary["stops"][0]["reason"] == "quota_exceeded" and manifest.summary["stop_reason"] is None
    lake.assert_same(landing_dir, reference_root, fake_spotify.base_url)


def test_a_401_mid_run_forces_a_token_refresh(fake_spotify, landing_dir):
    from musiclake_extract.client import Credentials, SpotifyClient

    env = fake_spotify.credentials()
    client = SpotifyClient(
        Credentials(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"]),
        api_base_url=fake_spotify.api_base_url,
        token_url=fake_spotify.token_url,
    )
    assert client.playlist(fake_spotify.odd_playlist_id).status == 200
    fake_spotify.world.tokens.clear()
    response = client.playlist(fake_spotify.odd_playlist_id)
    assert response.status == 200
    assert client.stats.token_requests == 2 and client.stats.retries == 1
    assert fake_spotify.request_count("/v1/", status=401) == 1


def test_playlist_id_accepts_ids_uris_and_urls():
    pid = "37i9dQZF1DXcBWIGoYBM5M"
    assert playlist_id(pid) == pid
    assert playlist_id(f"spotify:playlist:{pid}") == pid
    assert playlist_id(f"https://open.spotify.com/playlist/{pid}?si=abc") == pid
    assert playlist_id(f"https://open.spotify.com/intl-de/playlist/{pid}") == pid


def _index_path(landing_dir: str) -> Path:
    return Path(landing.checkpoint_uri(landing_dir, "spotify", "index"))


def test_a_landed_run_that_cannot_be_read_is_left_out_of_the_index_and_its_playlists_are_fetched_again(
    extract, fake_spotify, landing_dir, caplog
):
    """The index of landed snapshots is rebuilt from the complete runs it does not hold yet; a run whose file is cut
    short (or missing, or not JSON) is left out of it with a warning naming the file, never a crash: without its
    snapshots, its playlists are simply fetched again."""
    ids = [fake_spotify.long_playlist_id, fake_spotify.odd_playlist_id]
    first = extract(me=False, playlists=ids)
    _index_path(landing_dir).unlink()
    [manifest] = [m for m in landing.complete_runs(landing_dir, "spotify") if m.run_id == first.run_id]
    [landed] = [f for f in manifest.files if f.entity == "playlists"]
    path = Path(landing_dir) / landed.path
    path.write_bytes(path.read_bytes()[:40])

    second = extract(me=False, playlists=ids)

    assert second.status == "complete" and second.summary["playlists_unchanged"] == []
    [again] = [m for m in landing.complete_runs(landing_dir, "spotify") if m.run_id == second.run_id]
    refetched = [r["key"] for f in again.files if f.entity == "playlists"
                 for r in landing.decode_records((Path(landing_dir) / f.path).read_bytes())]
    assert sorted(refetched) == sorted(ids)
    assert landed.path in caplog.text and "truncated or corrupt gzip" in caplog.text
    third = extract(me=False, playlists=ids)  # the second run's snapshots are indexed as usual
    assert sorted(third.summary["playlists_unchanged"]) == sorted(ids)


def test_an_index_that_is_not_json_is_rebuilt_from_the_landed_runs(extract, fake_spotify, landing_dir, caplog):
    ids = [fake_spotify.long_playlist_id, fake_spotify.odd_playlist_id]
    extract(me=False, playlists=ids)
    _index_path(landing_dir).write_bytes(b'{"runs": ["cut')

    second = extract(me=False, playlists=ids)

    assert second.status == "complete" and sorted(second.summary["playlists_unchanged"]) == sorted(ids)
    assert "index" in caplog.text and "rebuilt" in caplog.text
