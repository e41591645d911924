"""One runtime for Glue and local Spark: the only place that creates a SparkSession.

A job never asks "am I on Glue?": it calls :func:`job_session` with its parsed options and gets a
SparkSession. On Glue that session comes from ``GlueContext`` (``Job.init`` before, ``Job.commit``
after a successful run). Anywhere else it is a local SparkSession configured like Glue 5.1 started
with ``--datalake-formats delta --enable-glue-datacatalog``:

* Delta Lake 3.3.2 (SQL extension + ``DeltaCatalog``), jars from the local jar cache;
* Spark's Hive metastore in embedded Derby under ``$MUSICLAKE_HOME`` standing in for the Glue Data Catalog;
* a checkpoint directory (ALS and other iterative jobs need one);
* when ``AWS_ENDPOINT_URL_S3`` is set: ``s3://`` and ``s3a://`` served by hadoop-aws's S3A against that
  endpoint (path-style), so jobs keep speaking ``s3://`` while a local S3 API server answers.

Environment (read here, at the edge, and nowhere in library code):
``MUSICLAKE_RUNTIME`` (glue|local|auto), ``MUSICLAKE_HOME`` (default ``./.musiclake``),
``MUSICLAKE_JARS_DIR`` (default ``~/.cache/musiclake/jars``), ``MUSICLAKE_SPARK_MASTER`` (default ``local[2]``),
``MUSICLAKE_SHUFFLE_PARTITIONS`` (default 8), ``MUSICLAKE_DRIVER_MEMORY`` (default 4g), ``AWS_ENDPOINT_URL_S3``,
``MUSICLAKE_BLAS`` (``auto``: Spark's linear algebra - ALS's normal equations and solves - uses the machine's native
BLAS/LAPACK, ``libblas.so.3``/``liblapack.so.3``, when there is one, else Java; ``java``: always Java, as on a Glue
worker without a native BLAS), ``MUSICLAKE_SPARK_CONF`` (extra Spark settings, space-separated ``key=value``),
``MUSICLAKE_JAVA_OPTIONS`` (extra driver JVM options, added to the runtime's own), ``JAVA_HOME`` (must be a Java 17;
found automatically under /usr/lib/jvm when unset).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from musiclake.java17 import Java17NotFoundError, find_java17

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from musiclake.options import JobOptions

OptionsT = TypeVar("OptionsT", bound="JobOptions")
log = logging.getLogger("musiclake.runtime")

DELTA_VERSION = "3.3.2"
HADOOP_VERSION = "3.3.4"
AWS_SDK_VERSION = "1.12.262"
DELTA_JARS = (f"delta-spark_2.12-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")
S3_JARS = (f"hadoop-aws-{HADOOP_VERSION}.jar", f"aws-java-sdk-bundle-{AWS_SDK_VERSION}.jar")
DEFAULT_HOME = ".musiclake"
GLUE_FLAG = "--musiclake_runtime"
BLAS_AUTO, BLAS_JAVA = "auto", "java"
# netlib (dev.ludovic.netlib, Spark's BLAS/LAPACK front) loads the native library by this name; naming one that
# cannot exist makes it fall back to its Java implementations
JAVA_ONLY_BLAS = (
    "-Ddev.ludovic.netlib.blas.nativeLib=musiclake-java-only-blas "
    "-Ddev.ludovic.netlib.lapack.nativeLib=musiclake-java-only-lapack"
)
LOG4J2_CONFIG = Path(__file__).with_name("log4j2.properties")
# Spark describes every query's physical plan for the SQL listener events (even with the UI off); the default
# `formatted` description of a plan over cached or checkpointed frames is long and built on the driver per query
SQL_EXPLAIN_MODE = ("spark.sql.ui.explainMode", "simple")
# Delta's optimized writes (the tables' `optimizeWrite` property) bin a write's rows into one task per 512 MB of
# shuffle by default: a first load of 5.9 million memberships (~270 MB, one partition value) was written by one
# task while the other cores waited. 128 MB bins still give files of tens of MB.
OPTIMIZE_WRITE_BIN_MB = ("spark.databricks.delta.optimizeWrite.binSize", "128")
JOB_SQL_CONF = dict([SQL_EXPLAIN_MODE, OPTIMIZE_WRITE_BIN_MB])  # set in every job's session, Glue or local


class RuntimeSetupError(RuntimeError):
    """The local runtime cannot start; the message says what to run to fix it."""


def musiclake_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$MUSICLAKE_HOME`` (default ``./.musiclake``): local metastore, checkpoints, the demo, default lake."""
    env = os.environ if environ is None else environ
    return Path(env.get("MUSICLAKE_HOME", DEFAULT_HOME)).expanduser()


