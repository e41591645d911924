"""Answers a hostile or broken API server can send, and what the client does: it never reads more than it could land,
never waits longer than a bounded time for one answer, and never hands the access token to another host."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from musiclake import landing, storage
from musiclake.landing import MAX_RECORD_BYTES
from musiclake_extract.api_extract import ApiOptions, run_api
from musiclake_extract.client import Credentials, SpotifyClient, StopRun
from musiclake_extract.reporting import RunResult

Answer = Callable[[BaseHTTPRequestHandler], None]  # what the server does with a GET
TOKEN = json.dumps({"access_token": "t0ken", "token_type": "Bearer", "expires_in": 3600}).encode()


def _server(answer: Answer) -> Iterator[str]:
    """A local HTTP server: the token endpoint answers a token, every GET is ``answer``; yields its base URL."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(TOKEN)))
            self.end_headers()
            self.wfile.write(TOKEN)

        def do_GET(self) -> None:  # noqa: N802
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up, as it should
                answer(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _huge(handler: BaseHTTPRequestHandler) -> None:
    """A playlist whose body is 4 MiB over MAX_RECORD_BYTES, sent in 1 MiB writes."""
    filler = b" " * (1 << 20)
    size = MAX_RECORD_BYTES + 4 * len(filler) + 2
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    handler.wfile.write(b"{")
    for _ in range((size - 2) // len(filler)):
        handler.wfile.write(filler)
    handler.wfile.write(b"}")


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    """A 200 whose body arrives a byte every 0.1 s, for up to a minute: each read returns before any timeout."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "600")
    handler.end_headers()
    for _ in range(600):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.1)


@pytest.fixture
def trickling_api() -> Iterator[str]:
    yield from _server(_trickle)


def test_an_answer_over_max_record_bytes_is_not_read_past_the_limit_and_is_reported_not_landed(tmp_path):
    result, landed = _extract_playlist(_huge, str(tmp_path / "landing"))

    assert (result.status, result.exit_code, result.rejected) == ("complete", 4, 1)
    (rejected,) = result.summary["records_rejected"]
    assert rejected["entity"] == "playlists" and rejected["key"] == "p1"
    assert MAX_RECORD_BYTES < rejected["bytes"] <= MAX_RECORD_BYTES + (1 << 20)  # stopped within one more read
    assert rejected["reason"].startswith("response over MAX_RECORD_BYTES")
    assert result.summary["records"] == 0 and landed == []


def test_an_answer_that_trickles_in_is_given_up_within_its_read_budget_and_stops_the_run(trickling_api):
    client = SpotifyClient(Credentials("id", "secret"), api_base_url=f"{trickling_api}/v1/",
                           token_url=f"{trickling_api}/api/token", timeout=0.5, max_retries=1, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(StopRun):
        client.playlist("p1")
    elapsed = time.monotonic() - started
    # two attempts (the first and one retry), each given up after 6 request timeouts (3 s); the body takes 60 s
    assert elapsed < 15
    assert client.stats.timeouts == 2


def _answering(body: bytes, content_type: str) -> Answer:
    """An answer of status 200 with ``body`` to every GET."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return answer


def _extract_playlist(answer: Answer, landing_root: str) -> tuple[RunResult, list[dict]]:
    """``musiclake-extract api`` of one playlist, ``p1``, from a server answering ``answer``: the run's result and
    the records it landed."""
    server = _server(answer)
    base = next(server)
    try:
        result = run_api(ApiOptions(landing=landing_root, me=False, playlists=["p1"], enrich=(),
                                    api_base_url=f"{base}/v1/", token_url=f"{base}/api/token", backoff=0.01),
                         Credentials("id", "secret"))
    finally:
        server.close()
    return result, [r for m in landing.complete_runs(landing_root)
                    for uri in m.file_uris(landing_root) for r in landing.decode_records(storage.get_bytes(uri))]


DEEP = "[" * 100_000 + "]" * 100_000  # valid JSON that Python's decoder refuses (RecursionError)
PAGE = "<html><body>Service temporarily overloaded</body></html>"  # a proxy's or a broken server's page


def test_an_answer_nested_too_deep_to_decode_is_landed_as_its_text_instead_of_crashing_the_run(tmp_path):
    result, landed = _extract_playlist(_answering(DEEP.encode(), "application/json"), str(tmp_path / "landing"))

    assert (result.status, result.exit_code, result.summary["records"]) == ("complete", 0, 1)
    (record,) = landed
    assert record["key"] == "p1" and record["body"] == DEEP


def test_a_200_answer_that_is_not_json_is_landed_with_its_text_not_as_a_null_body(tmp_path):
    """spotipy turns a body it cannot decode into None: the envelope said ``"body": null`` and the text was lost."""
    result, landed = _extract_playlist(_answering(PAGE.encode(), "text/html"), str(tmp_path / "landing"))

    assert result.status == "complete"
    (record,) = landed
    assert (record["http_status"], record["body"]) == (200, PAGE)
