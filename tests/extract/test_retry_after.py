"""Retry-After as the API may send it: every RFC 9110 form, and garbage, never crash or brick later runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from musiclake import landing, storage
from musiclake_extract import cli
from musiclake_extract.client import MAX_RETRY_AFTER_S, parse_retry_after

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", 0.0),  # negative: now
        ("1.5", 1.5),
        ("9" * 5000, MAX_RETRY_AFTER_S),  # huge: beyond int() and float(), clamped
        ("Thu, 26 Nov 2026 12:01:00 GMT", 60.0),  # IMF-fixdate, future
        ("Thursday, 26-Nov-26 12:00:30 GMT", 30.0),  # RFC 850
        ("Thu Nov 26 12:00:10 2026", 10.0),  # asctime
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),  # past: now
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_S),
        ("1e12", None),  # not delta-seconds: unreadable
        ("abc", None),
        ("inf", None),
        ("nan", None),
        ("", None),
        ("Thu, 99 Foo 2026 12:00:00 GMT", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_every_rfc_form_and_refuses_garbage(header, seconds):
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("header", "waits"),
    [
        ("-5", [0.0]),
        ("1e12", [0.01]),  # garbage: the configured backoff, as if no header came
        ("abc", [0.01]),
        (None, [0.01]),
        (format_datetime(datetime(2001, 1, 1, tzinfo=UTC), usegmt=True), [0.0]),
    ],
    ids=["negative", "float-exponent", "text", "missing", "past-date"],
)
def test_odd_retry_after_values_are_waited_sensibly_and_the_run_completes(extract, fake_spotify, sleeps, header, waits):
    fake_spotify.inject_429(count=1, retry_after=header, path="/v1/playlists/")
    result = extract(me=False, playlists=[fake_spotify.odd_playlist_id], enrich=())
    assert result.status == "complete" and result.exit_code == 0
    assert sleeps.calls == waits
    assert fake_spotify.request_count("/v1/", status=429) == 1


def test_a_future_http_date_is_waited_until(extract, fake_spotify, sleeps):
    when = datetime.now(UTC) + timedelta(seconds=4)
    fake_spotify.inject_429(count=1, retry_after=format_datetime(when, usegmt=True), path="/v1/playlists/")
    result = extract(me=False, playlists=[fake_spotify.odd_playlist_id], enrich=())
    assert result.status == "complete"
    (wait,) = sleeps.calls
    assert 2.0 <= wait <= 4.0  # second resolution of HTTP-dates, and the time the request took


def _cli(fake_spotify, landing_dir, *extra):
    return cli.main(
        [
            "api",
            "--landing",
            landing_dir,
            "--api-base-url",
            fake_spotify.api_base_url,
            "--token-url",
            fake_spotify.token_url,
            "--playlist",
            fake_spotify.long_playlist_id,
            "--enrich",
            "none",
            "--max-retry-after",
            "10",
            *extra,
        ]
    )


@pytest.fixture
def spotify_env(fake_spotify, monkeypatch):
    for key, value in fake_spotify.credentials().items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    "header",
    ["9" * 40, "Fri, 31 Dec 9999 23:59:59 GMT", "86400"],
    ids=["huge-int", "far-date", "a-day"],
)
def test_retry_after_over_the_limit_stops_with_3_and_later_runs_resume(
    fake_spotify, landing_dir, spotify_env, capsys, header
):
    fake_spotify.inject_429(count=1, retry_after=header, path="/v1/playlists/")
    assert _cli(fake_spotify, landing_dir) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "run the same command again" in err
    checkpoint = json.loads(storage.get_bytes(landing.checkpoint_uri(landing_dir, "spotify", "run")))
    assert 0 < checkpoint["last_stop"]["retry_after"] <= MAX_RETRY_AFTER_S

    assert _cli(fake_spotify, landing_dir) == 3  # not yet: Spotify asked to wait
    assert "not resuming yet" in capsys.readouterr().err
    assert _cli(fake_spotify, landing_dir, "--resume-now") == 0
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    assert manifest.run_id == checkpoint["run_id"] and manifest.summary["attempts"] == 3


@pytest.mark.parametrize("legacy", [1e12, 1e300, "garbage"])
def test_a_checkpoint_with_an_absurd_retry_after_still_resumes(fake_spotify, landing_dir, spotify_env, capsys, legacy):
    """Checkpoints written by older versions may hold any retry_after: they never brick the next runs."""
    fake_spotify.inject_429(count=1, retry_after=3600, path="/v1/playlists/")
    assert _cli(fake_spotify, landing_dir) == 3
    uri = landing.checkpoint_uri(landing_dir, "spotify", "run")
    doc = json.loads(storage.get_bytes(uri))
    doc["last_stop"]["retry_after"] = legacy
    storage.put_bytes(uri, json.dumps(doc).encode(), overwrite=True)
    capsys.readouterr()

    code = _cli(fake_spotify, landing_dir)
    assert code in (0, 3) and "Traceback" not in capsys.readouterr().err
    if code == 3:
        assert _cli(fake_spotify, landing_dir, "--resume-now") == 0
    assert len(landing.complete_runs(landing_dir, "spotify")) == 1
