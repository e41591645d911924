"""The reader's typed parse of MPD playlist files (``load_envelopes(..., typed=...)``): a clean line is parsed once,
its body typed; every other line is read as before, so the curated rows and the quarantine come out the same."""

from __future__ import annotations

import gzip
import json
from typing import Any

from chispa import assert_df_equality
from landing_builders import envelope, mpd_playlist

from musiclake.lake import TypedBody, load_envelopes
from musiclake.schemas import CORRUPT_COLUMN
from musiclake.transforms import curate, mpd
from musiclake.transforms.envelopes import LINE_COLUMN, TYPED_BODY_COLUMN

RUN = "mpd-20261126T100000Z-00000001"
MAX_RECORD_BYTES = 20_000  # a playlist of 100 tracks is over it


def _mpd(key: str, body: Any, **fields: Any) -> str:
    return json.dumps({**envelope(RUN, "mpd", "playlists", body, key=key, http_status=None,
                                  request_url="file:///mpd.slice.json"), **fields})


LINES = {
    "clean": _mpd("clean", mpd_playlist(1, tracks=(0, 1, 2))),
    "spaced": json.dumps({"body": mpd_playlist(2), "source": "mpd", "entity": "playlists", "key": "spaced",
                          "run_id": RUN, "fetched_at": "2026-11-26T10:00:00Z"}, indent=1).replace("\n", " "),
    "wrong type, playlist": _mpd("wrong type, playlist", {**mpd_playlist(3), "modified_at": "yesterday"}),
    "wrong type, track": _mpd("wrong type, track", {**mpd_playlist(4), "tracks": [
        {**t, "duration_ms": "abc"} if t["pos"] == 1 else t for t in mpd_playlist(4, tracks=(0, 1, 2))["tracks"]]}),
    "impossible": _mpd("impossible", {**mpd_playlist(5), "pid": -5, "name": "caf\u00e9 \u266b 1.50"}),
    "no tracks": _mpd("no tracks", {k: v for k, v in mpd_playlist(6).items() if k != "tracks"}),
    "another source": json.dumps(envelope(RUN, "spotify", "playlists", {"id": "x"}, key="another source")),
    "no run id": _mpd("no run id", mpd_playlist(7), run_id=None),
    "null body": _mpd("null body", None),
    "body a list": _mpd("body a list", [1, 2]),
    "error response": _mpd("error response", {"error": {"status": 500}}, http_status=500),
    "status of the wrong type": _mpd("status of the wrong type", mpd_playlist(8), http_status="ok"),
    "not JSON": '{"run_id": "' + RUN + '", "body": {',
    "over the size limit": _mpd("over the size limit", mpd_playlist(9, tracks=range(100))),
    "text after the object": _mpd("text after the object", mpd_playlist(10)) + " xyz",
    "text after the object, ending in a brace": _mpd("text ending in a brace", mpd_playlist(12)) + " xyz}",
    "two objects glued": _mpd("glued", mpd_playlist(13)) + _mpd("glued, second", mpd_playlist(14)),
    "a second object after blanks": _mpd("then blanks", mpd_playlist(15)) + ' {"x": 1}',
    "two objects, a comma between": _mpd("comma", mpd_playlist(16)) + "," + _mpd("comma, second", mpd_playlist(17)),
    "blanks after the object": _mpd("blanks after the object", mpd_playlist(11)) + " \t ",
}
# lines holding more than their object: each is one malformed line
AFTER_THE_OBJECT = ("text after the object", "text after the object, ending in a brace", "two objects glued",
                    "a second object after blanks", "two objects, a comma between")
# every value of its type, the envelope complete
CLEAN = {"clean", "spaced", "impossible", "no tracks", "blanks after the object"}


def _file(tmp_path) -> str:
    path = tmp_path / "part-00000.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("\n".join([*LINES.values(), "   "]) + "\n")
    return str(path)


def test_only_clean_lines_of_the_typed_files_are_parsed_once_the_rest_as_text(spark, tmp_path):
    path = _file(tmp_path)
    read = load_envelopes(spark, [path], MAX_RECORD_BYTES, TypedBody("mpd", "playlists", mpd.BODY, (path,)))
    rows = read.collect()
    assert len(rows) == len(LINES)  # the blank line skipped, as before
    # Jackson would read the first object and stop before what follows it, losing it unseen: no JSON line
    for name in AFTER_THE_OBJECT:
        trailing = [r for r in rows if r[CORRUPT_COLUMN] == LINES[name]]
        assert len(trailing) == 1 and trailing[0]["key"] is None and trailing[0]["body"] is None, name
    assert {r["key"] for r in rows if r[TYPED_BODY_COLUMN] is not None} == CLEAN
    for r in rows:  # a typed line: body parsed (not kept as text) and its line kept; any other: as before
        if r[TYPED_BODY_COLUMN] is not None:
            assert r["body"] is None and r[LINE_COLUMN] == LINES[r["key"]], r["key"]
        else:
            assert r[LINE_COLUMN] is None, r["key"]


def test_typed_and_text_reads_curate_and_quarantine_the_same(spark, tmp_path):
    path = _file(tmp_path)
    present = {("mpd", "playlists")}

    def outputs(typed: TypedBody | None):
        parsed = curate.parse_sources(load_envelopes(spark, [path], MAX_RECORD_BYTES, typed), present)
        items = curate.item_rows(parsed, keep=False)
        quarantine = curate.quarantine_rows(parsed, items, "job-1", "2026-11-26")
        return parsed.envelopes, items.all, quarantine

    as_text = outputs(None)
    as_typed = outputs(TypedBody("mpd", "playlists", mpd.BODY, (path,)))
    for text_frame, typed_frame in zip(as_text, as_typed, strict=True):
        assert_df_equality(typed_frame, text_frame, ignore_row_order=True, ignore_nullable=True)
    reasons = {r["reason"] for r in as_typed[2].collect()}
    # every kind of problem is in the comparison above, not only clean lines
    assert any("modified_at" in r for r in reasons) and any("duration_ms" in r for r in reasons)
    assert any("impossible value in field pid" in r for r in reasons)
    assert any("MAX_RECORD_BYTES" in r for r in reasons) and "malformed JSON line" in reasons
    assert len(reasons) >= 9
