"""The one Java 17 lookup: Spark 3.5.6, like Glue 5.1, runs on Java 17, whatever the machine's default java is.

Standard library only, so the Makefile and scripts/bootstrap.sh can run it before any virtualenv exists::

    python3.11 lib/musiclake/java17.py      # prints the Java 17 home, or exits 1 with what to install
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

JAVA_MAJOR = "17"
JVM_ROOT = Path("/usr/lib/jvm")


class Java17NotFoundError(RuntimeError):
    """No Java 17 on this machine; the message says what to install."""


def find_java17(environ: Mapping[str, str] | None = None) -> Path:
    """Return a Java 17 home: ``JAVA_HOME`` if it is one, else the first Java 17 under /usr/lib/jvm.

    Raises
    ------
    Java17NotFoundError
        If there is none.
    """
    env = os.environ if environ is None else environ
    candidates = [Path(env["JAVA_HOME"])] if env.get("JAVA_HOME") else []
    if JVM_ROOT.is_dir():
        candidates += sorted(p for p in JVM_ROOT.iterdir() if "17" in p.name and not p.is_symlink())
    for home in candidates:
        if java_major(home) == JAVA_MAJOR:
            return home
    raise Java17NotFoundError(
        f"no Java 17 found (JAVA_HOME={env.get('JAVA_HOME', 'unset')}). Spark 3.5.6 / Glue 5.1 need Java 17: install "
        "openjdk-17-jdk-headless and set JAVA_HOME to it (e.g. export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64)."
    )


def java_major(home: Path) -> str | None:
    """The major version a JDK's ``release`` file declares (None when it has none)."""
    release = home / "release"
    if not release.is_file():
        return None
    for line in release.read_text().splitlines():
        if line.startswith("JAVA_VERSION="):
            return line.split("=", 1)[1].strip().strip('"').split(".")[0]
    return None


if __name__ == "__main__":
    try:
        print(find_java17())
    except Java17NotFoundError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
