"""The read path spells the model layout, the tables and the columns as the Spark side does, without pyspark."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from musiclake import schemas
from musiclake.recommend import store, training
from musiclake.serve import layout

SERVE = Path(layout.__file__).parent
# Modules of the wheel that import pyspark (directly or through each other): the read path may import none of them.
SPARK_MODULES = ("pyspark", "delta", "musiclake.schemas", "musiclake.lake", "musiclake.recommend",
                 "musiclake.transforms", "musiclake.jobs", "musiclake.runtime.spark")


def test_model_folder_names_are_those_of_the_store():
    spark_side = (store.MODELS_DIR, store.LATEST, store.METADATA, store.GRAM, store.POPULAR_TRACKS,
                  schemas.PLAYLIST_IDS.name, schemas.TRACK_IDS.name, training.TrainConfig().similar_min_playlists)

    assert spark_side == (layout.MODELS_DIR, layout.LATEST, layout.METADATA, layout.GRAM, layout.POPULAR_TRACKS,
                          layout.PLAYLIST_IDS, layout.TRACK_IDS, layout.SIMILAR_MIN_PLAYLISTS)


def test_tables_and_partitions_are_those_of_the_registry_in_its_order():
    registry = {name: spec.partition_by for name, spec in schemas.TABLES.items()}

    assert registry == layout.TABLE_PARTITIONS
    assert list(registry) == list(layout.TABLE_PARTITIONS)


def test_column_names_are_those_of_the_schemas():
    for name in ("PLAYLIST_ID", "TRACK_ID", "PLAYLIST_IDX", "TRACK_IDX", "WEIGHT", "RANK", "SCORE"):
        assert getattr(layout, name) == getattr(schemas, name)


def test_no_module_of_the_read_path_imports_spark_or_a_module_that_does():
    for path in sorted(SERVE.glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        spark = {m for m in imported if any(m == s or m.startswith(f"{s}.") for s in SPARK_MODULES)}
        assert not spark, f"{path.name} imports {sorted(spark)}"


def test_importing_every_module_of_the_read_path_loads_no_pyspark_and_no_pandas():
    modules = [f"musiclake.serve.{p.stem}" for p in sorted(SERVE.glob("*.py")) if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pandas')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
