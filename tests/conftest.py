"""Shared fixtures: one local SparkSession (configured like Glue 5.1) for the whole test session.

The session's home (Derby metastore, warehouse, checkpoints) lives in a temporary folder, so tests never
touch a developer's ``.musiclake``. A real S3 API server (moto) is started on 127.0.0.1 for the S3 tests.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


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
    import uuid

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


REPO = Path(__file__).resolve().parents[1]


def load_glue_job(name: str):
    """Import ``glue_jobs/v1/<name>.py`` as a module (its ``main(argv)`` is what Glue runs)."""
    import importlib.util
    import sys

    module_name = f"glue_jobs_v1_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, REPO / "glue_jobs" / "v1" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture(scope="session")
def glue_job():
    """``glue_job("raw_to_curated").main([...])`` runs a Glue entry script in-process."""
    return load_glue_job
