"""Serving benchmark: the HTTP API on loopback under a bounded load, and the JVM-free CLI as whole processes.

1. A synthetic model in the trained layout (:func:`write_model`: random factors, id maps, ``Y^T Y``, popular
   tracks, the ``interactions`` / ``tracks`` / ``playlists`` Delta tables) - default 100k playlists x 200k tracks,
   rank 64, 20 tracks per playlist.
2. ``musiclake serve`` on 127.0.0.1 in a subprocess (one process, uvicorn, batching on), then a load
   generator in this process (asyncio, raw HTTP/1.1 keep-alive connections: a few microseconds of client CPU per
   request, so the two shared cores go to the server) for two request kinds - a known playlist
   (``GET /v1/playlists/{id}/recommendations?k=10``) and a fold-in from 10 seed tracks
   (``POST /v1/recommendations``) - each in two runs:

   * closed loop: ``--clients`` connections, each sending its next request when the answer arrives, for
     ``--seconds``: the most requests per second the server sustains;
   * open loop: requests sent on a fixed schedule at the issue's target rate for ``--seconds``, latency measured from
     the scheduled send time (so queueing counts), over at most ``--connections`` connections: p50/p99 at that rate.

   The server's resident memory is sampled (psutil) after loading and during the load, and compared with the factor
   bytes; an empty server (no model) gives the runtime's own share.
3. ``--lake``: ``musiclake recommend --playlist`` and ``musiclake tables`` timed as whole processes on that lake.

Usage::

    python bench/serve_bench.py [--playlists 100000 --tracks 200000 --rank 64] [--seconds 10] [--lake L] [--no-write]

Every loop is bounded in count and time and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_HOME, REPO, append_section, load, run_measured, table  # noqa: E402

VERSION = "20260101T000000Z"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MUSICLAKE = str(Path(sys.executable).parent / "musiclake")  # the console script of this virtualenv
TARGETS = {"playlist": (500, 50.0), "fold-in": (150, 100.0)}  # req/s, p99 ms (issue #15)


# --- a model in the trained layout, without Spark ------------------------------------------------------------------

def track_id(index: int) -> str:
    """A 22-character base62 id, shaped like a Spotify track id, distinct per index."""
    chars, number = [], index * 2654435761 % 62**22
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def write_model(
    lake: str | Path,
    *,
    item_factors: np.ndarray,
    user_factors: np.ndarray,
    pairs: np.ndarray,
    track_ids: list[str] | None = None,
    playlist_ids: list[str] | None = None,
    track_names: list[str] | None = None,
    playlist_names: list[str] | None = None,
    version: str = VERSION,
    reg_param: float = 0.1,
    alpha: float = 10.0,
    latest: bool = True,
    parts: int = 2,
) -> Path:
    """Write a model folder ``<lake>/models/als/v=<version>`` exactly as ``train_als`` lays it out.

    Parameters
    ----------
    item_factors, user_factors
        ``(n_tracks, rank)`` and ``(n_playlists, rank)``; row ``i`` is index ``i``.
    pairs
        ``(n, 2)`` ``playlist_idx, track_idx`` of the training interactions (written as the lake's ``interactions``
        Delta table, version 0, which the metadata names as the training input).
    track_ids, playlist_ids
        Ids by index (default: base62 track ids, ``mpd:<i>`` playlists).
    track_names, playlist_names
        Also write the ``tracks`` (names, artist ``artist <i % 97>``) and ``playlists`` Delta tables.
    latest
        Point ``models/als/LATEST`` at the new version (written last, as the job does).

    Returns
    -------
    The model folder.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    lake = Path(lake)
    n_tracks, rank = item_factors.shape
    n_playlists = len(user_factors)
    track_ids = track_ids or [track_id(i) for i in range(n_tracks)]
    playlist_ids = playlist_ids or [f"mpd:{i}" for i in range(n_playlists)]
    folder = lake / "models" / "als" / f"v={version}"
    for name, factors in (("itemFactors", item_factors), ("userFactors", user_factors)):
        out = folder / "model" / name
        out.mkdir(parents=True, exist_ok=True)
        for part, rows in enumerate(np.array_split(np.arange(len(factors)), parts)):
            values = pa.array(np.ascontiguousarray(factors[rows], dtype=np.float32).ravel())
            offsets = pa.array(np.arange(len(rows) + 1, dtype=np.int32) * rank)
            pq.write_table(pa.table({"id": pa.array(rows.astype(np.int32)),
                                     "features": pa.ListArray.from_arrays(offsets, values)}),
                           out / f"part-{part:05d}-synthetic.snappy.parquet")
        (out / "_SUCCESS").touch()
    (folder / "model" / "metadata").mkdir(parents=True, exist_ok=True)
    maps = (("track_ids", "track_id", "track_idx", track_ids), ("playlist_ids", "playlist_id", "playlist_idx",
                                                                  playlist_ids))
    for name, id_col, idx_col, ids in maps:
        (folder / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({id_col: pa.array(ids, pa.string()),
                                 idx_col: pa.array(np.arange(len(ids), dtype=np.int32))}),
                       folder / name / "part-00000-synthetic.snappy.parquet")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    counts = np.bincount(pairs[:, 1], minlength=n_tracks)
    top = np.lexsort((np.arange(n_tracks), -counts))[: min(1000, n_tracks)]
    (folder / "popular_tracks").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"track_id": pa.array([track_ids[i] for i in top], pa.string()),
                             "track_idx": pa.array(top.astype(np.int32)),
                             "score": pa.array(counts[top].astype(np.float64)),
                             "rank": pa.array(np.arange(1, len(top) + 1, dtype=np.int32))}),
                   folder / "popular_tracks" / "part-00000-synthetic.snappy.parquet")
    np.save(folder / "item_gram.npy", item_factors.astype(np.float64).T @ item_factors.astype(np.float64))
    interactions = lake / "interactions"
    if not (interactions / "_delta_log").exists():
        write_deltalake(str(interactions), pa.table({
            "playlist_idx": pa.array(pairs[:, 0].astype(np.int32)),
            "track_idx": pa.array(pairs[:, 1].astype(np.int32)),
            "playlist_id": pa.array([playlist_ids[p] for p in pairs[:, 0]], pa.string()),
            "track_id": pa.array([track_ids[t] for t in pairs[:, 1]], pa.string()),
            "weight": pa.array(np.ones(len(pairs))),
        }))
    if track_names is not None and not (lake / "tracks" / "_delta_log").exists():
        write_deltalake(str(lake / "tracks"), pa.table({
            "track_id": pa.array(track_ids, pa.string()), "track_name": pa.array(track_names, pa.string()),
            "artist_name": pa.array([f"artist {i % 97}" for i in range(n_tracks)], pa.string())}))
    if playlist_names is not None and not (lake / "playlists" / "_delta_log").exists():
        write_deltalake(str(lake / "playlists"), pa.table({
            "playlist_id": pa.array(playlist_ids, pa.string()), "name": pa.array(playlist_names, pa.string())}))
    metadata = {
        "version": version, "created_at": datetime.now(UTC).isoformat(), "musiclake_version": "synthetic",
        "params": {"rank": rank, "reg_param": reg_param, "alpha": alpha, "max_iter": 10, "seed": 42},
        "implicit_prefs": True, "rank": rank,
        "input": {"path": str(interactions), "format": "delta", "delta_version": 0, "id_maps": "input",
                  "interactions": len(pairs), "playlists": n_playlists, "tracks": n_tracks},
        "evaluation": None, "tuning": None, "outputs": {}, "options": {"top_k": 500, "similar_k": 20},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2))
    if latest:
        pointer = lake / "models" / "als" / "LATEST"
        tmp = pointer.with_name(".LATEST.tmp")
        tmp.write_text(f"v={version}\n")
        tmp.replace(pointer)  # atomic: a reader sees the old or the new pointer
    return folder


