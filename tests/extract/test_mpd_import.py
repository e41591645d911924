"""The ``mpd`` command: slices land verbatim, malformed ones are reported, re-imports land nothing new."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musiclake import landing, storage
from musiclake_extract.mpd_import import MpdOptions, list_slices, run_mpd, validate_slice
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

    assert result.status == "complete" and result.exit_code == 0
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

    class Crash(BaseException):
        pass

    real_put = storage.put_bytes
    parts = {"n": 0}

    def put(uri, data, *, overwrite=False):
        if uri.endswith(".jsonl.gz"):
            parts["n"] += 1
            if parts["n"] == 2:
                raise Crash()
        real_put(uri, data, overwrite=overwrite)

    monkeypatch.setattr(storage, "put_bytes", put)
    with pytest.raises(Crash):
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
