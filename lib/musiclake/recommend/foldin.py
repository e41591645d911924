r"""Fold a new playlist into a trained ALS model: its factors from seed tracks, without retraining.

Spark's implicit ALS computes a playlist's factors ``x`` from the item factors ``Y`` by solving

.. math:: (Y^T Y + \sum_{i \in S} \alpha w_i y_i y_i^T + \lambda n_S I)\, x = \sum_{i \in S} (1 + \alpha w_i) y_i

over the playlist's tracks ``S`` with weights ``w_i > 0`` (``n_S = |S|``, ``lambda`` = regParam). Playlists are
solved last in every ALS iteration, so solving this for a trained playlist's own tracks gives back its trained
factors. ``Y^T Y`` is precomputed at training time (:func:`musiclake.recommend.fit.item_gram`); the solve needs
only the seed tracks' factors, which are few by construction, so it runs with numpy on the driver: :func:`fold_in`
is :func:`musiclake.serve.scoring.fold_in`, shared with the JVM-free read path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from musiclake.schemas import RANK, SCORE, TRACK_IDX
from musiclake.serve.scoring import fold_in  # noqa: F401 - the one implementation (numpy only), used here too


def collect_seed_factors(item_factors: DataFrame, track_indices: Sequence[int]) -> dict[int, np.ndarray]:
    """The factors of the given tracks (``id, features`` rows of ``ALSModel.itemFactors``); unknown ones absent.

    Notes
    -----
    Collects one row per seed track: a playlist's worth, small by construction.
    """
    wanted = [int(i) for i in track_indices]
    rows = item_factors.where(F.col("id").isin(wanted)).select("id", "features").collect()
    return {int(row["id"]): np.asarray(row["features"], dtype=np.float64) for row in rows}


def score_tracks(item_factors: DataFrame, playlist_factors: np.ndarray, exclude: Sequence[int], k: int) -> DataFrame:
    """The ``k`` best tracks for a factor vector, excluding ``exclude``: ``track_idx, rank, score``.

    The dot product runs in Spark (built-in array functions), so the item factors never leave the cluster.
    """
    vector = F.array(*[F.lit(float(v)) for v in playlist_factors])
    score = F.aggregate(F.zip_with("features", vector, lambda a, b: a * b), F.lit(0.0), lambda total, x: total + x)
    scored = item_factors.where(~F.col("id").isin([int(i) for i in exclude])).select(
        F.col("id").alias(TRACK_IDX), score.alias(SCORE)
    )
    best = scored.orderBy(F.col(SCORE).desc(), F.col(TRACK_IDX).asc()).limit(k)
    by_score = Window.orderBy(F.col(SCORE).desc(), F.col(TRACK_IDX).asc())  # k rows: one partition is fine
    return best.select(TRACK_IDX, F.row_number().over(by_score).cast("int").alias(RANK), SCORE)