def random_model(lake: str | Path, playlists: int, tracks: int, rank: int, per_playlist: int = 20, seed: int = 1,
                 **kwargs) -> Path:
    """:func:`write_model` with random factors and ``per_playlist`` random tracks per playlist (Zipf-like)."""
    rng = np.random.default_rng(seed)
    items = (rng.standard_normal((tracks, rank), dtype=np.float32) * 0.1).astype(np.float32)
    users = (rng.standard_normal((playlists, rank), dtype=np.float32) * 0.1).astype(np.float32)
    popularity = 1.0 / np.arange(1, tracks + 1) ** 0.8
    chosen = rng.choice(tracks, size=(playlists, per_playlist), p=popularity / popularity.sum())
    pairs = np.unique(np.stack([np.repeat(np.arange(playlists), per_playlist), chosen.ravel()], axis=1), axis=0)
    names = kwargs.pop("names", True)
    return write_model(lake, item_factors=items, user_factors=users, pairs=pairs,
                       track_names=[f"track {i}" for i in range(tracks)] if names else None,
                       playlist_names=[f"playlist {i}" for i in range(playlists)] if names else None, **kwargs)


# --- the server -----------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """``musiclake serve`` in a subprocess on 127.0.0.1."""

    lake: Path
    log: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen | None = None
    empty: bool = False  # the app with no model (answers 503): the runtime's own memory
    blas_threads: int = 1

    def start(self, timeout: float = 300.0) -> float:
        """Start and wait until /healthz answers (any status); the seconds it took."""
        started = time.monotonic()
        self.out = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        argv = [MUSICLAKE, "serve", "--lake_path", str(self.lake), "--port",
                str(self.port), "--no_access_log", "--log_level", "warning", "--blas_threads", str(self.blas_threads),
                "-v"]
        if self.empty:
            argv = [sys.executable, "-c", "import sys, uvicorn; from musiclake.serve.app import create_app; "
                    "uvicorn.run(create_app(sys.argv[1], preload=False), host='127.0.0.1', port=int(sys.argv[2]), "
                    "log_level='warning', access_log=False)", str(self.lake), str(self.port)]
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT, cwd=REPO)
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}); see {self.log}")
            try:
                status, _ = asyncio.run(_once("127.0.0.1", self.port, "GET", "/healthz"))
                if status:
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"server did not answer within {timeout}s; see {self.log}")

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def cpu_seconds(self) -> float:
        """CPU time the server has used (user + system, all threads): per request, the figure the load of other
        processes inflates least."""
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


