"""The landing contract's manifests as a consumer reads them: checked, so that a run is read only from its own folders.

A consumer reads exactly the paths a manifest names (``raw_to_curated`` reads them and quarantines what is not an
envelope, record text included), so a manifest is refused, naming it, when it is not the contract's: not JSON, a
field missing or of the wrong type, at another run's key, or naming a file outside its run's folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from musiclake import landing, storage

INGEST_DATE = "2026-11-26"


def _manifest(raw: str, run_id: str, entity: str = "playlists") -> landing.Manifest:
    folder = landing.run_folder("", "mpd", entity, INGEST_DATE, run_id).lstrip("/")
    part = landing.ManifestFile(path=f"{folder}/{landing.part_name(0)}", entity=entity, records=2, bytes=120,
                                sha256=landing.sha256(b"part"))
    return landing.Manifest(run_id=run_id, source="mpd", status=landing.STATUS_COMPLETE, started_at="s",
                            finished_at="f", ingest_date=INGEST_DATE, files=[part])


def test_a_manifest_as_the_writers_write_it_reads_back_equal(tmp_path):
    raw, run_id = str(tmp_path / "landing"), landing.new_run_id("mpd")
    manifest = _manifest(raw, run_id)
    landing.write_manifest(raw, manifest)
    assert landing.read_manifest(landing.manifest_uri(raw, "mpd", run_id)) == manifest
    assert landing.complete_runs(raw) == [manifest]


def _edit(**changes: Any) -> Callable[[dict, str], Any]:
    """A change to the manifest's JSON document: top-level fields, or ``file_<field>`` of its first file."""
    def change(doc: dict, run_id: str) -> dict:
        for name, value in changes.items():
            target, key = (doc["files"][0], name[len("file_"):]) if name.startswith("file_") else (doc, name)
            if value is None:
                del target[key]
            else:
                target[key] = value.replace("<run>", run_id) if isinstance(value, str) else value
        return doc
    return change


OTHER_RUN = "mpd-20261126T090000Z-0123abcd"
BROKEN = {
    "not JSON": (lambda doc, run_id: "{not json", "Expecting property name"),
    "a JSON list": (lambda doc, run_id: [doc], "a JSON list, not an object"),
    "a file up and out of the landing zone": (
        _edit(file_path="source=mpd/entity=playlists/ingest_date=2026-11-26/run_id=<run>/../../../../../../secret.gz"),
        "is not a file of the run's folder"),
    "a file outside the landing zone": (_edit(file_path="../secret.gz"), "is not a file of the run's folder"),
    "a file of another run": (
        _edit(file_path=f"source=mpd/entity=playlists/ingest_date=2026-11-26/run_id={OTHER_RUN}/part-00000.jsonl.gz"),
        "is not a file of the run's folder"),
    "the folder itself": (_edit(file_path="source=mpd/entity=playlists/ingest_date=2026-11-26/run_id=<run>/.."),
                          "is not a file of the run's folder"),
    "an entity that is a path": (_edit(file_entity="../x"), "files[0].entity '../x' is not an entity name"),
    "an ingest date that is a path": (_edit(ingest_date="2026-11-26/../.."), "is not YYYY-MM-DD"),
    "an unknown source": (_edit(source="ftp"), "unknown source 'ftp'"),
    "a run id that is not one": (_edit(run_id="../x"), "run_id '../x' is not a run id"),
    "another run's key": (
        _edit(run_id=OTHER_RUN,
              file_path=f"source=mpd/entity=playlists/ingest_date=2026-11-26/run_id={OTHER_RUN}/part-00000.jsonl.gz"),
        f"it describes run {OTHER_RUN} of source mpd"),
    "records as text": (_edit(file_records="ten"), 'files[0].records is "ten", not an integer'),
    "records as a boolean": (_edit(file_records=True), "files[0].records is true, not an integer"),
    "a negative size": (_edit(file_bytes=-1), "files[0] has a negative count"),
    "no checksum": (_edit(file_sha256=None), "files[0].sha256 is missing"),
    "a checksum that is not one": (_edit(file_sha256="abc"), "files[0].sha256 'abc' is not a sha256 in hex"),
    "no run id": (_edit(run_id=None), "run_id is missing"),
    "files not a list": (_edit(files={"path": "x"}), "files is {\"path\": \"x\"}, not a list"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_manifest_that_breaks_the_contract_is_refused_naming_it_and_what_is_wrong(tmp_path, case):
    raw, run_id = str(tmp_path / "landing"), landing.new_run_id("mpd")
    uri = landing.manifest_uri(raw, "mpd", run_id)
    change, problem = BROKEN[case]
    doc = change(json.loads(_manifest(raw, run_id).to_json()), run_id)
    storage.put_bytes(uri, (doc if isinstance(doc, str) else json.dumps(doc)).encode())

    with pytest.raises(landing.ManifestError) as refused:
        landing.complete_runs(raw)
    assert str(refused.value).startswith(f"{uri} is not a manifest of the landing contract")
    assert problem in str(refused.value)
    assert re.search(r"Remove it \(its run is then never read\)", str(refused.value))
