"""Tuning: every grid point tried on a validation split of train, the evaluation holdout never touched."""

from __future__ import annotations

from dataclasses import replace

from musiclake.recommend import fit, metrics, split, training, tuning
from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX, WEIGHT


def _pairs(df) -> set[tuple[int, int]]:
    return {(row[PLAYLIST_IDX], row[TRACK_IDX]) for row in df.select(PLAYLIST_IDX, TRACK_IDX).collect()}


def test_param_grid_combines_every_value_and_keeps_the_other_fields():
    base = fit.AlsParams(rank=10, reg_param=1.0, alpha=1.0, max_iter=7, seed=3)

    grid = tuning.param_grid(base, ranks=(8, 16), reg_params=(0.1,), alphas=(1, 10))

    assert [(p.rank, p.reg_param, p.alpha) for p in grid] == [(8, 0.1, 1.0), (8, 0.1, 10.0), (16, 0.1, 1.0),
                                                             (16, 0.1, 10.0)]
    assert {(p.max_iter, p.seed) for p in grid} == {(7, 3)}


def test_tuning_never_touches_the_evaluation_holdout_and_picks_the_best_trial(interactions, small_params,
                                                                              monkeypatch):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    grid = (replace(small_params, alpha=1.0, max_iter=4), replace(small_params, alpha=20.0, max_iter=4))
    seen_by_tuning: dict[str, list[set[tuple[int, int]]]] = {"input": [], "fits": [], "validation": []}
    tuning_active: list[bool] = []
    real_tune, real_fit, real_metrics = tuning.tune_als, fit.fit_als, metrics.ranking_metrics

    def spy_tune(train, grid, **kwargs):
        seen_by_tuning["input"].append(_pairs(train))
        tuning_active.append(True)
        try:
            return real_tune(train, grid, **kwargs)
        finally:
            tuning_active.pop()

    def spy_fit(df, params, **kwargs):
        if tuning_active:
            seen_by_tuning["fits"].append(_pairs(df))
        return real_fit(df, params, **kwargs)

    def spy_metrics(recommendations, holdout, k=10, n=metrics.CHALLENGE_LIST_LENGTH):
        if tuning_active:
            seen_by_tuning["validation"].append(_pairs(holdout))
        return real_metrics(recommendations, holdout, k, n)

    monkeypatch.setattr(tuning, "tune_als", spy_tune)
    monkeypatch.setattr(fit, "fit_als", spy_fit)
    monkeypatch.setattr(metrics, "ranking_metrics", spy_metrics)

    config = training.TrainConfig(params=small_params, tune=True, grid=grid, holdout_fraction=0.2, seed=42)
    params, tuned, evaluation = training.evaluate(pairs, config)

    _, holdout = split.holdout_split(pairs, 0.2, seed=42)
    holdout_pairs = _pairs(holdout)
    assert holdout_pairs
    assert len(seen_by_tuning["input"]) == 1 and len(seen_by_tuning["fits"]) == len(grid)
    assert all(seen and not seen & holdout_pairs for group in seen_by_tuning.values() for seen in group)
    assert [trial.params for trial in tuned.trials] == list(grid)
    assert tuned.best == max(tuned.trials, key=lambda t: t.metrics["ndcg_at_10"]).params
    assert params == tuned.best
    assert evaluation.als["n_playlists"] == len({p for p, _ in holdout_pairs})
