"""glue_jobs/v1/train_als.py end to end on small data, then ``musiclake recommend`` on what it saved."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import functions as F

from musiclake import cli
from musiclake.recommend import store

pytestmark = pytest.mark.slow

JOB = Path(__file__).resolve().parents[2] / "glue_jobs" / "v1" / "train_als.py"
SMALL = ["--rank", "8", "--reg_param", "0.05", "--alpha", "10", "--max_iter", "5", "--top_k", "20",
         "--similar_k", "5", "--seed", "1"]


def _run_job(args: list[str], capsys) -> str:
    spec = importlib.util.spec_from_file_location("train_als_job", JOB)
    job = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = job  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(job)
    job.main(["train_als.py", "--JOB_NAME", "test-train-als", *args])
    return capsys.readouterr().out


def _recommend(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["recommend", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def parquet_run(spark, raw_interactions, tmp_path_factory):
    """The job on a plain Parquet dataset of string ids, tuning on, recommendations at a custom path."""
    root = tmp_path_factory.mktemp("als_parquet")
    raw_interactions.write.parquet(str(root / "input"))
    lake, custom = str(root / "lake"), str(root / "serving" / "recs")
    args = ["--lake_path", lake, "--database", "recsys_parquet", "--interactions_path", str(root / "input"),
            "--recommendations_path", custom, "--tune", "true", "--tune_ranks", "8", "--tune_reg_params", "0.05",
            "--tune_alphas", "2,10", *SMALL]
    return lake, custom, args


def test_job_trains_tunes_evaluates_and_writes_every_output(spark, parquet_run, raw_interactions, capsys):
    lake, custom, args = parquet_run

    report = _run_job(args, capsys)

    model_path = store.latest_model_path(lake)
    metadata = store.load_metadata(model_path)
    assert "popularity" in report and "ndcg_at_10" in report and metadata["version"] in report
    assert metadata["input"]["format"] == "parquet" and metadata["input"]["delta_version"] is None
    assert metadata["input"]["id_maps"] == "new"
    assert len(metadata["tuning"]["trials"]) == 2
    assert metadata["params"] == metadata["tuning"]["best"]
    assert metadata["evaluation"]["als"]["ndcg_at_10"] > metadata["evaluation"]["popularity"]["ndcg_at_10"]
    assert ALSModel.load(f"{model_path}/model").rank == 8

    recommendations = spark.table("recsys_parquet.recommendations")
    n_playlists = raw_interactions.select("playlist_id").distinct().count()
    assert recommendations.count() == 20 * n_playlists
    assert recommendations.join(raw_interactions, on=["playlist_id", "track_id"], how="inner").count() == 0
    assert spark.sql("DESCRIBE DETAIL recsys_parquet.recommendations").first()["location"].endswith("serving/recs")
    assert metadata["outputs"]["recommendations"] == custom

    evaluations = spark.table("recsys_parquet.evaluations").where(F.col("model_version") == metadata["version"])
    counts = {(r["split"], r["model"]): r["count"] for r in evaluations.groupBy("split", "model").count().collect()}
    assert counts == {("test", "als"): 7, ("test", "popularity"): 7, ("validation", "als"): 14}

    similar = spark.table("recsys_parquet.similar_tracks")
    assert similar.where(F.col("track_id") == F.col("similar_track_id")).count() == 0
    assert similar.groupBy("track_id").count().where(F.col("count") != 5).count() == 0
    comments = {c.name: c.description for c in spark.catalog.listColumns("recsys_parquet.recommendations")}
    assert comments["rank"] == "1 = best"


@pytest.fixture(scope="module")
def etl_lake(spark, interactions, cluster_of_track, tmp_path_factory):
    """A lake shaped like the ETL's: Delta interactions with indices, tracks and playlists tables."""
    lake = str(tmp_path_factory.mktemp("als_etl") / "lake")
    interactions.write.format("delta").save(f"{lake}/interactions")
    tracks = [(t, f"Song {c}-{t[:4]}", f"Artist {c}") for t, c in cluster_of_track.items()]
    spark.createDataFrame(tracks, "track_id string, track_name string, artist_name string").write.format(
        "delta"
    ).save(f"{lake}/tracks")
    names = interactions.select("playlist_id", F.concat(F.lit("Playlist "), "playlist_id").alias("name")).distinct()
    names.write.format("delta").save(f"{lake}/playlists")
    return lake


def test_job_reads_the_etl_table_and_recommend_serves_playlists_and_seed_tracks(
    spark, etl_lake, interactions, cluster_of_track, capsys
):
    _run_job(["--lake_path", etl_lake, "--database", "recsys_etl", *SMALL], capsys)
    metadata = store.load_metadata(store.latest_model_path(etl_lake))
    assert metadata["input"] == {**metadata["input"], "format": "delta", "delta_version": 0, "id_maps": "input"}
    assert metadata["tuning"] is None

    status, out, _ = _recommend(capsys, "--lake_path", etl_lake, "--playlist", "mpd:1003", "--k", "5")
    assert status == 0
    assert 'Recommendations for playlist mpd:1003 "Playlist mpd:1003"' in out
    rows = [line for line in out.splitlines() if "Artist" in line]
    assert len(rows) == 5 and sum("Artist 1" in line for line in rows) >= 4

    seeds = [t for t, c in sorted(cluster_of_track.items()) if c == 2][:6]
    status, out, _ = _recommend(capsys, "--lake_path", etl_lake, "--tracks", ",".join(seeds), "--k", "8")
    rows = [line for line in out.splitlines() if "Artist" in line]
    assert status == 0 and "folded into ALS model" in out
    assert len(rows) == 8 and sum("Artist 2" in line for line in rows) >= 6
    assert not any(seed in out for seed in seeds)


def test_recommend_falls_back_to_popularity_and_says_so(etl_lake, capsys):
    status, out, _ = _recommend(capsys, "--lake_path", etl_lake, "--playlist", "mpd:nope", "--k", "3")
    assert status == 0 and "unknown" in out and "most popular" in out
    assert len([line for line in out.splitlines() if "Artist" in line]) == 3

    status, out, _ = _recommend(capsys, "--lake_path", etl_lake, "--tracks", "spotify:track:0000000000000000000000")
    assert status == 0 and "none of the seed tracks is known" in out and "most popular" in out
    assert "unknown to the model, ignored: 0000000000000000000000" in out


def test_recommend_without_a_trained_model_says_how_to_get_one(tmp_path, capsys):
    status, _, err = _recommend(capsys, "--lake_path", str(tmp_path), "--playlist", "mpd:1")

    assert status == 1 and "train_als.py" in err
