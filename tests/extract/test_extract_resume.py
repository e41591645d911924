"""Crash safety: a killed run resumes from its checkpoint; nothing is landed twice and nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from musiclake import landing, storage
from musiclake_extract import checkpoint
from musiclake_extract.checkpoint import RunLedger


def test_killed_cli_run_resumes_without_duplicates_or_losses(
    lake, extract, fake_spotify, landing_dir, tmp_path, cli_env
):
    reference_root = str(tmp_path / "reference")
    extract(landing_root=reference_root, enrich=("albums",))
    complete_requests = fake_spotify.request_count("/v1/")
    fake_spotify.reset_log()
    fake_spotify.latency(0.01)  # slow enough to be killed half way
    command = [
        sys.executable,
        "-m",
        "musiclake_extract.cli",
        "api",
        "--landing",
        landing_dir,
        "--me",
        "--api-base-url",
        fake_spotify.api_base_url,
        "--token-url",
        fake_spotify.token_url,
        "--records-per-part",
        "10",
        "--enrich",
        "albums",
    ]
    process = subprocess.Popen(command, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while fake_spotify.request_count("/v1/") < complete_requests // 3 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.kill()  # SIGKILL: no cleanup, no last commit
    process.wait(timeout=10)
    assert process.returncode == -9
    assert landing.complete_runs(landing_dir, "spotify") == []
    ckpt = json.loads(storage.get_bytes(landing.checkpoint_uri(landing_dir, "spotify", "run")))
    assert ckpt["committed"]["files"], "some parts were committed before the kill"
    killed_run = ckpt["run_id"]
    requests_before = fake_spotify.request_count("/v1/")

    fake_spotify.latency(0)
    resumed = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=120)

    assert resumed.returncode == 0, resumed.stderr
    (manifest,) = landing.complete_runs(landing_dir, "spotify")
    assert manifest.run_id == killed_run and manifest.summary["attempts"] == 2
    lake.assert_same(landing_dir, reference_root, fake_spotify.base_url)
    # Only what had not been committed is asked again (at most one commit's worth plus the request in flight).
    repeated = fake_spotify.request_count("/v1/") - complete_requests
    assert 0 <= repeated <= 10 + 1
    assert requests_before < complete_requests


def test_rerunning_a_finished_run_lands_nothing(extract, fake_spotify, landing_dir):
    extract(me=False, playlists=[fake_spotify.long_playlist_id])
    result = extract(me=False, playlists=[fake_spotify.long_playlist_id])
    assert result.summary["records"] == 0 and result.summary["files"] == 0
    assert result.summary["playlists_unchanged"] == [fake_spotify.long_playlist_id]


class _Crash(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the extractor catches it."""


def _crash_on_part_write(monkeypatch, after_parts: int, *, write_it: bool):
    """Make the Nth data-part write die (after writing it when ``write_it``)."""
    real_put = storage.put_bytes
    seen = {"parts": 0}

    def put(uri: str, data: bytes, *, overwrite: bool = False) -> None:
        if uri.endswith(".jsonl.gz"):
            seen["parts"] += 1
            if seen["parts"] == after_parts:
                if write_it:
                    real_put(uri, data, overwrite=overwrite)
                raise _Crash(uri)
        real_put(uri, data, overwrite=overwrite)

    monkeypatch.setattr(storage, "put_bytes", put)


@pytest.mark.parametrize("write_it", [True, False], ids=["part-written", "part-missing"])
def test_crash_between_part_writes_and_checkpoint_is_rolled_back_or_adopted(
    lake, extract, fake_spotify, landing_dir, tmp_path, monkeypatch, write_it
):
    reference_root = str(tmp_path / "reference")
    extract(landing_root=reference_root, enrich=("albums",), records_per_part=4)
    _crash_on_part_write(monkeypatch, after_parts=6, write_it=write_it)
    with pytest.raises(_Crash):
        extract(enrich=("albums",), records_per_part=4)
    monkeypatch.undo()

    result = extract(enrich=("albums",), records_per_part=4)

    assert result.status == "complete"
    lake.assert_same(landing_dir, reference_root, fake_spotify.base_url)
    named = {f.path for f in landing.complete_runs(landing_dir, "spotify")[0].files}
    assert not set(result.summary["orphaned_parts"]) & named  # orphans are never in the manifest


def test_all_pending_parts_in_place_are_adopted(tmp_path):
    root = str(tmp_path / "landing")
    ledger = RunLedger.open(root, "mpd")
    record = landing.envelope(
        run_id=ledger.run_id,
        source="mpd",
        entity="playlists",
        key="1",
        request_url="x",
        http_status=None,
        body={"pid": 1},
    )
    ledger.add(record)
    ledger.commit({"done": 0}, {})
    ledger.add({**record, "key": "2"})

    real_save = ledger._save
    calls = {"n": 0}

    def save(pending):
        calls["n"] += 1
        if pending is None and calls["n"] > 1:  # the commit after the parts: never happens
            raise _Crash("killed")
        real_save(pending)

    ledger._save = save  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        ledger.commit({"done": 1}, {})

    resumed = RunLedger.open(root, "mpd")
    assert resumed.run_id == ledger.run_id and resumed.state == {"done": 1}
    assert [f.records for f in resumed.files] == [1, 1] and resumed.orphans == []


def test_a_checkpoint_left_after_the_manifest_is_discarded(tmp_path):
    root = str(tmp_path / "landing")
    ledger = RunLedger.open(root, "mpd")
    ledger.commit({}, {})
    manifest = ledger.finish({}, {}, {})
    storage.put_bytes(ledger.checkpoint_uri, b'{"run_id": "%s"}' % manifest.run_id.encode(), overwrite=True)

    fresh = RunLedger.open(root, "mpd")
    assert not fresh.resumed and fresh.run_id != manifest.run_id
    assert not storage.exists(ledger.checkpoint_uri)


def test_orphan_part_paths_are_skipped_not_overwritten(tmp_path):
    root = str(tmp_path / "landing")
    ledger = RunLedger.open(root, "mpd")
    squatter = storage.join(root, ledger._part_rel("playlists", 0))
    storage.put_bytes(squatter, b"left by a crashed attempt")
    ledger.add(
        landing.envelope(
            run_id=ledger.run_id, source="mpd", entity="playlists", key="1", request_url="x", http_status=None, body={}
        )
    )
    (part,) = ledger.commit({}, {})
    assert part.path.endswith("part-00001.jsonl.gz")
    assert storage.get_bytes(squatter) == b"left by a crashed attempt"
    assert ledger.orphans == [ledger._part_rel("playlists", 0)]
    assert checkpoint.CHECKPOINT_NAME == "run"
