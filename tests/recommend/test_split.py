"""Holdout and validation splits: deterministic, per playlist, validation carved from train only."""

from __future__ import annotations

from pyspark.sql import functions as F

from musiclake.recommend import split
from musiclake.schemas import PLAYLIST_IDX, TRACK_IDX, WEIGHT


def _pairs(df):
    return {(row[PLAYLIST_IDX], row[TRACK_IDX]) for row in df.select(PLAYLIST_IDX, TRACK_IDX).collect()}


def test_holdout_split_is_deterministic_and_independent_of_partitioning(interactions):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)

    _, first = split.holdout_split(pairs, 0.2, seed=3)
    _, second = split.holdout_split(pairs.repartition(5), 0.2, seed=3)
    _, other_seed = split.holdout_split(pairs, 0.2, seed=4)

    assert _pairs(first) == _pairs(second)
    assert _pairs(first) != _pairs(other_seed)


def test_holdout_takes_a_fraction_of_each_playlist_and_always_leaves_one_track_to_train(spark):
    sizes = {0: 1, 1: 2, 2: 4, 3: 10, 4: 11}
    rows = [(p, t, 1.0) for p, n in sizes.items() for t in range(n)]
    pairs = spark.createDataFrame(rows, "playlist_idx int, track_idx int, weight double")

    train, holdout = split.holdout_split(pairs, 0.2, seed=1)

    held = holdout.groupBy(PLAYLIST_IDX).count().collect()
    assert {row[PLAYLIST_IDX]: row["count"] for row in held} == {1: 1, 2: 1, 3: 2, 4: 2}
    assert train.count() + holdout.count() == len(rows)
    assert _pairs(train) | _pairs(holdout) == {(p, t) for p, t, _ in rows}
    assert {row[PLAYLIST_IDX] for row in train.select(PLAYLIST_IDX).distinct().collect()} == set(sizes)


def test_validation_split_comes_from_train_only_and_never_overlaps_the_holdout(interactions):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)
    train, holdout = split.holdout_split(pairs, 0.2, seed=42)

    fit, validation = split.validation_split(train, 0.2, seed=42)

    assert _pairs(validation) <= _pairs(train)
    assert not _pairs(validation) & _pairs(holdout)
    assert not _pairs(fit) & _pairs(holdout)
    assert _pairs(fit) | _pairs(validation) == _pairs(train)


def test_playlist_share_limits_which_playlists_get_a_holdout(interactions):
    pairs = interactions.select(PLAYLIST_IDX, TRACK_IDX, WEIGHT)
    n_playlists = pairs.select(PLAYLIST_IDX).distinct().count()

    _, holdout = split.holdout_split(pairs, 0.2, seed=42, playlist_share=0.25)

    held_playlists = holdout.select(F.countDistinct(PLAYLIST_IDX)).first()[0]
    assert 0 < held_playlists < 0.5 * n_playlists
