"""Per-playlist holdout splits: the evaluation holdout, and a validation split carved from train only.

Which tracks of a playlist are held out is decided by a hash of (seed, playlist, track), not by random
numbers: the split is the same on every run and every partitioning, and a different seed gives an
independent split. The validation split used for tuning is the same operation applied to the *training*
part with another seed, so tuning never sees an evaluation-holdout track.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX

IS_HOLDOUT = "is_holdout"
VALIDATION_SEED_OFFSET = 7919  # any constant: makes the validation split independent of the test split
_SHARE_BUCKETS = 1_000_000


def with_holdout_flag(
    fraction: float, seed: int, *, min_tracks: int = 2, playlist_share: float = 1.0
) -> Callable[[DataFrame], DataFrame]:
    """Flag a share of each playlist's tracks as held out (column ``is_holdout``).

    Parameters
    ----------
    fraction
        Share of a playlist's tracks to hold out: ``max(1, floor(fraction * n))`` of its ``n`` tracks, and
        never all of them (at least one stays for training).
    seed
        Decides which tracks; same seed, same split.
    min_tracks
        Playlists with fewer tracks keep all of them in training.
    playlist_share
        Share of playlists (chosen by hash) that get a holdout at all; the others stay whole in training.
        Used to cap the number of evaluated playlists on large data.

    Returns
    -------
    A transform over ``playlist_idx, track_idx, ...`` (one row per pair) adding boolean ``is_holdout``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    if not 0.0 < playlist_share <= 1.0:
        raise ValueError(f"playlist share must be in (0, 1], got {playlist_share}")

    def transform(interactions: DataFrame) -> DataFrame:
        playlist = Window.partitionBy(PLAYLIST_IDX)
        track_order = F.xxhash64(F.lit(seed), F.col(PLAYLIST_IDX), F.col(TRACK_IDX))
        position = F.row_number().over(playlist.orderBy(track_order, TRACK_IDX))
        n_tracks = F.count(F.lit(1)).over(playlist)
        n_holdout = F.least(F.greatest(F.lit(1), F.floor(n_tracks * fraction)), n_tracks - 1)
        playlist_bucket = F.pmod(F.xxhash64(F.lit(seed), F.lit("playlist"), F.col(PLAYLIST_IDX)), _SHARE_BUCKETS)
        is_sampled = playlist_bucket < F.lit(int(playlist_share * _SHARE_BUCKETS))
        is_eligible = (n_tracks >= min_tracks) & is_sampled
        return interactions.withColumn(IS_HOLDOUT, is_eligible & (position <= n_holdout))

    return transform


def holdout_split(
    interactions: DataFrame, fraction: float, seed: int, *, min_tracks: int = 2, playlist_share: float = 1.0
) -> tuple[DataFrame, DataFrame]:
    """Split interactions into (train, holdout) with :func:`with_holdout_flag`; both keep the input columns.

    Every holdout playlist keeps at least one training track, so the model knows it.
    """
    flagged = interactions.transform(
        with_holdout_flag(fraction, seed, min_tracks=min_tracks, playlist_share=playlist_share)
    )
    columns = interactions.columns
    return flagged.where(~F.col(IS_HOLDOUT)).select(*columns), flagged.where(F.col(IS_HOLDOUT)).select(*columns)


def validation_split(
    train: DataFrame, fraction: float, seed: int, *, playlist_share: float = 1.0
) -> tuple[DataFrame, DataFrame]:
    """Carve (fit, validation) out of the *training* part only, independently of the evaluation split.

    Parameters
    ----------
    train
        The training part returned by :func:`holdout_split` (never the whole data: tuning must not see the
        evaluation holdout).
    """
    return holdout_split(train, fraction, seed + VALIDATION_SEED_OFFSET, playlist_share=playlist_share)
