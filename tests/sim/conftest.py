"""Fixtures of the simulator tests: the fake Spotify API in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from musiclake_sim.fake_server import FakeSpotify


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    """A fresh fake Spotify API (seed 7) on 127.0.0.1, a real HTTP server on a background thread."""
    with FakeSpotify(
        seed=7, n_playlists=40, n_tracks=900, user_playlists=5, followed_playlists=2, long_playlist_length=320
    ) as api:
        yield api
