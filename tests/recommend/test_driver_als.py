"""The tuner's driver engine: implicit ALS in numpy with Spark ALS's objective, its weightings and its folds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from musiclake.recommend import driver_als, fit, metrics, topk, tuning
from musiclake.schemas import PLAYLIST_IDX, RANK, TRACK_IDX, WEIGHT
from musiclake.serve.scoring import fold_in


def _random_ratings(seed: int = 0) -> tuple[driver_als.Ratings, np.ndarray]:
    """30 rows (row 7 without ratings) x 25 columns, weights 1-3, and fixed-side factors of rank 5."""
    rng = np.random.default_rng(seed)
    rows, columns = [], []
    for row in range(30):
        chosen = [] if row == 7 else rng.choice(25, rng.integers(1, 9), replace=False).tolist()
        rows += [row] * len(chosen)
        columns += chosen
    values = rng.integers(1, 4, len(rows)).astype(np.float64)
    ratings = driver_als.Ratings.from_pairs(np.array(rows), np.array(columns), values, 30, 25)
    return ratings, rng.standard_normal((25, 5))


@pytest.mark.parametrize("with_scipy", [True, False])  # the sparse product, and the pandas fallback without scipy
@pytest.mark.parametrize("block_elements", [driver_als.BLOCK_ELEMENTS, 12])  # one block; a few rows per block
def test_a_half_step_solves_each_rows_implicit_als_normal_equation(monkeypatch, block_elements, with_scipy):
    monkeypatch.setattr(driver_als, "BLOCK_ELEMENTS", block_elements)
    if not with_scipy:
        monkeypatch.setattr(driver_als, "sparse", None)
    ratings, fixed = _random_ratings()
    gram = fixed.T @ fixed

    solved = driver_als.solve_rows(ratings, fixed, np.zeros((30, 5)), reg_param=0.1, alpha=4.0, cg_steps=25)

    for row in range(30):
        entries = slice(ratings.indptr[row], ratings.indptr[row + 1])
        if row == 7:
            assert not solved[row].any()  # no ratings: nothing to solve
            continue
        expected = fold_in(fixed[ratings.columns[entries]], ratings.values[entries], gram, 0.1, 4.0)
        np.testing.assert_allclose(solved[row], expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("with_scipy", [True, False])
def test_weighted_row_sums_add_each_rows_weighted_fixed_vectors(monkeypatch, with_scipy):
    if not with_scipy:
        monkeypatch.setattr(driver_als, "sparse", None)
    ratings, fixed = _random_ratings(seed=3)
    fixed = fixed.astype(np.float32)
    owner = np.repeat(np.arange(ratings.n_rows), np.diff(ratings.indptr))
    weights = np.linspace(-1.0, 2.0, len(ratings.columns)).astype(np.float32)

    sums = driver_als.weighted_row_sums(weights, ratings.columns, ratings.indptr, fixed, owner,
                                        fixed[ratings.columns])

    expected = np.zeros((ratings.n_rows, fixed.shape[1]), dtype=np.float64)
    for j, (row, column) in enumerate(zip(owner, ratings.columns, strict=True)):
        expected[row] += weights[j] * fixed[column]
    assert sums.shape == expected.shape and sums.dtype == np.float32
    np.testing.assert_allclose(sums, expected, rtol=1e-5, atol=1e-5)
    assert not sums[7].any()  # the row without ratings


def test_few_conjugate_gradient_steps_approach_the_exact_solve_from_a_warm_start():
    ratings, fixed = _random_ratings(1)
    exact = driver_als.solve_rows(ratings, fixed, np.zeros((30, 5)), 0.1, 4.0, cg_steps=25)
    warm = exact + 0.05 * np.random.default_rng(2).standard_normal(exact.shape)

    one_step = driver_als.solve_rows(ratings, fixed, warm, 0.1, 4.0, cg_steps=1)
    three_steps = driver_als.solve_rows(ratings, fixed, warm, 0.1, 4.0, cg_steps=3)

    error = [np.abs(x - exact).max() for x in (warm, one_step, three_steps)]
    assert error[0] > error[1] > error[2]


def test_solving_from_sparks_item_factors_gives_back_sparks_playlist_factors(model, train_holdout, small_params):
    """The objective is Spark's: one exact half-step from a Spark model's item factors reproduces its playlist
    factors (Spark solves playlists last in every iteration)."""
    pairs = train_holdout[0].toPandas()
    items = model.itemFactors.toPandas().sort_values("id")
    users = model.userFactors.toPandas().sort_values("id")
    track_ids, item_factors = items["id"].to_numpy(), np.stack(items["features"].to_numpy()).astype(np.float64)
    playlist_ids, rows = np.unique(pairs[PLAYLIST_IDX].to_numpy(), return_inverse=True)
    columns = np.searchsorted(track_ids, pairs[TRACK_IDX].to_numpy())
    ratings = driver_als.Ratings.from_pairs(rows, columns, pairs[WEIGHT].to_numpy(), len(playlist_ids), len(track_ids))

    solved = driver_als.solve_rows(ratings, item_factors, np.zeros((len(playlist_ids), model.rank)),
                                   small_params.reg_param, small_params.alpha, cg_steps=4 * model.rank)

    assert users["id"].tolist() == playlist_ids.tolist()
    np.testing.assert_allclose(solved, np.stack(users["features"].to_numpy()), atol=2e-4)


@pytest.mark.parametrize("weighting", fit.WEIGHTINGS)
def test_confidence_weights_are_the_spark_transforms(interactions, weighting):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)
    spark_weights = pairs.transform(fit.with_confidence_weights(weighting)).toPandas()
    local = pairs.toPandas()
    _, rows = np.unique(local[PLAYLIST_IDX], return_inverse=True)
    _, columns = np.unique(local[TRACK_IDX], return_inverse=True)
    local[WEIGHT] = driver_als.confidence_weights(rows, columns, local[WEIGHT].to_numpy(), weighting)

    merged = local.merge(spark_weights, on=[PLAYLIST_IDX, TRACK_IDX], suffixes=("", "_spark"), validate="1:1")

    assert len(merged) == len(local) == len(spark_weights)
    np.testing.assert_allclose(merged[WEIGHT], merged[f"{WEIGHT}_spark"], rtol=1e-12)
    if weighting != fit.LINEAR:
        assert not np.allclose(merged[WEIGHT], local[WEIGHT].iloc[0])  # the weighting did something


def test_holdout_mask_follows_the_split_rule_and_its_seed():
    playlists = np.repeat(np.arange(6), [1, 2, 5, 10, 11, 40])

    mask = driver_als.holdout_mask(playlists, 0.2, seed=3)

    held = np.bincount(playlists[mask], minlength=6)
    assert held.tolist() == [0, 1, 1, 2, 2, 8]  # max(1, floor(0.2 n)), never all, none under 2 tracks
    assert (driver_als.holdout_mask(playlists, 0.2, seed=3) == mask).all()
    assert (driver_als.holdout_mask(playlists, 0.2, seed=4) != mask).any()
    sampled = driver_als.holdout_mask(np.repeat(np.arange(1000), 5), 0.2, seed=3, playlist_share=0.3)
    assert 240 < sampled.sum() < 360  # one track each of ~30 % of the playlists
    with pytest.raises(ValueError, match="fraction"):
        driver_als.holdout_mask(playlists, 1.0, seed=3)


def test_a_driver_fit_ranks_the_holdout_as_well_as_sparks_fit(train_holdout, model, small_params):
    train, holdout = (frame.toPandas() for frame in train_holdout)
    playlist_ids, rows = np.unique(train[PLAYLIST_IDX], return_inverse=True)
    track_ids, columns = np.unique(train[TRACK_IDX], return_inverse=True)
    ratings = driver_als.Ratings.from_pairs(rows, columns, train[WEIGHT].to_numpy(), len(playlist_ids), len(track_ids))
    relevant = holdout.groupby(PLAYLIST_IDX)[TRACK_IDX].agg(set).to_dict()
    seen = train.groupby(PLAYLIST_IDX)[TRACK_IDX].agg(list).rename(topk.SEEN).reset_index()

    def ndcg(item_ids, item_factors, user_ids, user_factors) -> float:
        users = pd.DataFrame({PLAYLIST_IDX: user_ids, "features": list(user_factors)}).merge(seen, on=PLAYLIST_IDX)
        ranked = topk.top_k_scores(users, item_ids, item_factors, 10).sort_values([PLAYLIST_IDX, RANK])
        lists = ranked.groupby(PLAYLIST_IDX)[TRACK_IDX].agg(list).to_dict()
        return np.mean([metrics.playlist_metrics(lists.get(p, []), r, 10, 10)["ndcg_at_10"]
                        for p, r in relevant.items()])

    factors = driver_als.fit(ratings, small_params)
    items = model.itemFactors.toPandas().sort_values("id")
    users = model.userFactors.toPandas()
    on_driver = ndcg(track_ids.astype(np.int32), factors.items, playlist_ids, factors.users)
    in_spark = ndcg(items["id"].to_numpy(np.int32), np.stack(items["features"].to_numpy()), users["id"].to_numpy(),
                    np.stack(users["features"].to_numpy()))

    assert factors.users.dtype == np.float32 and factors.users.shape == (len(playlist_ids), small_params.rank)
    assert in_spark > 0.3  # the clustered data is learnable ...
    assert on_driver == pytest.approx(in_spark, abs=0.05)  # ... and both engines learn it as well
    again = driver_als.fit(ratings, small_params)
    assert np.array_equal(again.users, factors.users)  # seeded: the same fit twice
    assert not np.array_equal(driver_als.fit(ratings, replace(small_params, seed=2)).users, factors.users)
    halfway = driver_als.fit(ratings, replace(small_params, max_iter=small_params.max_iter // 2))
    resumed = driver_als.fit(ratings, small_params, resume=(small_params.max_iter // 2, halfway))
    assert np.array_equal(resumed.users, factors.users) and np.array_equal(resumed.items, factors.items)


def test_the_driver_engine_searches_without_a_spark_fit(interactions, small_params, monkeypatch):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    spark_fits = []
    monkeypatch.setattr(fit, "fit_als", lambda *args, **kwargs: spark_fits.append(args))
    search = tuning.SearchConfig(trials=5, budget_s=3600, folds=2, engine=tuning.DRIVER,
                                 space=tuning.SearchSpace(rank=(8, 16)))

    tuned = tuning.tune_als(pairs, replace(small_params, max_iter=4), search, validation_fraction=0.2, seed=1)

    assert not spark_fits and tuned.engine == tuning.DRIVER and tuned.as_dict()["engine"] == "driver"
    # five configurations at the first rung (a finalist that peaked there is refitted there on the second fold)
    assert tuned.rungs == (2, 4) and len([t for t in tuned.trials if t.rung == 0 and t.fold == 0]) == 5
    assert {t.fold for t in tuned.trials} == {0, 1} and tuned.folds == 2
    assert all(0.0 <= t.metrics["ndcg_at_10"] <= 1.0 and t.metrics["n_playlists"] > 0 for t in tuned.trials)
    assert max(t.metrics["ndcg_at_10"] for t in tuned.trials) > 0.3
    assert "fitted on the driver (numpy)" in tuning.format_search(tuned)[0]


def test_auto_fits_on_the_driver_up_to_its_limit_and_in_spark_above(interactions, monkeypatch):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)
    n = pairs.count()

    assert len(tuning._pairs_on_driver(pairs, tuning.AUTO)) == n
    assert tuning._pairs_on_driver(pairs, tuning.SPARK) is None
    monkeypatch.setattr(driver_als, "MAX_INTERACTIONS", n - 1)
    assert tuning._pairs_on_driver(pairs, tuning.AUTO) is None
    assert len(tuning._pairs_on_driver(pairs, tuning.DRIVER)) == n  # asked for: the limit is auto's
    with pytest.raises(ValueError, match="engine"):
        tuning.SearchConfig(engine="gpu")


def test_a_fold_where_no_playlist_can_hold_tracks_out_scores_nothing(small_params):
    pairs = pd.DataFrame({PLAYLIST_IDX: [1, 2, 3], TRACK_IDX: [5, 6, 5], WEIGHT: [1.0, 2.0, 1.0]})  # one track each

    fold = tuning._make_driver_fold(pairs, 0, 0.2, 1, 1.0, {fit.LINEAR})
    scores = tuning.score_driver_factors(driver_als.fit(fold.fit_parts[fit.LINEAR], small_params), fold, 10, 100)

    assert fold.relevant == {} and fold.fit_parts[fit.LINEAR].n_rows == 3
    assert scores["n_playlists"] == 0 and scores["ndcg_at_10"] == 0.0


def test_the_driver_search_is_the_same_however_spark_partitions_the_interactions(interactions, small_params):
    """The driver's validation split draws per row in row order: the rows are put in key order first, so the same
    interactions give the same search whatever the partitioning they arrive in."""
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)
    search = tuning.SearchConfig(trials=3, budget_s=3600, folds=1, engine=tuning.DRIVER,
                                 space=tuning.SearchSpace(rank=(8, 16)))

    def scores(frame):
        tuned = tuning.tune_als(frame, replace(small_params, max_iter=2), search, validation_fraction=0.2, seed=1)
        return [(t.trial, t.rung, t.fold, round(t.metrics["ndcg_at_10"], 6)) for t in tuned.trials]

    assert scores(pairs.repartition(1)) == scores(pairs.repartition(3, TRACK_IDX))
