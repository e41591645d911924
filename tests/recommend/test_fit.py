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


def _weighted(spark, weighting):
    # playlist 0: tracks 0, 1 (track 1 twice); playlist 1: track 0; playlist 2: tracks 0, 2
    rows = [(0, 0, 1.0), (0, 1, 2.0), (1, 0, 1.0), (2, 0, 1.0), (2, 2, 1.0)]
    df = spark.createDataFrame(rows, "playlist_idx int, track_idx int, weight double")
    out = df.transform(fit.with_confidence_weights(weighting))
    assert out.columns == df.columns
    return {(r["playlist_idx"], r["track_idx"]): r["weight"] for r in out.collect()}


def test_linear_weighting_keeps_the_weights(spark):
    assert _weighted(spark, "linear") == {(0, 0): 1.0, (0, 1): 2.0, (1, 0): 1.0, (2, 0): 1.0, (2, 2): 1.0}


def test_log_weighting_is_log_of_one_plus_weight_over_epsilon(spark):
    weights = _weighted(spark, "log")

    assert weights[(0, 1)] == pytest.approx(np.log(1 + 2.0 / fit.LOG_EPSILON))
    assert weights[(1, 0)] == pytest.approx(np.log(1 + 1.0 / fit.LOG_EPSILON))


def test_bm25_weighting_follows_the_formula_of_implicits_bm25_weight(spark):
    weights = _weighted(spark, "bm25")

    n, k1, b = 3, fit.BM25_K1, fit.BM25_B
    lengths = {0: 3.0, 1: 1.0, 2: 2.0}
    average = sum(lengths.values()) / n
    playlists_with = {0: 3, 1: 1, 2: 1}

    def expected(playlist, track, weight):
        idf = np.log(n) - np.log1p(playlists_with[track])
        norm = (1 - b) + b * lengths[playlist] / average
        return max(weight * (k1 + 1) / (k1 * norm + weight) * idf, fit.MIN_BM25_WEIGHT)

    assert weights[(0, 1)] == pytest.approx(expected(0, 1, 2.0))
    assert weights[(2, 2)] == pytest.approx(expected(2, 2, 1.0))
    # track 0 is in every playlist: idf < 0, kept as a tiny positive weight
    assert weights[(1, 0)] == pytest.approx(fit.MIN_BM25_WEIGHT)


def test_unknown_weighting_is_refused():
    with pytest.raises(ValueError, match="weighting"):
        fit.AlsParams(weighting="sqrt")
    with pytest.raises(ValueError, match="weighting"):
        fit.with_confidence_weights("sqrt")


def test_fit_applies_the_params_weighting(monkeypatch, train_holdout, small_params):
    applied = []
    real = fit.with_confidence_weights
    monkeypatch.setattr(fit, "with_confidence_weights", lambda w: applied.append(w) or real(w))

    model = fit.fit_als(train_holdout[0], fit.AlsParams(**{**small_params.as_dict(), "weighting": "log",
                                                           "max_iter": 1}))

    assert applied == ["log"] and model.rank == small_params.rank
