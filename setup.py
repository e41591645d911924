"""musiclake: a Spotify-data lake and music recommender built as AWS Glue 5.1 PySpark jobs.

This builds the Glue wheel: the shared job library (``musiclake``: runtime, data model, transforms, jobs,
recommender, query, report, serve) and the extractor (``musiclake_extract``, which the extractor image installs).
Nothing else ships in it: the local stand-ins for Spotify and the MPD are ``sim/`` (distribution ``musiclake-sim``,
console script ``musiclake-sim``) and the CloudFormation deploy tool is ``deploy/`` (distribution
``musiclake-deploy``, console script ``musiclake-deploy``), each with its own ``setup.py``.

Extras keep the audiences apart:

* ``spark``   - the local stand-in for the Glue 5.1 runtime (pyspark, delta-spark, awsglue, the
                pandas/numpy/pyarrow/boto3 versions Glue 5.1 ships), pinned exactly: local runs match production.
                On Glue these are already there.
* ``extract`` - the Spotify/MPD extractor (spotipy, boto3, requests, urllib3), as installed in the extractor image.
* ``dev``     - tests and linting.
* ``query``   - ``musiclake query`` run locally: DuckDB over the Delta tables read by delta-rs, SQL transpiled
                from Athena's dialect by sqlglot (no Spark; the Glue jobs do not need these).
* ``report``  - ``musiclake report``: the ``query`` engine plus matplotlib for the charts.
* ``serve``   - ``musiclake serve`` and the JVM-free ``recommend``/``similar``/``tables``: FastAPI on uvicorn, the
                model and tables read by delta-rs/pyarrow and scored with numpy; Mangum for the Lambda image.
* ``bench``   - ``make bench`` (bench/): DuckDB and ``implicit`` as single-machine references, psutil for memory.

Only ``spark`` pins exact versions (the Glue 5.1 runtime, see ../shared/docs/PLATFORM.md); the other extras take
compatible ranges so that ``pip install musiclake[query]`` resolves on newer Pythons too. Reproducible development
installs come from ``requirements/constraints.txt`` (exact versions of everything), which ``make venv`` applies.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = (HERE / "lib" / "musiclake" / "VERSION").read_text().strip()

# Glue 5.1 runtime versions (Spark 3.5.6, Python 3.11, Delta Lake 3.3.2): exact, as on Glue.
GLUE_51 = [
    "pyspark==3.5.6",
    "delta-spark==3.3.2",
    "AWSGlueDataplanePython==5.1.0",
    "boto3==1.40.61",
    "numpy==2.3.4",
    "pandas==2.3.3",
    "pyarrow==22.0.0",
]

# The extractor image (docker/extractor/Dockerfile installs musiclake[extract]).
EXTRACT = [
    "spotipy>=2.26.0,<3",
    "boto3>=1.40.61,<2",
    "requests>=2.32,<3",
    "urllib3>=2.2,<3",  # the client reads each answer a socket read at a time (HTTPResponse.read1)
]

DEV = [
    "pytest>=8.4.2,<9",
    "pytest-randomly>=5.1.0,<6",  # a random test order every run (its seed is printed at the top)
    "pytest-xdist>=3.8.0,<4",  # two test processes (one SparkSession each), a test module per process at a time
    "chispa>=0.12.0,<0.13",
    "moto[server]>=5.1.22,<6",
    "ruff>=0.14.14,<0.15",
    "PyYAML>=6.0.4,<7",  # tests/deploy read the CloudFormation templates
    "playwright>=1.65.2,<2",  # tests/report drive the system Chromium (no browser download)
    "httpx2>=2.16.2,<3",  # tests/serve: FastAPI's (Starlette's) TestClient
]

# `musiclake query` embedded: Athena (Trino) SQL -> sqlglot -> DuckDB over Delta tables read by delta-rs as Arrow.
QUERY = [
    "duckdb>=1.4.4,<2",
    "deltalake>=1.6.6,<2",
    "sqlglot>=30.30.0,<31",
    "pyarrow>=22.0.0,<23",
    "boto3>=1.40.61,<2",  # --athena, and s3:// lakes
]

# `musiclake report`: the analytics queries run by the embedded engine, charted with matplotlib (PNG, no pyplot).
REPORT = [*QUERY, "matplotlib>=3.11.2,<4"]

# `make bench`: the single-machine references (DuckDB for the ETL, implicit for ALS) and the measuring tools.
BENCH = [
    "duckdb>=1.4.4,<2",
    "implicit>=0.7.2,<0.8",
    "scipy>=1.16.3,<2",
    "threadpoolctl>=3.6.0,<4",
    "psutil>=7.1.3,<8",
    "pyinstrument>=5.1.1,<6",
]

# `musiclake serve` (HTTP API) and the JVM-free read path: the model's factors and the lake's tables read with
# delta-rs/pyarrow, scored with numpy; uvicorn with its C parser and loop; Mangum adapts the app to AWS Lambda.
SERVE = [
    "fastapi>=0.163.2,<1",
    "uvicorn>=0.54.0,<1",
    "httptools>=0.9.0,<1",
    "uvloop>=0.23.0,<1; sys_platform != 'win32'",
    "mangum>=0.22.0,<1",
    "deltalake>=1.6.6,<2",
    "pyarrow>=22.0.0,<23",
    "numpy>=2.3.4,<3",
    "boto3>=1.40.61,<2",  # s3:// lakes (the LATEST pointer, delta-rs credentials)
]

setup(
    name="musiclake",
    version=VERSION,
    description="Spotify-data lake and music recommender as AWS Glue 5.1 PySpark jobs",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    package_dir={
        "musiclake": "lib/musiclake",
        "musiclake_extract": "extract/musiclake_extract",
    },
    packages=(
        ["musiclake"]
        + [f"musiclake.{p}" for p in find_packages("lib/musiclake")]
        + ["musiclake_extract"]
        + [f"musiclake_extract.{p}" for p in find_packages("extract/musiclake_extract")]
    ),
    package_data={"musiclake": ["VERSION", "log4j2.properties", "sql/*.sql"]},
    install_requires=[],
    extras_require={
        "spark": GLUE_51,
        "extract": EXTRACT,
        "dev": DEV,
        "query": QUERY,
        "report": REPORT,
        "bench": BENCH,
        "serve": SERVE,
    },
    entry_points={
        "console_scripts": [
            "musiclake=musiclake.cli:main",
            "musiclake-extract=musiclake_extract.cli:main",
        ]
    },
)
