"""Fold-in: a new playlist's factors from seed tracks reproduce what training gives a known playlist."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

from musiclake.recommend import fit, foldin, topk
from musiclake.schemas import PLAYLIST_IDX, RANK, TRACK_IDX, WEIGHT


@pytest.fixture(scope="module")
def fitted(interactions, small_params):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT).cache()
    model = fit.fit_als(pairs, small_params)
    return pairs, model, fit.item_gram(model)


def _playlist(pairs, playlist_idx: int) -> tuple[list[int], np.ndarray]:
    rows = pairs.where(F.col(PLAYLIST_IDX) == playlist_idx).orderBy(TRACK_IDX).collect()
    return [row[TRACK_IDX] for row in rows], np.array([row[WEIGHT] for row in rows])


def test_fold_in_solves_the_implicit_als_normal_equation():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(30, 4))
    seeds, weights = items[[3, 7, 11]], np.array([1.0, 2.0, 1.0])
    reg, alpha = 0.1, 10.0

    x = foldin.fold_in(seeds, weights, items.T @ items, reg, alpha)

    confidence = np.zeros(30)
    confidence[[3, 7, 11]] = alpha * weights
    preference = (confidence > 0).astype(float)
    # (Y^T C Y + reg * n * I) x = Y^T C p with C = 1 + alpha * w over all items
    lhs = items.T @ ((1 + confidence)[:, None] * items) + reg * 3 * np.eye(4)
    rhs = items.T @ ((1 + confidence) * preference)
    np.testing.assert_allclose(lhs @ x, rhs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("playlist_idx", [0, 41, 70])
def test_fold_in_of_a_known_playlists_tracks_gives_back_its_trained_factors(fitted, playlist_idx, small_params):
    pairs, model, gram = fitted
    tracks, weights = _playlist(pairs, playlist_idx)
    seed_factors = foldin.collect_seed_factors(model.itemFactors, tracks)

    folded = foldin.fold_in(
        np.stack([seed_factors[t] for t in tracks]), weights, gram, small_params.reg_param, small_params.alpha
    )

    trained = np.array(model.userFactors.where(F.col("id") == playlist_idx).first()["features"])
    cosine = folded @ trained / (np.linalg.norm(folded) * np.linalg.norm(trained))
    assert cosine > 0.999
    np.testing.assert_allclose(folded, trained, rtol=0.02, atol=1e-3)


def test_fold_in_recommendations_match_the_playlists_own(fitted, small_params):
    pairs, model, gram = fitted
    playlist_idx = 12
    tracks, weights = _playlist(pairs, playlist_idx)
    seed_factors = foldin.collect_seed_factors(model.itemFactors, tracks)
    folded = foldin.fold_in(
        np.stack([seed_factors[t] for t in tracks]), weights, gram, small_params.reg_param, small_params.alpha
    )

    from_fold_in = foldin.score_tracks(model.itemFactors, folded, tracks, k=10).orderBy(RANK).collect()
    own = topk.recommend_top_k(model, topk.seen_lists(pairs), k=10, playlists=pairs.where(F.col(PLAYLIST_IDX) == 12))

    own_tracks = [row[TRACK_IDX] for row in own.orderBy(RANK).collect()]
    folded_tracks = [row[TRACK_IDX] for row in from_fold_in]
    assert [row[RANK] for row in from_fold_in] == list(range(1, 11))
    assert not set(folded_tracks) & set(tracks)
    assert len(set(folded_tracks) & set(own_tracks)) >= 9


def test_collect_seed_factors_leaves_out_unknown_tracks(fitted):
    _, model, _ = fitted

    found = foldin.collect_seed_factors(model.itemFactors, [0, 1, 10_000])

    assert set(found) == {0, 1}
    assert found[0].shape == (model.rank,)
