"""Landing on S3 (a real moto server over HTTP): same contract as a local folder."""

from __future__ import annotations

import boto3
import pytest

from musiclake import landing, storage
from musiclake_extract.mpd_import import MpdOptions, run_mpd
from musiclake_sim.catalog import generate_catalog, write_mpd_slices


def test_api_run_lands_on_s3_and_resumes_there(lake, extract, fake_spotify, s3_landing, landing_dir):
    extract(landing_root=landing_dir, enrich=("artists",))  # the same run on a local folder, for reference
    fake_spotify.quota_exceeded_after(25)
    stopped = extract(landing_root=s3_landing, enrich=("artists",), records_per_part=5)
    assert stopped.status == "stopped" and stopped.checkpoint_uri.startswith(s3_landing)
    assert storage.exists(stopped.checkpoint_uri)
    fake_spotify.quota_exceeded_after(None)

    result = extract(landing_root=s3_landing, enrich=("artists",), records_per_part=5)

    assert result.status == "complete" and result.manifest_uri.startswith("s3://")
    (manifest,) = landing.complete_runs(s3_landing, "spotify")
    assert all(storage.exists(uri) for uri in manifest.file_uris(s3_landing))
    keys = [uri.split("/", 3)[3] for uri in manifest.file_uris(s3_landing)]
    assert all("/source=spotify/entity=" in "/" + k and "/ingest_date=" in k and "/run_id=" in k for k in keys)
    lake.assert_same(s3_landing, landing_dir, fake_spotify.base_url)
    assert not storage.exists(stopped.checkpoint_uri)
    assert storage.exists(landing.checkpoint_uri(s3_landing, "spotify", "index"))


def test_mpd_import_from_s3_to_s3(tmp_path, s3_landing):
    write_mpd_slices(generate_catalog(5, 60, 400), tmp_path, playlists_per_slice=30)
    bucket = s3_landing.split("/")[2]
    s3 = boto3.client("s3")
    for path in sorted(tmp_path.glob("mpd.slice.*.json")):
        s3.upload_file(str(path), bucket, f"mpd/{path.name}")
    source = f"s3://{bucket}/mpd"

    result = run_mpd(MpdOptions(source=source, landing=s3_landing))

    assert result.summary["playlists"] == 60 and len(result.summary["slices_landed"]) == 2
    assert all(s["uri"].startswith(source) for s in result.summary["slices_landed"])
    again = run_mpd(MpdOptions(source=source, landing=s3_landing))
    assert again.summary["records"] == 0 and len(again.summary["slices_skipped"]) == 2
    assert [m.summary["records"] for m in landing.complete_runs(s3_landing, "mpd")] == [60, 0]


def test_landing_files_are_write_once_on_s3(s3_landing):
    uri = storage.join(s3_landing, "x.bin")
    storage.put_bytes(uri, b"1")
    with pytest.raises(storage.ObjectExistsError):
        storage.put_bytes(uri, b"2")
