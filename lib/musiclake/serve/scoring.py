r"""Top-k tracks for query vectors: one float32 matrix product per batch, then an exact re-ranking.

Every answer of the read path is "the k best tracks for a vector, some tracks excluded": a trained playlist's
factors (its own tracks excluded), a new playlist folded in from seed tracks (the seeds excluded), or a track's
unit factors for cosine similarity (itself excluded, only similar-track candidates). :func:`rank_queries` answers
a batch of such queries at once:

1. ``S = Q Y^T`` - one float32 matrix product over the item factors for the whole batch (one pass over ``Y``
   whatever the batch size: at 200k x 64 tracks that pass is the dominant cost of a lone request);
2. per row: exclusions set to ``-inf``, then the ``k + MARGIN`` best candidates found without sorting the row
   (:func:`top_candidates`: the ``m``-th largest of the per-group maxima bounds the ``m``-th largest score);
3. the candidates re-scored exactly - in float64, summing the products in the order Spark's
   ``aggregate(zip_with(...))`` does, so a fold-in ranks exactly as :func:`musiclake.recommend.foldin.score_tracks`
   - and ordered by score, then by lower track index.

:class:`BatchScorer` feeds the concurrent requests of the HTTP API through :func:`rank_queries` together.

The fold-in (:func:`fold_in`, shared with the Spark path :mod:`musiclake.recommend.foldin`):

.. math:: (Y^T Y + \sum_{i \in S} \alpha w_i y_i y_i^T + \lambda n_S I)\, x = \sum_{i \in S} (1 + \alpha w_i) y_i
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
from dataclasses import dataclass

import numpy as np

from musiclake.serve.model import Model

log = logging.getLogger("musiclake.serve.scoring")

MARGIN = 32  # candidates kept beyond k from the float32 pass, re-ranked exactly
GROUPS = 1024  # strided groups of the candidate search (their maxima bound the k-th best score)
MAX_BATCH = 64  # queries scored by one matrix product
WAIT_TURNS = 3  # event-loop turns a batch waits for more requests (microseconds when idle)


@dataclass(frozen=True, eq=False)
class Query:
    """What to rank: a vector against the item factors, with exclusions.

    Parameters
    ----------
    vector
        ``(rank,)``: playlist factors (float32 values) or a fold-in solution (float64).
    exclude
        Track indices never returned.
    k
        How many tracks to return (fewer when fewer are left).
    cosine
        Rank by cosine similarity among the similar-track candidates (``vector`` is a track's factors).
    """

    vector: np.ndarray
    exclude: np.ndarray
    k: int
    cosine: bool = False


@dataclass(frozen=True)
class Ranked:
    """The answer to a :class:`Query`: track indices best first and their exact scores."""

    track_idx: np.ndarray  # int64
    scores: np.ndarray  # float64


def fold_in(
    seed_factors: np.ndarray, weights: np.ndarray, gram: np.ndarray, reg_param: float, alpha: float
) -> np.ndarray:
    """The factors of a new playlist from its seed tracks' factors (implicit-ALS normal equation).

    Parameters
    ----------
    seed_factors
        ``(n, rank)`` item factors of the seed tracks.
    weights
        ``(n,)`` times each seed is listed (1 for once).
    gram
        ``Y^T Y`` of all item factors.
    reg_param, alpha
        The model's ``regParam`` and ``alpha``.

    Returns
    -------
    The ``(rank,)`` float64 factor vector. The Spark path (:mod:`musiclake.recommend.foldin`) uses this function
    too.
    """
    factors = np.asarray(seed_factors, dtype=np.float64).reshape(-1, gram.shape[0])
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    confidence_extra = alpha * np.abs(weights)
    positive = weights > 0
    lhs = gram + (factors.T * confidence_extra) @ factors + reg_param * positive.sum() * np.eye(gram.shape[0])
    rhs = factors[positive].T @ (1.0 + confidence_extra[positive])
    return np.linalg.solve(lhs, rhs)


def rank_queries(model: Model, queries: list[Query]) -> list[Ranked]:
    """The best tracks for each query, by one matrix product over the item factors for all of them.

    Returns
    -------
    One :class:`Ranked` per query, in order.
    """
    if not queries:
        return []
    vectors = np.stack([np.asarray(q.vector, dtype=np.float32) for q in queries])
    scores = vectors @ model.item_factors.T  # (batch, n_tracks) float32
    answers = []
    for row, query in zip(scores, queries, strict=True):
        if query.cosine:
            np.multiply(row, model.cosine_scale, out=row)
            np.add(row, model.cosine_penalty, out=row)
        row[model.items_without_factors] = -np.inf
        row[np.asarray(query.exclude, dtype=np.int64)] = -np.inf
        candidates = top_candidates(row, min(len(row), query.k + MARGIN))
        candidates = candidates[np.isfinite(row[candidates])]
        answers.append(_exact_order(model, query, candidates))
    return answers


def set_blas_threads(threads: int) -> bool:
    """Limit the threads of numpy's OpenBLAS (one matrix product) at run time; False when it cannot be found.

    Notes
    -----
    A server scoring batches on its event loop's thread does best with one BLAS thread on a small machine: the
    other core parses requests, and idle OpenBLAS threads spin (bench/serve_bench.py, BENCHMARKS.md). The library
    reads ``OPENBLAS_NUM_THREADS`` only when numpy is imported, which the ``musiclake`` command has done before a
    handler runs, hence the call into the loaded library (as threadpoolctl does).
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
    except OSError:
        return False
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(library, name, None)
            if setter is not None:
                setter(int(threads))
                return True
    return False


def top_candidates(row: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` largest values of ``row`` (in no particular order).

    Notes
    -----
    The row is cut into ``g`` strided groups (``row[j::g]``, the columns of ``row.reshape(-1, g)``, whose maxima one
    vectorised pass finds). The ``m``-th largest group maximum is a lower bound of the ``m``-th largest value (the
    ``m`` groups with the largest maxima hold at least ``m`` values above it), so only the groups whose maximum
    reaches it are searched: 4-5x faster than ``argpartition`` over 200k values for ``m`` ~ 40.
    """
    n = len(row)
    if m >= n:
        return np.arange(n)
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    g = max(2 * m, GROUPS)
    if n < 4 * g:
        return np.argpartition(row, n - m)[n - m :]
    full = n - n % g
    block = row[:full].reshape(-1, g)
    maxima = block.max(axis=0)
    tail = row[full:]
    every = np.append(maxima, tail.max()) if len(tail) else maxima
    bound = every[np.argpartition(every, len(every) - m)[len(every) - m]]
    columns = np.flatnonzero(maxima >= bound)
    if len(columns) > g // 8:  # the bound is weak (many equal or excluded values): one pass over the row
        candidates = np.flatnonzero(row >= bound)
    else:
        rows, picked = np.nonzero(block[:, columns] >= bound)
        candidates = rows * g + columns[picked]
        if len(tail):
            candidates = np.concatenate([candidates, full + np.flatnonzero(tail >= bound)])
    if len(candidates) > m:
        candidates = candidates[np.argpartition(row[candidates], len(candidates) - m)[len(candidates) - m :]]
    return candidates


def _exact_order(model: Model, query: Query, candidates: np.ndarray) -> Ranked:
    """Re-score the candidates exactly and keep the best ``k``: score descending, then lower index."""
    rows = model.item_factors[candidates]
    if query.cosine:
        units = _unit(rows)
        exact = sequential_dot(units, _unit(np.asarray(query.vector, dtype=np.float32)[None, :])[0].astype(np.float64))
    else:
        exact = sequential_dot(rows, np.asarray(query.vector, dtype=np.float64))
    order = np.lexsort((candidates, -exact))[: query.k]
    return Ranked(candidates[order].astype(np.int64), exact[order])


def sequential_dot(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``rows @ vector`` in float64, summed left to right as Spark's ``aggregate(zip_with(a, b, *), 0.0, +)``
    (``cumsum`` accumulates in order; a BLAS dot product does not)."""
    if not rows.shape[1]:
        return np.zeros(len(rows))
    return np.cumsum(rows.astype(np.float64) * vector, axis=1)[:, -1]


def _unit(rows: np.ndarray) -> np.ndarray:
    """Float32 factors scaled to unit length as ``similar._unit_factors`` does (norm summed in float64 of float32
    squares, then divided in float64 and rounded to float32)."""
    norms = np.sqrt(np.cumsum((rows * rows).astype(np.float64), axis=1)[:, -1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rows.astype(np.float64) / norms[:, None]).astype(np.float32)


class BatchScorer:
    """Scores the queries of concurrent requests together, one batch at a time, beside the event loop.

    A request's coroutine queues its query and awaits the answer. While no batch is being scored, the first query
    queued schedules a flush (``loop.call_soon``) that lets the loop turn ``wait_turns`` more times - the requests it
    is still parsing reach the queue meanwhile - and then hands up to ``max_batch`` queries to one scoring thread.
    While that thread scores (numpy releases the GIL in the matrix product and the row scans), the loop goes on
    parsing requests and answering finished ones, and the next batch gathers: a burst shares one pass over the
    factors, a lone request waits only a few loop turns. Queries against different models (during a model swap)
    are scored in separate products.
    """

    def __init__(self, max_batch: int = MAX_BATCH, wait_turns: int = WAIT_TURNS) -> None:
        self.max_batch = max_batch
        self.wait_turns = wait_turns
        self._pending: list[tuple[Model, Query, asyncio.Future]] = []
        self._scheduled = False
        self._busy = False
        self._waited = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="musiclake-scorer")
        self.batches = 0
        self.queries = 0

    async def rank(self, model: Model, query: Query) -> Ranked:
        """Queue one query for the next batch and await its answer."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((model, query, future))
        self._schedule(loop)
        return await future

    def close(self) -> None:
        """Stop the scoring thread once the batch it scores is done."""
        self._executor.shutdown(wait=False)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled and not self._busy and self._pending:
            self._scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        if self._waited < self.wait_turns and len(self._pending) < self.max_batch:
            self._waited += 1  # let the requests the loop is still parsing join this batch
            loop.call_soon(self._flush)
            return
        self._waited, self._scheduled = 0, False
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        batch = [entry for entry in batch if not entry[2].done()]  # requests that went away are dropped
        if not batch:
            self._schedule(loop)
            return
        self._busy = True
        work = loop.run_in_executor(self._executor, _score_batch, batch)
        work.add_done_callback(lambda done: self._finished(loop, batch, done))

    def _finished(self, loop: asyncio.AbstractEventLoop, batch: list, done: asyncio.Future) -> None:
        self._busy = False
        for (_, _, future), outcome in zip(batch, done.result(), strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        self.batches += 1
        self.queries += len(batch)
        self._schedule(loop)


def _score_batch(batch: list[tuple[Model, Query, asyncio.Future]]) -> list[Ranked | BaseException]:
    """The answers of a batch in order (an exception in place of the answers of a product that failed)."""
    by_model: dict[int, list[int]] = {}
    for position, (model, _, _) in enumerate(batch):
        by_model.setdefault(id(model), []).append(position)
    answers: list[Ranked | BaseException] = [None] * len(batch)  # type: ignore[list-item]
    for positions in by_model.values():
        try:
            ranked = rank_queries(batch[positions[0]][0], [batch[i][1] for i in positions])
        except Exception as error:  # handed to the waiting requests, which answer 500
            log.exception("scoring a batch of %d queries failed", len(positions))
            ranked = [error] * len(positions)
        for position, answer in zip(positions, ranked, strict=True):
            answers[position] = answer
    return answers
