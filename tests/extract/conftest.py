"""Fixtures of the extractor tests: the fake Spotify API in-process, a landing folder, a moto S3 server."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from musiclake import landing, storage
from musiclake_extract.api_extract import ApiOptions, run_api
from musiclake_extract.client import Credentials
from musiclake_extract.reporting import RunResult
from musiclake_sim.fake_server import FakeSpotify


class SleepRecorder:
    """A stand-in for ``time.sleep`` that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    """A fresh fake Spotify API (seed 7) on 127.0.0.1, a real HTTP server on a background thread."""
    with FakeSpotify(
        seed=7, n_playlists=40, n_tracks=900, user_playlists=5, followed_playlists=2, long_playlist_length=320
    ) as api:
        yield api


@pytest.fixture
def landing_dir(tmp_path) -> str:
    return str(tmp_path / "landing")


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def extract(fake_spotify: FakeSpotify, landing_dir: str, sleeps: SleepRecorder) -> Callable[..., RunResult]:
    """Run the ``api`` command against the fake server; keyword arguments override ApiOptions fields."""

    def run(user: bool = True, landing_root: str | None = None, sleep: Any = None, **overrides: Any) -> RunResult:
        env = fake_spotify.credentials(user=user)
        credentials = Credentials(
            env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"], env.get("SPOTIFY_REFRESH_TOKEN")
        )
        fields = {
            "landing": landing_root or landing_dir,
            "me": True,
            "api_base_url": fake_spotify.api_base_url,
            "token_url": fake_spotify.token_url,
            "backoff": 0.01,
            "max_retry_after": 5.0,
            **overrides,
        }
        return run_api(ApiOptions(**fields), credentials, sleep=sleep or sleeps)

    return run


def manifest_records(landing_root: str, source: str = "spotify") -> list[dict[str, Any]]:
    """Every record of every complete run, read exactly from the files the manifests name."""
    records = []
    for manifest in landing.complete_runs(landing_root, source):
        for uri in manifest.file_uris(landing_root):
            records.extend(landing.decode_records(storage.get_bytes(uri)))
    return records


def request_identity(record: dict[str, Any], base_url: str) -> tuple[str, str | None, str]:
    """(entity, key, request path+query) of a record, independent of the server's port."""
    return record["entity"], record["key"], record["request_url"].replace(base_url, "")


def expected_me_requests(api: FakeSpotify, *, enrich: tuple[str, ...] = ("tracks", "albums", "artists")) -> int:
    """API requests a complete ``--me`` run must make against a fresh landing zone, and not one more."""
    world = api.world
    requests = math.ceil(len(world.me_playlist_ids) / 50)  # /me/playlists
    tracks: set[int] = set()
    for pid in world.me_playlist_ids:
        pl = world.playlists[pid]
        if pl.readable_by("musiclake-demo"):
            requests += 1 + math.ceil(max(0, len(pl.entries) - 50) / 50)
            tracks.update(e.ref for e in pl.entries if e.kind == "track")
        else:
            requests += 2  # metadata, then the 403 on items
    requests += math.ceil(len(world.saved_tracks) / 50) + 1 + 1  # saved, top tracks, top artists
    requests += math.ceil(len(world.recently_played) / 50)
    tracks.update(t for t, _ in world.saved_tracks)
    tracks.update(world.top_tracks)
    tracks.update(t for t, _ in world.recently_played)
    albums = {world.catalog.tracks[t]["album"] for t in tracks}
    artists = {a for t in tracks for a in world.catalog.tracks[t]["artists"]} | set(world.top_artists)
    sizes = {"tracks": len(tracks), "albums": len(albums), "artists": len(artists)}
    return requests + sum(sizes[e] for e in enrich)


class Lake:
    """Helpers for reading a landing zone in tests (a fixture, so test modules need no imports from here)."""

    records = staticmethod(manifest_records)
    identity = staticmethod(request_identity)
    expected_me_requests = staticmethod(expected_me_requests)

    @staticmethod
    def assert_same(root: str, reference_root: str, base_url: str, source: str = "spotify") -> None:
        """Both landing zones hold the same responses (by request), and ``root`` holds no duplicate."""
        got = [request_identity(r, base_url) for r in manifest_records(root, source)]
        want = [request_identity(r, base_url) for r in manifest_records(reference_root, source)]
        assert len(got) == len(set(got)), "duplicates landed"
        assert sorted(got, key=str) == sorted(want, key=str)


@pytest.fixture
def lake() -> type[Lake]:
    return Lake


@pytest.fixture
def s3_landing(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty bucket on the session's moto server (``s3_server`` in tests/conftest.py); yields ``s3://<bucket>/raw``."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return f"s3://{s3_bucket}/raw"


@pytest.fixture
def cli_env(fake_spotify: FakeSpotify) -> dict[str, str]:
    """Environment for running the CLI in a subprocess against the fake server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    env.update(fake_spotify.credentials())
    return env
