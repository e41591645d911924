"""The images' supply chain: the base image pulled by digest, the extractor's Python packages from a hashed lock.

No Docker here: the Dockerfiles are read as text, the digest check they run is executed with Python, and
``docker/extractor/base-image.sh`` runs against a stand-in ``docker`` on ``PATH``.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from iac_helpers import REPO

EXTRACTOR = REPO / "docker" / "extractor" / "Dockerfile"
SERVING = REPO / "docker" / "serving" / "Dockerfile"
BASE_IMAGE_SH = REPO / "docker" / "extractor" / "base-image.sh"
LOCK = REPO / "requirements" / "extractor-image.txt"
BUILD_LOCK = REPO / "requirements" / "extractor-image-build.txt"
DIGEST = "sha256:" + "ab" * 32


def _instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def _locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a pip-compile --generate-hashes lock."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)", line)
        assert match, f"{path.name}: not an exact pin with hashes: {line}"
        out[match[1].lower()] = (match[2], re.findall(r"sha256:([0-9a-f]{64})", match[3]))
    return out


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.split(";")[0].strip()
    return pins


def _extract_extra() -> set[str]:
    """The package names of setup.py's EXTRACT list (the extract extra)."""
    for node in ast.parse((REPO / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "EXTRACT" for t in node.targets):
            return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in ast.literal_eval(node.value)}
    raise AssertionError("setup.py has no EXTRACT list")


# ---- Python packages ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lock", [LOCK, BUILD_LOCK], ids=lambda p: p.name)
def test_every_locked_package_is_pinned_with_hashes_at_the_constraints_version(lock):
    locked = _locked(lock)
    constraints = _constraints()
    assert locked
    for name, (version, hashes) in locked.items():
        assert hashes, f"{name}: no --hash"
        if name in constraints:
            assert version == constraints[name], f"{name}=={version}, constraints.txt says {constraints[name]}"
    assert "--index-url" not in lock.read_text() and "--find-links" not in lock.read_text()


def test_the_lock_covers_the_extract_extra_and_the_runtime_interface_client():
    sources = {line.strip().lower() for line in (REPO / "requirements" / "extractor-image.in").read_text().splitlines()
               if line.strip() and not line.startswith(("#", "-"))}
    names = {re.split(r"[<>=!~ ]", s, maxsplit=1)[0] for s in sources}
    assert names == _extract_extra() | {"awslambdaric"}, "extractor-image.in follows setup.py's extract extra"
    assert names <= set(_locked(LOCK)), "regenerate requirements/extractor-image.txt (see extractor-image.in)"
    assert {"setuptools", "wheel"} == set(_locked(BUILD_LOCK))


def test_the_extractor_image_installs_only_hash_checked_packages_and_its_own_wheel():
    instructions = _instructions(EXTRACTOR)
    pip_calls = [call.strip() for i in instructions if i.startswith("RUN ")
                 for call in i[4:].split("&&") if re.match(r"\s*pip (install|wheel)\b", call)]
    assert pip_calls
    for call in pip_calls:
        words = shlex.split(call)
        if "--require-hashes" in words:
            assert "--only-binary=:all:" in words, f"{call}: build from source only what is hashed"
            assert words[words.index("-r") + 1].endswith(("extractor-image.txt", "extractor-image-build.txt"))
        else:  # the project's own wheel, built from the checkout: no dependency resolution, no index
            assert "--no-deps" in words and ("--no-index" in words or words[1] == "wheel"), call
    hashed = [c for c in pip_calls if "--require-hashes" in c]
    assert any("extractor-image.txt" in c for c in hashed) and any("extractor-image-build.txt" in c for c in hashed)
    assert any(re.search(r"pip wheel .*--no-build-isolation", c) for c in pip_calls), "no unchecked build backend"
    copied = " ".join(i for i in instructions if i.startswith("COPY "))
    assert "requirements/extractor-image.txt" in copied and "requirements/extractor-image-build.txt" in copied


# ---- the base image, by digest ----------------------------------------------------------------------------------

