"""``make demo``: the whole pipeline end to end on embedded data, with no AWS and no Spotify account.

1. a seeded synthetic catalog (Zipf-like popularity, taste clusters) written as Million Playlist Dataset slices;
2. the local Spotify API server (same catalog, 2026 semantics) and the extractor against it (`musiclake-extract
   api --me`), then the MPD import (`musiclake-extract mpd`), both into the landing zone;
3. the Glue jobs, each started exactly as Glue starts it (`python glue_jobs/v1/<job>.py --JOB_NAME ...`):
   raw_to_interactions (raw_to_curated, then build_interactions, in one run: the ETL workflow's job) ->
   train_als;
4. table counts, and sample recommendations (`musiclake recommend`) for a known playlist and for a new one;
5. the HTML report of the lake (`musiclake report`);
6. the HTTP API (`musiclake serve`) started on a free loopback port, asked once, and stopped.

Everything lives under ``$MUSICLAKE_HOME/demo`` (default ``.musiclake/demo``). Running the demo again is
idempotent: nothing new is landed, the ETL jobs find no new runs and skip.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from musiclake.runtime import musiclake_home

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "glue_jobs" / "v1"
BIN = Path(sys.executable).parent


def _step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    started = time.monotonic()
    result = subprocess.run(argv, env={**os.environ, **(env or {})}, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed (exit {result.returncode}): {' '.join(argv[:2])}; see the output above")
    print(f"   ({time.monotonic() - started:.0f}s)", flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_once(lake: Path, env: dict[str, str], path: str, timeout_s: float = 120.0) -> None:
    """Start ``musiclake serve`` on a free loopback port, wait for /healthz, print one answer, stop it."""
    port = _free_port()
    argv = [str(BIN / "musiclake"), "serve", "--lake_path", str(lake), "--port", str(port), "--no_access_log"]
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    server = subprocess.Popen(argv, env={**os.environ, **env}, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if server.poll() is not None:
                raise SystemExit(f"demo step failed: musiclake serve exited with {server.returncode}; see above")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as health:
                    if health.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"demo step failed: musiclake serve did not answer /healthz in {timeout_s:.0f}s")
            time.sleep(0.3)
        print(f"$ curl -s '{base}{path}'", flush=True)
        with urllib.request.urlopen(f"{base}{path}", timeout=10) as answer:
            body = json.load(answer)
        for track in body.get("tracks", [])[:5]:
            print(f"   {track['rank']:>2}  {track.get('track_name') or '?':<40} {track.get('artist_name') or '?':<28}"
                  f" {track['score']:.4f}")
        print(f"   ({len(body.get('tracks', []))} tracks from model v={body.get('model_version')}; "
              f"full answer: curl -s '{base}{path}')", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="musiclake-demo", description=__doc__.split("\n")[0])
    parser.add_argument("--home", default=str(musiclake_home()))
    parser.add_argument("--playlists", type=int, default=2000, help="synthetic MPD playlists (default 2000)")
    parser.add_argument("--tracks", type=int, default=3000, help="catalog tracks (default 3000)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from musiclake_sim.catalog import generate_catalog, write_mpd_slices
    from musiclake_sim.fake_server import FakeSpotify

    home = Path(args.home).resolve()
    demo = home / "demo"
    landing, lake, mpd_dir = demo / "landing", demo / "lake", demo / "mpd"
    env = {"MUSICLAKE_HOME": str(home)}
    total = time.monotonic()

    _step(f"generating a synthetic catalog and MPD slices ({args.playlists} playlists, {args.tracks} tracks)")
    catalog = generate_catalog(args.seed, args.playlists, args.tracks)
    slices = write_mpd_slices(catalog, mpd_dir)
    print(f"   {len(slices)} slice files in {mpd_dir}")

    with FakeSpotify(catalog=catalog) as api:
        _step(f"extracting from the local Spotify API server at {api.base_url} (user flow: --me)")
        _run([str(BIN / "musiclake-extract"), "api", "--landing", str(landing), "--me",
              "--api-base-url", api.api_base_url, "--token-url", api.token_url, "--max-retry-after", "5"],
             env={**env, **api.credentials()})
    _step("importing the MPD slices")
    _run([str(BIN / "musiclake-extract"), "mpd", "--source", str(mpd_dir), "--landing", str(landing)], env=env)

    common = ["--lake_path", str(lake), "--database", "musiclake"]
    _step("Glue job raw_to_interactions (raw_to_curated, then build_interactions, in one run)")
    _run([sys.executable, str(JOBS / "raw_to_interactions.py"), "--JOB_NAME", "raw_to_interactions",
          "--raw_path", str(landing), *common], env=env)
    _step("Glue job train_als (tuned on a validation split, evaluated against popularity, refit on all data)")
    _run([sys.executable, str(JOBS / "train_als.py"), "--JOB_NAME", "train_als", *common, "--tune", "true",
          "--top_k", "100"], env=env)

    _step("tables and sample recommendations")
    _run([str(BIN / "musiclake"), "tables", "--lake_path", str(lake)], env=env)
    _run([str(BIN / "musiclake"), "recommend", "--lake_path", str(lake), "--playlist", "mpd:0", "--k", "10"], env=env)
    seeds = ",".join(catalog.tracks[i]["id"] for i in catalog.playlists[1]["tracks"][:3])
    _step("a new playlist from three seed tracks, folded into the trained item factors (no retraining)")
    _run([str(BIN / "musiclake"), "recommend", "--lake_path", str(lake), "--tracks", seeds, "--k", "10"], env=env)
    report_dir = demo / "report"
    _step("the HTML report: the analytics queries (lib/musiclake/sql) charted, no Spark")
    _run([str(BIN / "musiclake"), "report", "--lake_path", str(lake), "--out", str(report_dir)], env=env)
    _step("the HTTP API: musiclake serve (FastAPI on uvicorn, no Spark), one request, then stopped")
    _serve_once(lake, env, "/v1/playlists/mpd:0/recommendations?k=10")
    print(f"\ndemo finished in {time.monotonic() - total:.0f}s; lake: {lake}; landing zone: {landing}")
    print(f"report: {report_dir / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
