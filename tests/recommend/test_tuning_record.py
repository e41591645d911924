"""How tuning is asked for (job options) and recorded (the evaluations table, also in a lake written before)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from uuid import uuid4

from pyspark.sql import types as T

from musiclake import schemas
from musiclake.jobs.train_als import TrainAlsOptions
from musiclake.lake import Lake
from musiclake.recommend import store, tuning

REQUIRED = ["train_als.py", "--JOB_NAME", "j", "--lake_path", "/tmp/lake", "--database", "db"]
NEW_COLUMNS = ("trial", "rung", "fold", "seconds")


def test_tune_true_alone_runs_the_budgeted_search():
    config = TrainAlsOptions.from_argv([*REQUIRED, "--tune", "true"]).train_config()

    assert config.tune and config.search.strategy == tuning.HALVING
    assert (config.search.trials, config.search.budget_s) == (tuning.DEFAULT_TRIALS, tuning.DEFAULT_BUDGET_S)
    assert config.max_broadcast_factors is None  # derived from the session's memory


def test_search_options_and_the_old_grid_only_when_asked_for():
    search = TrainAlsOptions.from_argv([*REQUIRED, "--tune", "true", "--tune_trials", "12", "--tune_budget_s",
                                        "90", "--tune_folds", "1"]).search_config()
    grid = TrainAlsOptions.from_argv([*REQUIRED, "--tune", "true", "--tune_alphas", "2,10"]).search_config()
    broadcast = TrainAlsOptions.from_argv([*REQUIRED, "--max_broadcast_factors", "1000"]).train_config()

    assert (search.strategy, search.trials, search.budget_s, search.folds) == (tuning.HALVING, 12, 90.0, 1)
    assert grid.strategy == tuning.GRID
    assert [(p.rank, p.reg_param, p.alpha) for p in grid.grid] == [(32, 0.2, 2.0), (32, 0.2, 10.0),
                                                                  (64, 0.2, 2.0), (64, 0.2, 10.0)]
    assert broadcast.max_broadcast_factors == 1000


def test_an_evaluations_table_written_before_gets_the_tuning_columns_and_keeps_its_rows(spark, tmp_path):
    lake = Lake(spark, str(tmp_path / "lake"), f"rec_{uuid4().hex[:8]}")
    old_fields = [f for f in schemas.EVALUATIONS.schema.fields if f.name not in NEW_COLUMNS]
    old_spec = dataclasses.replace(schemas.EVALUATIONS, schema=T.StructType(old_fields),
                                   keys=("model_version", "split", "model", "params", "metric"),
                                   path=lake.location(schemas.EVALUATIONS))
    old_row = {"model_version": "v1", "split": "test", "model": "als", "params": "{}", "metric": "ndcg_at_10",
               "k": 10, "value": 0.3, "n_playlists": 5, "evaluated_at": datetime(2026, 1, 1, tzinfo=UTC)}
    lake.merge(old_spec, spark.createDataFrame([old_row], old_spec.schema))  # as the job wrote it before

    added = store.add_missing_columns(lake, schemas.EVALUATIONS)
    new_row = {**old_row, "model_version": "v2", "split": "validation", "trial": 3, "rung": 1, "fold": 0,
               "seconds": 1.5}
    lake.merge(schemas.EVALUATIONS, spark.createDataFrame([new_row], schemas.EVALUATIONS.schema))

    assert added == list(NEW_COLUMNS) and store.add_missing_columns(lake, schemas.EVALUATIONS) == []
    rows = {r["model_version"]: r for r in spark.read.format("delta").load(old_spec.path).collect()}
    assert rows["v1"]["value"] == 0.3 and rows["v1"]["trial"] is None
    assert (rows["v2"]["trial"], rows["v2"]["rung"], rows["v2"]["fold"], rows["v2"]["seconds"]) == (3, 1, 0, 1.5)
