"""Fixtures of the ``musiclake query`` tests.

``tiny_lake`` is a lake written without Spark (delta-rs ``write_deltalake``) plus a landing zone written with the
landing contract: it makes the CLI, error and S3 tests fast. The comparisons with Spark SQL use ``full_lake``
(tests/conftest.py), the lake the real pipeline builds.
"""

from __future__ import annotations

import pytest
from query_lake import TinyLake, write_tiny_lake, write_tiny_landing


@pytest.fixture(scope="session")
def tiny_lake(tmp_path_factory: pytest.TempPathFactory) -> TinyLake:
    root = tmp_path_factory.mktemp("tiny_lake")
    write_tiny_lake(root)
    write_tiny_landing(str(root / "landing"))
    return TinyLake(root=root, lake=str(root / "lake"), landing=str(root / "landing"))