def _digest_check(dockerfile: Path) -> str:
    """The Python code of the RUN that refuses a base image without a digest."""
    (run,) = [i for i in _instructions(dockerfile) if i.startswith("RUN python -c") and "sha256" in i]
    words = shlex.split(run[4:])
    assert words[-1] == "${PYTHON_IMAGE}"
    return words[2]


@pytest.mark.parametrize("dockerfile", [EXTRACTOR, SERVING], ids=lambda p: p.parent.name)
def test_every_stage_builds_on_the_base_image_argument_which_must_carry_a_digest(dockerfile):
    instructions = _instructions(dockerfile)
    froms = [i for i in instructions if i.startswith("FROM ")]
    assert froms and all(re.fullmatch(r"FROM \$\{PYTHON_IMAGE\}( AS \w+)?", f) for f in froms), froms
    (default,) = [i for i in instructions if i.startswith("ARG PYTHON_IMAGE=")]
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+", default)  # the tag base-image.sh resolves
    first_run = next(i for i in instructions if i.startswith("RUN "))
    assert "sha256" in first_run, "the digest check runs before anything else is installed"
    check = _digest_check(dockerfile)
    pinned = subprocess.run([sys.executable, "-c", check, f"python:3.11.14-slim-bookworm@{DIGEST}"],
                            capture_output=True, text=True)
    assert pinned.returncode == 0, pinned.stderr
    for unpinned in ("python:3.11.14-slim-bookworm", "python:3.11.14-slim-bookworm@sha256:abc", "python@latest"):
        refused = subprocess.run([sys.executable, "-c", check, unpinned], capture_output=True, text=True)
        assert refused.returncode != 0 and "base-image.sh" in refused.stderr, unpinned
    assert 'org.opencontainers.image.base.name="${PYTHON_IMAGE}"' in " ".join(instructions)


@pytest.fixture()
def fake_docker(tmp_path: Path) -> tuple[Path, Path]:
    """A ``docker`` that logs its arguments and answers ``image inspect`` with a repo digest."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    script = bin_dir / "docker"
    script.write_text(f"""#!/bin/sh
echo "$*" >> {log}
if [ "$1" = image ]; then echo "python@{DIGEST}"; fi
""")
    script.chmod(0o755)
    return bin_dir, log


def _base_image(args: list[str], bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(BASE_IMAGE_SH), *args], capture_output=True, text=True, env=env, timeout=30)


def test_base_image_script_resolves_the_tags_digest_while_none_is_pinned(tmp_path, fake_docker):
    assert os.access(BASE_IMAGE_SH, os.X_OK)
    bin_dir, log = fake_docker
    dockerfile = tmp_path / "extractor" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text(EXTRACTOR.read_text())
    result = _base_image([str(dockerfile)], bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"python:3.11.14-slim-bookworm@{DIGEST}"
    assert "is not pinned" in result.stderr
    assert log.read_text().splitlines()[0] == "pull --quiet python:3.11.14-slim-bookworm"


def test_base_image_script_pulls_a_pinned_digest_and_refuses_a_malformed_one(tmp_path, fake_docker):
    bin_dir, log = fake_docker
    dockerfile = tmp_path / "serving" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text(SERVING.read_text())
    pinned = "sha256:" + "cd" * 32
    (dockerfile.parent / "base-image.digest").write_text(pinned + "\n")
    result = _base_image([str(dockerfile)], bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"python:3.11.14-slim-bookworm@{pinned}"
    assert log.read_text().splitlines() == [f"pull --quiet python:3.11.14-slim-bookworm@{pinned}"]
    (dockerfile.parent / "base-image.digest").write_text("latest\n")
    assert _base_image([str(dockerfile)], bin_dir).returncode != 0


@pytest.mark.parametrize("dockerfile", [EXTRACTOR, SERVING], ids=lambda p: p.parent.name)
def test_a_committed_base_image_pin_is_a_sha256_digest(dockerfile):
    pin = dockerfile.parent / "base-image.digest"
    if pin.exists():
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin.read_text().strip())
