r"""New playlists, evaluated as in the RecSys Challenge 2018: whole playlists held out, a few seed tracks shown.

The per-playlist holdout of :mod:`~musiclake.recommend.training` scores playlists the model was trained on. The
feature users touch most is different: a playlist the model has never seen, with a title and a handful of tracks.
The challenge measured that with playlists held out whole, revealing 0 (title only), 1, 5, 10, 25 or 100 seed tracks
and asking for 500 more; this module does the same against the model the job trains:

1. **Hold out** ``N`` whole playlists, the ones with the smallest ``xxhash64(seed, playlist_idx)``
   (:func:`held_out_playlists`), and fit ALS with the job's chosen parameters on every other playlist.
2. **Seeds**: for every held-out playlist and every category ``c`` in :data:`CATEGORIES` for which it has at least
   ``c + 1`` distinct tracks (shorter ones skip the category, as the challenge did), the first ``c`` tracks by
   position (``seed_order="first"``; the ``playlist_tracks`` positions) or ``c`` tracks in a seeded hash order
   (``"random"``) are revealed; the rest of the playlist is the relevant set ``G``.
3. **Lists** of 500, never a seed: ALS folds the seeds into the trained item factors
   (:func:`musiclake.serve.scoring.fold_in` with the model's ``Y^T Y``, ranked by
   :func:`musiclake.serve.scoring.rank_queries` - the read path's own code), popularity ranks by training playlist
   count. Category 0 has no seeds: the **title cold start** (:func:`title_lists`) answers instead of ALS.
4. **Metrics**: the shared per-list functions of :mod:`~musiclake.recommend.metrics` (R-precision, NDCG@500 and
   clicks of the challenge, and precision/recall/NDCG/MAP@10), averaged per category and model.

Every held-out playlist is scored in every category it is long enough for (the challenge gave each test playlist one
category; here the same playlists are compared across categories, which halves the noise of a small sample).

Title cold start: playlist names are normalised (:func:`normalised_tokens`: lowercase, every run of characters other
than letters and digits - punctuation, emoji, spaces - is a separator, distinct tokens). A track's score for a title
is the sum, over the (at most :data:`TITLE_MATCHES_KEPT`) training playlists whose name shares a token with it, of
the Jaccard similarity of the two token sets; the list is filled up with the most popular tracks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from musiclake import schemas
from musiclake.recommend import fit, metrics
from musiclake.recommend.fit import AlsParams
from musiclake.runtime import small_frame
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, SCORE, TRACK_ID, TRACK_IDX, WEIGHT
from musiclake.serve.confidence import seed_weights
from musiclake.serve.model import IdIndex, Model, Popular
from musiclake.serve.scoring import Query, fold_in, rank_queries

log = logging.getLogger("musiclake.recommend.newplaylists")

CATEGORIES = (0, 1, 5, 10, 25, 100)  # seed tracks revealed, as in the RecSys Challenge 2018
SEED_ORDERS = ("first", "random")
SPLIT_PREFIX = "new_playlists_"  # evaluations.split = new_playlists_<seed order>_<seeds>
AUTO_MIN_PLAYLISTS = 1000  # below this many playlists the protocol runs only when asked for
AUTO_SHARE = 10  # the default holdout: one playlist in AUTO_SHARE ...
AUTO_MIN_HOLDOUT, AUTO_MAX_HOLDOUT = 100, 1000  # ... within these bounds (the challenge had 1,000 per category)
TITLE_MATCHES_KEPT = 1000  # training playlists whose tracks vote for one title, best Jaccard first
SCORE_CELLS = 4_000_000  # query x track scores held at once by one rank_queries call (16 MB as float32)
TITLE_MODEL, ALS_MODEL, POPULARITY_MODEL = "title", "als", "popularity"
SHOWN_METRICS = ("r_precision", "ndcg_at_500", "ndcg_at_10", "clicks")
STAGES = ("fit", "title", "score")  # the parts of the protocol's time (seconds)
_ORDER_SALT = "new_playlist_seed_order"
_HOLDOUT_SALT = "new_playlist_holdout"


@dataclass(frozen=True)
class NewPlaylistConfig:
    """How to run the protocol.

    Parameters
    ----------
    holdout
        Playlists held out whole; 0 picks :func:`default_holdout` of the number of playlists.
    seed_order
        ``first`` (the playlist's first tracks by position) or ``random`` (a seeded hash order).
    seed
        Decides which playlists are held out and the ``random`` order.
    k, n
        Cut-off of precision/recall/NDCG/MAP, and the list length (the challenge's 500).
    """

    holdout: int = 0
    seed_order: str = "first"
    seed: int = 42
    categories: tuple[int, ...] = CATEGORIES
    k: int = 10
    n: int = metrics.CHALLENGE_LIST_LENGTH

    def __post_init__(self) -> None:
        if self.seed_order not in SEED_ORDERS:
            raise ValueError(f"seed order must be one of {', '.join(SEED_ORDERS)}, got {self.seed_order!r}")
        if self.holdout < 0:
            raise ValueError(f"new-playlist holdout must be >= 0, got {self.holdout}")


@dataclass(frozen=True)
class PlaylistContext:
    """What the interactions lack: playlist names (title cold start) and track positions (first-n seeds).

    ``names``: ``playlist_id, name``; ``positions``: ``playlist_id, track_id, position``. Either may be None (a
    dataset without the curated tables): titles are then empty (category 0 falls back to popularity) and the
    order of the tracks is the seeded hash order.
    """

    names: DataFrame | None = None
    positions: DataFrame | None = None


@dataclass(frozen=True)
class HeldOutPlaylist:
    """One held-out playlist on the driver: its distinct tracks in seed order and how often each is listed."""

    playlist_idx: int
    tracks: np.ndarray  # int64, in seed order
    weights: np.ndarray  # float64


@dataclass(frozen=True)
class CategoryResult:
    """Mean metrics of one category: ``{model: {metric: value}}`` over ``n_playlists`` playlists."""

    seeds: int
    n_playlists: int
    models: dict[str, dict[str, float]]

    @property
    def answer(self) -> str:
        """The model musiclake answers this category with: the title cold start for 0 seeds, else ALS."""
        return TITLE_MODEL if self.seeds == 0 else ALS_MODEL


@dataclass(frozen=True)
class NewPlaylistEvaluation:
    """The protocol's outcome, per category, and what it cost."""

    params: AlsParams
    seed_order: str
    n_held_out: int
    n_train_playlists: int
    has_titles: bool
    has_positions: bool
    categories: tuple[CategoryResult, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    requested: tuple[int, ...] = CATEGORIES

    def split(self, seeds: int) -> str:
        """The ``split`` value of a category's rows in ``evaluations``."""
        return f"{SPLIT_PREFIX}{self.seed_order}_{seeds}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed_order": self.seed_order, "held_out_playlists": self.n_held_out,
            "train_playlists": self.n_train_playlists, "titles": self.has_titles, "positions": self.has_positions,
            "categories": {c.seeds: {"n_playlists": c.n_playlists, **c.models} for c in self.categories},
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


# ---- which playlists, which seeds -----------------------------------------------------------------------------

def default_holdout(n_playlists: int) -> int:
    """One playlist in :data:`AUTO_SHARE`, at least :data:`AUTO_MIN_HOLDOUT`, at most :data:`AUTO_MAX_HOLDOUT`,
    never more than half of the playlists."""
    wanted = min(AUTO_MAX_HOLDOUT, max(AUTO_MIN_HOLDOUT, n_playlists // AUTO_SHARE))
    return max(0, min(wanted, n_playlists // 2))


def should_run(requested: bool | None, n_playlists: int) -> bool:
    """Run when asked (``True``/``False``); by default (``None``) when there are :data:`AUTO_MIN_PLAYLISTS`."""
    return requested if requested is not None else n_playlists >= AUTO_MIN_PLAYLISTS


def held_out_playlists(pairs: DataFrame, n: int, seed: int) -> DataFrame:
    """The ``n`` playlists held out whole: smallest ``xxhash64(seed, salt, playlist_idx)`` first (``playlist_idx``).

    Deterministic for a seed, whatever the partitioning; another seed gives another sample.
    """
    order = F.xxhash64(F.lit(seed), F.lit(_HOLDOUT_SALT), F.col(PLAYLIST_IDX))
    return (
        pairs.select(PLAYLIST_IDX).distinct()
        .orderBy(order, F.col(PLAYLIST_IDX))
        .limit(n)
    )


def normalised_tokens(name: Column) -> Column:
    """A playlist name as distinct tokens: lowercase, split on every run of non-letters/non-digits.

    Punctuation, emoji and spaces separate tokens and never form one; a null name gives an empty array:
    ``"Chill Vibes 🌴!!"`` and ``"chill-vibes"`` both give ``["chill", "vibes"]``.
    """
    separated = F.regexp_replace(F.lower(name), r"[^\p{L}\p{N}]+", " ")
    tokens = F.split(F.trim(separated), " ")
    return F.coalesce(F.array_distinct(F.filter(tokens, lambda t: t != F.lit(""))), F.array().cast("array<string>"))


def _with_seed_order(interactions: DataFrame, positions: DataFrame | None, seed_order: str,
                     seed: int) -> DataFrame:
    """``playlist_idx, track_idx, weight, order``: ``order`` sorts a playlist's tracks in seed order."""
    hashed = F.xxhash64(F.lit(seed), F.lit(_ORDER_SALT), F.col(PLAYLIST_IDX), F.col(TRACK_IDX))
    if seed_order == "random" or positions is None:
        return interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT, hashed.alias("order"))
    mine = positions.join(interactions.select(PLAYLIST_ID).distinct(), on=PLAYLIST_ID, how="left_semi")
    first_position = mine.groupBy(PLAYLIST_ID, TRACK_ID).agg(F.min("position").alias("position"))
    known_first = F.coalesce(F.col("position").cast("long"), F.lit(2**40) + F.abs(hashed % F.lit(2**30)))
    return (
        interactions.join(first_position, on=[PLAYLIST_ID, TRACK_ID], how="left")
        .select(PLAYLIST_IDX, TRACK_IDX, WEIGHT, known_first.alias("order"))
    )


def collect_held_out(interactions: DataFrame, held_out: DataFrame, context: PlaylistContext,
                     seed_order: str, seed: int) -> list[HeldOutPlaylist]:
    """The held-out playlists' tracks in seed order, on the driver (``N`` playlists: small by construction)."""
    mine = interactions.join(held_out, on=PLAYLIST_IDX, how="left_semi")
    ordered = _with_seed_order(mine, context.positions, seed_order, seed).toPandas()
    ordered = ordered.sort_values([PLAYLIST_IDX, "order", TRACK_IDX], kind="stable")
    playlists = []
    for playlist_idx, rows in ordered.groupby(PLAYLIST_IDX, sort=True):
        playlists.append(HeldOutPlaylist(int(playlist_idx), rows[TRACK_IDX].to_numpy(np.int64),
                                         rows[WEIGHT].to_numpy(np.float64)))
    return playlists


# ---- the three rankers ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Factors:
    """The evaluated model's item factors on the driver, as the read path's scorer wants them."""

    model: Model
    params: AlsParams

    @property
    def present(self) -> np.ndarray:
        present = np.ones(len(self.model.item_factors), dtype=bool)
        present[self.model.items_without_factors] = False
        return present


def collect_factors(als_model: Any, n_tracks: int, params: AlsParams) -> _Factors:
    """The item factors (``n_tracks x rank`` float32, zeros where a track has none) and ``Y^T Y`` on the driver.

    Notes
    -----
    Driver memory: ``n_tracks x rank x 4`` bytes (2.26M MPD tracks at rank 64: 580 MB), plus the same again
    transiently while the Spark rows are converted. ``Y^T Y`` is summed in float64 over blocks of rows.
    """
    items = als_model.itemFactors.toPandas()  # bounded by the catalog; see the Notes
    rank = als_model.rank
    factors = np.zeros((n_tracks, rank), dtype=np.float32)
    present = np.zeros(n_tracks, dtype=bool)
    if len(items):
        ids = items["id"].to_numpy(np.int64)
        factors[ids] = np.stack(items["features"].to_numpy()).astype(np.float32)
        present[ids] = True
    del items
    gram = np.zeros((rank, rank), dtype=np.float64)
    block = max(1, SCORE_CELLS // max(1, rank))
    for start in range(0, n_tracks, block):
        rows = factors[start : start + block].astype(np.float64)
        gram += rows.T @ rows
    empty = IdIndex.build([], np.zeros(0, dtype=np.int64), 0)
    model = Model(
        lake_path="", path="", metadata={"version": "new-playlist-evaluation", "params": params.as_dict()},
        item_factors=factors, user_factors=np.zeros((0, rank), dtype=np.float32),
        items_without_factors=np.flatnonzero(~present), users_with_factors=np.zeros(0, dtype=bool), gram=gram,
        playlists=empty, tracks=empty, popular=Popular([], np.zeros(0, dtype=np.int64), np.zeros(0)),
        seen_indptr=np.zeros(1, dtype=np.int64), seen_tracks=np.zeros(0, dtype=np.int32),
        cosine_scale=np.zeros(n_tracks, dtype=np.float32), cosine_penalty=np.full(n_tracks, -np.inf, np.float32),
    )
    return _Factors(model, params)


def popular_order(train: DataFrame, n_tracks: int) -> np.ndarray:
    """Track indices by training playlist count, most first (ties: lower index); tracks in no playlist left out."""
    counts = train.groupBy(TRACK_IDX).agg(F.count(F.lit(1)).alias("n")).toPandas()  # one row per track
    by_track = np.zeros(n_tracks, dtype=np.int64)
    by_track[counts[TRACK_IDX].to_numpy(np.int64)] = counts["n"].to_numpy(np.int64)
    order = np.lexsort((np.arange(n_tracks), -by_track))
    return order[by_track[order] > 0]


def popular_list(order: np.ndarray, exclude: np.ndarray, n: int) -> list[int]:
    """The ``n`` most popular tracks not in ``exclude``."""
    head = order[: n + len(exclude)]
    return head[~np.isin(head, exclude)][:n].tolist()


def fold_in_lists(factors: _Factors, seeds: Sequence[np.ndarray], weights: Sequence[np.ndarray], n: int,
                  popular: np.ndarray) -> list[list[int]]:
    """ALS lists for seed sets: fold the known seeds in, rank ``n`` tracks, seeds excluded.

    A seed set with no track the model knows gets the popularity list, as the read path answers it.
    """
    model = factors.model
    present = factors.present
    answers: list[list[int] | None] = [None] * len(seeds)
    queries: list[tuple[int, Query]] = []
    for i, (tracks, w) in enumerate(zip(seeds, weights, strict=True)):
        usable = present[tracks] if len(tracks) else np.zeros(0, dtype=bool)
        if not usable.any():
            answers[i] = popular_list(popular, tracks, n)
            continue
        confidences = seed_weights(w[usable], factors.params.weighting)
        vector = fold_in(model.item_factors[tracks[usable]], confidences, model.gram,
                         reg_param=factors.params.reg_param, alpha=factors.params.alpha)
        queries.append((i, Query(vector, tracks, n)))
    batch = max(1, SCORE_CELLS // max(1, len(model.item_factors)))
    for start in range(0, len(queries), batch):
        part = queries[start : start + batch]
        for (i, _), ranked in zip(part, rank_queries(model, [q for _, q in part]), strict=True):
            answers[i] = ranked.track_idx.tolist()
    return [a or [] for a in answers]


def title_lists(train: DataFrame, names: DataFrame, queries: DataFrame, n: int,
                max_matches: int = TITLE_MATCHES_KEPT) -> dict[int, list[int]]:
    """The title cold start's tracks for each query playlist, best first (at most ``n``, before back-off).

    Parameters
    ----------
    train
        ``playlist_idx, track_idx`` of the training playlists.
    names
        ``playlist_idx, name`` of (at least) the training and the query playlists.
    queries
        ``playlist_idx`` of the playlists to answer from their title.

    Returns
    -------
    ``{playlist_idx: [track_idx, ...]}``; a title that matches no training playlist is absent. Collected: at most
    ``n`` rows per query playlist (small by construction).
    """
    query_col, shared, size_q, size_p = "query_idx", "shared", "query_tokens", "playlist_tokens"
    tokens = names.select(PLAYLIST_IDX, normalised_tokens(F.col("name")).alias("tokens"))
    query_tokens = tokens.join(queries.select(PLAYLIST_IDX), on=PLAYLIST_IDX, how="left_semi").select(
        F.col(PLAYLIST_IDX).alias(query_col), F.size("tokens").alias(size_q), F.explode("tokens").alias("token")
    )
    train_tokens = tokens.join(train.select(PLAYLIST_IDX).distinct(), on=PLAYLIST_IDX, how="left_semi").select(
        PLAYLIST_IDX, F.size("tokens").alias(size_p), F.explode("tokens").alias("token")
    )
    jaccard = F.col(shared) / (F.col(size_q) + F.col(size_p) - F.col(shared))
    best_first = Window.partitionBy(query_col).orderBy(F.col("similarity").desc(), F.col(PLAYLIST_IDX))
    matches = (
        query_tokens.join(train_tokens, on="token", how="inner")
        .groupBy(query_col, PLAYLIST_IDX, size_q, size_p).agg(F.count(F.lit(1)).alias(shared))
        .select(query_col, PLAYLIST_IDX, jaccard.alias("similarity"))
        .withColumn("match_no", F.row_number().over(best_first))
        .where(F.col("match_no") <= max_matches)
    )
    by_score = Window.partitionBy(query_col).orderBy(F.col(SCORE).desc(), F.col(TRACK_IDX))
    ranked = (
        matches.join(train.select(PLAYLIST_IDX, TRACK_IDX), on=PLAYLIST_IDX, how="inner")
        .groupBy(query_col, TRACK_IDX).agg(F.sum("similarity").alias(SCORE))
        .withColumn("position", F.row_number().over(by_score))
        .where(F.col("position") <= n)
        .toPandas()  # <= n rows per query playlist
    )
    ranked = ranked.sort_values([query_col, "position"])
    return {int(q): rows[TRACK_IDX].astype(int).tolist() for q, rows in ranked.groupby(query_col, sort=True)}


def with_backoff(ranked: Sequence[int], popular: np.ndarray, n: int) -> list[int]:
    """``ranked`` filled up to ``n`` with the most popular tracks not in it yet."""
    head = list(ranked[:n])
    return head + popular_list(popular, np.asarray(head, dtype=np.int64), n - len(head)) if len(head) < n else head


# ---- the protocol -------------------------------------------------------------------------------------------

def _mean(rows: list[dict[str, float]], names: Sequence[str]) -> dict[str, float]:
    return {name: float(np.mean([r[name] for r in rows])) if rows else 0.0 for name in names}


def score_categories(playlists: Sequence[HeldOutPlaylist], factors: _Factors, popular: np.ndarray,
                     titles: dict[int, list[int]], config: NewPlaylistConfig) -> tuple[CategoryResult, ...]:
    """Every category's mean metrics, musiclake's answer (ALS or title) against popularity."""
    names = metrics.metric_names(config.k, config.n)
    results = []
    for c in config.categories:
        eligible = [p for p in playlists if len(p.tracks) >= c + 1]
        if not eligible:  # no held-out playlist long enough: nothing to report (not a row of zeros)
            continue
        seeds = [p.tracks[:c] for p in eligible]
        relevant = [set(p.tracks[c:].tolist()) for p in eligible]
        if c == 0:
            answers = [with_backoff(titles.get(p.playlist_idx, []), popular, config.n) for p in eligible]
        else:
            answers = fold_in_lists(factors, seeds, [p.weights[:c] for p in eligible], config.n, popular)
        baseline = [popular_list(popular, s, config.n) for s in seeds]
        scored = {
            (TITLE_MODEL if c == 0 else ALS_MODEL): [
                metrics.playlist_metrics(a, g, config.k, config.n) for a, g in zip(answers, relevant, strict=True)],
            POPULARITY_MODEL: [
                metrics.playlist_metrics(b, g, config.k, config.n) for b, g in zip(baseline, relevant, strict=True)],
        }
        results.append(CategoryResult(c, len(eligible), {m: _mean(rows, names) for m, rows in scored.items()}))
    return tuple(results)


def evaluate_new_playlists(interactions: DataFrame, params: AlsParams, config: NewPlaylistConfig,
                           context: PlaylistContext | None = None, *,
                           num_blocks: int | None = None) -> NewPlaylistEvaluation:
    """Run the protocol of the module docstring: hold out, fit on the rest, seed, rank, score.

    Parameters
    ----------
    interactions
        ``playlist_idx, track_idx, playlist_id, track_id, weight`` (checkpointed, as ``store.load_interactions``
        gives them).
    params
        The ALS parameters of the model the job publishes (tuned or given).
    context
        Playlist names and positions (:func:`load_playlist_context`); without them category 0 is popularity and
        the seed order is the hash order.

    Returns
    -------
    Per-category means; ``seconds`` has the fit, the title cold start, the scoring and the total.
    """
    context = context or PlaylistContext()
    seconds: dict[str, float] = {}
    started = time.monotonic()
    n_playlists = interactions.select(PLAYLIST_IDX).distinct().count()
    n_held = config.holdout or default_holdout(n_playlists)
    held = held_out_playlists(interactions, n_held, config.seed).cache()
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)
    train = pairs.join(held, on=PLAYLIST_IDX, how="left_anti").cache()
    playlists = collect_held_out(interactions, held, context, config.seed_order, config.seed)
    n_tracks = int(interactions.agg(F.max(TRACK_IDX)).first()[0] or -1) + 1

    mark = time.monotonic()
    model = fit.fit_als(train, params, num_blocks=num_blocks)
    factors = collect_factors(model, n_tracks, params)
    popular = popular_order(train, n_tracks)
    seconds["fit"] = time.monotonic() - mark

    mark = time.monotonic()
    titles: dict[int, list[int]] = {}
    if context.names is not None and 0 in config.categories:
        ids = interactions.select(PLAYLIST_ID, PLAYLIST_IDX).distinct()
        names = context.names.join(ids, on=PLAYLIST_ID, how="inner").select(PLAYLIST_IDX, "name").cache()
        titles = title_lists(train, names, held, config.n)
        names.unpersist()
    seconds["title"] = time.monotonic() - mark

    mark = time.monotonic()
    categories = score_categories(playlists, factors, popular, titles, config)
    seconds["score"] = time.monotonic() - mark
    n_train_playlists = n_playlists - len(playlists)
    for frame in (held, train):
        frame.unpersist()
    seconds["total"] = time.monotonic() - started
    log.info("new-playlist evaluation of %d held-out playlists in %.1fs", len(playlists), seconds["total"])
    return NewPlaylistEvaluation(
        params=params, seed_order=config.seed_order, n_held_out=len(playlists), n_train_playlists=n_train_playlists,
        has_titles=context.names is not None, has_positions=context.positions is not None,
        categories=categories, seconds=seconds, requested=tuple(config.categories),
    )


# ---- I/O at the edges, and the printed table ----------------------------------------------------------------

def load_playlist_context(lake: Any) -> PlaylistContext:
    """Playlist names and first positions from the curated ``playlists``/``playlist_tracks`` tables, when present.

    Parameters
    ----------
    lake
        A :class:`musiclake.lake.Lake`.
    """
    playlists = lake.load_optional(schemas.PLAYLISTS)
    members = lake.load_optional(schemas.PLAYLIST_TRACKS)
    names = playlists.select(PLAYLIST_ID, "name") if playlists is not None else None
    positions = None
    if members is not None:
        is_track = (F.col("item_type") == F.lit("track")) & F.col(TRACK_ID).isNotNull()
        positions = members.where(is_track).select(PLAYLIST_ID, TRACK_ID, "position")
    return PlaylistContext(names, positions)


def evaluation_rows(evaluation: NewPlaylistEvaluation, version: str, evaluated_at: datetime) -> list[dict[str, Any]]:
    """Rows of the ``evaluations`` table: ``split = new_playlists_<order>_<seeds>``, one row per model and metric.

    ``model`` is ``als`` (fold-in), ``title`` (category 0's cold start) or ``popularity``; ``params`` is the ALS
    parameters' JSON for ``als``, ``{}`` otherwise.
    """
    cutoffs = metrics.metric_cutoffs(10, metrics.CHALLENGE_LIST_LENGTH)
    rows = []
    for category in evaluation.categories:
        for model, values in category.models.items():
            params = evaluation.params.to_json() if model == ALS_MODEL else "{}"
            for metric, value in values.items():
                rows.append({
                    "model_version": version, "split": evaluation.split(category.seeds), "model": model,
                    "params": params, "metric": metric, "k": cutoffs.get(metric, 0), "value": float(value),
                    "n_playlists": category.n_playlists, "evaluated_at": evaluated_at,
                })
    return rows


def save_evaluation(lake: Any, evaluation: NewPlaylistEvaluation, version: str, evaluated_at: datetime) -> None:
    """MERGE the protocol's rows into ``evaluations`` (same schema: the category is encoded in ``split``)."""
    rows = evaluation_rows(evaluation, version, evaluated_at)
    if rows:
        lake.merge(schemas.EVALUATIONS, small_frame(lake.spark, rows, schemas.EVALUATIONS.schema))


def format_table(evaluation: NewPlaylistEvaluation) -> str:
    """The per-category table the job prints: musiclake's answer against popularity on each shown metric."""
    order_note = "" if evaluation.has_positions or evaluation.seed_order == "random" else " (no positions: hash order)"
    title_note = "" if evaluation.has_titles else " (no playlist names: popularity)"
    lines = [
        f"  new playlists (RecSys 2018 protocol): {evaluation.n_held_out} playlists held out whole, ALS fit on the "
        f"other {evaluation.n_train_playlists}; seeds: the {evaluation.seed_order} tracks{order_note}",
        f"    500 tracks ranked per playlist, seeds excluded; 0 seeds: title cold start{title_note}; took "
        + ", ".join(f"{stage} {evaluation.seconds.get(stage, 0.0):.1f}s" for stage in ("total", *STAGES)),
        f"    {'seeds':>5} {'playlists':>9}  {'ours':<6}" + "".join(f"{name:>14}{'pop':>8}" for name in SHOWN_METRICS),
    ]
    for category in evaluation.categories:
        ours, pop = category.models[category.answer], category.models[POPULARITY_MODEL]
        digits = {name: 2 if name == "clicks" else 4 for name in SHOWN_METRICS}
        cells = "".join(f"{ours[m]:>14.{digits[m]}f}{pop[m]:>8.{digits[m]}f}" for m in SHOWN_METRICS)
        lines.append(f"    {category.seeds:>5} {category.n_playlists:>9}  {category.answer:<6}{cells}")
    scored = {category.seeds for category in evaluation.categories}
    for seeds in (c for c in evaluation.requested if c not in scored):
        lines.append(f"    {seeds:>5} {0:>9}  (no held-out playlist has {seeds + 1} tracks or more)")
    return "\n".join(lines)


@dataclass(frozen=True)
class NewPlaylistRun:
    """The protocol's outcome inside the ``train_als`` job (``evaluation`` None when it did not run, and why)."""

    evaluation: NewPlaylistEvaluation | None
    skipped: str = ""

    def save_and_print(self, lake: Any, version: str) -> None:
        """Store the rows under the published model version and print the per-category table (or why not)."""
        if self.evaluation is None:
            print(f"  new playlists (RecSys 2018 protocol): skipped, {self.skipped}", flush=True)
            return
        save_evaluation(lake, self.evaluation, version, datetime.now(UTC))
        print(format_table(self.evaluation), flush=True)


def run_new_playlist_evaluation(lake: Any, interactions: DataFrame, result: Any, requested: bool | None,
                                config: NewPlaylistConfig, *, num_blocks: int | None = None) -> NewPlaylistRun:
    """The ``train_als`` hook: run the protocol with the parameters the job chose, when asked or by default.

    Parameters
    ----------
    lake
        The job's :class:`musiclake.lake.Lake` (names and positions come from its curated tables).
    result
        The job's :class:`musiclake.recommend.training.TrainResult` (its ``params`` and ``counts``).
    requested
        ``--new_playlist_eval``: True, False, or None (run when there are :data:`AUTO_MIN_PLAYLISTS` playlists).
    """
    n_playlists = int(result.counts["playlists"])
    if not should_run(requested, n_playlists):
        why = ("--new_playlist_eval false" if requested is False else
               f"{n_playlists} playlists < {AUTO_MIN_PLAYLISTS} (--new_playlist_eval true runs it anyway)")
        return NewPlaylistRun(None, why)
    if n_playlists < 2:
        return NewPlaylistRun(None, f"{n_playlists} playlist(s): nothing to hold out")
    evaluation = evaluate_new_playlists(interactions, result.params, config, load_playlist_context(lake),
                                        num_blocks=num_blocks)
    return NewPlaylistRun(evaluation)
