"""``s3://`` lakes and landing zones, against the moto S3 server (AWS_ENDPOINT_URL_S3, as in production code)."""

from __future__ import annotations

import pytest
from query_lake import LANDED, TRACKS, write_tiny_lake, write_tiny_landing

from musiclake import cli
from musiclake.query import catalog
from musiclake.query.engine import LocalEngine
from musiclake.query.errors import LakeNotFoundError


@pytest.fixture()
def s3_lake(s3_bucket: str, tmp_path) -> tuple[str, str]:
    """The tiny lake written to S3 by delta-rs, and its landing zone by the landing contract (boto3)."""
    lake, raw = f"s3://{s3_bucket}/lake", f"s3://{s3_bucket}/raw"
    options = {**catalog.storage_options_from_env(), "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    write_tiny_lake(tmp_path, storage_options=options, lake=lake)
    write_tiny_landing(raw)
    return lake, raw


def test_storage_options_point_delta_rs_at_the_s3_endpoint(s3_server: str) -> None:
    options = catalog.storage_options_from_env()
    assert options["AWS_ENDPOINT_URL"] == s3_server
    assert options["AWS_ALLOW_HTTP"] == "true" and options["AWS_REGION"] == "us-east-1"
    assert options["AWS_ACCESS_KEY_ID"] == "testing"


def test_delta_tables_on_s3_are_discovered_and_queried(s3_lake) -> None:
    lake, raw = s3_lake
    with LocalEngine(lake, raw_path=raw) as engine:
        assert engine.tables() == ["job_runs", "playlist_tracks", "raw", "tracks"]
        result = engine.execute("SELECT track_id, duration_ms FROM musiclake.tracks WHERE duration_ms > 190000 "
                                "ORDER BY track_id")
        expected = [(t, d) for t, d in zip(TRACKS["track_id"], TRACKS["duration_ms"], strict=True) if d and d > 190000]
        assert [(r["track_id"], r["duration_ms"]) for r in result.to_pylist()] == expected
        partitioned = engine.execute("SELECT source, count(*) AS n FROM playlist_tracks GROUP BY 1 ORDER BY 1")
        assert partitioned.to_pylist() == [{"source": "mpd", "n": 1}, {"source": "spotify", "n": 5}]


def test_the_raw_zone_on_s3_is_a_table_too(s3_lake) -> None:
    lake, raw = s3_lake
    with LocalEngine(lake, raw_path=raw) as engine:
        rows = engine.execute("SELECT source, entity, count(*) AS n, max(json_extract_scalar(body, '$.name')) AS "
                              "name FROM raw GROUP BY 1, 2 ORDER BY 1, 2").to_pylist()
    assert {(r["source"], r["entity"]): r["n"] for r in rows} == {k: len(v) for k, v in LANDED.items()}
    assert [r["name"] for r in rows] == ["road trip", "A", "Beta"]


def test_an_empty_s3_prefix_is_not_a_lake(s3_bucket: str) -> None:
    with pytest.raises(LakeNotFoundError, match="make demo"):
        LocalEngine(f"s3://{s3_bucket}/nothing-here")


def test_the_cli_queries_an_s3_lake(capsys, s3_lake) -> None:
    lake, _ = s3_lake
    assert cli.main(["query", "--lake_path", lake, "--format", "csv", "SELECT count(*) AS n FROM tracks"]) == 0
    assert capsys.readouterr().out == "n\n4\n"
