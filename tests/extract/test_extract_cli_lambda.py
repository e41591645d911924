"""The command line and the Lambda handler: options, exit codes, printed summary, no secrets in logs."""

from __future__ import annotations

import json
import logging

import pytest

from musiclake import landing
from musiclake_extract import cli, lambda_handler
from musiclake_extract.lambda_handler import event_to_argv


def _api_args(api, landing_dir, *extra):
    return ["api", "--landing", landing_dir, "--api-base-url", api.api_base_url, "--token-url", api.token_url, *extra]


@pytest.fixture
def spotify_env(fake_spotify, monkeypatch):
    for key, value in fake_spotify.credentials().items():
        monkeypatch.setenv(key, value)
    return fake_spotify.credentials()


def test_cli_prints_the_summary_and_exits_0(fake_spotify, landing_dir, spotify_env, capsys):
    code = cli.main(
        _api_args(fake_spotify, landing_dir, "--playlist", fake_spotify.odd_playlist_id, "--enrich", "none")
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "complete" in out and "requests 1 (retries 0" in out and "records landed 1 (playlists 1)" in out
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    assert manifest.summary["requests"] == 1 and manifest.summary["bytes"] == manifest.files[0].bytes


def test_cli_reads_playlist_ids_from_a_file(fake_spotify, landing_dir, spotify_env, tmp_path):
    listing = tmp_path / "playlists.txt"
    listing.write_text(
        f"# playlists to extract\nspotify:playlist:{fake_spotify.odd_playlist_id}\n\n"
        f"https://open.spotify.com/playlist/{fake_spotify.shared_playlist_id}?si=x  # shared\n"
    )
    code = cli.main(_api_args(fake_spotify, landing_dir, "--playlists-file", str(listing), "--enrich", "none"))
    assert code == 0
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    assert manifest.summary["targets"]["playlists"] == [fake_spotify.odd_playlist_id, fake_spotify.shared_playlist_id]
    assert manifest.counts["playlists"] == 2


def test_cli_json_output_and_stop_exit_code_3(fake_spotify, landing_dir, spotify_env, capsys):
    fake_spotify.inject_429(count=1, retry_after=999)
    code = cli.main(
        _api_args(
            fake_spotify, landing_dir, "--playlist", fake_spotify.odd_playlist_id, "--max-retry-after", "10", "--json"
        )
    )
    captured = capsys.readouterr()
    assert code == 3
    doc = json.loads(captured.out)
    assert doc["status"] == "stopped" and doc["summary"]["stop_reason"] == "rate_limited"
    assert "run the same command again" in captured.err


def test_cli_configuration_errors_exit_2(fake_spotify, landing_dir, monkeypatch, capsys):
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    assert cli.main(_api_args(fake_spotify, landing_dir, "--me")) == 2
    assert "SPOTIFY_CLIENT_ID" in capsys.readouterr().err
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", fake_spotify.world.client_id)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", fake_spotify.world.client_secret)
    monkeypatch.delenv("SPOTIFY_REFRESH_TOKEN", raising=False)
    assert cli.main(_api_args(fake_spotify, landing_dir, "--me")) == 2  # --me needs the user flow
    assert cli.main(_api_args(fake_spotify, landing_dir)) == 2  # nothing to extract
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "wrong-secret")
    assert cli.main(_api_args(fake_spotify, landing_dir, "--playlist", fake_spotify.odd_playlist_id)) == 2
    assert "refused the credentials" in capsys.readouterr().err


