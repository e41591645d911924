"""A newly trained model version is picked up by a running server, with no failed request during the swap.

A real uvicorn server on 127.0.0.1 in a thread; a pool of client threads keeps asking while a second version is
written and the ``LATEST`` pointer moved. Bounded by a request count and a deadline; nothing is timed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn
from serve_lake import ITEMS, write_tiny_lake

from musiclake.serve.app import create_app
from musiclake.serve.holder import ModelHolder

OLD, NEW = "20260101T000000Z", "20260301T000000Z"
REQUESTS = [
    ("GET", "/v1/playlists/mpd:0/recommendations?k=3", None),
    ("POST", "/v1/recommendations", {"track_ids": ["t2", "t4"], "k": 2}),
    ("GET", "/v1/tracks/t2/similar?k=2", None),
    ("GET", "/v1/model", None),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    """The API over a lake holding version OLD, checking LATEST at every request."""
    lake = tmp_path / "lake"
    write_tiny_lake(lake, version=OLD)
    app = create_app(str(lake), check_interval=0.0)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield lake, f"http://127.0.0.1:{port}", app.state.holder
    server.should_exit = True
    thread.join(timeout=30)


def _ask(base: str, i: int) -> tuple[float, float, int, str | None]:
    method, path, body = REQUESTS[i % len(REQUESTS)]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return started, time.monotonic(), error.code, None
    version = payload.get("model_version") or payload.get("version")
    return started, time.monotonic(), status, version


def test_a_new_version_is_served_without_a_restart_or_a_failed_request(server):
    lake, base, holder = server
    results: list[tuple[float, float, int, str | None]] = []
    swapped_at: float | None = None
    deadline = time.monotonic() + 120
    with ThreadPoolExecutor(max_workers=8) as pool:
        i = 0
        while time.monotonic() < deadline and i < 5000:
            batch = [pool.submit(_ask, base, i + j) for j in range(16)]
            i += 16
            results.extend(f.result() for f in batch)
            if swapped_at is None and len(results) >= 64:
                write_tiny_lake(lake, version=NEW, items=ITEMS[::-1].copy())  # new factors, LATEST moved last
                swapped_at = time.monotonic()
            new_answers = [r for r in results if r[3] == NEW]
            if new_answers and len([r for r in results if r[0] > min(a[1] for a in new_answers)]) >= 200:
                break

    failed = [r for r in results if r[2] != 200]
    assert not failed, failed[:5]
    versions = [r[3] for r in results]
    assert set(versions) == {OLD, NEW}, "the new version was never served"
    first_new_done = min(r[1] for r in results if r[3] == NEW)
    after = [r for r in results if r[0] > first_new_done]
    assert after and all(r[3] == NEW for r in after), "an old answer after the new version was served"
    assert holder.swaps == 1 and holder.current.version == NEW


def test_a_pinned_model_is_never_swapped(tmp_path):
    lake = tmp_path / "lake"
    pinned = write_tiny_lake(lake, version=OLD)
    holder = ModelHolder(str(lake), model_path=str(pinned), check_interval=0.0)
    holder.load()
    write_tiny_lake(lake, version=NEW)

    assert holder.refresh() is False and holder.get().version == OLD


def test_a_broken_new_version_keeps_the_old_one_serving(tmp_path):
    lake = tmp_path / "lake"
    write_tiny_lake(lake, version=OLD)
    holder = ModelHolder(str(lake), check_interval=0.0)
    holder.load()
    (lake / "models" / "als" / "LATEST").write_text("v=20990101T000000Z\n")  # names a folder that is not there

    with pytest.raises(FileNotFoundError):
        holder.refresh()
    assert holder.get().version == OLD and holder.swaps == 0
