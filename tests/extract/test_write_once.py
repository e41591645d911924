"""Write-once landing: the store itself refuses an overwrite (S3 conditional writes, exclusive local files)."""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from musiclake import landing, storage
from musiclake_extract.checkpoint import RecordTooLarge, RunLedger


def test_s3_refuses_an_overwrite_even_when_the_existence_check_is_fooled(s3_landing, monkeypatch):
    uri = storage.join(s3_landing, "source=mpd/entity=playlists/part-00000.jsonl.gz")
    storage.put_bytes(uri, b"first")
    monkeypatch.setattr(storage, "exists", lambda _uri: False)  # a concurrent writer that has not seen it yet
    with pytest.raises(storage.ObjectExistsError):
        storage.put_bytes(uri, b"second")
    assert storage.get_bytes(uri) == b"first"
    storage.put_bytes(uri, b"replaced", overwrite=True)  # the checkpoint's kind of object may be replaced
    assert storage.get_bytes(uri) == b"replaced"


def test_s3_put_is_conditional(s3_landing):
    """The PutObject of a landing file carries If-None-Match: * (seen on the wire by a botocore hook)."""
    sent: list[str | None] = []
    client = storage._s3()
    hook = lambda request, **_: sent.append(request.headers.get("If-None-Match"))  # noqa: E731
    client.meta.events.register("before-send.s3.PutObject", hook)
    try:
        storage.put_bytes(storage.join(s3_landing, "a.bin"), b"1")
        storage.put_bytes(storage.join(s3_landing, "b.bin"), b"1", overwrite=True)
    finally:
        client.meta.events.unregister("before-send.s3.PutObject", hook)
    assert sent == [b"*", None]


def test_a_manifest_on_s3_is_written_once(s3_landing):
    ledger = RunLedger.open(s3_landing, "mpd")
    manifest = ledger.finish({}, {}, {})
    with pytest.raises(storage.ObjectExistsError):
        landing.write_manifest(s3_landing, manifest)
    bucket, key = landing.manifest_uri(s3_landing, "mpd", manifest.run_id)[5:].split("/", 1)
    assert json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())["run_id"] == ledger.run_id


def test_local_files_are_created_exclusively(tmp_path, monkeypatch):
    uri = str(tmp_path / "landing" / "part-00000.jsonl.gz")
    storage.put_bytes(uri, b"first")
    monkeypatch.setattr(storage, "exists", lambda _uri: False)
    with pytest.raises(storage.ObjectExistsError):
        storage.put_bytes(uri, b"second")
    assert storage.get_bytes(uri) == b"first"
    assert [p.name for p in (tmp_path / "landing").iterdir()] == ["part-00000.jsonl.gz"]  # no temporary left


def test_local_exclusive_create_without_hard_links(tmp_path, monkeypatch):
    import errno
    import os

    def no_links(*_args):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    uri = str(tmp_path / "x.bin")
    storage.put_bytes(uri, b"first")
    with pytest.raises(storage.ObjectExistsError):
        storage.put_bytes(uri, b"second")
    assert storage.get_bytes(uri) == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_the_ledger_writes_exactly_what_landing_encode_records_would(tmp_path):
    ledger = RunLedger.open(str(tmp_path), "spotify")
    records = [
        landing.envelope(
            run_id=ledger.run_id,
            source="spotify",
            entity="tracks",
            key=str(i),
            request_url="u",
            http_status=200,
            body={"name": "Sigur Rós ♪", "i": i, "none": None},
        )
        for i in range(3)
    ]
    sizes = [ledger.add(r) for r in records]
    (part,) = ledger.commit({}, {})
    data = storage.get_bytes(storage.join(str(tmp_path), part.path))
    assert data == landing.encode_records(records)
    assert sizes == [len(line.encode()) for line in gzip.decompress(data).decode().splitlines()]


def test_the_ledger_refuses_a_record_over_the_limit(tmp_path, monkeypatch):
    ledger = RunLedger.open(str(tmp_path), "mpd")
    record = landing.envelope(
        run_id=ledger.run_id,
        source="mpd",
        entity="playlists",
        key="1",
        request_url="u",
        http_status=None,
        body={"x": "y" * 500},
    )
    monkeypatch.setattr(landing, "MAX_RECORD_BYTES", 400)
    with pytest.raises(RecordTooLarge, match="record over MAX_RECORD_BYTES"):
        ledger.add(record)
    assert ledger.buffered == 0