@dataclass(frozen=True)
class LocalConfig:
    """How the local stand-in for Glue 5.1 is set up (see the module docstring for the variables)."""

    home: Path
    jars_dir: Path
    master: str = "local[2]"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    s3_endpoint: str | None = None
    blas: str = BLAS_AUTO
    extra_conf: Mapping[str, str] = field(default_factory=dict)
    java_options: str = ""

    def __post_init__(self) -> None:
        if self.blas not in (BLAS_AUTO, BLAS_JAVA):
            raise RuntimeSetupError(f"MUSICLAKE_BLAS must be {BLAS_AUTO} or {BLAS_JAVA}, not {self.blas!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalConfig:
        env = os.environ if environ is None else environ
        return cls(
            home=musiclake_home(env).resolve(),
            jars_dir=Path(env.get("MUSICLAKE_JARS_DIR", "~/.cache/musiclake/jars")).expanduser().resolve(),
            master=env.get("MUSICLAKE_SPARK_MASTER", "local[2]"),
            shuffle_partitions=int(env.get("MUSICLAKE_SHUFFLE_PARTITIONS", "8")),
            driver_memory=env.get("MUSICLAKE_DRIVER_MEMORY", "4g"),
            s3_endpoint=env.get("AWS_ENDPOINT_URL_S3") or None,
            blas=env.get("MUSICLAKE_BLAS", BLAS_AUTO).lower(),
            extra_conf=parse_conf(env.get("MUSICLAKE_SPARK_CONF", "")),
            java_options=env.get("MUSICLAKE_JAVA_OPTIONS", ""),
        )

    @property
    def driver_java_options(self) -> str:
        options = f"-Dderby.system.home={self.home} -Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}"
        options = f"{options} {self.java_options}".strip()
        return f"{options} {JAVA_ONLY_BLAS}" if self.blas == BLAS_JAVA else options

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.home / "metastore_db"

    @property
    def checkpoint_dir(self) -> Path:
        return self.home / "checkpoints"


def parse_conf(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by whitespace (``MUSICLAKE_SPARK_CONF``) as a dict; a clear error otherwise."""
    pairs = text.split()
    bad = [p for p in pairs if "=" not in p or p.startswith("=")]
    if bad:
        raise RuntimeSetupError(f"MUSICLAKE_SPARK_CONF: expected space-separated key=value pairs, got {bad}")
    return dict(p.split("=", 1) for p in pairs)


def required_jars(config: LocalConfig) -> list[Path]:
    """The jar files the local session loads; a clear error when the cache lacks one."""
    jars = [config.jars_dir / name for name in (*DELTA_JARS, *S3_JARS)]
    missing = [j.name for j in jars if not j.is_file()]
    if missing:
        raise RuntimeSetupError(
            f"missing Spark jars in {config.jars_dir}: {', '.join(missing)}. "
            "Run `make jars` (Maven resolves them from Maven Central into that folder), "
            "or point MUSICLAKE_JARS_DIR at a folder that holds them."
        )
    return jars


def s3a_conf(endpoint: str) -> dict[str, str]:
    """Hadoop settings that make ``s3://`` and ``s3a://`` paths go to an S3 API server at ``endpoint``."""
    return {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https")).lower(),
        "fs.s3a.endpoint.region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "fs.s3a.change.detection.mode": "none",
        "fs.s3a.attempts.maximum": "3",
        "fs.s3a.retry.limit": "3",
    }


def configure_s3(spark: SparkSession, endpoint: str, environ: Mapping[str, str] | None = None) -> None:
    """Point a running local session's ``s3://`` paths at ``endpoint`` (e.g. a moto server).

    Credentials come from this process's AWS variables when set (the JVM's own environment is fixed at
    start-up), else from the AWS SDK's default chain. They go into the Hadoop configuration only, which is
    never logged.
    """
    env = os.environ if environ is None else environ
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    settings = s3a_conf(endpoint)
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        settings["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        settings["fs.s3a.access.key"] = env["AWS_ACCESS_KEY_ID"]
        settings["fs.s3a.secret.key"] = env["AWS_SECRET_ACCESS_KEY"]
    for key, value in settings.items():
        hadoop_conf.set(key, value)
    spark.sparkContext._jvm.org.apache.hadoop.fs.FileSystem.closeAll()  # drop cached clients of the old endpoint


def local_spark_session(config: LocalConfig | None = None, app_name: str = "musiclake") -> SparkSession:
    """A local SparkSession configured like Glue 5.1 with Delta and a Data Catalog stand-in.

    Returns the running session unchanged if one exists (tests share one per session; a job run inside a
    test must not re-apply its configuration to it).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    config = config or LocalConfig.from_env()
    try:
        java_home = find_java17()
    except Java17NotFoundError as exc:
        raise RuntimeSetupError(str(exc)) from None
    os.environ["JAVA_HOME"] = str(java_home)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local only: no lookups of this host's other addresses
    jars = required_jars(config)
    for folder in (config.home, config.warehouse_dir, config.checkpoint_dir):
        folder.mkdir(parents=True, exist_ok=True)

    builder = (
        SparkSession.builder.master(config.master)
        .appName(app_name)
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.driver.memory", config.driver_memory)
        .config("spark.driver.extraJavaOptions", config.driver_java_options)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", str(config.warehouse_dir))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={config.metastore_dir};create=true",
        )
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        .config("spark.default.parallelism", str(config.shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.adaptive.enabled", "true")
        .enableHiveSupport()
    )
    for key, value in {**JOB_SQL_CONF, **config.extra_conf}.items():
        builder = builder.config(key, value)
    started = time.monotonic()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.sparkContext.setCheckpointDir(str(config.checkpoint_dir))
    resolve_functions_once(spark)
    if config.s3_endpoint:
        configure_s3(spark, config.s3_endpoint)
    log.info("local Spark %s ready in %.1fs (home %s)", spark.version, time.monotonic() - started, config.home)
    return spark


def resolve_functions_once(spark: SparkSession) -> None:
    """Look up Spark's ``functions`` class once for this process instead of at every column function.

    PySpark reaches every ``F.col``, ``F.lit``, ``F.when`` ... through ``sc._jvm.functions``: an attribute of py4j's
    JVM view that is not stored, so each call asks the JVM to find a class named ``functions`` through the view's
    imports, which fails across every jar on the class path before it succeeds (0.78 ms of the 1.31 ms a column
    function costs; ~7,000 of them in one ``raw_to_curated`` run). Stored on the view, the lookup happens once.
    """
    jvm = spark.sparkContext._jvm
    if "functions" not in vars(jvm):
        jvm.functions = jvm.org.apache.spark.sql.functions


def linear_algebra(spark: SparkSession) -> dict[str, str]:
    """Which BLAS and LAPACK Spark's ML code runs on in this JVM (the driver; local executors share it).

    ``native`` is netlib's JNI bridge to the machine's ``libblas.so.3``/``liblapack.so.3`` (e.g. OpenBLAS);
    ``java`` its pure-Java fallback, several times slower for ALS's per-rating ``dspr`` and packed Cholesky
    solves (BENCHMARKS.md).
    """
    netlib = spark.sparkContext._jvm.dev.ludovic.netlib
    blas = netlib.blas.BLAS.getInstance().getClass().getSimpleName()
    lapack = netlib.lapack.LAPACK.getInstance().getClass().getSimpleName()
    kind = "native" if blas.startswith("JNI") and lapack.startswith("JNI") else "java"
    return {"kind": kind, "blas": blas, "lapack": lapack}


def is_glue(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True when running as an AWS Glue job.

    ``MUSICLAKE_RUNTIME=glue|local`` decides when set; otherwise the job is on Glue when the deployed job passes
    ``--musiclake_runtime glue`` (deploy/ does) or Glue's own ``--JOB_RUN_ID`` is present.
    """
    env = os.environ if environ is None else environ
    argv = list(sys.argv if argv is None else argv)
    forced = env.get("MUSICLAKE_RUNTIME", "auto").lower()
    if forced in ("glue", "local"):
        return forced == "glue"
    if GLUE_FLAG in argv:
        index = argv.index(GLUE_FLAG)
        return index + 1 < len(argv) and argv[index + 1].lower() == "glue"
    return "--JOB_RUN_ID" in argv


@contextmanager
def job_session(options: JobOptions, argv: Sequence[str] | None = None) -> Iterator[SparkSession]:
    """Give a job its SparkSession on Glue or locally; commit the Glue job only if the body succeeds.

    Parameters
    ----------
    options
        The job's parsed options (``job_name`` is passed to ``Job.init`` on Glue).
    argv
        The raw arguments (``sys.argv`` by default), handed to ``Job.init`` on Glue.
    """
    argv = list(sys.argv if argv is None else argv)
    started = time.monotonic()
    log.info("job %s starting with %s", options.job_name, options.as_dict())
    if is_glue(argv):
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from awsglue.utils import getResolvedOptions
        from pyspark.context import SparkContext

        glue_context = GlueContext(SparkContext.getOrCreate())
        spark = glue_context.spark_session
        for key, value in JOB_SQL_CONF.items():
            spark.conf.set(key, value)
        resolve_functions_once(spark)
        args = getResolvedOptions(argv, ["JOB_NAME"])
        if args.get("TempDir"):
            spark.sparkContext.setCheckpointDir(args["TempDir"].rstrip("/") + "/checkpoints")
        job = Job(glue_context)
        job.init(options.job_name, args)
        yield spark
        job.commit()
    else:
        yield local_spark_session(app_name=options.job_name)
    log.info("job %s finished in %.1fs", options.job_name, time.monotonic() - started)


def run_job(
    options_type: type[OptionsT], run: Callable[[SparkSession, OptionsT], Any], argv: Sequence[str] | None = None
) -> Any:
    """What every Glue entry script does: parse its options, get a session (Glue or local), run the job.

    Parameters
    ----------
    options_type
        The job's options dataclass (parsed from ``argv`` with Glue's ``getResolvedOptions``).
    run
        The job, ``run(spark, options)`` (``musiclake.jobs.<job>.run``).
    argv
        The raw arguments, ``sys.argv`` by default.
    """
    argv = list(sys.argv if argv is None else argv)
    with job_logging():
        options = options_type.from_argv(argv)
        with job_session(options, argv) as spark:
            return run(spark, options)


NOISY_LOGGERS = ("py4j", "botocore", "urllib3", "s3transfer")


@contextmanager
def job_logging(level: int = logging.INFO) -> Iterator[None]:
    """Timestamped ``musiclake`` logs on stderr (Glue ships stderr to CloudWatch) while a job runs.

    Only the ``musiclake`` logger gets a handler, so the job's figures are shown even where the host (Glue,
    spark-submit) has configured the root logger otherwise; the root logger is never touched. Chatty
    libraries' loggers are raised to WARNING for the job. Everything is put back when the block ends, so a
    job run inside another program (a test, a notebook) leaves its logging as it was; a job started inside
    another job's block (nested) adds nothing.
    """
    logger = logging.getLogger("musiclake")
    if any(getattr(h, "_musiclake_job", False) for h in logger.handlers):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._musiclake_job = True  # type: ignore[attr-defined]
    noisy = [logging.getLogger(name) for name in NOISY_LOGGERS]
    saved = (logger.level, logger.propagate, [n.level for n in noisy])
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # the handler above shows the records: not a second time through the root's
    for noisy_logger in noisy:
        noisy_logger.setLevel(max(noisy_logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        for noisy_logger, noisy_level in zip(noisy, saved[2], strict=True):
            noisy_logger.setLevel(noisy_level)


@dataclass
class SparkWork:
    """What a stage of a job asked of Spark: queries (actions: each ``collect``, ``count``, write or MERGE step)
    and the Spark jobs they ran (with adaptive execution every shuffle is a job of its own)."""

    queries: int = 0
    jobs: int = 0
    seconds: float = 0.0


@contextmanager
def phase(spark: SparkSession, job_name: str, name: str,
          work: dict[str, SparkWork] | None = None) -> Iterator[None]:
    """Name the Spark work started inside the block: job group ``<job_name>/<name>``, description
    ``<job_name>: <name>`` (the Spark UI, also Glue's, shows both).

    At the end of the block the queries and Spark jobs it ran are logged and, with ``work``, added there under
    ``name`` (the plan of actions in docs/etl.md is measured and tested this way): those of this block only, not
    an earlier block's of the same name in the same process (a job run again in one session). The previous group
    is restored.
    """
    sc = spark.sparkContext
    keys = ("spark.jobGroup.id", "spark.job.description")
    previous = {k: sc.getLocalProperty(k) for k in keys}
    group, description = f"{job_name}/{name}", f"{job_name}: {name}"
    earlier_jobs, last_query = set(sc.statusTracker().getJobIdsForGroup(group)), _last_execution_id(spark)
    sc.setLocalProperty(keys[0], group)
    sc.setLocalProperty(keys[1], description)
    started = time.monotonic()
    try:
        yield
    finally:
        jobs = set(sc.statusTracker().getJobIdsForGroup(group)) - earlier_jobs
        done = SparkWork(_queries_described(spark, description, after=last_query), len(jobs),
                         time.monotonic() - started)
        if work is not None:
            total = work.setdefault(name, SparkWork())
            total.queries += done.queries
            total.jobs += done.jobs
            total.seconds += done.seconds
        log.info("%s: %s ran %d queries, %d Spark jobs in %.1fs", job_name, name, done.queries, done.jobs,
                 done.seconds)
        for key, value in previous.items():
            sc.setLocalProperty(key, value)  # None removes it


def _queries_described(spark: SparkSession, description: str, after: int, recent: int = 100) -> int:
    """SQL executions among the ``recent`` latest, started after execution ``after``, whose description is
    ``description`` (Spark's SQL status store, which names each execution after the job description set when it
    started)."""
    return sum(1 for e in _latest_executions(spark, recent)
               if e.executionId() > after and e.description() == description)


def _last_execution_id(spark: SparkSession) -> int:
    """The id of the latest SQL execution in Spark's status store (ids only grow); -1 before the first."""
    return max((int(e.executionId()) for e in _latest_executions(spark, 1)), default=-1)


def _latest_executions(spark: SparkSession, n: int) -> list[Any]:
    """The ``n`` latest SQL executions kept by Spark's SQL status store, oldest first (JVM objects)."""
    store = spark._jsparkSession.sharedState().statusStore()
    executions = store.executionsList(max(0, store.executionsCount() - n), n)
    return [executions.apply(i) for i in range(executions.size())]


@contextmanager
def session_conf(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set session configuration for the block only; each key gets back its previous value (or is unset)."""
    saved = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


# A small batch's queries evaluated by Spark's interpreter: no whole-stage code generation, and expressions,
# projections and orderings built as objects instead of generated classes (see :func:`queries_for_batch`).
FACTORY_MODE = "spark.sql.codegen.factoryMode"
INTERPRETED_QUERIES = {"spark.sql.codegen.wholeStage": "false", FACTORY_MODE: "NO_CODEGEN"}


@contextmanager
def queries_for_batch(spark: SparkSession, small: bool, what: str) -> Iterator[None]:
    """Run the block's queries interpreted when the batch is ``small``, compiled (Spark's default) otherwise.

    Spark compiles each query's stages and expressions to Java classes (Janino), which the JVM's JIT compiles
    again once they run hot: a cost per query, paid back per row. A small batch's queries end before it pays back,
    and the driver and the JIT take the cores the tasks would use; a big batch's rows need the compiled code.
    The job decides by the size of what it is about to read (``what``, logged) and the block restores the
    session's settings. A session that sets ``spark.sql.codegen.factoryMode`` itself (``MUSICLAKE_SPARK_CONF``,
    Glue's ``--conf``) is left as it is.

    Parameters
    ----------
    spark
        The job's session.
    small
        Whether the batch is small enough to run interpreted (the job's own measure of its input).
    what
        The batch, as the log line names it (e.g. ``"4,612,345 landed bytes"``).
    """
    chosen = spark.conf.get(FACTORY_MODE, None)
    if chosen is not None:
        log.info("%s: queries as the session sets them (%s=%s)", what, FACTORY_MODE, chosen)
        yield
        return
    log.info("%s: queries %s", what, "interpreted (a small batch)" if small else "compiled")
    with session_conf(spark, INTERPRETED_QUERIES if small else {}):
        yield


ARROW_TO_PANDAS = "spark.sql.execution.arrow.pyspark.enabled"


def to_pandas_with_arrow(df: DataFrame) -> pd.DataFrame:
    """``df.toPandas()`` through Arrow (column batches instead of one Python row object per row: millions of rows
    in seconds), whatever the session's setting, which is restored afterwards."""
    with session_conf(df.sparkSession, {ARROW_TO_PANDAS: "true"}):
        return df.toPandas()


def kept(df: DataFrame) -> DataFrame:
    """``df``, computed by the first query that reads it and kept (memory, then local disk) for the ones after.

    Unlike ``persist()``, the result's plan is one leaf: every later plan that reads it is optimised, and printed
    (the Spark UI prints each query's plan, and again at each adaptive re-plan), without the plan behind it. A
    cached frame's plan is printed inside every plan that reads it, so frames cached on cached frames print
    their parse once per branch, which cost more than the data itself on small batches. Release with
    :func:`release`. The blocks live on the executors, like a cache: an executor lost before its blocks were read
    fails the job (re-run it; processed runs are skipped).
    """
    return df.localCheckpoint(eager=False)


def storage_memory(spark: SparkSession) -> int:
    """Bytes the block managers registered now (the executors', and the driver's) may hold for kept and cached
    blocks, together: Spark's ``getExecutorMemoryStatus``, the figure its UI shows as storage memory."""
    status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus()
    values = status.values().iterator()
    total = 0
    while values.hasNext():
        total += int(values.next()._1())
    return total


def small_frame(spark: SparkSession, rows: Sequence[Any], schema: Any) -> DataFrame:
    """Driver-side ``rows`` (a few: a job run, the runs processed) as a DataFrame of ``schema``, in one partition,
    or in none when there are no rows (e.g. a table that does not exist yet, read as empty).

    ``rows`` are tuples in the schema's column order, ``Row`` objects or dicts. They reach the JVM as one JSON text
    in the query (parsed there with ``schema``, failing on any value not of its type), not as a Python RDD:
    ``spark.createDataFrame`` of a local list makes one, and each of its tasks needs a Python worker (the first
    one started per process); a list also becomes ``spark.default.parallelism`` partitions, a task each per read.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    sc = spark.sparkContext
    if not rows:
        return spark.createDataFrame(sc.emptyRDD(), schema)
    struct = schema if isinstance(schema, T.StructType) else spark.createDataFrame(sc.emptyRDD(), schema).schema
    text = json.dumps([_as_json(row, struct) for row in rows], default=_json_value)
    parsed = F.from_json(F.lit(text), T.ArrayType(struct), {"mode": "FAILFAST"})
    return spark.range(1, numPartitions=1).select(F.explode(parsed).alias("row")).select("row.*")


def _as_json(value: Any, kind: Any) -> Any:
    """``value`` of Spark type ``kind`` as ``json`` writes it: a struct (tuple in field order, ``Row`` or dict) as an
    object, arrays and maps element by element."""
    from pyspark.sql import types as T

    if value is None:
        return None
    if isinstance(kind, T.StructType):
        names = kind.fieldNames()
        fields = (value.asDict() if isinstance(value, T.Row) else value if isinstance(value, Mapping)
                  else dict(zip(names, value, strict=True)))
        if unknown := set(fields) - set(names):
            raise ValueError(f"small_frame: fields {sorted(unknown)} are not in the schema ({', '.join(names)})")
        return {f.name: _as_json(fields.get(f.name), f.dataType) for f in kind.fields}
    if isinstance(kind, T.ArrayType):
        return [_as_json(v, kind.elementType) for v in value]
    if isinstance(kind, T.MapType):
        return {k: _as_json(v, kind.valueType) for k, v in value.items()}
    return value


def _json_value(value: Any) -> str:
    """How :func:`small_frame` writes dates and times: ISO 8601 (a naive time is read in the session's time zone)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"small_frame: {type(value).__name__} value {value!r} has no JSON form")


def release(df: DataFrame) -> None:
    """Drop what :func:`kept` or ``persist()`` keeps for ``df`` (nothing when it keeps nothing)."""
    df.unpersist()
    logical = df._jdf.queryExecution().analyzed()
    if logical.nodeName() == "LogicalRDD":
        logical.rdd().unpersist(False)


# Independent writes started at once by :func:`concurrently`. Their Spark jobs share the executors' task slots (so
# this does not multiply executor memory); what overlaps is the driver's own work per write (analysis, planning,
# code generation, the Delta log and catalog round trips), which is most of a small write's time.
MAX_CONCURRENT = 4

R = TypeVar("R")


def concurrently(calls: Mapping[str, Callable[[], R]], max_workers: int = MAX_CONCURRENT) -> dict[str, R]:
    """Run independent calls (e.g. MERGEs into different tables) at the same time; their results by name.

    Each call runs in a thread that inherits this thread's Spark local properties (job group and description:
    :func:`phase` keeps counting its work). Every call is waited for, failed or not, so nothing is still writing
    when this returns or raises; the first failure (in ``calls`` order) is then raised, the others logged.
    """
    from concurrent.futures import ThreadPoolExecutor

    from pyspark import inheritable_thread_target

    if len(calls) <= 1 or max_workers <= 1:
        return {name: call() for name, call in calls.items()}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(calls)), thread_name_prefix="musiclake") as pool:
        futures = {name: pool.submit(inheritable_thread_target(call)) for name, call in calls.items()}
    failed = [(name, exc) for name, f in futures.items() if (exc := f.exception()) is not None]
    for name, exc in failed[1:]:
        log.error("%s failed too: %s", name, exc)
    if failed:
        raise failed[0][1]
    return {name: f.result() for name, f in futures.items()}
