"""Fitting ALS: the checkpoint directory it needs, its number of blocks, and the item Gram matrix."""

from __future__ import annotations

import numpy as np
import pytest

from musiclake.recommend import fit


def test_item_gram_is_the_item_factor_gramian(model):
    factors = np.array([row["features"] for row in model.itemFactors.collect()], dtype=np.float64)

    np.testing.assert_allclose(fit.item_gram(model), factors.T @ factors, rtol=1e-9, atol=1e-9)


def test_fit_refuses_to_run_without_a_checkpoint_directory(spark, monkeypatch, train_holdout, small_params):
    monkeypatch.setattr(spark.sparkContext, "getCheckpointDir", lambda: None)

    with pytest.raises(fit.CheckpointDirMissingError, match="setCheckpointDir"):
        fit.fit_als(train_holdout[0], small_params)


def test_num_blocks_follow_the_data_size_up_to_the_default_parallelism(spark):
    parallelism = spark.sparkContext.defaultParallelism

    assert fit.num_blocks_for(spark, 1_000) == min(fit.MIN_BLOCKS, parallelism)
    assert fit.num_blocks_for(spark, 10**9) == parallelism
