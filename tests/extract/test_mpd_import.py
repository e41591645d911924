"""The ``mpd`` command: slices land verbatim, malformed ones are reported, re-imports land nothing new."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musiclake import landing, storage
from musiclake_extract import cli
from musiclake_extract.mpd_import import CheckpointConflict, MpdOptions, list_slices, run_mpd, validate_slice
from musiclake_sim.catalog import generate_catalog, write_mpd_slices


@pytest.fixture
def mpd_dir(tmp_path) -> Path:
    """Three valid slices of 40 playlists, one slice of invalid JSON and one with a playlist without tracks."""
    out = tmp_path / "mpd"
    write_mpd_slices(generate_catalog(11, 120, 800), out, playlists_per_slice=40)
    (out / "mpd.slice.120-159.json").write_text('{"info": {"slice": "120-159"}, "playlists": [', encoding="utf-8")
    bad = json.loads((out / "mpd.slice.0-39.json").read_text())
    bad["info"]["slice"] = "160-199"
    del bad["playlists"][3]["tracks"]
    (out / "mpd.slice.160-199.json").write_text(json.dumps(bad), encoding="utf-8")
    (out / "notes.txt").write_text("not a slice")
    return out


def _records(root: str) -> list[dict]:
    return [
        r
        for m in landing.complete_runs(root, "mpd")
        for uri in m.file_uris(root)
        for r in landing.decode_records(storage.get_bytes(uri))
    ]


def test_valid_slices_land_verbatim_and_malformed_ones_are_reported(mpd_dir, tmp_path):
    root = str(tmp_path / "landing")
    result = run_mpd(MpdOptions(source=str(mpd_dir), landing=root))

    assert result.status == "complete" and result.exit_code == 4  # complete, but two slices were rejected
    assert result.rejected == 2 and "2 slice(s)" in result.message
    assert result.summary["files_ignored"] == ["notes.txt"]
    records = _records(root)
    assert len(records) == 120 == result.summary["playlists"]
    assert sorted(int(r["key"]) for r in records) == list(range(120))
    original = json.loads((mpd_dir / "mpd.slice.40-79.json").read_text())["playlists"]
    landed = {r["key"]: r for r in records}
    for playlist in original:
        record = landed[str(playlist["pid"])]
        assert record["body"] == playlist
        assert record["http_status"] is None and record["entity"] == "playlists" and record["source"] == "mpd"
        assert record["request_url"].endswith("mpd.slice.40-79.json")
    rejected = {r["name"]: r["reason"] for r in result.summary["slices_rejected"]}
    assert set(rejected) == {"mpd.slice.120-159.json", "mpd.slice.160-199.json"}
    assert rejected["mpd.slice.120-159.json"].startswith("invalid JSON")
    assert "no list 'tracks'" in rejected["mpd.slice.160-199.json"]
    (manifest,) = landing.complete_runs(root, "mpd")
    assert [f.records for f in manifest.files] == [40, 40, 40]  # one part per slice
    assert manifest.counts == {"playlists": 120}
    assert all(len(f.sha256) == 64 and f.bytes > 0 for f in manifest.files)


def test_reimport_lands_nothing_new_and_a_new_slice_lands_alone(mpd_dir, tmp_path):
    root = str(tmp_path / "landing")
    run_mpd(MpdOptions(source=str(mpd_dir), landing=root))
    again = run_mpd(MpdOptions(source=str(mpd_dir), landing=root))
    assert again.summary["records"] == 0 and len(again.summary["slices_skipped"]) == 3

    write_mpd_slices(generate_catalog(12, 40, 300), mpd_dir / "more", playlists_per_slice=40)
    (mpd_dir / "more" / "mpd.slice.0-39.json").rename(mpd_dir / "mpd.slice.200-239.json")
    third = run_mpd(MpdOptions(source=str(mpd_dir), landing=root))
    assert [s["name"] for s in third.summary["slices_landed"]] == ["mpd.slice.200-239.json"]
    assert third.summary["records"] == 40


def test_a_killed_import_resumes_with_the_next_slice(mpd_dir, tmp_path, monkeypatch):
    root = str(tmp_path / "landing")

    _kill_on_second_part(monkeypatch)
    with pytest.raises(_Crash):
        run_mpd(MpdOptions(source=str(mpd_dir), landing=root))
    monkeypatch.undo()

    result = run_mpd(MpdOptions(source=str(mpd_dir), landing=root))
    assert result.summary["attempts"] == 2
    keys = [r["key"] for r in _records(root)]
    assert len(keys) == len(set(keys)) == 120


def test_list_slices_orders_by_start_and_accepts_one_file(mpd_dir):
    names = [u.rsplit("/", 1)[1] for u in list_slices(str(mpd_dir))]
    assert names == [
        "mpd.slice.0-39.json",
        "mpd.slice.40-79.json",
        "mpd.slice.80-119.json",
        "mpd.slice.120-159.json",
        "mpd.slice.160-199.json",
    ]
    single = str(mpd_dir / "mpd.slice.40-79.json")
    assert list_slices(single) == [single]
    with pytest.raises(FileNotFoundError):
        list_slices(str(mpd_dir / "nothing-here"))


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], "top level is a list"),
        ({"playlists": []}, "missing 'info'"),
        ({"info": {"slice": "0-0"}}, "missing 'playlists'"),
        ({"info": {"slice": "0-0"}, "playlists": [{"pid": "1", "name": "x", "tracks": []}]}, "no int 'pid'"),
        (
            {"info": {"slice": "0-0"}, "playlists": [{"pid": 1, "name": "x", "tracks": [], "num_tracks": 2}]},
            "num_tracks 2 but 0",
        ),
        (
            {"info": {"slice": "0-0"}, "playlists": [{"pid": 1, "name": "x", "tracks": [{"pos": 0}]}]},
            "no str 'track_uri'",
        ),
        ({"info": {"slice": "0-0"}, "playlists": [{"pid": 1, "name": "x", "tracks": []}] * 2}, "repeats pid 1"),
    ],
)
def test_validate_slice_names_the_problem(doc, reason):
    assert reason in validate_slice(doc)


def test_validate_slice_accepts_generated_slices(tmp_path):
    (path,) = write_mpd_slices(generate_catalog(1, 30, 200), tmp_path)
    assert validate_slice(json.loads(path.read_text())) is None


class _Crash(BaseException):
    """Stands for SIGKILL: nothing in the importer catches it."""


def _kill_on_second_part(monkeypatch):
    real_put = storage.put_bytes
    parts = {"n": 0}

    def put(uri, data, *, overwrite=False):
        if uri.endswith(".jsonl.gz"):
            parts["n"] += 1
            if parts["n"] == 2:
                raise _Crash()
        real_put(uri, data, overwrite=overwrite)

    monkeypatch.setattr(storage, "put_bytes", put)


def test_an_interrupted_import_of_one_source_is_not_resumed_by_another(tmp_path, monkeypatch, capsys):
    root = str(tmp_path / "landing")
    write_mpd_slices(generate_catalog(1, 120, 600), tmp_path / "a", playlists_per_slice=40)
    write_mpd_slices(generate_catalog(2, 40, 300), tmp_path / "b", playlists_per_slice=40)
    _kill_on_second_part(monkeypatch)
    with pytest.raises(_Crash):
        run_mpd(MpdOptions(source=str(tmp_path / "a"), landing=root))
    monkeypatch.undo()
    checkpoint = landing.checkpoint_uri(root, "mpd", "run")
    before = storage.get_bytes(checkpoint)

    with pytest.raises(CheckpointConflict) as refused:
        run_mpd(MpdOptions(source=str(tmp_path / "b"), landing=root))
    message = str(refused.value)
    assert str(tmp_path / "a") in message and checkpoint in message
    assert f"musiclake-extract mpd --source {tmp_path / 'a'} --landing {root}" in message
    assert storage.get_bytes(checkpoint) == before  # untouched: A still resumes as it was
    assert cli.main(["mpd", "--source", str(tmp_path / "b"), "--landing", root]) == 2
    assert "interrupted import of" in capsys.readouterr().err
    assert landing.complete_runs(root, "mpd") == []

    finished = run_mpd(MpdOptions(source=str(tmp_path / "a") + "/", landing=root))  # same source, spelled with /
    assert finished.exit_code == 0 and finished.summary["attempts"] == 2 and finished.summary["playlists"] == 120
    b = run_mpd(MpdOptions(source=str(tmp_path / "b"), landing=root))
    assert b.exit_code == 0 and b.summary["source"] == str(tmp_path / "b") and b.summary["playlists"] == 40
    assert len({r["key"] for r in _records(root)}) == 120  # B's pids 0..39 are A's too: both landed, per run
    assert [m.summary["playlists"] for m in landing.complete_runs(root, "mpd")] == [120, 40]


def test_gzipped_slices_land_and_a_truncated_one_is_rejected_with_its_reason(tmp_path):
    import gzip

    src = tmp_path / "mpd"
    write_mpd_slices(generate_catalog(3, 80, 400), src, playlists_per_slice=40)
    whole = (src / "mpd.slice.0-39.json").read_bytes()
    (src / "mpd.slice.0-39.json").unlink()
    (src / "mpd.slice.0-39.json.gz").write_bytes(gzip.compress(whole))
    packed = gzip.compress((src / "mpd.slice.40-79.json").read_bytes())
    (src / "mpd.slice.40-79.json").unlink()
    (src / "mpd.slice.40-79.json.gz").write_bytes(packed[: len(packed) // 2])  # an interrupted download
    root = str(tmp_path / "landing")

    result = run_mpd(MpdOptions(source=str(src), landing=root))

    assert result.exit_code == 4
    assert [s["name"] for s in result.summary["slices_landed"]] == ["mpd.slice.0-39.json.gz"]
    (rejected,) = result.summary["slices_rejected"]
    assert rejected["name"] == "mpd.slice.40-79.json.gz" and "truncated or corrupt gzip" in rejected["reason"]
    assert len(_records(root)) == 40
    # the same content uncompressed is recognised as landed
    (src / "more").mkdir()
    (src / "more" / "mpd.slice.0-39.json").write_bytes(whole)
    again = run_mpd(MpdOptions(source=str(src / "more"), landing=root))
    assert again.exit_code == 0 and [s["name"] for s in again.summary["slices_skipped"]] == ["mpd.slice.0-39.json"]


def test_a_playlist_over_max_record_bytes_is_rejected_not_landed(tmp_path, capsys):
    src = tmp_path / "mpd"
    (path,) = write_mpd_slices(generate_catalog(4, 30, 200), src)
    doc = json.loads(path.read_text())
    huge = doc["playlists"][7]
    track = huge["tracks"][0]
    copies = landing.MAX_RECORD_BYTES // len(json.dumps(track, separators=(",", ":"))) + 1000
    huge["tracks"] = [{**track, "pos": i} for i in range(copies)]
    huge["num_tracks"] = len(huge["tracks"])
    path.write_text(json.dumps(doc))
    root = str(tmp_path / "landing")

    code = cli.main(["mpd", "--source", str(src), "--landing", root])

    out = capsys.readouterr().out
    assert code == 4
    assert "records rejected (not landed) 1" in out and "record over MAX_RECORD_BYTES" in out
    (manifest,) = landing.complete_runs(root, "mpd")
    (rejected,) = manifest.summary["records_rejected"]
    assert rejected["key"] == str(huge["pid"]) and rejected["bytes"] > landing.MAX_RECORD_BYTES
    assert rejected["slice"] == path.name
    keys = {r["key"] for r in _records(root)}
    assert len(keys) == 29 and str(huge["pid"]) not in keys
    assert manifest.summary["slices_landed"][0]["playlists"] == 29


def test_an_import_into_a_landing_zone_holding_a_broken_manifest_stops_naming_it(tmp_path, capsys):
    """The importer reads the landed runs' manifests (to skip slices already landed): one that is not the contract's
    stops it with exit 1 and a message naming the manifest and what to do, where it said "run again to resume"."""
    src = tmp_path / "mpd"
    write_mpd_slices(generate_catalog(4, 30, 200), src)
    root = str(tmp_path / "landing")
    broken = landing.manifest_uri(root, "mpd", landing.new_run_id("mpd"))
    storage.put_bytes(broken, b'{"manifest_version": 1, "files": "all of them"}')

    code = cli.main(["mpd", "--source", str(src), "--landing", root])

    err = capsys.readouterr().err
    assert code == 1
    assert f"musiclake-extract: {broken} is not a manifest of the landing contract" in err
    assert "Remove it (its run is then never read)" in err and "run again to resume" not in err


def test_a_slice_nested_too_deep_to_decode_is_rejected_and_the_others_land(tmp_path):
    """Valid JSON nested 100,000 arrays deep made the importer crash (Python's decoder raises RecursionError):
    now the slice is rejected with its reason like any malformed slice, and the other slices land."""
    src = tmp_path / "mpd"
    write_mpd_slices(generate_catalog(4, 30, 200), src)
    (src / "mpd.slice.1000-1999.json").write_text("[" * 100_000 + "]" * 100_000)
    root = str(tmp_path / "landing")

    result = run_mpd(MpdOptions(source=str(src), landing=root))

    assert (result.status, result.exit_code) == ("complete", 4)
    (rejected,) = result.summary["slices_rejected"]
    assert rejected["name"] == "mpd.slice.1000-1999.json"
    assert rejected["reason"] == "invalid JSON: nested too deep to decode"
    assert len({r["key"] for r in _records(root)}) == 30
