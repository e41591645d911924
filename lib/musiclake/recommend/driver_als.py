r"""Implicit ALS on the driver with numpy: the objective Spark's ALS minimises, for the tuner's many small fits.

A tuning trial on the demo catalog spends most of its time in Spark's fixed cost per fit (blocks, stages, a
shuffle per half-iteration), not in arithmetic. When the training interactions fit on the driver
(:data:`MAX_INTERACTIONS`), the tuner (:mod:`musiclake.recommend.tuning`, engine ``driver``) fits its trials
here instead, and only the chosen model is fitted by Spark.

The model is Spark's (``ALS(implicitPrefs=True)``, Hu, Koren & Volinsky 2008 with ALS-WR regularisation). Given
the item factors ``Y``, a playlist's factors ``x`` solve

.. math:: (Y^T Y + \sum_{i} \alpha |r_i| y_i y_i^T + \lambda n^+ I)\, x = \sum_{i: r_i > 0} (1 + \alpha |r_i|) y_i

over its tracks ``i`` with ratings ``r_i`` (``n^+``: its ratings above 0, ``lambda`` = regParam), and tracks the
same way from the playlists' factors; every iteration solves the tracks, then the playlists, from factors
initialised as Spark does (Gaussian, each vector scaled to unit length). Where Spark solves each system exactly
(Cholesky), this runs ``cg_steps`` steps of conjugate gradient from the previous iteration's factors for all rows
at once (Takacs, Pilaszy & Tikk 2011; ``implicit``'s default is 3 steps): the same fixed point, reached with
sparse products instead of a rank x rank system per row. With ``cg_steps >= rank`` a step is exact (up to
rounding), which the tests use to check the equation against Spark's own factors.

Memory: the interactions three times over (two sorted copies and the weights) plus, per block of rows, the
gathered factors of at most :data:`BLOCK_ELEMENTS` / rank interactions; all numpy, no Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

try:  # not among Glue 5.1's promised packages: weighted_row_sums falls back to pandas without it
    from scipy import sparse
except ImportError:  # the tests set it to None to run the fallback
    sparse = None

from musiclake.recommend.fit import AlsParams
from musiclake.serve.confidence import BM25, BM25_B, BM25_K1, MIN_BM25_WEIGHT, seed_weights

# the tuner's engine "auto" fits trials here up to this many training interactions: below, Spark's fixed cost per fit
# dominates a trial; above, a numpy iteration costs nearly what Spark's does on 2 local cores (~9 s at 5.8M, rank 64,
# vs Spark's ~13 s) and far more than on a Glue cluster's executors, and the driver holds every interaction
MAX_INTERACTIONS = 1_000_000
DEFAULT_CG_STEPS = 3
BLOCK_ELEMENTS = 1 << 24  # factor floats gathered at once (128 MB as float64)


@dataclass(frozen=True)
class Ratings:
    """A sparse ``rows x columns`` rating matrix in compressed-row form (rows sorted, columns within a row).

    ``indptr[r]:indptr[r + 1]`` are row ``r``'s entries: ``columns`` and ``values``.
    """

    indptr: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    n_columns: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_pairs(cls, rows: np.ndarray, columns: np.ndarray, values: np.ndarray, n_rows: int,
                   n_columns: int) -> Ratings:
        """From coordinate triples (``rows`` and ``columns`` 0-based dense indices, one entry per pair)."""
        order = np.lexsort((columns, rows))
        counts = np.bincount(rows, minlength=n_rows)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr, np.asarray(columns)[order].astype(np.int64), np.asarray(values, dtype=np.float64)[order],
                   n_columns)

    @cached_property
    def transposed(self) -> Ratings:
        """Columns as rows: built once per ratings (a fold's fit part), however many fits read it."""
        rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.indptr))
        return Ratings.from_pairs(self.columns, rows, self.values, self.n_columns, self.n_rows)


@dataclass(frozen=True)
class Factors:
    """The fitted factors: ``users[playlist]`` and ``items[track]`` (dense indices of the fitted ratings)."""

    users: np.ndarray
    items: np.ndarray


