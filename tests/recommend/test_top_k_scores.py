"""The numpy top-k of recommend_top_k: the best unseen items, ranked, against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from musiclake.recommend import topk


def _users(rng: np.random.Generator, n: int, rank: int, item_ids: np.ndarray) -> pd.DataFrame:
    seen = [rng.choice(item_ids, size=int(rng.integers(0, 8)), replace=False).astype(np.int32) for _ in range(n)]
    seen[0] = None  # a playlist without a seen list
    return pd.DataFrame({
        "playlist_idx": np.arange(n, dtype=np.int32) * 3,
        "features": list(rng.normal(size=(n, rank)).astype(np.float32)),
        "seen": seen,
    })


def test_top_k_scores_are_the_best_unseen_items_in_order():
    rng = np.random.default_rng(0)
    item_ids = np.sort(rng.choice(1000, size=40, replace=False)).astype(np.int32)  # ids need not be dense
    factors = rng.normal(size=(40, 6)).astype(np.float32)
    users = _users(rng, 25, 6, item_ids)

    got = topk.top_k_scores(users, item_ids, factors, k=10)

    for _, user in users.iterrows():
        seen = set() if user["seen"] is None else set(user["seen"].tolist())
        scores = factors @ user["features"]
        expected = [int(i) for i in item_ids[np.argsort(-scores, kind="stable")] if int(i) not in seen][:10]
        rows = got[got["playlist_idx"] == user["playlist_idx"]].sort_values("rank")
        assert rows["track_idx"].tolist() == expected
        assert rows["rank"].tolist() == list(range(1, 11))
        assert rows["score"].is_monotonic_decreasing


def test_top_k_scores_returns_fewer_rows_when_few_items_are_unseen(monkeypatch):
    monkeypatch.setattr(topk, "SCORE_BLOCK", 8)  # several blocks of two users
    item_ids = np.arange(5, dtype=np.int32)
    factors = np.eye(5, 3, dtype=np.float32)
    users = pd.DataFrame({
        "playlist_idx": np.array([1, 2, 3], dtype=np.int32),
        "features": [np.ones(3, dtype=np.float32)] * 3,
        "seen": [np.array([0, 1, 2], dtype=np.int32), np.arange(5, dtype=np.int32), np.array([], dtype=np.int32)],
    })

    got = topk.top_k_scores(users, item_ids, factors, k=4)

    assert got.groupby("playlist_idx")["rank"].max().to_dict() == {1: 2, 3: 4}
    assert set(got[got["playlist_idx"] == 1]["track_idx"]) == {3, 4}
