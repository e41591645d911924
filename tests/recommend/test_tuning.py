"""Tuning: a budgeted successive-halving search (and the old grid) on validation splits of train only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from musiclake.recommend import fit, metrics, split, topk, training, tuning
from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX, WEIGHT


def _pairs(df) -> set[tuple[int, int]]:
    return {(row[PLAYLIST_IDX], row[TRACK_IDX]) for row in df.select(PLAYLIST_IDX, TRACK_IDX).collect()}


def test_param_grid_combines_every_value_and_keeps_the_other_fields():
    base = fit.AlsParams(rank=10, reg_param=1.0, alpha=1.0, max_iter=7, seed=3)

    grid = tuning.param_grid(base, ranks=(8, 16), reg_params=(0.1,), alphas=(1, 10))

    assert [(p.rank, p.reg_param, p.alpha) for p in grid] == [(8, 0.1, 1.0), (8, 0.1, 10.0), (16, 0.1, 1.0),
                                                             (16, 0.1, 10.0)]
    assert {(p.max_iter, p.seed) for p in grid} == {(7, 3)}


def test_sampled_configurations_are_reproducible_and_inside_the_space():
    base = fit.AlsParams(max_iter=9, seed=5)
    space = tuning.SearchSpace()

    configs = tuning.sample_configs(base, 200, seed=1, space=space)

    assert configs == tuning.sample_configs(base, 200, seed=1, space=space)
    assert configs != tuning.sample_configs(base, 200, seed=2, space=space)
    assert all(16 <= p.rank <= 256 and p.rank % 8 == 0 for p in configs)
    assert all(0.005 <= p.reg_param <= 2.0 and 0.5 <= p.alpha <= 60.0 for p in configs)
    assert {p.weighting for p in configs} == set(fit.WEIGHTINGS)
    assert {(p.max_iter, p.seed) for p in configs} == {(9, 5)}
    # log-uniform: about as many draws below the geometric middle as above it
    assert 60 < sum(p.alpha < (0.5 * 60.0) ** 0.5 for p in configs) < 140


def test_halving_rungs_divide_the_iterations_by_eta_down_to_the_minimum():
    assert tuning.halving_rungs(10) == (2, 4, 10)
    assert tuning.halving_rungs(27, eta=3, min_iterations=3) == (3, 9, 27)
    assert tuning.halving_rungs(4) == (2, 4)
    assert tuning.halving_rungs(2) == (2,)


def test_search_config_refuses_an_empty_grid_and_unknown_strategies():
    with pytest.raises(ValueError, match="empty tuning grid"):
        tuning.SearchConfig(strategy=tuning.GRID)
    with pytest.raises(ValueError, match="strategy"):
        tuning.SearchConfig(strategy="bayes")


class _Spy:
    """Records what every fit and every validation scoring inside tuning saw."""

    def __init__(self, monkeypatch):
        self.inputs, self.fits, self.validation = [], [], []
        self.active = False
        real_tune, real_fit, real_score = tuning.tune_als, fit.fit_als, tuning.score_on_driver

        def spy_tune(train, *args, **kwargs):
            self.inputs.append(_pairs(train))
            self.active = True
            try:
                return real_tune(train, *args, **kwargs)
            finally:
                self.active = False

        def spy_fit(df, params, **kwargs):
            if self.active:
                self.fits.append(_pairs(df))
            return real_fit(df, params, **kwargs)

        def spy_score(model, fold, k, list_length):
            self.validation.append({(p, t) for p, tracks in fold.relevant.items() for t in tracks})
            return real_score(model, fold, k, list_length)

        monkeypatch.setattr(tuning, "tune_als", spy_tune)
        monkeypatch.setattr(fit, "fit_als", spy_fit)
        monkeypatch.setattr(tuning, "score_on_driver", spy_score)

    def never_saw(self, pairs: set[tuple[int, int]]) -> bool:
        groups = (self.inputs, self.fits, self.validation)
        return all(seen and not seen & pairs for group in groups for seen in group)


def test_halving_search_never_touches_the_evaluation_holdout_and_picks_the_best_finalist(
    interactions, small_params, monkeypatch
):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    spy = _Spy(monkeypatch)
    search = tuning.SearchConfig(trials=5, budget_s=3600, folds=2, parallelism=2, engine=tuning.SPARK,
                                 space=tuning.SearchSpace(rank=(8, 16), weightings=("linear", "bm25")))
    config = training.TrainConfig(params=replace(small_params, max_iter=4), tune=True, search=search)

    params, tuned, evaluation = training.evaluate(pairs, config)

    _, holdout = split.holdout_split(pairs, 0.2, seed=42)
    assert spy.never_saw(_pairs(holdout))
    assert len(spy.inputs) == 1 and len(spy.fits) == len(tuned.trials) == len(spy.validation)
    assert tuned.rungs == (2, 4) and tuned.strategy == tuning.HALVING
    by_rung = {r: [t for t in tuned.trials if t.rung == r and t.fold == 0] for r in (0, 1)}
    assert len(by_rung[0]) == 5 and len(by_rung[1]) == 2  # ceil(5 / 3) promoted
    assert {t.params.max_iter for t in by_rung[0]} == {2} and {t.params.max_iter for t in by_rung[1]} == {4}
    best_first = sorted(by_rung[0], key=lambda t: -t.metrics["ndcg_at_10"])
    assert {t.trial for t in by_rung[1]} == {t.trial for t in best_first[:2]}
    # both finalists validated on a second split; the winner has the best mean of its two folds
    fold_1 = [t for t in tuned.trials if t.fold == 1]
    assert tuned.folds == 2 and {t.trial for t in fold_1} == {t.trial for t in by_rung[1]}
    peak = {i: max(t.metrics["ndcg_at_10"] for t in tuned.trials if t.trial == i and t.fold == 0)
            for i, _ in tuned.finalists}  # early stopping keeps a configuration's best iterations
    means = {i: (peak[i] + next(t for t in fold_1 if t.trial == i).metrics["ndcg_at_10"]) / 2 for i in peak}
    winner = max(means, key=means.get)
    assert tuned.finalists[0][0] == winner and tuned.finalists[0][1] == pytest.approx(means[winner])
    assert replace(params, max_iter=0) == replace(tuning.sample_configs(config.params, 5, 42, search.space)[winner],
                                                  max_iter=0)
    assert params == tuned.best and evaluation.als["n_playlists"] == len({p for p, _ in _pairs(holdout)})


def test_a_spent_budget_still_gives_a_best_from_the_first_fit(interactions, small_params):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    search = tuning.SearchConfig(trials=6, budget_s=0.0, parallelism=2, engine=tuning.SPARK)

    tuned = tuning.tune_als(pairs, replace(small_params, max_iter=4), search, validation_fraction=0.2, seed=1)

    assert len(tuned.trials) == 1 and tuned.folds == 1
    assert tuned.best.max_iter == 4  # never seen to stop improving: the full iterations
    assert replace(tuned.best, max_iter=2) == tuned.trials[0].params


def test_the_old_grid_is_tried_once_per_point(interactions, small_params, monkeypatch):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    spy = _Spy(monkeypatch)
    grid = (replace(small_params, alpha=1.0, max_iter=3), replace(small_params, alpha=20.0, max_iter=3))
    config = training.TrainConfig(params=small_params, tune=True,
                                  search=tuning.SearchConfig(strategy=tuning.GRID, grid=grid, engine=tuning.SPARK))

    params, tuned, _ = training.evaluate(pairs, config)

    _, holdout = split.holdout_split(pairs, 0.2, seed=42)
    assert spy.never_saw(_pairs(holdout))
    assert [trial.params for trial in tuned.trials] == list(grid)
    assert params == tuned.best == max(tuned.trials, key=lambda t: t.metrics["ndcg_at_10"]).params
    report = "\n".join(tuning.format_search(tuned))
    assert "grid of 2" in report and sum(" linear " in line for line in report.splitlines()) == 2


def test_driver_scoring_matches_the_spark_top_k_and_metrics(interactions, small_params):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    fold = tuning._make_fold(pairs, 0, 0.2, 42, 1.0, {"linear"})
    model = fit.fit_als(fold.fit_parts["linear"], replace(small_params, max_iter=3))

    on_driver = tuning.score_on_driver(model, fold, 10, 100)
    lists = topk.recommend_top_k(model, topk.seen_lists(fold.fit_parts["linear"]), 100, playlists=fold.validation)
    in_spark = metrics.ranking_metrics(lists, fold.validation, 10, 100)

    assert on_driver.keys() == in_spark.keys()
    assert all(on_driver[name] == pytest.approx(in_spark[name]) for name in in_spark)
    fold.unpersist()
