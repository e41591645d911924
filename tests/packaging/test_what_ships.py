"""What ships where: the Glue wheel holds the job library and the extractor, never the simulator or the deploy tool.

* the wheel (built for real from ``setup.py``): ``musiclake`` (runtime, data model, transforms, jobs, recommender,
  query, ...) and ``musiclake_extract``; no ``musiclake_sim`` (local Spotify server, synthetic catalog, MPD
  generator) and no deploy tool; exact pins only in the ``spark`` extra;
* the extractor image (docker/extractor/Dockerfile) copies and installs only the wheel's sources with the
  ``extract`` extra, and nothing the extractor imports reaches the simulator, the deploy tool or Spark;
* ``sim/`` and ``deploy/`` are distributions of their own, with the console scripts ``musiclake-sim`` and
  ``musiclake-deploy`` (installed editable by ``make venv``).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VERSION = (REPO / "lib" / "musiclake" / "VERSION").read_text().strip()
SIMULATOR_MODULES = {"fake_server.py", "catalog.py", "synthetic_mpd.py", "demo.py"}
NOT_IN_THE_EXTRACTOR = {"musiclake_sim", "musiclake_deploy", "pyspark", "delta", "awsglue", "numpy", "pandas"}
# What the `extract` extra installs (spotipy, boto3, requests) and what those bring: all the extractor may import.
EXTRACT_IMPORTS = {"spotipy", "boto3", "botocore", "requests", "urllib3"}


@dataclass(frozen=True)
class Wheel:
    """The built wheel: its file names, its Python sources by module name, its metadata."""

    path: Path
    names: list[str]
    modules: dict[str, str]
    metadata: str
    entry_points: str

    def requires(self, extra: str) -> list[str]:
        """The Requires-Dist lines of one extra, without the marker."""
        marker = re.compile(rf";\s*extra\s*==\s*['\"]{re.escape(extra)}['\"]")
        return [line.split(":", 1)[1].split(";")[0].strip() for line in self.metadata.splitlines()
                if line.startswith("Requires-Dist:") and marker.search(line)]


def _module_name(path: str) -> str:
    parts = path[: -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    """``pip wheel`` of the repository, built from a clean copy (no stale ``build/`` can leak into it)."""
    src = tmp_path_factory.mktemp("src") / "musiclake"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".musiclake", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "test-reports",
        "metastore_db", "spark-warehouse", "node_modules"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(src)], check=True, capture_output=True, text=True)
    (path,) = out.glob("musiclake-*.whl")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        modules = {_module_name(n): zf.read(n).decode() for n in names if n.endswith(".py")}
        dist_info = f"musiclake-{VERSION}.dist-info"
        meta = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    return Wheel(path, names, modules, meta, entry_points)


# ---- (a) the Glue wheel ------------------------------------------------------------------------------------------

def test_the_wheel_holds_the_job_library_and_the_extractor(wheel):
    names = set(wheel.names)
    assert wheel.path.name == f"musiclake-{VERSION}-py3-none-any.whl"
    assert {"musiclake/runtime.py", "musiclake/VERSION", "musiclake/cli.py", "musiclake/schemas.py",
            "musiclake_extract/lambda_handler.py", "musiclake_extract/cli.py"} <= names
    for package in ("musiclake/recommend/", "musiclake/query/", "musiclake/transforms/", "musiclake/jobs/"):
        assert any(n.startswith(package) and n.endswith(".py") for n in names), f"{package} is missing"


def test_the_wheel_holds_no_simulator_and_no_deploy_tool(wheel):
    top_levels = {n.split("/")[0] for n in wheel.names if not n.startswith(f"musiclake-{VERSION}.")}
    assert top_levels == {"musiclake", "musiclake_extract"}
    assert not [n for n in wheel.names if n.split("/")[0] in ("musiclake", "musiclake_extract") and
                n.split("/", 1)[1] in SIMULATOR_MODULES]
    simulator = re.compile(r"^(class FakeSpotify\b|def (generate_catalog|write_mpd_slices|write_synthetic_mpd)\()",
                           re.M)
    assert not [m for m, source in wheel.modules.items() if simulator.search(source)]
    assert not [n for n in wheel.names if re.search(r"(^|/)(musiclake_sim|musiclake_deploy|deploy)(/|\.py$)", n)]
    assert "musiclake.deploy" not in wheel.modules


def test_the_wheel_offers_only_its_own_commands_and_extras(wheel):
    scripts = set(re.findall(r"^([\w-]+)\s*=", wheel.entry_points.split("[console_scripts]")[1], re.M))
    assert scripts == {"musiclake", "musiclake-extract"}
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", wheel.metadata, re.M))
    assert extras == {"spark", "extract", "dev", "query", "report", "serve", "bench"}
    assert "Requires-Python: >=3.11\n" in wheel.metadata  # no upper bound: the read-side extras install on newer ones


def test_only_the_spark_extra_pins_exact_versions(wheel):
    assert wheel.requires("spark") and all("==" in r for r in wheel.requires("spark"))
    for extra in ("extract", "dev", "query", "report", "bench"):
        requirements = wheel.requires(extra)
        assert requirements, extra
        for requirement in requirements:
            assert "==" not in requirement and "<" in requirement and ">=" in requirement, f"{extra}: {requirement}"


# ---- (b) the extractor image ------------------------------------------------------------------------------------

def _instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def test_the_extractor_image_copies_and_installs_only_the_wheel_sources_and_the_extract_extras_lock(wheel):
    instructions = _instructions((REPO / "docker" / "extractor" / "Dockerfile").read_text())
    sources = [word for i in instructions if i.startswith("COPY ") and "--from=" not in i
               for word in i.split()[1:-1] if not word.startswith("--")]
    assert {"setup.py", "lib", "extract"} <= set(sources)
    assert not [s for s in sources if s.split("/")[0] in ("sim", "deploy", "tests", "bench")], sources
    installs = [i for i in instructions if i.startswith("RUN ") and re.search(r"pip (wheel|install)", i)]
    project = [i for i in installs if "musiclake" in i or re.search(r"pip wheel .* \.$", i)]
    assert project and all("--no-deps" in i for i in project), "the project's wheel: dependencies come from the lock"
    assert not [i for i in installs if re.search(r"sim|deploy", i)], installs
    # the dependencies: the hashed lock of the extract extra (plus the Lambda runtime client), nothing else
    wanted = {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in wheel.requires("extract")}
    source = (REPO / "requirements" / "extractor-image.in").read_text().splitlines()
    listed = {re.split(r"[<>= ]", line, maxsplit=1)[0].lower() for line in source
              if line.strip() and not line.startswith(("#", "-c"))}
    assert listed == wanted | {"awslambdaric"}
    assert any("--require-hashes" in i and "extractor-image.txt" in i for i in installs)
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"sim", "deploy"} <= ignored  # not even in the build context


def test_the_extract_extra_needs_no_simulator_deploy_tool_or_spark(wheel):
    names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in wheel.requires("extract")}
    assert names == {"spotipy", "boto3", "requests", "urllib3"}


def _imports(source: str, module: str) -> set[str]:
    """Every module a source imports, anywhere in it (function-level imports too), relative ones resolved."""
    found: set[str] = set()
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_nothing_the_extractor_imports_reaches_the_simulator_the_deploy_tool_or_spark(wheel):
    reachable: set[str] = set()
    todo = [m for m in wheel.modules if m.split(".")[0] == "musiclake_extract"]
    outside: dict[str, set[str]] = {}
    while todo:
        module = todo.pop()
        if module in reachable:
            continue
        reachable.add(module)
        for name in _imports(wheel.modules[module], module):
            parts = name.split(".")
            in_wheel = [".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in wheel.modules]
            if in_wheel:
                todo.extend(in_wheel)
            elif parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                outside.setdefault(parts[0], set()).add(module)
    assert "musiclake_extract.lambda_handler" in reachable and "musiclake.landing" in reachable
    assert not NOT_IN_THE_EXTRACTOR & set(outside), {k: outside[k] for k in NOT_IN_THE_EXTRACTOR & set(outside)}
    assert set(outside) <= EXTRACT_IMPORTS, outside


def test_the_extractor_cli_offers_no_simulator_and_musiclake_no_deploy_command():
    from musiclake import cli as musiclake_cli
    from musiclake_extract import cli as extract_cli

    def commands(parser) -> set[str]:
        (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        return set(sub.choices)

    assert commands(extract_cli.build_parser()) == {"api", "login", "mpd"}
    assert not {"deploy", "integration-run"} & commands(musiclake_cli.build_parser())
    assert not [m for m in musiclake_cli.SUBCOMMANDS if "deploy" in m]


# ---- (c) the simulator and the deploy tool: distributions of their own --------------------------------------------

@pytest.mark.parametrize(("dist", "script", "target", "requires"), [
    ("musiclake-sim", "musiclake-sim", "musiclake_sim.cli:main", {"numpy"}),
    ("musiclake-deploy", "musiclake-deploy", "musiclake_deploy.cli:main", {"boto3", "pyyaml"}),
])
def test_sim_and_deploy_install_their_console_scripts(dist, script, target, requires):
    distribution = metadata.distribution(dist)
    assert distribution.version == VERSION
    (entry_point,) = [ep for ep in distribution.entry_points if ep.group == "console_scripts"]
    assert (entry_point.name, entry_point.value) == (script, target)
    assert callable(entry_point.load())
    declared = distribution.requires or []
    assert {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in declared} == requires
    assert all("==" not in r and "<" in r for r in declared), declared  # ranges, not pins


@pytest.mark.parametrize(("script", "subcommands"), [
    ("musiclake-sim", ("spotify", "generate-mpd")),
    ("musiclake-deploy", ("deploy", "integration-run")),
])
def test_the_console_scripts_run(script, subcommands):
    path = Path(sys.executable).parent / script
    assert path.is_file(), f"{path}: run `make venv` (pip install -e sim -e deploy)"
    result = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert all(s in result.stdout for s in subcommands), result.stdout


@pytest.mark.parametrize(("root", "forbidden"), [
    # the demo drives the product (musiclake's commands and jobs), but the simulator never needs Spark or deploy
    ("sim/musiclake_sim", {"musiclake_deploy", "pyspark"}),
    ("deploy/musiclake_deploy", {"musiclake", "musiclake_extract", "musiclake_sim", "pyspark"}),
])
def test_sim_and_deploy_stand_alone(root, forbidden):
    for path in sorted((REPO / root).glob("*.py")):
        module = f"{Path(root).name}.{path.stem}"
        tops = {name.split(".")[0] for name in _imports(path.read_text(), module)}
        assert not tops & forbidden, f"{path.relative_to(REPO)} imports {sorted(tops & forbidden)}"
