"""glue_jobs/v1/train_als.py end to end on small data, then ``musiclake recommend`` on what it saved.

Each lake is built and trained once by a module fixture, in its own folder and catalog database; the tests only
read it (``musiclake recommend`` writes nothing), so they pass alone and in any order.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from uuid import uuid4

import pytest
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import functions as F

from glue_jobs.v1 import train_als
from musiclake import cli
from musiclake.recommend import store

pytestmark = pytest.mark.slow

SMALL = ["--rank", "8", "--reg_param", "0.05", "--alpha", "10", "--max_iter", "5", "--top_k", "20",
         "--similar_k", "5", "--seed", "1"]


@dataclass(frozen=True)
class TrainedLake:
    """A lake the job trained on: where it is, its catalog database and the report the job printed."""

    lake: str
    database: str
    report: str
    recommendations_path: str | None = None

    @property
    def metadata(self) -> dict:
        return store.load_metadata(store.latest_model_path(self.lake))


def _train(lake: str, *args: str) -> TrainedLake:
    """Run the entry script in-process on ``lake`` with a fresh catalog database."""
    database = f"rec_{uuid4().hex[:8]}"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        train_als.main(["train_als.py", "--JOB_NAME", "test-train-als", "--lake_path", lake, "--database", database,
                        *args])
    return TrainedLake(lake, database, printed.getvalue())


def _recommend(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["recommend", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def parquet_run(spark, raw_interactions, tmp_path_factory) -> TrainedLake:
    """The job on a plain Parquet dataset of string ids, tuning on, recommendations at a custom path."""
    root = tmp_path_factory.mktemp("als_parquet")
    raw_interactions.write.parquet(str(root / "input"))
    custom = str(root / "serving" / "recs")
    trained = _train(str(root / "lake"), "--interactions_path", str(root / "input"),
                     "--recommendations_path", custom, "--tune", "true", "--tune_ranks", "8",
                     "--tune_reg_params", "0.05", "--tune_alphas", "2,10", *SMALL)
    return TrainedLake(trained.lake, trained.database, trained.report, custom)


@pytest.fixture(scope="module")
def etl_run(spark, interactions, cluster_of_track, tmp_path_factory) -> TrainedLake:
    """A lake shaped like the ETL's (Delta interactions with indices, tracks and playlists tables), trained once."""
    lake = str(tmp_path_factory.mktemp("als_etl") / "lake")
    interactions.write.format("delta").save(f"{lake}/interactions")
    tracks = [(t, f"Song {c}-{t[:4]}", f"Artist {c}") for t, c in cluster_of_track.items()]
    spark.createDataFrame(tracks, "track_id string, track_name string, artist_name string").write.format(
        "delta"
    ).save(f"{lake}/tracks")
    names = interactions.select("playlist_id", F.concat(F.lit("Playlist "), "playlist_id").alias("name")).distinct()
    names.write.format("delta").save(f"{lake}/playlists")
    return _train(lake, *SMALL)


def test_job_tunes_evaluates_and_records_it_in_the_report_and_the_model_metadata(parquet_run):
    metadata = parquet_run.metadata

    assert "popularity" in parquet_run.report and "ndcg_at_10" in parquet_run.report
    assert metadata["version"] in parquet_run.report
    assert metadata["input"]["format"] == "parquet" and metadata["input"]["delta_version"] is None
    assert metadata["input"]["id_maps"] == "new"
    assert len(metadata["tuning"]["trials"]) == 2
    assert metadata["params"] == metadata["tuning"]["best"]
    assert metadata["evaluation"]["als"]["ndcg_at_10"] > metadata["evaluation"]["popularity"]["ndcg_at_10"]
    assert ALSModel.load(f"{store.latest_model_path(parquet_run.lake)}/model").rank == 8
    assert metadata["linear_algebra"]["kind"] in ("native", "java")  # which BLAS the fits ran on
    assert metadata["linear_algebra"]["blas"] in ("JNIBLAS", "Java11BLAS")


