"""The command line and the Lambda handler: options, exit codes, printed summary, no secrets in logs."""

from __future__ import annotations

import json
import logging

import pytest

from musiclake import landing
from musiclake_extract import cli, lambda_handler
from musiclake_extract.client import AuthError
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


@pytest.fixture
def lambda_env(fake_spotify, landing_dir, spotify_env, monkeypatch):
    """The function's configuration: landing root and endpoints (the fake server), credentials in the environment."""
    monkeypatch.delenv("SPOTIFY_SECRET_ID", raising=False)
    monkeypatch.setenv("MUSICLAKE_LANDING", landing_dir)
    monkeypatch.setenv("SPOTIFY_API_BASE_URL", fake_spotify.api_base_url)
    monkeypatch.setenv("SPOTIFY_TOKEN_URL", fake_spotify.token_url)
    return landing_dir


def test_event_to_argv_maps_allowed_keys_and_takes_where_from_the_configuration():
    config = {"MUSICLAKE_LANDING": "s3://b/raw", "SPOTIFY_TOKEN_URL": "http://127.0.0.1:9/api/token"}
    argv = event_to_argv(
        {
            "command": "api",
            "playlists": ["a", "b"],
            "me": True,
            "search": "daft punk",
            "max_retry_after": 60,
            "resume_now": False,
        },
        config,
    )
    assert argv == [
        "api",
        "--landing",
        "s3://b/raw",
        "--api-base-url",
        "https://api.spotify.com/v1/",
        "--token-url",
        "http://127.0.0.1:9/api/token",
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
    assert event_to_argv({"command": "mpd", "source": "s3://b/mpd/"}, config) == [
        "mpd",
        "--landing",
        "s3://b/raw",
        "--source",
        "s3://b/mpd/",
    ]
    with pytest.raises(lambda_handler.InvalidEvent, match="command"):
        event_to_argv({"landing": "x"}, config)


@pytest.mark.parametrize(
    "extra",
    [
        {"landing": "s3://attacker/raw"},
        {"secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other"},
        {"api_base_url": "http://127.0.0.1:9/v1/"},
        {"token_url": "http://127.0.0.1:9/api/token"},
        {"playlists_file": "s3://other-bucket/private.txt"},
        {"bogus_option": 1},
    ],
    ids=lambda e: next(iter(e)),
)
def test_event_keys_outside_the_allow_list_are_refused(extra):
    with pytest.raises(lambda_handler.InvalidEvent, match=f"not allowed.*'{next(iter(extra))}'"):
        event_to_argv({"command": "api", "me": True, **extra}, {"MUSICLAKE_LANDING": "s3://b/raw"})


@pytest.mark.parametrize(
    "event",
    [
        {"command": "api", "me": "false"},
        {"command": "api", "playlists": [1, 2]},
        {"command": "api", "records_per_part": 2.5},
        {"command": "api", "max_retry_after": True},
        {"command": "drop-tables"},
    ],
)
def test_events_with_values_of_the_wrong_type_are_refused(event):
    with pytest.raises(lambda_handler.InvalidEvent):
        event_to_argv(event, {"MUSICLAKE_LANDING": "s3://b/raw"})


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_lambda_never_sends_credentials_to_a_host_named_in_an_event(fake_spotify, lambda_env):
    from musiclake_sim.fake_server import FakeSpotify

    with FakeSpotify(seed=1, n_playlists=5, n_tracks=50) as decoy:
        event = {
            "command": "api",
            "playlists": [fake_spotify.odd_playlist_id],
            "enrich": "none",
            "token_url": decoy.token_url,
            "api_base_url": decoy.api_base_url,
        }
        with pytest.raises(lambda_handler.InvalidEvent, match="'api_base_url', 'token_url'"):
            lambda_handler.handler(event, _Context())
        event.pop("token_url")
        with pytest.raises(lambda_handler.InvalidEvent, match="api_base_url"):
            lambda_handler.handler(event, _Context())
        event.pop("api_base_url")
        result = lambda_handler.handler(event, _Context())  # the same event without the endpoints runs...
        assert decoy.requests == []  # ...and the host the event named never saw a request, token or other
    assert result["status"] == "complete"
    assert fake_spotify.request_count("/api/token") == 1 and fake_spotify.request_count("/v1/") == 1


def test_lambda_handler_runs_the_api_command(fake_spotify, lambda_env):
    result = lambda_handler.handler({"command": "api", "me": True, "enrich": "none"}, _Context())
    assert result["status"] == "complete" and result["exit_code"] == 0
    assert result["summary"]["records_by_entity"]["playlists"] == len(fake_spotify.me_playlist_ids)
    assert landing.complete_runs(lambda_env, "spotify")[0].run_id == result["run_id"]


def test_lambda_fails_on_bad_events_and_missing_configuration(lambda_env, monkeypatch):
    with pytest.raises(lambda_handler.InvalidEvent):
        lambda_handler.handler({"command": "api", "me": True, "bogus_option": 1})
    with pytest.raises(lambda_handler.InvalidEvent):
        lambda_handler.handler({"command": "drop-tables"})
    with pytest.raises(lambda_handler.InvalidEvent):  # argparse refuses the value
        lambda_handler.handler({"command": "api", "me": True, "top_time_ranges": ["forever"]})
    with pytest.raises(cli.UsageError, match="nothing to extract"):
        lambda_handler.handler({"command": "api"})
    monkeypatch.delenv("MUSICLAKE_LANDING")
    with pytest.raises(cli.UsageError, match="MUSICLAKE_LANDING"):
        lambda_handler.handler({"command": "api", "me": True})


def test_lambda_fails_when_the_credentials_are_refused(fake_spotify, lambda_env, monkeypatch):
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "wrong-secret")
    with pytest.raises(AuthError, match="refused the credentials") as refused:
        lambda_handler.handler({"command": "api", "playlists": [fake_spotify.odd_playlist_id]})
    assert "wrong-secret" not in str(refused.value)


