"""musiclake: a Spotify-data lake and music recommender built as AWS Glue 5.1 PySpark jobs.

One wheel carries the shared job library (``musiclake``) and the extractor (``musiclake_extract``).
Extras keep the audiences apart:

* ``spark``   - the local stand-in for the Glue 5.1 runtime (pyspark, delta-spark, awsglue, the
                pandas/numpy/pyarrow/boto3 versions Glue 5.1 ships). On Glue these are already there.
* ``extract`` - the Spotify/MPD extractor (spotipy, boto3), as installed in the extractor image.
* ``dev``     - tests and linting.
* ``deploy``  - ``musiclake deploy`` (boto3, PyYAML for the CloudFormation templates).
* ``query``   - ``musiclake query`` run locally: DuckDB over the Delta tables read by delta-rs, SQL transpiled
                from Athena's dialect by sqlglot (no Spark; the Glue jobs do not need these).
* ``report``  - ``musiclake report``: the ``query`` engine plus matplotlib for the charts.
* ``bench``   - ``make bench`` (bench/): DuckDB and ``implicit`` as single-machine references, psutil for memory.

Versions are pinned to the Glue 5.1 runtime (see ../shared/docs/PLATFORM.md) so local runs match production.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = (HERE / "lib" / "musiclake" / "VERSION").read_text().strip()

# Glue 5.1 runtime versions (Spark 3.5.6, Python 3.11, Delta Lake 3.3.2).
GLUE_51 = [
    "pyspark==3.5.6",
    "delta-spark==3.3.2",
    "AWSGlueDataplanePython==5.1.0",
    "boto3==1.40.61",
    "numpy==2.3.4",
    "pandas==2.3.3",
    "pyarrow==22.0.0",
]

EXTRACT = [
    "spotipy==2.26.0",
    "numpy==2.3.4",  # the synthetic catalog (generate-mpd, the local Spotify API server)
    "boto3==1.40.61",
    "requests>=2.32,<3",
]

DEV = [
    "pytest==8.4.2",
    "chispa==0.12.0",
    "moto[server]==5.1.22",
    "ruff==0.14.14",
    "PyYAML==6.0.4",  # tests/deploy read the CloudFormation templates
    "playwright==1.65.2",  # tests/report drive the system Chromium (no browser download)
]

# `musiclake deploy` / `musiclake integration-run` (CodeBuild installs the wheel with this extra).
DEPLOY = [
    "boto3==1.40.61",
    "PyYAML==6.0.4",
]

# `musiclake query` embedded: Athena (Trino) SQL -> sqlglot -> DuckDB over Delta tables read by delta-rs as Arrow.
QUERY = [
    "duckdb==1.4.4",
    "deltalake==1.6.6",
    "sqlglot==30.30.0",
    "pyarrow==22.0.0",
    "boto3==1.40.61",  # --athena, and s3:// lakes
]

# `musiclake report`: the analytics queries run by the embedded engine, charted with matplotlib (PNG, no pyplot).
REPORT = [*QUERY, "matplotlib==3.11.2"]

# `make bench`: the single-machine references (DuckDB for the ETL, implicit for ALS) and the measuring tools.
BENCH = [
    "duckdb==1.4.4",
    "implicit==0.7.2",
    "scipy==1.16.3",
    "threadpoolctl==3.6.0",
    "psutil==7.1.3",
    "pyinstrument==5.1.1",
]

setup(
    name="musiclake",
    version=VERSION,
    description="Spotify-data lake and music recommender as AWS Glue 5.1 PySpark jobs",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
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
        "deploy": DEPLOY,
        "query": QUERY,
        "report": REPORT,
        "bench": BENCH,
    },
    entry_points={
        "console_scripts": [
            "musiclake=musiclake.cli:main",
            "musiclake-extract=musiclake_extract.cli:main",
            "musiclake-fake-spotify=musiclake_extract.fake_server:main",
        ]
    },
)
