"""train_als with the RecSys-2018 new-playlist protocol, end to end on an ETL-shaped lake (names and positions)."""

from __future__ import annotations

import contextlib
import io
from uuid import uuid4

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from glue_jobs.v1 import train_als
from musiclake.recommend import store

pytestmark = pytest.mark.slow

SMALL = ["--rank", "8", "--reg_param", "0.05", "--alpha", "10", "--max_iter", "5", "--top_k", "20",
         "--similar_k", "5", "--seed", "1"]
WORDS = ("rock", "jazz", "techno")  # the conftest's taste clusters 0, 1, 2 (playlist ids mpd:<cluster><nnn>)


@pytest.fixture(scope="module")
def trained(spark, interactions, tmp_path_factory):
    """A lake with Delta interactions, playlist names carrying the cluster and positions; the job run once."""
    lake = str(tmp_path_factory.mktemp("als_new_playlists") / "lake")
    interactions.write.format("delta").save(f"{lake}/interactions")
    cluster_word = F.element_at(F.array(*[F.lit(w) for w in WORDS]), F.substring("playlist_id", 5, 1).cast("int") + 1)
    names = interactions.select("playlist_id").distinct().select(
        "playlist_id", F.concat(cluster_word, F.lit(" Mix!! 🎧")).alias("name"))
    names.write.format("delta").save(f"{lake}/playlists")
    position = F.row_number().over(Window.partitionBy("playlist_id").orderBy(F.col("track_idx").desc())) - 1
    interactions.select("playlist_id", position.cast("int").alias("position"), F.lit("track").alias("item_type"),
                        "track_id").write.format("delta").save(f"{lake}/playlist_tracks")
    database = f"rec_{uuid4().hex[:8]}"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        train_als.main(["train_als.py", "--JOB_NAME", "test-new-playlists", "--lake_path", lake, "--database",
                        database, "--new_playlist_eval", "true", "--new_playlist_holdout", "20", *SMALL])
    return lake, database, printed.getvalue()


def test_job_prints_the_per_category_table(trained):
    _, _, report = trained
    table = report[report.index("new playlists (RecSys 2018 protocol)"):].splitlines()

    assert "20 playlists held out whole" in table[0] and "seeds: the first tracks" in table[0]
    rows = {line.split()[0]: line.split() for line in table[3:]}
    assert rows["0"][2] == "title" and rows["1"][2] == "als" and rows["10"][2] == "als"
    assert "no held-out playlist has 26 tracks" in report and "no held-out playlist has 101 tracks" in report


def test_job_stores_the_categories_in_evaluations_under_the_model_version(spark, trained):
    lake, database, _ = trained
    version = store.load_metadata(store.latest_model_path(lake))["version"]

    rows = spark.table(f"{database}.evaluations").where(F.col("model_version") == version)
    counts = {(r["split"], r["model"]): r["count"] for r in rows.groupBy("split", "model").count().collect()}

    assert counts[("test", "als")] == 7  # the per-playlist holdout is still there
    assert counts[("new_playlists_first_0", "title")] == 7 and counts[("new_playlists_first_0", "popularity")] == 7
    assert counts[("new_playlists_first_5", "als")] == 7
    assert not any(split.endswith("_100") for split, _ in counts)  # playlists of 8-15 tracks: no category 100
    title = {r["metric"]: r["value"] for r in rows.where(F.col("split") == "new_playlists_first_0").where(
        F.col("model") == "title").collect()}
    popular = {r["metric"]: r["value"] for r in rows.where(F.col("split") == "new_playlists_first_0").where(
        F.col("model") == "popularity").collect()}
    assert title["ndcg_at_500"] > popular["ndcg_at_500"]  # the names carry the taste cluster