def confidence_weights(playlists: np.ndarray, tracks: np.ndarray, weights: np.ndarray, weighting: str) -> np.ndarray:
    """The weights ``r'`` a confidence weighting gives (one per pair): numpy twin of Spark's
    :func:`musiclake.recommend.fit.with_confidence_weights` (same formulas, same constants).

    Parameters
    ----------
    playlists, tracks
        Dense 0-based indices of each pair (one pair per row).
    weights
        Times the track is in the playlist.
    """
    if weighting != BM25:  # per pair, as for a new playlist's seeds (unknown weightings refused there)
        return seed_weights(weights, weighting)
    w = np.asarray(weights, dtype=np.float64)
    track_playlists = np.bincount(tracks)  # one pair per (playlist, track): the distinct playlists per track
    playlist_lengths = np.bincount(playlists, weights=w)
    holding = playlist_lengths[np.bincount(playlists) > 0]
    n, avg_len = len(holding), holding.mean()
    idf = np.log(float(n)) - np.log1p(track_playlists[tracks].astype(np.float64))
    length_norm = (1.0 - BM25_B) + BM25_B * playlist_lengths[playlists] / avg_len
    saturated = w * (BM25_K1 + 1.0) / (BM25_K1 * length_norm + w)
    return np.maximum(saturated * idf, MIN_BM25_WEIGHT)