# --- the load generator (raw HTTP/1.1 keep-alive on asyncio streams) ------------------------------------------------

def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> tuple[int, bytes]:
    writer.write(data)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def _once(host: str, port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return await _exchange(reader, writer, _request(method, path, body))
    finally:
        writer.close()


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    cpu_ms: float = float("nan")  # server CPU per request

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


async def closed_loop(port: int, make, clients: int, seconds: float, cap: int = 200_000) -> LoadResult:
    """``clients`` connections, each sending its next request when the answer arrives, for ``seconds``."""
    result = LoadResult()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline and result.sent < cap:
                result.sent += 1
                sent = time.perf_counter()
                status, _ = await _exchange(reader, writer, make())
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                result.ok += status == 200
                result.failed += status != 200
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


async def open_loop(port: int, make, rate: float, seconds: float, connections: int) -> LoadResult:
    """Requests on a fixed schedule (``rate`` per second for ``seconds``); latency from the scheduled send time."""
    result = LoadResult()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(scheduled: float) -> None:
        reader, writer = await pool.get()
        try:
            status, _ = await _exchange(reader, writer, make())
            result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
            result.ok += status == 200
            result.failed += status != 200
        except (ConnectionError, asyncio.IncompleteReadError):
            result.failed += 1
        finally:
            pool.put_nowait((reader, writer))

    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.sent += 1
        tasks.append(asyncio.ensure_future(one(scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return result


def request_makers(playlists: int, tracks: int, seed: int = 7) -> dict[str, object]:
    rng = random.Random(seed)
    ids = [track_id(i) for i in range(min(tracks, 50_000))]  # seeds from the more popular end of the catalog

    def playlist() -> bytes:
        return _request("GET", f"/v1/playlists/mpd:{rng.randrange(playlists)}/recommendations?k=10")

    def fold_in() -> bytes:
        body = json.dumps({"track_ids": rng.sample(ids, 10), "k": 10}).encode()
        return _request("POST", "/v1/recommendations", body)

    return {"playlist": playlist, "fold-in": fold_in}


def _run(coro):  # noqa: ANN001, ANN202 - a coroutine and its result
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


# --- the CLI as whole processes -------------------------------------------------------------------------------------

def time_cli(lake: str, playlist: str, repeat: int) -> list[tuple[str, float, float, str]]:
    rows = []
    commands = (("recommend --playlist", ["recommend", "--lake_path", lake, "--playlist", playlist, "--k", "10"]),
                ("tables", ["tables", "--lake_path", lake]))
    for name, argv in commands:
        runs = [run_measured([MUSICLAKE, *argv]) for _ in range(repeat)]
        if any(r.returncode for r in runs):
            raise RuntimeError(f"musiclake {name} failed (exit {runs[0].returncode})")
        best = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
        rows.append((f"`musiclake {name}`", best.seconds, best.peak_rss_mb, best.load))
    return rows


# --- main ------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--playlists", type=int, default=100_000)
    parser.add_argument("--tracks", type=int, default=200_000)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--per-playlist", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run (at most 120)")
    parser.add_argument("--clients", type=int, default=16, help="connections of the closed-loop runs")
    parser.add_argument("--connections", type=int, default=64, help="connection pool of the open-loop runs")
    parser.add_argument("--blas-threads", type=int, default=1, help="the server's --blas_threads (default 1)")
    parser.add_argument("--lake", help="also time the CLI on this lake (e.g. .musiclake/demo/lake)")
    parser.add_argument("--playlist", default="mpd:0", help="playlist for the timed `recommend` (default mpd:0)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each CLI timing (the median is shown)")
    parser.add_argument("--home", type=Path, default=BENCH_HOME / "serve")
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    seconds = min(args.seconds, 120.0)

    lake = args.home / f"lake-{args.playlists}x{args.tracks}r{args.rank}"
    if not (lake / "models" / "als" / "LATEST").exists():
        shutil.rmtree(lake, ignore_errors=True)
        started = time.monotonic()
        random_model(lake, args.playlists, args.tracks, args.rank, args.per_playlist)
        print(f"synthetic model written to {lake} in {time.monotonic() - started:.0f}s", flush=True)
    factor_mb = (args.playlists + args.tracks) * args.rank * 4 / 2**20

    empty = Server(args.home / "empty-lake", args.home / "server-empty.log", empty=True)
    empty.lake.mkdir(parents=True, exist_ok=True)
    empty.start()
    time.sleep(1.0)
    runtime_mb = empty.rss_mb()
    empty.stop()

    server = Server(lake, args.home / "server.log", blas_threads=args.blas_threads)
    load_seconds = server.start()
    loaded_mb = server.rss_mb()
    print(f"server up in {load_seconds:.1f}s: RSS {loaded_mb:.0f} MB (empty server {runtime_mb:.0f} MB), factors "
          f"{factor_mb:.0f} MB", flush=True)
    makers = request_makers(args.playlists, args.tracks)
    rows, peak_mb = [], loaded_mb
    try:
        for kind, make in makers.items():
            _run(closed_loop(server.port, make, 4, 2.0))  # warm-up
            cpu = server.cpu_seconds()
            closed = _run(closed_loop(server.port, make, args.clients, seconds))
            closed.cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(1, closed.ok + closed.failed)
            peak_mb = max(peak_mb, server.rss_mb())
            rate, p99_target = TARGETS[kind]
            cpu = server.cpu_seconds()
            opened = _run(open_loop(server.port, make, rate, seconds, args.connections))
            opened.cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(1, opened.ok + opened.failed)
            peak_mb = max(peak_mb, server.rss_mb())
            for label, r in ((f"closed loop, {args.clients} connections", closed),
                             (f"open loop at {rate} req/s", opened)):
                rows.append((kind, label, f"{r.rate:.0f}", f"{r.pct(50):.1f}", f"{r.pct(99):.1f}", r.failed,
                             f"{r.cpu_ms:.2f}", f">= {rate} req/s, p99 <= {p99_target:.0f} ms", load()))
                print(f"{kind:<9} {label:<28} {r.rate:7.0f} req/s  p50 {r.pct(50):6.1f} ms  p99 {r.pct(99):6.1f} ms  "
                      f"failed {r.failed}  server CPU {r.cpu_ms:.2f} ms/request  load {load()}", flush=True)
    finally:
        server.stop()
    batches = [line for line in server.log.read_text().splitlines() if "scored" in line]

    body = table(["request", "run", "req/s", "p50 ms", "p99 ms", "failed", "server CPU ms/request", "target",
                  "load after"], rows)
    body += (
        f"\n\nModel: {args.playlists:,} playlists x {args.tracks:,} tracks, rank {args.rank} (float32 factors "
        f"{factor_mb:.0f} MB), {args.per_playlist} tracks per playlist; k = 10; fold-in from 10 random seeds. "
        f"One server process (uvicorn + uvloop/httptools, {args.blas_threads} BLAS thread(s)), requests batched into "
        "one matrix product "
        f"({batches[-1].split(': ', 1)[-1] if batches else 'batch sizes not logged'}). Server RSS: {loaded_mb:.0f} MB "
        f"loaded, {peak_mb:.0f} MB peak under load ({peak_mb / factor_mb:.1f}x the factor bytes); an empty server "
        f"(Python, numpy, FastAPI, uvicorn; no model: pyarrow and delta-rs load models in a child process) "
        f"is {runtime_mb:.0f} MB, so the model adds "
        f"{peak_mb - runtime_mb:.0f} MB ({(peak_mb - runtime_mb) / factor_mb:.1f}x). Loading took {load_seconds:.1f} s."
        " The load generator runs on the same two cores as the server. Server CPU per request (user + system, all "
        "threads) bounds the rate two idle cores could sustain at about 2000 / (CPU ms per request)."
    )
    if args.lake:
        cli_rows = time_cli(args.lake, args.playlist, args.repeat)
        body += "\n\n" + table(["command (whole process)", "wall", "peak RSS", "load"],
                               [(c, f"{s:.2f} s", f"{m:.0f} MB", ld) for c, s, m, ld in cli_rows])
        body += f"\n\nLake: `{args.lake}`; median of {args.repeat} runs."
        for c, s, _, _ in cli_rows:
            print(f"{c}: {s:.2f}s", flush=True)
    append_section("Serving: HTTP API and JVM-free CLI", body, write=not args.no_write)
    print(f"median load during the run: {statistics.median([float(r[-1]) for r in rows]):.1f}; "
          f"server log: {server.log}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
