"""The RecSys-2018 new-playlist protocol: whole playlists held out, seeds folded in, title cold start for 0 seeds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyspark.sql import functions as F

from musiclake.recommend import fit, newplaylists
from musiclake.recommend.newplaylists import NewPlaylistConfig, PlaylistContext
from musiclake.schemas import PLAYLIST_ID, PLAYLIST_IDX, TRACK_ID, TRACK_IDX

CLUSTER_WORDS = ("rock", "jazz", "techno")  # conftest's taste clusters 0, 1, 2


def test_names_are_normalised_to_distinct_lowercase_tokens(spark):
    rows = [("Chill Vibes 🌴!!",), ("chill-vibes",), ("ÉTÉ 2019 été",), ("  ",), (None,), ("🔥🔥",), ("rock & roll",)]
    frame = spark.createDataFrame(rows, "name string")

    tokens = [row["tokens"] for row in frame.select(newplaylists.normalised_tokens(F.col("name")).alias("tokens"))
              .collect()]

    assert tokens == [["chill", "vibes"], ["chill", "vibes"], ["été", "2019"], [], [], [], ["rock", "roll"]]


def test_held_out_playlists_are_a_deterministic_sample_of_the_seed(interactions):
    first = {r[PLAYLIST_IDX] for r in newplaylists.held_out_playlists(interactions, 10, seed=1).collect()}
    again = {r[PLAYLIST_IDX] for r in newplaylists.held_out_playlists(interactions, 10, seed=1).collect()}
    other = {r[PLAYLIST_IDX] for r in newplaylists.held_out_playlists(interactions, 10, seed=2).collect()}

    assert first == again and len(first) == 10
    assert other != first


def test_default_holdout_and_when_the_protocol_runs_by_itself():
    assert newplaylists.default_holdout(2000) == 200
    assert newplaylists.default_holdout(100_000) == 1000
    assert newplaylists.default_holdout(150) == 75  # never more than half
    assert newplaylists.should_run(None, 2000) and not newplaylists.should_run(None, 80)
    assert newplaylists.should_run(True, 80) and not newplaylists.should_run(False, 2000)
    with pytest.raises(ValueError, match="seed order"):
        NewPlaylistConfig(seed_order="last")


def test_first_seeds_follow_the_playlist_positions_and_random_seeds_a_hash_order(spark):
    rows = [(0, t, "p0", f"t{t}", 1.0) for t in (5, 6, 7, 8)]
    interactions = spark.createDataFrame(
        rows, "playlist_idx int, track_idx int, playlist_id string, track_id string, weight double")
    positions = spark.createDataFrame(  # t8 listed first, t6 twice (its first position counts), t5 unknown
        [("p0", "t8", 0), ("p0", "t6", 1), ("p0", "t7", 2), ("p0", "t6", 3)],
        "playlist_id string, track_id string, position int")
    held = spark.createDataFrame([(0,)], "playlist_idx int")

    first = newplaylists.collect_held_out(interactions, held, PlaylistContext(positions=positions), "first", 1)
    shuffled = newplaylists.collect_held_out(interactions, held, PlaylistContext(positions=positions), "random", 1)

    assert first[0].tracks.tolist() == [8, 6, 7, 5]  # tracks without a position last
    assert sorted(shuffled[0].tracks.tolist()) == [5, 6, 7, 8]
    assert shuffled[0].tracks.tolist() != [8, 6, 7, 5]


def test_title_cold_start_sums_the_jaccard_of_matching_names(spark):
    train = spark.createDataFrame([(1, 10), (1, 11), (2, 11), (2, 12), (3, 13)], "playlist_idx int, track_idx int")
    names = spark.createDataFrame(
        [(1, "Rock Classics"), (2, "rock"), (3, "Jazz"), (8, "ROCK!!"), (9, "polka")], "playlist_idx int, name string")
    queries = spark.createDataFrame([(8,), (9,)], "playlist_idx int")

    lists = newplaylists.title_lists(train, names, queries, n=500)

    # query 8 = {rock}: playlist 1 {rock, classics} Jaccard 1/2, playlist 2 {rock} Jaccard 1
    # track 11 (both) 1.5, track 12 (playlist 2) 1.0, track 10 (playlist 1) 0.5; "polka" matches nothing
    assert lists == {8: [11, 12, 10]}
    popular = np.array([13, 11, 10, 12])
    assert newplaylists.with_backoff(lists[8], popular, 4) == [11, 12, 10, 13]
    assert newplaylists.with_backoff([], popular, 2) == [13, 11]


@pytest.fixture(scope="module")
def context(spark, interactions):
    """Names that carry the taste cluster ("rock mix 3"), and positions in track-index order."""
    ids = interactions.select(PLAYLIST_ID).distinct().collect()
    names = spark.createDataFrame(
        [(r[PLAYLIST_ID], f"{CLUSTER_WORDS[int(r[PLAYLIST_ID][4])]} mix {i}") for i, r in enumerate(ids)],
        "playlist_id string, name string")
    positions = interactions.select(
        PLAYLIST_ID, TRACK_ID,
        F.row_number().over(_by_playlist()).cast("int").alias("position"))
    return PlaylistContext(names, positions)


def _by_playlist():
    from pyspark.sql import Window

    return Window.partitionBy(PLAYLIST_ID).orderBy(TRACK_IDX)


@pytest.fixture(scope="module")
def spied_evaluation(interactions, small_params, context):
    """The protocol on the clustered playlists, with every ALS fit recorded."""
    fitted = []
    original = fit.fit_als

    def spy(frame, params, **kwargs):
        fitted.append({r[PLAYLIST_IDX] for r in frame.select(PLAYLIST_IDX).distinct().collect()})
        return original(frame, params, **kwargs)

    fit.fit_als = spy
    try:
        config = NewPlaylistConfig(holdout=20, seed=3, categories=(0, 1, 5, 10))
        evaluation = newplaylists.evaluate_new_playlists(interactions, small_params, config, context)
    finally:
        fit.fit_als = original
    held = {r[PLAYLIST_IDX] for r in newplaylists.held_out_playlists(interactions, 20, seed=3).collect()}
    return evaluation, fitted, held


def test_held_out_playlists_never_reach_the_evaluated_model(spied_evaluation, interactions):
    evaluation, fitted, held = spied_evaluation
    assert len(fitted) == 1
    assert not fitted[0] & held
    assert len(fitted[0]) + len(held) == interactions.select(PLAYLIST_IDX).distinct().count()
    assert evaluation.n_held_out == 20 and evaluation.has_titles and evaluation.has_positions


def test_every_category_is_scored_on_the_playlists_long_enough_for_it(spied_evaluation, interactions):
    evaluation, _, held = spied_evaluation
    lengths = {r[PLAYLIST_IDX]: r["n"] for r in interactions.groupBy(PLAYLIST_IDX).count().withColumnRenamed(
        "count", "n").collect()}
    by_seeds = {c.seeds: c for c in evaluation.categories}

    assert sorted(by_seeds) == [0, 1, 5, 10]
    for seeds, category in by_seeds.items():
        assert category.n_playlists == sum(lengths[p] >= seeds + 1 for p in held)
        assert set(category.models) == {category.answer, "popularity"}
    assert by_seeds[0].answer == "title" and by_seeds[5].answer == "als"


def test_als_and_the_title_cold_start_beat_popularity_on_clustered_playlists(spied_evaluation):
    evaluation, _, _ = spied_evaluation
    by_seeds = {c.seeds: c.models for c in evaluation.categories}

    assert by_seeds[0]["title"]["ndcg_at_500"] > by_seeds[0]["popularity"]["ndcg_at_500"]
    for seeds in (1, 5):
        assert by_seeds[seeds]["als"]["ndcg_at_500"] > by_seeds[seeds]["popularity"]["ndcg_at_500"], seeds
        assert by_seeds[seeds]["als"]["r_precision"] >= by_seeds[seeds]["popularity"]["r_precision"], seeds


def test_fold_in_lists_exclude_the_seeds_and_fall_back_to_popularity(interactions, small_params):
    model = fit.fit_als(interactions.select(PLAYLIST_IDX, TRACK_IDX, "weight"), small_params)
    n_tracks = interactions.select(TRACK_IDX).distinct().count()
    factors = newplaylists.collect_factors(model, n_tracks + 5, small_params)  # 5 tracks without factors
    popular = np.arange(n_tracks)[::-1]
    seeds = [np.array([0, 1, 2]), np.array([n_tracks + 1]), np.array([3, n_tracks + 2])]

    lists = newplaylists.fold_in_lists(factors, seeds, [np.ones(len(s)) for s in seeds], 20, popular)

    assert [len(x) for x in lists] == [20, 20, 20]
    assert not {0, 1, 2} & set(lists[0]) and 3 not in lists[2]
    assert lists[1] == popular[:20].tolist()  # no seed with factors: the popularity list
    assert all(t < n_tracks for x in lists for t in x)  # tracks without factors are never ranked
    gram = factors.model.gram
    assert np.allclose(gram, gram.T) and gram.shape == (small_params.rank, small_params.rank)


def test_rows_and_table_name_every_category(spied_evaluation):
    evaluation, _, _ = spied_evaluation
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    rows = newplaylists.evaluation_rows(evaluation, "v1", at)
    table = newplaylists.format_table(evaluation)

    assert {r["split"] for r in rows} == {f"new_playlists_first_{c}" for c in (0, 1, 5, 10)}
    assert {(r["split"], r["model"]) for r in rows if r["metric"] == "r_precision"} >= {
        ("new_playlists_first_0", "title"), ("new_playlists_first_5", "als"), ("new_playlists_first_5", "popularity")}
    assert {r["k"] for r in rows if r["metric"] in ("r_precision", "clicks", "ndcg_at_500")} == {500}
    assert "0 seeds: title cold start" in table and len(table.splitlines()) == 3 + 4
