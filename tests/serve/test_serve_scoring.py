"""Top-k by one matrix product and an exact re-ranking: the same answers as a full sort, batched or not."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from musiclake.serve import scoring
from musiclake.serve.scoring import BatchScorer, Query, rank_queries, top_candidates


@pytest.mark.parametrize("n", [5, 300, 10_000, 10_007])
@pytest.mark.parametrize("m", [1, 10, 60])
def test_top_candidates_are_the_m_largest_values(n, m):
    rng = np.random.default_rng(n + m)
    row = rng.standard_normal(n).astype(np.float32)
    row[rng.choice(n, n // 3, replace=False)] = -np.inf  # excluded tracks
    row[:4] = row[4]  # ties

    found = top_candidates(row, min(m, n))

    assert len(found) == min(m, n) and len(set(found.tolist())) == len(found)
    assert np.sort(row[found])[::-1].tolist() == np.sort(row)[::-1][: min(m, n)].tolist()


def test_top_candidates_with_a_weak_bound_still_find_the_m_largest():
    row = np.zeros(20_000, dtype=np.float32)  # mostly ties: every group reaches the bound
    row[[5, 9_999, 19_998]] = [3.0, 2.0, 1.0]

    found = top_candidates(row, 10)

    assert len(found) == 10 and {5, 9_999, 19_998} <= set(found.tolist())


def _brute_force(items: np.ndarray, vector: np.ndarray, exclude, k: int) -> list[int]:
    scores = items.astype(np.float64) @ np.asarray(vector, dtype=np.float64)
    order = sorted((i for i in range(len(items)) if i not in set(exclude)), key=lambda i: (-scores[i], i))
    return order[:k]


def test_ranked_queries_equal_a_full_sort_with_exclusions(random_model):
    rng = np.random.default_rng(5)
    queries = [Query(random_model.user_factors[p], random_model.seen(p), k) for p, k in ((0, 10), (7, 50), (9, 1))]
    queries.append(Query(rng.standard_normal(random_model.rank), np.array([1, 2, 3]), 25))

    answers = rank_queries(random_model, queries)

    for query, answer in zip(queries, answers, strict=True):
        assert answer.track_idx.tolist() == _brute_force(random_model.item_factors, query.vector, query.exclude,
                                                         query.k)
        expected = random_model.item_factors[answer.track_idx].astype(np.float64) @ np.asarray(query.vector, float)
        np.testing.assert_allclose(answer.scores, expected, rtol=1e-12, atol=1e-12)


def test_a_batch_answers_each_query_as_it_would_alone(random_model):
    queries = [Query(random_model.user_factors[p], random_model.seen(p), 10) for p in range(20)]

    together = rank_queries(random_model, queries)
    alone = [rank_queries(random_model, [q])[0] for q in queries]

    for a, b in zip(together, alone, strict=True):
        assert a.track_idx.tolist() == b.track_idx.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)


def test_cosine_queries_rank_the_candidates_by_cosine_similarity(random_model):
    track = 11
    query = Query(random_model.item_factors[track], np.array([track]), 15, cosine=True)

    (answer,) = rank_queries(random_model, [query])

    items = random_model.item_factors.astype(np.float64)
    cosine = items @ items[track] / (np.linalg.norm(items, axis=1) * np.linalg.norm(items[track]))
    candidates = [i for i in range(len(items)) if np.isfinite(random_model.cosine_penalty[i]) and i != track]
    expected = sorted(candidates, key=lambda i: (-cosine[i], i))[:15]
    assert answer.track_idx.tolist() == expected
    np.testing.assert_allclose(answer.scores, cosine[expected], atol=1e-6)


def test_exact_scores_add_the_products_in_sparks_order():
    rows = np.array([[0.1, 0.2, 0.3], [1e8, 1.0, -1e8]], dtype=np.float32)
    vector = np.array([0.7, 0.11, 0.3])

    expected = []
    for row in rows:  # aggregate(zip_with(features, vector, a * b), 0.0, (total, x) -> total + x)
        total = 0.0
        for a, b in zip(row.tolist(), vector.tolist(), strict=True):
            total = total + a * b
        expected.append(total)

    assert scoring.sequential_dot(rows, vector).tolist() == expected


def test_the_batch_scorer_shares_one_product_among_concurrent_queries(random_model):
    scorer = BatchScorer(max_batch=8)
    queries = [Query(random_model.user_factors[p], random_model.seen(p), 5) for p in range(20)]

    async def ask_all():
        return await asyncio.gather(*(scorer.rank(random_model, q) for q in queries))

    answers = asyncio.run(ask_all())

    assert [a.track_idx.tolist() for a in answers] == [a.track_idx.tolist() for a in rank_queries(random_model,
                                                                                                   queries)]
    assert scorer.queries == 20 and scorer.batches == 3  # 8 + 8 + 4


def test_a_failing_batch_fails_its_requests_not_the_scorer(random_model):
    scorer = BatchScorer()
    bad = Query(np.zeros(random_model.rank + 1), np.array([], dtype=np.int64), 5)  # wrong rank
    good = Query(random_model.user_factors[0], random_model.seen(0), 5)

    async def ask():
        failed = await asyncio.gather(scorer.rank(random_model, bad), return_exceptions=True)
        return failed, await scorer.rank(random_model, good)

    failed, answer = asyncio.run(ask())

    assert isinstance(failed[0], ValueError) and len(answer.track_idx) == 5


def test_the_blas_threads_can_be_limited_at_run_time():
    assert scoring.set_blas_threads(1) is True  # numpy's OpenBLAS is found among the loaded libraries
    scoring.set_blas_threads(os.cpu_count() or 1)  # back to OpenBLAS's default
