"""The real linters on the real artefacts: cfn-lint and checkov on the templates, hadolint and checkov on docker/."""

from __future__ import annotations

import functools
import json
import subprocess

import pytest
from iac_helpers import REPO, TEMPLATES, tool

from musiclake_deploy.tool import load_template

DOCKERFILES = sorted((REPO / "docker").rglob("Dockerfile*"))


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)


def test_cfn_lint_is_clean_on_every_template():
    result = _run([str(tool("cfn-lint")), *map(str, sorted(TEMPLATES.glob("*.yaml")))])
    assert result.returncode == 0, result.stdout + result.stderr


def _checkov(directory: str, framework: str) -> dict:
    """checkov's JSON report (run once per directory and framework; ``--skip-download``: no platform calls)."""
    return _checkov_cached(str(tool("checkov")), directory, framework)


@functools.cache
def _checkov_cached(checkov: str, directory: str, framework: str) -> dict:
    result = _run([checkov, "--skip-download", "-o", "json", "-d", directory, "--framework", framework])
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.parametrize(("directory", "framework"), [("deploy/cloudformation", "cloudformation"),
                                                      ("docker", "dockerfile")])
def test_checkov_passes_with_only_reasoned_suppressions(directory, framework):
    report = _checkov(directory, framework)
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert not failed, failed
    assert report["summary"]["passed"] > 0
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 20, f"{skipped['check_id']} on {skipped['resource']}: write down why"


def test_every_checkov_suppression_in_the_templates_is_used_and_explained():
    """A skip that no longer matches a failing check is stale: remove it rather than keep a blanket waiver."""
    report = _checkov("deploy/cloudformation", "cloudformation")
    used = {(c["check_id"], c["resource"].split(".", 1)[1]) for c in report["results"]["skipped_checks"]}
    declared = set()
    for path in TEMPLATES.glob("*.yaml"):
        for logical_id, resource in load_template(path)["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(skip.get("comment", "").strip()) >= 20, f"{path.name} {logical_id} {skip['id']}: why?"
                declared.add((skip["id"], logical_id))
    assert declared == used


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_is_clean(dockerfile):
    result = _run([str(tool("hadolint")), str(dockerfile)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_is_a_dockerfile_to_lint():
    assert REPO / "docker" / "extractor" / "Dockerfile" in DOCKERFILES
