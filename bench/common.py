"""Shared pieces of the benchmark scripts: the machine description, peak memory of a process tree, BENCHMARKS.md.

Benchmarks print their figures and append a dated section to ``BENCHMARKS.md`` at the repository root. Every
figure carries the load average at the time it was taken: on a shared machine that is what makes a timing
readable.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from musiclake.java17 import find_java17

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
BENCH_HOME = Path(os.environ.get("MUSICLAKE_BENCH_HOME", "/tmp/musiclake-bench"))


def load() -> str:
    """The 1-minute load average, formatted (the figure to read every timing against)."""
    return f"{os.getloadavg()[0]:.1f}"


def machine() -> str:
    """One line describing the machine and the versions that matter."""
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:  # pragma: no cover - psutil is in the bench extra
        memory = "? GiB"
    versions = []
    for module in ("pyspark", "duckdb", "implicit", "numpy"):
        with contextlib.suppress(ImportError):
            versions.append(f"{module} {__import__(module).__version__}")
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {', '.join(versions)}; load average at start {load()}"
    )


def spark_env(home: Path) -> dict[str, str]:
    """Environment for a Glue job run locally, its state under ``home``."""
    env = {**os.environ, "MUSICLAKE_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    env["JAVA_HOME"] = str(find_java17())
    return env


@dataclass
class Measured:
    """Wall time, peak resident memory of the whole process tree, the load average around the run.

    ``peak_rss_mb`` sums each process's resident set, so pages that forked processes share (the Python workers a
    JVM forks) count once per process; ``peak_pss_mb`` sums their proportional sets (a shared page split between
    its sharers): the tree's real footprint. 0 where the kernel does not report it.
    """

    seconds: float
    peak_rss_mb: float
    load_before: str
    load_after: str
    returncode: int = 0
    peak_pss_mb: float = 0.0

    @property
    def load(self) -> str:
        return f"{self.load_before}-{self.load_after}"


def _pss_bytes(pid: int) -> int:
    """A process's proportional set size from ``/proc/<pid>/smaps_rollup`` (one read, summed by the kernel); 0
    when unavailable (not Linux, the process gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the summed RSS and PSS of a process and its children (psutil, ``/proc/<pid>/smaps_rollup``) every
    ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self._interval = interval
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> tuple[int, int]:
        import psutil

        rss = pss = 0
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return 0, 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                rss += proc.memory_info().rss
            pss += _pss_bytes(proc.pid)
        return rss, pss

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss = self._sample()
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(argv: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None) -> Measured:
    """Run a command to completion; wall time and peak RSS of its process tree. Output goes to ``log``."""
    before = load()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        started = time.monotonic()
        proc = subprocess.Popen(list(argv), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        with PeakMemory(proc.pid) as peak:
            code = proc.wait()
        seconds = time.monotonic() - started
    finally:
        if log:
            out.close()
    return Measured(seconds, peak.peak / 2**20, before, load(), code, peak.peak_pss / 2**20)


def measure_here(fn, *args, **kwargs) -> tuple[object, Measured]:  # noqa: ANN001 - any callable
    """Call ``fn`` in this process: its result, wall time and this process's peak RSS while it ran."""
    before = load()
    started = time.monotonic()
    with PeakMemory(os.getpid()) as peak:
        result = fn(*args, **kwargs)
    return result, Measured(time.monotonic() - started, peak.peak / 2**20, before, load(),
                            peak_pss_mb=peak.peak_pss / 2**20)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def append_section(title: str, body: str, *, path: Path = BENCHMARKS_MD, write: bool = True) -> str:
    """Print a dated section and append it to BENCHMARKS.md (unless ``write`` is false)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"\n## {title} ({stamp})\n\nMachine: {machine()}.\nCommand: `{' '.join(sys.argv)}`\n\n{body.strip()}\n"
    print(text, flush=True)
    if write:
        if not path.exists():
            path.write_text(
                "# musiclake benchmarks\n\nAppended by the scripts in `bench/` (`make bench`); newest last. "
                "Timings were taken on a shared machine: read each one against the load average next to it.\n"
            )
        with path.open("a") as handle:
            handle.write(text)
    return text
