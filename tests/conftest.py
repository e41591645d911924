"""Shared fixtures: one local SparkSession (configured like Glue 5.1) for the whole test session.

The session's home (Derby metastore, warehouse, checkpoints) lives in a temporary folder, so tests never
touch a developer's ``.musiclake``. A real S3 API server (moto) is started on 127.0.0.1 for the S3 tests.

Every test is independent of the others and of their order (the suite runs in random order, pytest-randomly):
a fixture or test that creates tables uses a catalog database of its own (:func:`unique_database`), and a test
that writes to a shared lake works on its own copy.

Markers: every test that needs a JVM (a Spark fixture, or a ``slow`` end-to-end test) is marked ``jvm`` here;
``make test-fast`` runs ``-m "not jvm or fast"`` (``fast``: a few quick Spark transform modules).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SPARK_FIXTURES = frozenset({"spark", "spark_s3", "full_lake"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the marks must be there when it looks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``jvm`` every test that uses a Spark fixture (directly or through another fixture) or is ``slow``."""
    for item in items:
        uses_spark = SPARK_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_spark or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.jvm)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo the process-wide logging set-up a test's job or CLI did (handlers, levels, ``musiclake``'s
    ``propagate = False``), so what a later test sees in its logs never depends on which tests ran before."""
    root = logging.getLogger()
    saved = [(logger, logger.level, list(logger.handlers), logger.propagate)
             for logger in (logging.getLogger("musiclake"), logging.getLogger("musiclake_extract"))]
    root_level, root_handlers = root.level, set(root.handlers)
    yield
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
    root.setLevel(root_level)
    for handler in [h for h in root.handlers if getattr(h, "_musiclake", False) and h not in root_handlers]:
        root.removeHandler(handler)


def unique_database(prefix: str) -> str:
    """A catalog database name no other fixture or test uses (the Hive metastore is shared by the session)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def musiclake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("musiclake_home")


@pytest.fixture(scope="session")
def spark(musiclake_home: Path):
    """The one SparkSession of the test session (Delta + Hive metastore in a temp folder)."""
    from musiclake import runtime

    os.environ["MUSICLAKE_HOME"] = str(musiclake_home)
    config = runtime.LocalConfig.from_env()
    session = runtime.local_spark_session(
        runtime.LocalConfig(
            home=config.home,
            jars_dir=config.jars_dir,
            master="local[2]",
            shuffle_partitions=2,
            driver_memory="2g",
            s3_endpoint=None,
            # The status stores keep every job, stage and SQL execution (plans included) up to these limits,
            # in the one JVM that runs the whole suite: nobody reads them here, so keep few.
            # Plan strings are capped (the session prints them in the short form, runtime.SQL_EXPLAIN_MODE): a plan
            # that reads the cached outputs prints the plans behind them (docs/etl.md, the plan of actions).
            extra_conf={"spark.sql.ui.retainedExecutions": "20", "spark.ui.retainedJobs": "100",
                        "spark.ui.retainedStages": "100", "spark.sql.maxPlanStringLength": "200000"},
        ),
        app_name="musiclake-tests",
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 API server (moto) on 127.0.0.1; yields its endpoint URL and sets the AWS variables."""
    from moto.server import ThreadedMotoServer

    from musiclake import storage

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                             "AWS_DEFAULT_REGION")}
    os.environ.update(
        AWS_ENDPOINT_URL_S3=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    storage._s3.cache_clear()
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    storage._s3.cache_clear()


@pytest.fixture()
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket on the moto server; yields its name."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name


@pytest.fixture()
def spark_s3(spark, s3_server: str):
    """The shared SparkSession with ``s3://`` pointed at the moto server."""
    from musiclake import runtime

    runtime.configure_s3(spark, s3_server)
    return spark


@dataclass(frozen=True)
class FullLake:
    """A small lake built by the whole pipeline: landing zone, curated tables, interactions, model outputs.

    ``database`` is unique to the session (``fulllake_<hex>``): read it from here, never spell it out.
    """

    raw: str
    lake: str
    database: str


@pytest.fixture(scope="session")
def full_lake(spark, tmp_path_factory: pytest.TempPathFactory) -> FullLake:
    """Both sources extracted (local Spotify API server + MPD slices), then every Glue job, once per session.

    For tests of what reads the finished lake (``musiclake query``, ``musiclake report``); small on purpose
    (80 MPD playlists of a 400-track catalog, plus the API user's playlists), ALS trained with a tiny model.
    """
    from musiclake_extract.api_extract import ApiOptions, run_api
    from musiclake_extract.client import Credentials
    from musiclake_extract.mpd_import import MpdOptions, run_mpd
    from musiclake_sim.catalog import generate_catalog, write_mpd_slices
    from musiclake_sim.fake_server import FakeSpotify

    root = tmp_path_factory.mktemp("full_lake")
    raw, lake, database = str(root / "landing"), str(root / "lake"), unique_database("fulllake")
    catalog = generate_catalog(11, 80, 400)
    write_mpd_slices(catalog, root / "mpd", playlists_per_slice=40)
    with FakeSpotify(catalog=catalog, user_playlists=3, followed_playlists=2) as api:
        env = api.credentials()
        result = run_api(
            ApiOptions(landing=raw, me=True, api_base_url=api.api_base_url, token_url=api.token_url, backoff=0.01),
            Credentials(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"]),
        )
    assert result.status == "complete", result.message
    assert run_mpd(MpdOptions(source=str(root / "mpd"), landing=raw)).status == "complete"
    from glue_jobs.v1 import build_interactions, raw_to_curated, train_als

    common = ["--lake_path", lake, "--database", database]
    raw_to_curated.main(["raw_to_curated.py", "--JOB_NAME", "raw_to_curated", "--raw_path", raw, *common])
    build_interactions.main(["build_interactions.py", "--JOB_NAME", "build_interactions", *common])
    train_als.main(["train_als.py", "--JOB_NAME", "train_als", *common, "--rank", "8", "--reg_param", "0.05",
                    "--alpha", "10", "--max_iter", "5", "--top_k", "20", "--similar_k", "5", "--seed", "1",
                    "--new_playlist_eval", "true", "--new_playlist_holdout", "20"])
    return FullLake(raw=raw, lake=lake, database=database)