def test_job_writes_k_unseen_recommendations_per_playlist_to_the_custom_path(spark, parquet_run, raw_interactions):
    table = f"{parquet_run.database}.recommendations"

    recommendations = spark.table(table)

    n_playlists = raw_interactions.select("playlist_id").distinct().count()
    assert recommendations.count() == 20 * n_playlists
    assert recommendations.join(raw_interactions, on=["playlist_id", "track_id"], how="inner").count() == 0
    assert spark.sql(f"DESCRIBE DETAIL {table}").first()["location"].endswith("serving/recs")
    assert parquet_run.metadata["outputs"]["recommendations"] == parquet_run.recommendations_path
    comments = {c.name: c.description for c in spark.catalog.listColumns(table)}
    assert comments["rank"] == "1 = best"


def test_job_writes_the_evaluations_and_similar_tracks_tables(spark, parquet_run):
    version = parquet_run.metadata["version"]

    evaluations = spark.table(f"{parquet_run.database}.evaluations").where(F.col("model_version") == version)
    similar = spark.table(f"{parquet_run.database}.similar_tracks")

    counts = {(r["split"], r["model"]): r["count"] for r in evaluations.groupBy("split", "model").count().collect()}
    assert counts == {("test", "als"): 7, ("test", "popularity"): 7, ("validation", "als"): 14}
    assert similar.where(F.col("track_id") == F.col("similar_track_id")).count() == 0
    assert similar.groupBy("track_id").count().where(F.col("count") != 5).count() == 0


def test_job_reads_the_etl_table_with_its_own_indices(etl_run):
    metadata = etl_run.metadata

    assert metadata["input"] == {**metadata["input"], "format": "delta", "delta_version": 0, "id_maps": "input"}
    assert metadata["tuning"] is None
    assert metadata["version"] in etl_run.report


def test_recommend_serves_a_known_playlists_list_with_track_names(etl_run, capsys):
    status, out, _ = _recommend(capsys, "--lake_path", etl_run.lake, "--playlist", "mpd:1003", "--k", "5")

    assert status == 0
    assert 'Recommendations for playlist mpd:1003 "Playlist mpd:1003"' in out
    rows = [line for line in out.splitlines() if "Artist" in line]
    assert len(rows) == 5 and sum("Artist 1" in line for line in rows) >= 4


def test_recommend_folds_seed_tracks_into_the_model(etl_run, cluster_of_track, capsys):
    seeds = [t for t, c in sorted(cluster_of_track.items()) if c == 2][:6]

    status, out, _ = _recommend(capsys, "--lake_path", etl_run.lake, "--tracks", ",".join(seeds), "--k", "8")

    rows = [line for line in out.splitlines() if "Artist" in line]
    assert status == 0 and "folded into ALS model" in out
    assert len(rows) == 8 and sum("Artist 2" in line for line in rows) >= 6
    assert not any(seed in out for seed in seeds)


def test_recommend_falls_back_to_popularity_and_says_so(etl_run, capsys):
    status, out, _ = _recommend(capsys, "--lake_path", etl_run.lake, "--playlist", "mpd:nope", "--k", "3")
    assert status == 0 and "unknown" in out and "most popular" in out
    assert len([line for line in out.splitlines() if "Artist" in line]) == 3

    status, out, _ = _recommend(capsys, "--lake_path", etl_run.lake, "--tracks",
                                "spotify:track:0000000000000000000000")
    assert status == 0 and "none of the seed tracks is known" in out and "most popular" in out
    assert "unknown to the model, ignored: 0000000000000000000000" in out


def test_recommend_without_a_trained_model_says_how_to_get_one(tmp_path, capsys):
    status, _, err = _recommend(capsys, "--lake_path", str(tmp_path), "--playlist", "mpd:1")

    assert status == 1 and "train_als.py" in err
