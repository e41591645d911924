"""Fixtures of the read-path and API tests: hand-made model lakes (fast, no Spark).

The comparisons with the Spark path use ``full_lake`` (tests/conftest.py), the lake the real pipeline builds.
Session-scoped lakes are only read; a test that writes (the model swap) writes its own under ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_lake import write_random_lake, write_tiny_lake


@pytest.fixture(scope="session")
def tiny_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("serve_tiny") / "lake"
    write_tiny_lake(lake)
    return lake


@pytest.fixture(scope="session")
def random_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("serve_random") / "lake"
    write_random_lake(lake)
    return lake


@pytest.fixture(scope="session")
def tiny_model(tiny_lake: Path):
    from musiclake.serve.load import load_model

    return load_model(str(tiny_lake))


@pytest.fixture(scope="session")
def random_model(random_lake: Path):
    from musiclake.serve.load import load_model

    return load_model(str(random_lake))
