"""Extractor benchmark: requests per second against the local Spotify API server, and requests vs the minimum.

The extractor (``musiclake_extract.api_extract.run_api``, ``--me`` with enrichment of tracks, albums and
artists) runs in-process against :class:`~musiclake_sim.fake_server.FakeSpotify` on 127.0.0.1, once per
scenario: no faults; a fixed latency on every request; the same latency plus injected 429 bursts; a few answers
slower than a short client timeout (each times out for real, then is retried: the tests inject timeouts
deterministically and leave the timing to this scenario).

The minimum is what the API requires for the same data: every distinct successful request URL, given that every
paged request already asks for the largest page the API allows (checked: the ``limit`` used per endpoint is
printed). Anything above it is a retry (429 / 5xx) or a repeated fetch.

Usage::

    python bench/extract_bench.py [--user-playlists 40 --latency 0.02 --bursts 5] [--slow 3 --timeout 0.3]
        [--no-write]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import append_section, load, table  # noqa: E402


def _shape(path: str) -> str:
    return re.sub(r"/[0-9A-Za-z]{22}(?=/|$)", "/{id}", path)


def run_scenario(name: str, args: argparse.Namespace, latency: float, bursts: int, slow: int = 0) -> dict:
    """One extraction on a fresh landing zone with the given faults; counts from the server's request log."""
    from musiclake_extract.api_extract import ApiOptions, run_api
    from musiclake_extract.client import Credentials
    from musiclake_sim.fake_server import FakeSpotify

    with FakeSpotify(args.seed, args.playlists, args.tracks, user_playlists=args.user_playlists) as api, \
            tempfile.TemporaryDirectory() as landing:
        if latency:
            api.latency(latency)
        if bursts:  # 429 bursts spread over the run: one now, the rest injected as the run goes
            api.inject_429(count=3, retry_after=1)
        if slow:  # answers slower than the client's timeout: each one times out, then is retried
            api.inject_slow(count=slow, seconds=args.slow_seconds, path="/v1/playlists/")
        creds = api.credentials()
        options = ApiOptions(landing=landing, me=True, api_base_url=api.api_base_url, token_url=api.token_url,
                             max_retry_after=5, timeout=args.timeout if slow else 10.0)
        started, before = time.monotonic(), load()
        injector = None
        if bursts > 1:
            import threading

            stop = threading.Event()

            def inject() -> None:
                for _ in range(bursts - 1):
                    if stop.wait(max(0.5, args.expected_seconds / bursts)):
                        return
                    api.inject_429(count=3, retry_after=1)

            injector = threading.Thread(target=inject, daemon=True)
            injector.start()
        result = run_api(options, Credentials(creds["SPOTIFY_CLIENT_ID"], creds["SPOTIFY_CLIENT_SECRET"],
                                              creds["SPOTIFY_REFRESH_TOKEN"]))
        seconds = time.monotonic() - started
        if injector:
            stop.set()
            injector.join()
        log = [r for r in api.requests if r["path"].startswith("/v1/")]
    ok = [r for r in log if r["status"] < 400 or r["status"] in (403, 404)]  # answers that land
    distinct = {(r["path"], tuple(sorted((r.get("query") or {}).items()))) for r in ok}
    limits: dict[str, set[str]] = {}
    for r in log:
        if "limit" in (r.get("query") or {}):
            limits.setdefault(_shape(r["path"]), set()).add(str(r["query"]["limit"]))
    statuses: dict[int, int] = {}
    for r in log:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "name": name, "status": result.status, "seconds": seconds, "requests": len(log), "minimum": len(distinct),
        "rps": len(log) / seconds, "statuses": statuses, "limits": {k: sorted(v) for k, v in limits.items()},
        "load": f"{before}-{load()}", "records": result.summary.get("records"),
        "timeouts": result.summary.get("timeouts", 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--playlists", type=int, default=400, help="catalog playlists on the server")
    parser.add_argument("--tracks", type=int, default=4000)
    parser.add_argument("--user-playlists", type=int, default=30, help="of them, owned by the demo user")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every request")
    parser.add_argument("--bursts", type=int, default=5, help="bursts of three 429s (Retry-After 1 s)")
    parser.add_argument("--slow", type=int, default=3, help="answers slower than --timeout (0: no such scenario)")
    parser.add_argument("--slow-seconds", type=float, default=1.5, help="how long each slow answer takes")
    parser.add_argument("--timeout", type=float, default=0.3, help="the client's timeout in the slow scenario")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    args.expected_seconds = 10.0

    import logging

    logging.getLogger().setLevel(logging.WARNING)
    results = [run_scenario("no faults", args, 0.0, 0)]
    args.expected_seconds = results[0]["requests"] * (args.latency + 0.002)
    results.append(run_scenario(f"latency {args.latency * 1000:.0f} ms", args, args.latency, 0))
    results.append(run_scenario(f"latency {args.latency * 1000:.0f} ms + {args.bursts} x 3 429s (Retry-After 1 s)",
                                args, args.latency, args.bursts))
    if args.slow:
        results.append(run_scenario(f"{args.slow} answers of {args.slow_seconds:g} s vs a {args.timeout:g} s timeout",
                                    args, 0.0, 0, args.slow))
    for r in results:
        print(f"{r['name']}: {r['requests']} requests in {r['seconds']:.1f}s = {r['rps']:.0f}/s, minimum "
              f"{r['minimum']}, statuses {r['statuses']}, timeouts {r['timeouts']}, {r['status']}, load {r['load']}",
              flush=True)
    body = table(
        ["scenario", "requests", "minimum for the data", "excess", "wall", "requests/s", "statuses", "timeouts", "run",
         "load"],
        [(r["name"], r["requests"], r["minimum"], r["requests"] - r["minimum"], f"{r['seconds']:.1f} s",
          f"{r['rps']:.0f}", r["statuses"], r["timeouts"], r["status"], r["load"]) for r in results],
    ) + (
        f"\n\nServer: {args.playlists} catalog playlists, {args.tracks} tracks; the demo user owns "
        f"{args.user_playlists} (plus the server's special and followed playlists); `--me`, enrichment of tracks, "
        "albums and artists (one request per id: the batch endpoints are gone). Page sizes used (limit): "
        f"{results[0]['limits']}. The minimum counts every distinct successful request URL."
    )
    append_section("Extractor: requests/s against the local Spotify API", body, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
