"""Helpers of the infrastructure tests (imported by the test modules; no Spark).

The lint tools (cfn-lint, checkov, hadolint) live in ``.venv-tools`` (``make tools``, which ``make test`` runs
first). Where they are deliberately absent - inside the Glue image, where ``make lint-deploy`` runs the same checks
on the build host - ``MUSICLAKE_DEPLOY_TOOLS=skip`` skips those tests; anywhere else a missing tool fails the test
with the command that installs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "deploy" / "cloudformation"
TEMPLATE_NAMES = ("storage", "extractor", "glue", "serving", "monitoring", "pipeline")
# The permissions boundary every role carries: created by pipeline.yaml, named by ARN in the stage stacks.
BOUNDARY_ARN = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${Project}-permissions-boundary"


def resources_of(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical id."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == rtype}


def tool(name: str) -> Path:
    """Path of a lint tool in the tool venv; skips or fails (with the fix) when it cannot run."""
    bin_dir = Path(os.environ.get("MUSICLAKE_TOOLS_BIN", REPO / ".venv-tools" / "bin"))
    path = bin_dir / name
    runnable = path.is_file() and os.access(path, os.X_OK)
    if runnable:
        try:
            subprocess.run([str(path), "--version"], capture_output=True, timeout=120, check=True)
        except (OSError, subprocess.SubprocessError):
            runnable = False
    if not runnable:
        if os.environ.get("MUSICLAKE_DEPLOY_TOOLS") == "skip":
            pytest.skip(f"{name} not available here (MUSICLAKE_DEPLOY_TOOLS=skip; `make lint-deploy` runs it)")
        pytest.fail(f"{path} cannot run: install the pinned lint tools with `make tools` "
                    "(deploy/requirements-lint.txt)", pytrace=False)
    return path
