"""Fixtures of the ``musiclake report`` tests: the report of the ``full_lake`` fixture, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def full_report(full_lake, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``report.html`` of the lake the whole pipeline built (tests/conftest.py ``full_lake``)."""
    from musiclake.report.build import build_report

    return build_report(full_lake.lake, tmp_path_factory.mktemp("report"))