def initial_factors(n: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    """Spark's initialisation: Gaussian vectors scaled to unit length."""
    factors = rng.standard_normal((n, rank))
    return factors / np.linalg.norm(factors, axis=1, keepdims=True)


def solve_rows(ratings: Ratings, fixed: np.ndarray, start: np.ndarray, reg_param: float, alpha: float,
               cg_steps: int = DEFAULT_CG_STEPS) -> np.ndarray:
    """One half-iteration: every row's factors from the ``fixed`` side's, by ``cg_steps`` of conjugate gradient
    on the row's normal equation (module docstring), starting from ``start``.

    Parameters
    ----------
    ratings
        Rows to solve for, columns the fixed side (``ratings.n_columns == len(fixed)``).
    fixed, start
        ``(n_columns, rank)`` and ``(n_rows, rank)`` factors.

    Returns
    -------
    ``(n_rows, rank)`` factors of ``fixed``'s dtype (a row without ratings keeps zeros).
    """
    dtype = fixed.dtype  # float32 in fit (Spark's precision, half the memory traffic); float64 solves exactly
    gram = (fixed.T.astype(np.float64) @ fixed.astype(np.float64)).astype(dtype)
    rank = fixed.shape[1]
    solved = np.zeros((ratings.n_rows, rank), dtype=dtype)
    counts = np.diff(ratings.indptr)
    rows_per_block = _rows_per_block(counts, max(1, BLOCK_ELEMENTS // rank))
    for first, last in zip(rows_per_block[:-1], rows_per_block[1:], strict=True):
        lo, hi = ratings.indptr[first], ratings.indptr[last]
        if lo == hi:
            continue
        block_counts = counts[first:last]
        owner = np.repeat(np.arange(last - first), block_counts)
        columns = ratings.columns[lo:hi]
        indptr = ratings.indptr[first:last + 1] - lo
        gathered = fixed[columns]
        values = ratings.values[lo:hi]
        extra = (alpha * np.abs(values)).astype(dtype)  # confidence - 1
        positive = values > 0
        reg = (reg_param * np.bincount(owner, weights=positive, minlength=last - first)).astype(dtype)

        def weighted_sum(per_entry: np.ndarray, columns=columns, indptr=indptr, owner=owner,
                         gathered=gathered) -> np.ndarray:
            return weighted_row_sums(per_entry, columns, indptr, fixed, owner, gathered)

        def times_lhs(x: np.ndarray, gathered=gathered, owner=owner, extra=extra, reg=reg) -> np.ndarray:
            projected = np.einsum("ij,ij->i", gathered, x[owner])
            return x @ gram + weighted_sum(extra * projected) + reg[:, None] * x

        rhs = weighted_sum((positive * (1.0 + extra)).astype(dtype))
        solved[first:last] = _conjugate_gradient(times_lhs, rhs, start[first:last].astype(dtype), cg_steps)
    return solved


def weighted_row_sums(per_entry: np.ndarray, columns: np.ndarray, indptr: np.ndarray, fixed: np.ndarray,
                      owner: np.ndarray, gathered: np.ndarray) -> np.ndarray:
    """Each row's sum of ``per_entry[j] * fixed[columns[j]]`` over its entries ``j`` (rows in compressed form:
    ``indptr``; ``owner[j]`` is entry ``j``'s row and ``gathered[j]`` is ``fixed[columns[j]]``).

    With scipy: a sparse (rows x fixed) matrix times ``fixed``, without the entries' products in memory (the sums
    10-20x faster than the fallback on the demo's blocks, a fit 2-2.5x). Glue 5.1 is not promised to ship scipy, so
    without it: pandas' grouped sum of the products, the same numbers.
    """
    n = len(indptr) - 1
    if sparse is not None:
        return np.asarray(sparse.csr_matrix((per_entry, columns, indptr), shape=(n, len(fixed))) @ fixed)
    out = np.zeros((n, fixed.shape[1]), dtype=fixed.dtype)
    nonempty = np.diff(indptr) > 0
    out[nonempty] = pd.DataFrame(per_entry[:, None] * gathered).groupby(owner, sort=False).sum().to_numpy()
    return out


def _rows_per_block(counts: np.ndarray, max_entries: int) -> np.ndarray:
    """Row boundaries ``[0, ..., n_rows]`` so that each block holds about ``max_entries`` entries (at least a row)."""
    cumulative = np.cumsum(counts)
    bounds, row = [0], 0
    while row < len(counts):
        taken = cumulative[row - 1] if row else 0
        nxt = int(np.searchsorted(cumulative, taken + max_entries, side="right"))
        row = max(row + 1, min(nxt, len(counts)))
        bounds.append(row)
    return np.asarray(bounds)


def _conjugate_gradient(times_lhs, rhs: np.ndarray, x: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` of conjugate gradient on every row's system at once (each row its own step sizes)."""
    residual = rhs - times_lhs(x)
    direction = residual.copy()
    old = np.einsum("ij,ij->i", residual, residual)
    for _ in range(steps):
        if not old.any():
            break
        product = times_lhs(direction)
        curvature = np.einsum("ij,ij->i", direction, product)
        step = np.divide(old, curvature, out=np.zeros_like(old), where=curvature > 0)
        x = x + step[:, None] * direction
        residual = residual - step[:, None] * product
        new = np.einsum("ij,ij->i", residual, residual)
        direction = residual + np.divide(new, old, out=np.zeros_like(new), where=old > 0)[:, None] * direction
        old = new
    return x


def fit(ratings: Ratings, params: AlsParams, *, cg_steps: int = DEFAULT_CG_STEPS,
        resume: tuple[int, Factors] | None = None) -> Factors:
    """Fit implicit ALS (playlists as rows, tracks as columns; ``values`` already confidence-weighted) for
    ``params.max_iter`` iterations: tracks first, then playlists, as Spark does.

    Parameters
    ----------
    resume
        ``(iterations, factors)`` of an earlier fit of the same ratings and parameters with fewer iterations:
        only the remaining iterations run, and the result is the same as a fit from the start (the successive
        halving's next rung continues its configurations this way).

    Returns
    -------
    float32 factors (Spark's precision; the sums of each solve in float32 too), seeded by ``params.seed``.
    """
    if resume is not None and resume[0] <= params.max_iter:
        done, users, items = resume[0], resume[1].users, resume[1].items
    else:
        rng = np.random.default_rng(params.seed)
        done = 0
        users = initial_factors(ratings.n_rows, params.rank, rng).astype(np.float32)
        items = initial_factors(ratings.n_columns, params.rank, rng).astype(np.float32)
    by_item = ratings.transposed
    for _ in range(params.max_iter - done):
        items = solve_rows(by_item, users, items, params.reg_param, params.alpha, cg_steps)
        users = solve_rows(ratings, items, users, params.reg_param, params.alpha, cg_steps)
    return Factors(users, items)


def holdout_mask(playlists: np.ndarray, fraction: float, seed: int, *, min_tracks: int = 2,
                 playlist_share: float = 1.0) -> np.ndarray:
    """Which pairs to hold out: the rule of :func:`musiclake.recommend.split.with_holdout_flag` (per playlist
    ``max(1, floor(fraction * n))`` of its ``n`` tracks, never all; playlists with fewer than ``min_tracks`` and
    those outside ``playlist_share`` keep all), drawn with numpy's seeded generator instead of Spark's hash.

    Parameters
    ----------
    playlists
        Each pair's playlist (any integer ids).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    if not 0.0 < playlist_share <= 1.0:
        raise ValueError(f"playlist share must be in (0, 1], got {playlist_share}")
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(playlists)), playlists))
    ids, first, sizes = np.unique(playlists[order], return_index=True, return_counts=True)
    position = np.arange(len(order)) - np.repeat(first, sizes)
    n_holdout = np.minimum(np.maximum(1, np.floor(sizes * fraction)), sizes - 1).astype(np.int64)
    sampled = rng.random(len(ids)) < playlist_share
    eligible = (sizes >= min_tracks) & sampled
    mask = np.zeros(len(playlists), dtype=bool)
    mask[order] = np.repeat(eligible, sizes) & (position < np.repeat(n_holdout, sizes))
    return mask