def test_secrets_and_tokens_never_reach_the_logs(fake_spotify, landing_dir, spotify_env, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    fake_spotify.inject_429(count=1, retry_after=1)
    fake_spotify.world.tokens.clear()
    code = cli.main(
        [
            "-vv",
            *_api_args(
                fake_spotify,
                landing_dir,
                "--playlist",
                fake_spotify.shared_playlist_id,
                "--enrich",
                "albums",
                "--max-retry-after",
                "5",
            ),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "rate limited" in text  # the logs are there...
    tokens = list(fake_spotify.world.tokens)
    assert tokens
    for secret in [spotify_env["SPOTIFY_CLIENT_SECRET"], spotify_env["SPOTIFY_REFRESH_TOKEN"], *tokens]:
        assert secret not in text  # ...the secrets are not
    assert "Bearer " not in text.replace("Bearer ***", "")
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    assert spotify_env["SPOTIFY_CLIENT_SECRET"] not in json.dumps(manifest.summary)


def test_redact_masks_credentials():
    from musiclake_extract.client import redact

    line = "Headers: {'Authorization': 'Bearer abc.DEF-123'} Basic Zm9vOmJhcg== refresh=s3cr3t"
    assert redact(line, ["s3cr3t"]) == "Headers: {'Authorization': 'Bearer ***'} Basic *** refresh=***"


def test_event_to_argv_maps_keys_to_the_cli_options():
    argv = event_to_argv(
        {
            "command": "api",
            "landing": "s3://b/raw",
            "playlists": ["a", "b"],
            "me": True,
            "search": "daft punk",
            "max_retry_after": 60,
            "resume_now": False,
        }
    )
    assert argv == [
        "api",
        "--landing",
        "s3://b/raw",
        "--playlist",
        "a",
        "--playlist",
        "b",
        "--me",
        "--search",
        "daft punk",
        "--max-retry-after",
        "60",
    ]
    with pytest.raises(cli.UsageError):
        event_to_argv({"landing": "x"})


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_lambda_handler_runs_the_api_command(fake_spotify, landing_dir, spotify_env):
    result = lambda_handler.handler(
        {
            "command": "api",
            "landing": landing_dir,
            "me": True,
            "enrich": "none",
            "api_base_url": fake_spotify.api_base_url,
            "token_url": fake_spotify.token_url,
        },
        _Context(),
    )
    assert result["status"] == "complete" and result["exit_code"] == 0
    assert result["summary"]["records_by_entity"]["playlists"] == len(fake_spotify.me_playlist_ids)
    assert landing.complete_runs(landing_dir, "spotify")[0].run_id == result["run_id"]


def test_lambda_handler_reports_bad_events(landing_dir):
    assert lambda_handler.handler({"command": "api", "landing": landing_dir, "bogus_option": 1})["exit_code"] == 2
    assert lambda_handler.handler({"command": "drop-tables"})["exit_code"] == 2


def test_lambda_handler_reads_credentials_from_secrets_manager(fake_spotify, landing_dir, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    for key in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="spotify", SecretString=json.dumps(fake_spotify.credentials())
        )
        result = lambda_handler.handler(
            {
                "command": "api",
                "landing": landing_dir,
                "secret_id": "spotify",
                "playlists": [fake_spotify.odd_playlist_id],
                "enrich": "none",
                "api_base_url": fake_spotify.api_base_url,
                "token_url": fake_spotify.token_url,
            }
        )
    assert result["status"] == "complete"


def test_lambda_time_budget_stops_cleanly_and_the_next_invocation_resumes(fake_spotify, landing_dir, spotify_env):
    event = {
        "command": "api",
        "landing": landing_dir,
        "me": True,
        "enrich": "albums",
        "api_base_url": fake_spotify.api_base_url,
        "token_url": fake_spotify.token_url,
        "records_per_part": 5,
    }
    fake_spotify.latency(0.02)
    first = lambda_handler.handler({**event, "time_budget": 0.3})
    assert first["status"] == "stopped" and first["summary"]["stop_reason"] == "time_budget"
    fake_spotify.latency(0)
    second = lambda_handler.handler(event)
    assert second["status"] == "complete" and second["run_id"] == first["run_id"]


def test_mpd_command_through_the_cli(tmp_path, capsys):
    from musiclake_sim.catalog import generate_catalog, write_mpd_slices

    write_mpd_slices(generate_catalog(2, 30, 200), tmp_path / "mpd")
    (tmp_path / "mpd" / "mpd.slice.1000-1999.json").write_text("{}")
    code = cli.main(["mpd", "--source", str(tmp_path / "mpd"), "--landing", str(tmp_path / "landing")])
    out = capsys.readouterr().out
    assert code == 0
    assert "slices landed 1" in out and "rejected mpd.slice.1000-1999.json: missing 'info' object" in out
