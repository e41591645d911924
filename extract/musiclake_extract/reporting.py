"""Progress on a terminal and the end-of-run summary, shared by the ``api`` and ``mpd`` commands."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

EXIT_COMPLETE = 0  # complete: manifest written, nothing rejected
EXIT_ERROR = 1  # unexpected error (the checkpoint, if any, is kept)
EXIT_USAGE = 2  # usage or configuration error, refused credentials, a conflicting checkpoint
EXIT_STOPPED = 3  # stopped cleanly with a checkpoint: run the same command again to resume
EXIT_REJECTED = 4  # complete (manifest written) but input was rejected: see the summary's rejections


class UsageError(Exception):
    """A configuration problem reported with exit code 2 (the CLI) or raised (the Lambda handler)."""


@dataclass
class RunResult:
    """The outcome of one invocation: complete (manifest written) or stopped (checkpoint kept)."""

    status: str  # "complete" | "stopped"
    run_id: str
    source: str
    summary: dict[str, Any]
    manifest_uri: str | None = None
    checkpoint_uri: str | None = None
    message: str = ""
    rejected: int = 0  # slices and records refused (malformed, truncated, over MAX_RECORD_BYTES)

    @property
    def exit_code(self) -> int:
        if self.status != "complete":
            return EXIT_STOPPED
        return EXIT_REJECTED if self.rejected else EXIT_COMPLETE

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": self.run_id,
            "source": self.source,
            "exit_code": self.exit_code,
            "manifest_uri": self.manifest_uri,
            "checkpoint_uri": self.checkpoint_uri,
            "message": self.message,
            "rejected": self.rejected,
            "summary": self.summary,
        }


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


@dataclass
class Progress:
    """A one-line progress display on stderr, drawn only when it is a terminal (and at most 10 times a second)."""

    label: str
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    enabled: bool | None = None
    _last: float = 0.0
    _width: int = 0

    def __post_init__(self) -> None:
        if self.enabled is None:
            self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        line = f"[{self.label}] {text}"
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def format_summary(result: RunResult) -> str:
    """The human-readable end-of-run report printed by the CLI."""
    s = result.summary
    lines = [f"{result.source} run {result.run_id}: {result.status}"]
    if "requests" in s:
        lines.append(
            f"  requests {s.get('requests', 0)} (retries {s.get('retries', 0)}, token "
            f"{s.get('token_requests', 0)}, throttled {s.get('throttled', 0)}, waited "
            f"{s.get('waited_seconds', 0):.1f} s)"
        )
    by_entity = ", ".join(f"{k} {v}" for k, v in sorted(s.get("records_by_entity", {}).items())) or "none"
    lines.append(f"  records landed {s.get('records', 0)} ({by_entity})")
    if "playlist_items" in s:
        lines.append(
            f"  playlist items landed {s['playlist_items']}; playlists unchanged (skipped) "
            f"{len(s.get('playlists_unchanged', []))}; forbidden (403) {len(s.get('forbidden_playlists', []))}"
        )
    if "slices_landed" in s:
        lines.append(
            f"  slices landed {len(s['slices_landed'])}, already landed (skipped) "
            f"{len(s.get('slices_skipped', []))}, rejected {len(s.get('slices_rejected', []))}"
        )
        for rejected in s.get("slices_rejected", []):
            lines.append(f"    rejected {rejected['name']}: {rejected['reason']}")
        if s.get("files_ignored"):
            lines.append(
                f"  files ignored (not mpd.slice.*.json or .json.gz) {len(s['files_ignored'])}: "
                + ", ".join(s["files_ignored"][:5])
                + (" ..." if len(s["files_ignored"]) > 5 else "")
            )
    if s.get("records_rejected"):
        lines.append(f"  records rejected (not landed) {len(s['records_rejected'])}")
        for rejected in s["records_rejected"][:20]:
            where = rejected.get("slice") or rejected.get("url") or ""
            lines.append(f"    rejected {rejected['entity']} {rejected['key']} {where}: {rejected['reason']}")
    lines.append(
        f"  files {s.get('files', 0)}, bytes {s.get('bytes', 0)} ({human_bytes(s.get('bytes', 0))}), "
        f"attempts {s.get('attempts', 1)}"
    )
    if s.get("errors_by_status"):
        lines.append(
            "  error answers by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["errors_by_status"].items()))
        )
    if s.get("orphaned_parts"):
        lines.append(f"  orphaned parts from an interrupted commit (not in the manifest): {len(s['orphaned_parts'])}")
    if result.manifest_uri:
        lines.append(f"  manifest {result.manifest_uri}")
    if result.message:
        lines.append(result.message)
    return "\n".join(lines)
