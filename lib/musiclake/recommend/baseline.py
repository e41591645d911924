"""The popularity baseline ALS is measured against (and the serving fallback's ranking): most playlists first."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from musiclake.recommend.topk import ALS_SCORE, CANDIDATES, N_SEEN, SEEN, only_playlists, top_unseen
from musiclake.schemas import PLAYLIST_IDX, SCORE, TRACK_IDX


def popularity(interactions: DataFrame) -> DataFrame:
    """The popularity baseline's scores: ``track_idx, score`` = number of playlists containing the track."""
    return interactions.groupBy(TRACK_IDX).agg(F.count(F.lit(1)).cast("double").alias(SCORE))


def recommend_popular(popular: DataFrame, seen: DataFrame, k: int, playlists: DataFrame | None = None) -> DataFrame:
    """The popularity baseline: the ``k`` most popular tracks each playlist does not have yet.

    Parameters
    ----------
    popular
        :func:`popularity` of the training interactions.
    seen
        :func:`~musiclake.recommend.topk.seen_lists` of the training interactions.
    playlists
        Optional ``playlist_idx`` subset to recommend for (e.g. the evaluation playlists).

    Returns
    -------
    ``playlist_idx, track_idx, rank, score`` like :func:`~musiclake.recommend.topk.recommend_top_k` (ties broken
    by lower track_idx).

    Notes
    -----
    The ``k + max |seen|`` most popular tracks are gathered into one array row (small by construction) and
    cross-joined, broadcast, to the playlists' seen lists.
    """
    seen = seen.transform(only_playlists(playlists))
    longest = seen.agg(F.max(N_SEEN)).first()[0] or 0  # one number
    ordered = F.sort_array(
        F.collect_list(F.struct(F.col(SCORE).alias("s"), (-F.col(TRACK_IDX)).alias("t"), F.col(TRACK_IDX))),
        asc=False,
    )
    as_candidates = F.transform(
        ordered, lambda c: F.struct(c[TRACK_IDX].alias(TRACK_IDX), c["s"].alias(ALS_SCORE))
    )
    top = (
        popular.orderBy(F.col(SCORE).desc(), F.col(TRACK_IDX).asc())
        .limit(k + int(longest))
        .agg(as_candidates.alias(CANDIDATES))
    )
    return seen.select(PLAYLIST_IDX, SEEN).crossJoin(F.broadcast(top)).transform(top_unseen(k))
