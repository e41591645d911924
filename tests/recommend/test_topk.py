"""Top-k per playlist from ALS: complete ranked lists that never include a playlist's own tracks."""

from __future__ import annotations

from pyspark.sql import functions as F

from musiclake.recommend import topk
from musiclake.schemas import PLAYLIST_IDX, SCORE, TRACK_IDX


def test_als_recommendations_never_include_a_playlists_own_tracks(
    model, seen, train_holdout, assert_ranked_lists_without_seen
):
    train, _ = train_holdout
    n_playlists = train.select(PLAYLIST_IDX).distinct().count()

    recommendations = topk.recommend_top_k(model, seen, k=20)

    assert_ranked_lists_without_seen(recommendations, train, 20, n_playlists)


def test_top_k_gets_enough_candidates_for_playlists_longer_than_the_smallest_bucket(
    spark, model, assert_ranked_lists_without_seen
):
    # one playlist that already has 40 tracks (> MIN_SEEN_BUCKET): it still gets k unseen tracks
    rows = [(0, t, 1.0) for t in range(40)]
    long_playlist = spark.createDataFrame(rows, "playlist_idx int, track_idx int, weight double")

    recommendations = topk.recommend_top_k(model, topk.seen_lists(long_playlist), k=30)

    assert_ranked_lists_without_seen(recommendations, long_playlist, 30, 1)


def test_blockified_top_k_for_large_catalogs_gives_the_same_lists_as_the_numpy_path(
    model, seen, train_holdout, assert_ranked_lists_without_seen
):
    # recommend_top_k takes the Spark path only above max_broadcast_factors; both must agree on the lists
    train, _ = train_holdout
    n_playlists = train.select(PLAYLIST_IDX).distinct().count()

    blockified = topk.recommend_top_k_blockified(model, seen, 20)
    broadcast = topk.recommend_top_k(model, seen, 20)

    assert_ranked_lists_without_seen(blockified, train, 20, n_playlists)
    tracks = {(r[PLAYLIST_IDX], r[TRACK_IDX]): r[SCORE] for r in blockified.collect()}
    expected = {(r[PLAYLIST_IDX], r[TRACK_IDX]): r[SCORE] for r in broadcast.collect()}
    assert tracks.keys() == expected.keys()
    assert all(abs(tracks[key] - expected[key]) < 1e-4 for key in tracks)


def test_top_k_for_a_subset_of_playlists_lists_only_those(model, seen, train_holdout):
    _, holdout = train_holdout
    wanted = {r[PLAYLIST_IDX] for r in holdout.select(PLAYLIST_IDX).distinct().limit(5).collect()}
    subset = holdout.where(F.col(PLAYLIST_IDX).isin(sorted(wanted)))

    numpy_path = topk.recommend_top_k(model, seen, 10, playlists=subset)
    blockified = topk.recommend_top_k_blockified(model, seen, 10, playlists=subset)

    assert {r[PLAYLIST_IDX] for r in numpy_path.select(PLAYLIST_IDX).distinct().collect()} == wanted
    assert {r[PLAYLIST_IDX] for r in blockified.select(PLAYLIST_IDX).distinct().collect()} == wanted


def test_memory_settings_are_read_like_spark():
    assert topk.memory_bytes("4g") == 4 * 2**30
    assert topk.memory_bytes("10240m") == 10 * 2**30
    assert topk.memory_bytes("512k") == 512 * 2**10
    assert topk.memory_bytes("2gb") == 2 * 2**30
    assert topk.memory_bytes("100") == 100


def test_broadcast_limit_is_a_sixteenth_of_the_smaller_memory_in_float32_factors():
    assert topk.broadcast_limit_for("10g", "10g") == 10 * 2**30 // 64
    assert topk.broadcast_limit_for("16g", "4g") == topk.broadcast_limit_for(None, "4g") == 4 * 2**30 // 64
    assert topk.broadcast_limit_for(None, None) == 2**30 // 64  # Spark's default 1g
    assert topk.broadcast_limit_for("10g", "10g") > 2_262_292 * 64  # the full MPD at rank 64 is broadcast


def test_top_k_takes_the_blockified_path_above_the_broadcast_limit_and_logs_it(model, seen, caplog):
    with caplog.at_level("INFO", logger="musiclake.recommend.topk"):
        small_limit = topk.recommend_top_k(model, seen, 10, max_broadcast_factors=1)
        large_limit = topk.recommend_top_k(model, seen, 10, max_broadcast_factors=10**9)

    assert "blockified path" in caplog.text and "broadcast path" in caplog.text
    blockified = {(r[PLAYLIST_IDX], r[TRACK_IDX]) for r in small_limit.collect()}
    broadcast = {(r[PLAYLIST_IDX], r[TRACK_IDX]) for r in large_limit.collect()}
    assert blockified == broadcast