def test_lambda_fails_on_a_revoked_refresh_token_and_says_to_log_in_again(fake_spotify, lambda_env):
    fake_spotify.revoke_refresh_token()
    with pytest.raises(AuthError, match="invalid_grant.*musiclake-extract login") as refused:
        lambda_handler.handler({"command": "api", "me": True})
    assert fake_spotify.world.refresh_token not in str(refused.value)
    assert landing.complete_runs(lambda_env, "spotify") == []


def test_lambda_handler_reads_credentials_from_secrets_manager(fake_spotify, lambda_env, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    for key in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(Name="spotify", SecretString=json.dumps(fake_spotify.credentials()))["ARN"]
        secrets.create_secret(Name="other", SecretString=json.dumps({"SPOTIFY_CLIENT_SECRET": "x"}))
        monkeypatch.setenv("SPOTIFY_SECRET_ID", arn)
        with pytest.raises(lambda_handler.InvalidEvent, match="secret_id"):
            lambda_handler.handler({"command": "api", "me": True, "secret_id": "other"})
        result = lambda_handler.handler(
            {"command": "api", "playlists": [fake_spotify.odd_playlist_id], "enrich": "none"}
        )
    assert result["status"] == "complete"


def test_lambda_time_budget_stops_cleanly_returns_will_resume_and_the_next_invocation_resumes(fake_spotify, lambda_env):
    event = {"command": "api", "me": True, "enrich": "albums", "records_per_part": 5}
    fake_spotify.latency(0.02)
    first = lambda_handler.handler({**event, "time_budget": 0.3}, _Context())
    assert first["status"] == "stopped" and first["summary"]["stop_reason"] == "time_budget"
    assert first["exit_code"] == 3 and first["will_resume"] is True
    assert f"next invocation resumes run {first['run_id']}" in first["message"]
    fake_spotify.latency(0)
    second = lambda_handler.handler(event)
    assert second["status"] == "complete" and second["run_id"] == first["run_id"]


def test_lambda_mpd_import_fails_when_slices_are_rejected(tmp_path, landing_dir, monkeypatch):
    from musiclake_sim.catalog import generate_catalog, write_mpd_slices

    write_mpd_slices(generate_catalog(2, 30, 200), tmp_path / "mpd")
    monkeypatch.setenv("MUSICLAKE_LANDING", landing_dir)
    monkeypatch.delenv("SPOTIFY_SECRET_ID", raising=False)
    assert lambda_handler.handler({"command": "mpd", "source": str(tmp_path / "mpd")})["exit_code"] == 0
    (tmp_path / "mpd" / "mpd.slice.1000-1999.json").write_text("{}")
    with pytest.raises(lambda_handler.RunRejectedInput, match="1 rejected"):
        lambda_handler.handler({"command": "mpd", "source": str(tmp_path / "mpd")})


def test_mpd_command_through_the_cli(tmp_path, capsys):
    from musiclake_sim.catalog import generate_catalog, write_mpd_slices

    write_mpd_slices(generate_catalog(2, 30, 200), tmp_path / "mpd")
    (tmp_path / "mpd" / "mpd.slice.1000-1999.json").write_text("{}")
    code = cli.main(["mpd", "--source", str(tmp_path / "mpd"), "--landing", str(tmp_path / "landing")])
    out = capsys.readouterr().out
    assert code == 4  # complete, but a slice was rejected: a scheduler sees it
    assert "slices landed 1" in out and "rejected mpd.slice.1000-1999.json: missing 'info' object" in out


def test_a_bad_line_in_the_playlists_file_exits_2_naming_file_and_line(
    fake_spotify, landing_dir, spotify_env, tmp_path, capsys
):
    listing = tmp_path / "playlists.txt"
    listing.write_text(f"# mine\n{fake_spotify.odd_playlist_id}\n\nnot a playlist!\n")
    code = cli.main(_api_args(fake_spotify, landing_dir, "--playlists-file", str(listing)))
    err = capsys.readouterr().err
    assert code == 2
    assert f"{listing}, line 4" in err and "not a Spotify playlist id" in err and "Traceback" not in err
    listing.write_bytes(b"\xff\xfe\x00junk\n")
    assert cli.main(_api_args(fake_spotify, landing_dir, "--playlists-file", str(listing))) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert fake_spotify.requests == []


def test_an_expired_refresh_token_exits_2_and_says_to_log_in_again(fake_spotify, landing_dir, spotify_env, capsys):
    fake_spotify.revoke_refresh_token()
    assert cli.main(_api_args(fake_spotify, landing_dir, "--me")) == 2
    err = capsys.readouterr().err
    assert "invalid_grant" in err and "re-authorise with `musiclake-extract login`" in err
    assert spotify_env["SPOTIFY_REFRESH_TOKEN"] not in err


def test_an_api_response_over_max_record_bytes_is_rejected_and_reported(
    fake_spotify, landing_dir, spotify_env, monkeypatch, capsys
):
    monkeypatch.setattr(landing, "MAX_RECORD_BYTES", 40_000)  # a page of 50 full items is larger
    code = cli.main(
        _api_args(fake_spotify, landing_dir, "--playlist", fake_spotify.long_playlist_id, "--enrich", "none", "--json")
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 4 and doc["exit_code"] == 4 and doc["rejected"] > 0
    rejected = doc["summary"]["records_rejected"]
    assert {r["entity"] for r in rejected} <= {"playlists", "playlist_items"}
    assert all(r["bytes"] > 40_000 and "record over MAX_RECORD_BYTES" in r["reason"] for r in rejected)
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    landed = sum(f.records for f in manifest.files)
    assert landed + len(rejected) == 1 + 320 // 50  # every response either landed or reported, none lost silently
