"""The local engine on the lake the real pipeline builds (``full_lake``), checked against Spark SQL on the same tables.

Each case is one question asked twice: in Athena's dialect (Trino) through :class:`LocalEngine`, and written
independently in Spark SQL against the catalogued tables (``{db}.<table>``: ``{db}`` is filled with the fixture's
own database, ``full_lake.database``). The pairs exercise what the transpilation has to get right: Trino functions
(cardinality, element_at, date_format, date_diff, to_unixtime, regexp_*), ``||``, CAST, UNNEST, windows, joins,
maps and arrays.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from musiclake import landing
from musiclake.query.engine import LocalEngine

CASES: dict[str, tuple[str, str]] = {
    "aggregates_by_partition": (
        "SELECT source, count(*) AS playlists, sum(num_tracks) AS tracks, avg(num_tracks) AS avg_tracks "
        "FROM musiclake.playlists GROUP BY source",
        "SELECT source, count(*) AS playlists, sum(num_tracks) AS tracks, avg(num_tracks) AS avg_tracks "
        "FROM {db}.playlists GROUP BY source",
    ),
    "arrays_and_maps": (
        "SELECT job_run_id, job_name, cardinality(landing_runs) AS n_runs, "
        "element_at(records_written, 'tracks') AS tracks_written, cardinality(map_keys(records_written)) AS tables "
        "FROM awsdatacatalog.musiclake.job_runs",
        "SELECT job_run_id, job_name, CASE WHEN landing_runs IS NOT NULL THEN size(landing_runs) END AS n_runs, "
        "records_written['tracks'] AS tracks_written, "
        "CASE WHEN records_written IS NOT NULL THEN size(map_keys(records_written)) END AS tables "
        "FROM {db}.job_runs",
    ),
    "unnest": (
        "SELECT run_id, count(*) AS jobs FROM job_runs CROSS JOIN UNNEST(landing_runs) AS t(run_id) GROUP BY run_id",
        "SELECT run_id, count(*) AS jobs FROM {db}.job_runs LATERAL VIEW explode(landing_runs) t AS run_id "
        "GROUP BY run_id",
    ),
    "dates": (
        "SELECT date_format(observed_at, '%Y-%m') AS month, year(observed_at) AS y, count(*) AS n, "
        "date_diff('day', CAST(min(observed_at) AS date), CAST(max(observed_at) AS date)) AS span_days, "
        "CAST(date_trunc('month', min(observed_at)) AS date) AS month_start "
        "FROM playlists GROUP BY 1, 2",
        "SELECT date_format(observed_at, 'yyyy-MM') AS month, year(observed_at) AS y, count(*) AS n, "
        "datediff(CAST(max(observed_at) AS date), CAST(min(observed_at) AS date)) AS span_days, "
        "CAST(date_trunc('MONTH', min(observed_at)) AS date) AS month_start "
        "FROM {db}.playlists GROUP BY 1, 2",
    ),
    "concat_cast_strings": (
        "SELECT playlist_id || '#' || CAST(position AS varchar) AS slot, upper(substr(item_type, 1, 1)) AS kind, "
        "length(track_id) AS id_length, CAST(position AS double) / 4 AS quarter FROM playlist_tracks "
        "WHERE position < 2",
        "SELECT concat(playlist_id, '#', CAST(position AS STRING)) AS slot, upper(substr(item_type, 1, 1)) AS kind, "
        "length(track_id) AS id_length, CAST(position AS DOUBLE) / 4 AS quarter FROM {db}.playlist_tracks "
        "WHERE position < 2",
    ),
    "regexp": (
        "SELECT regexp_extract(item_uri, '^spotify:([a-z]+):', 1) AS kind, count(*) AS n FROM playlist_tracks "
        "WHERE regexp_like(item_uri, '^spotify:[a-z]+:') GROUP BY 1",
        "SELECT regexp_extract(item_uri, '^spotify:([a-z]+):', 1) AS kind, count(*) AS n "
        "FROM {db}.playlist_tracks WHERE item_uri RLIKE '^spotify:[a-z]+:' GROUP BY 1",
    ),
    "join_group_window": (
        "SELECT t.artist_name, count(DISTINCT pt.playlist_id) AS playlists, count(*) AS plays, "
        "rank() OVER (ORDER BY count(*) DESC) AS ranking "
        "FROM playlist_tracks pt JOIN tracks t ON pt.track_id = t.track_id GROUP BY t.artist_name",
        "SELECT t.artist_name, count(DISTINCT pt.playlist_id) AS playlists, count(*) AS plays, "
        "rank() OVER (ORDER BY count(*) DESC) AS ranking "
        "FROM {db}.playlist_tracks pt JOIN {db}.tracks t ON pt.track_id = t.track_id GROUP BY t.artist_name",
    ),
    "timestamps": (
        "SELECT job_run_id, to_unixtime(started_at) AS started, "
        "to_unixtime(finished_at) - to_unixtime(started_at) AS seconds, "
        "date_diff('millisecond', started_at, finished_at) AS millis, "
        "date_diff('second', finished_at, started_at) AS negative_seconds FROM job_runs",
        "SELECT job_run_id, CAST(unix_micros(started_at) AS DOUBLE) / 1000000 AS started, "
        "CAST(unix_micros(finished_at) AS DOUBLE) / 1000000 - CAST(unix_micros(started_at) AS DOUBLE) / 1000000 "
        "AS seconds, (unix_micros(finished_at) - unix_micros(started_at)) DIV 1000 AS millis, "
        "-((unix_micros(finished_at) - unix_micros(started_at)) DIV 1000000) AS negative_seconds "
        "FROM {db}.job_runs",
    ),
    "recommendations": (
        "SELECT r.playlist_id, count(*) AS n, min(r.rank) AS best, max(r.score) AS top_score, "
        "count_if(t.track_id IS NULL) AS unknown_tracks "
        "FROM recommendations r LEFT JOIN tracks t ON r.track_id = t.track_id GROUP BY r.playlist_id",
        "SELECT r.playlist_id, count(*) AS n, min(r.rank) AS best, max(r.score) AS top_score, "
        "count_if(t.track_id IS NULL) AS unknown_tracks "
        "FROM {db}.recommendations r LEFT JOIN {db}.tracks t ON r.track_id = t.track_id "
        "GROUP BY r.playlist_id",
    ),
    "ordered_array_agg": (
        "SELECT track_id, array_agg(similar_track_id ORDER BY rank) AS similar, avg(similarity) AS mean_similarity "
        "FROM similar_tracks GROUP BY track_id",
        "SELECT track_id, transform(array_sort(collect_list(struct(rank, similar_track_id))), "
        "x -> x.similar_track_id) AS similar, avg(similarity) AS mean_similarity "
        "FROM {db}.similar_tracks GROUP BY track_id",
    ),
    "evaluations": (
        "SELECT split, model, metric, max(value) AS best, arbitrary(k) AS k FROM evaluations GROUP BY 1, 2, 3",
        "SELECT split, model, metric, max(value) AS best, first(k) AS k FROM {db}.evaluations GROUP BY 1, 2, 3",
    ),
    "id_maps_join": (
        "SELECT count(*) AS n, sum(i.weight) AS weight, count(DISTINCT i.playlist_idx) AS playlists "
        "FROM interactions i JOIN playlist_ids p ON i.playlist_id = p.playlist_id AND i.playlist_idx = p.playlist_idx",
        "SELECT count(*) AS n, sum(i.weight) AS weight, count(DISTINCT i.playlist_idx) AS playlists "
        "FROM {db}.interactions i JOIN {db}.playlist_ids p "
        "ON i.playlist_id = p.playlist_id AND i.playlist_idx = p.playlist_idx",
    ),
}


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return tuple(_value(v) for v in value)
    return value


def _rows(rows: list[dict[str, Any]]) -> list[tuple]:
    """Rows as tuples sorted on their non-float values (floats are compared with a tolerance, not sorted on)."""
    tuples = [tuple(_value(v) for v in row.values()) for row in rows]
    return sorted(tuples, key=lambda row: repr([v for v in row if not isinstance(v, float)]))


def assert_same(local: list[dict[str, Any]], spark: list[dict[str, Any]]) -> None:
    """Same columns, same rows; floats within 1e-6 (epoch seconds: DuckDB and Spark round differently in the
    last bit) or a relative 1e-9."""
    assert local and len(local) == len(spark), f"{len(local)} rows locally, {len(spark)} on Spark"
    assert list(local[0]) == list(spark[0])
    for mine, theirs in zip(_rows(local), _rows(spark), strict=True):
        for a, b in zip(mine, theirs, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                close = a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
                assert close, (mine, theirs)
            else:
                assert a == b, (mine, theirs)


@pytest.fixture(scope="module")
def engine(full_lake):
    with LocalEngine(full_lake.lake) as engine:
        yield engine


def test_the_engine_sees_every_table_the_pipeline_wrote(engine, full_lake) -> None:
    written = sorted(p.name for p in Path(full_lake.lake).iterdir() if (p / "_delta_log").is_dir())
    assert engine.tables() == sorted([*written, "raw"])
    assert {"playlists", "tracks", "interactions", "recommendations", "similar_tracks", "job_runs"} <= set(written)


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_answer_as_spark_sql(case: str, engine, spark, full_lake) -> None:
    athena_sql, spark_sql = CASES[case]
    local = engine.execute(athena_sql).to_pylist()
    spark_rows = spark.sql(spark_sql.format(db=full_lake.database)).collect()
    assert_same(local, [row.asDict(recursive=True) for row in spark_rows])


def test_approx_percentile_is_close_to_the_exact_percentile(engine, spark, full_lake) -> None:
    local = engine.execute("SELECT approx_percentile(duration_ms, 0.5) AS median FROM tracks").to_pylist()[0]
    sql = f"SELECT percentile(duration_ms, 0.5) AS median FROM {full_lake.database}.tracks"
    exact = spark.sql(sql).first()["median"]
    assert math.isclose(local["median"], exact, rel_tol=0.05)


def test_raw_table_counts_match_the_landing_files_and_the_manifests(engine, full_lake) -> None:
    expected: Counter = Counter()
    for path in Path(full_lake.raw).glob("source=*/entity=*/ingest_date=*/run_id=*/*.jsonl.gz"):
        parts = dict(part.split("=", 1) for part in path.relative_to(full_lake.raw).parts[:-1])
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        expected[(parts["source"], parts["entity"], parts["ingest_date"], parts["run_id"])] += len(lines)
    rows = engine.execute("SELECT source, entity, ingest_date, run_id, count(*) AS n FROM raw GROUP BY 1, 2, 3, 4")
    assert {(r["source"], r["entity"], r["ingest_date"], r["run_id"]): r["n"] for r in rows.to_pylist()} == expected
    manifests = landing.complete_runs(full_lake.raw)
    assert sum(expected.values()) == sum(sum(m.counts.values()) for m in manifests)


def test_raw_bodies_are_the_landed_json(engine, full_lake) -> None:
    sql = ("SELECT key, CAST(json_extract_scalar(body, '$.num_tracks') AS integer) AS num_tracks FROM raw "
           "WHERE source = 'mpd' AND entity = 'playlists'")
    local = {r["key"]: r["num_tracks"] for r in engine.execute(sql).to_pylist()}
    landed = {}
    for path in Path(full_lake.raw).glob("source=mpd/entity=playlists/*/*/*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            record = json.loads(line)
            landed[str(record["key"])] = record["body"]["num_tracks"]
    assert local == landed and len(local) == 80


def test_a_spark_written_table_on_s3_reads_like_the_local_one(engine, full_lake, s3_bucket) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
    table = Path(full_lake.lake) / "playlists"
    for path in table.rglob("*"):
        if path.is_file() and not path.name.endswith(".crc"):
            client.upload_file(str(path), s3_bucket, f"lake/playlists/{path.relative_to(table)}")
    sql = "SELECT source, count(*) AS n, max(observed_at) AS latest FROM playlists GROUP BY 1 ORDER BY 1"
    with LocalEngine(f"s3://{s3_bucket}/lake") as on_s3:
        assert on_s3.tables() == ["playlists"]
        assert on_s3.execute(sql).to_pylist() == engine.execute(sql).to_pylist()
