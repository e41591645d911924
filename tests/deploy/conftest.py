"""Fixtures of the infrastructure tests: the CloudFormation templates as data (no Spark here)."""

from __future__ import annotations

from typing import Any

import pytest
from iac_helpers import TEMPLATE_NAMES, TEMPLATES

from musiclake_deploy.tool import load_template


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    """Every template under deploy/cloudformation/, by file stem."""
    found = {p.stem: load_template(p) for p in sorted(TEMPLATES.glob("*.yaml"))}
    assert set(found) == set(TEMPLATE_NAMES), f"templates changed: {sorted(found)}; update TEMPLATE_NAMES"
    return found
