"""Runtime decisions that need no JVM: Glue detection, Java 17 lookup, jar cache errors, S3 settings, job logging."""

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from musiclake import java17, runtime
from musiclake.options import JobOptions


def test_glue_detection_from_flag_env_and_glue_arguments():
    assert runtime.is_glue(["job.py", "--musiclake_runtime", "glue"], environ={})
    assert runtime.is_glue(["job.py", "--JOB_RUN_ID", "jr_1"], environ={})
    assert not runtime.is_glue(["job.py", "--JOB_NAME", "x"], environ={})
    assert not runtime.is_glue(["job.py", "--JOB_RUN_ID", "jr_1"], environ={"MUSICLAKE_RUNTIME": "local"})
    assert runtime.is_glue(["job.py"], environ={"MUSICLAKE_RUNTIME": "glue"})


def test_missing_jars_error_tells_what_to_run(tmp_path: Path):
    config = runtime.LocalConfig(home=tmp_path, jars_dir=tmp_path / "jars")
    with pytest.raises(runtime.RuntimeSetupError, match="make jars") as excinfo:
        runtime.required_jars(config)
    assert "delta-spark_2.12-3.3.2.jar" in str(excinfo.value)


def test_java17_is_chosen_over_a_newer_default(tmp_path: Path):
    newer = tmp_path / "jdk25"
    newer.mkdir()
    (newer / "release").write_text('JAVA_VERSION="25.0.1"\n')
    found = java17.find_java17({"JAVA_HOME": str(newer)})
    assert java17.java_major(found) == "17"


def test_s3a_settings_map_s3_scheme_to_s3a():
    conf = runtime.s3a_conf("http://127.0.0.1:5000")
    assert conf["fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert conf["fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert conf["fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["fs.s3a.path.style.access"] == "true"


def test_local_config_from_env(tmp_path: Path):
    config = runtime.LocalConfig.from_env({"MUSICLAKE_HOME": str(tmp_path), "MUSICLAKE_SPARK_MASTER": "local[1]",
                                           "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"})
    assert config.home == tmp_path.resolve()
    assert config.master == "local[1]"
    assert config.s3_endpoint == "http://127.0.0.1:9"
    assert config.checkpoint_dir == tmp_path.resolve() / "checkpoints"
    assert config.extra_conf == {} and "-XX" not in config.driver_java_options


def test_extra_spark_conf_and_java_options_from_env(tmp_path: Path):
    config = runtime.LocalConfig.from_env({
        "MUSICLAKE_HOME": str(tmp_path),
        "MUSICLAKE_SPARK_CONF": "spark.sql.codegen.wholeStage=false  spark.driver.extraClassPath=/a=b",
        "MUSICLAKE_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1",
    })
    assert config.extra_conf == {"spark.sql.codegen.wholeStage": "false", "spark.driver.extraClassPath": "/a=b"}
    assert config.driver_java_options.endswith(" -XX:TieredStopAtLevel=1")
    assert "-Dderby.system.home=" in config.driver_java_options  # added to, not replaced
    with pytest.raises(runtime.RuntimeSetupError, match="key=value"):
        runtime.LocalConfig.from_env({"MUSICLAKE_HOME": str(tmp_path), "MUSICLAKE_SPARK_CONF": "wholeStage"})


def _logging_state() -> list[tuple]:
    """Levels, handlers and propagation of the loggers a job's logging set-up touches (the libraries' own
    handlers aside: py4j adds one when first imported)."""
    ours = [logging.getLogger(n) for n in ("", "musiclake")]
    libraries = [logging.getLogger(n) for n in ("py4j", "botocore", "urllib3", "s3transfer")]
    return [(lg.name, lg.level, list(lg.handlers), lg.propagate) for lg in ours] + [
        (lg.name, lg.level) for lg in libraries]


def test_a_job_run_in_process_leaves_logging_as_it_was_even_when_it_fails(monkeypatch, capsys):
    """``run_job`` logs the job's figures to stderr through the ``musiclake`` logger only, and puts every logger
    back afterwards: the root logger is never touched."""

    @dataclass(frozen=True)
    class Opts(JobOptions):
        lake_path: str

    @contextmanager
    def no_spark(options, argv):
        yield None

    def job(spark, opts: Opts) -> None:
        logging.getLogger("musiclake.test").info("job figures for %s", opts.lake_path)
        raise RuntimeError("the job failed")

    monkeypatch.setattr(runtime, "job_session", no_spark)
    before = _logging_state()
    with pytest.raises(RuntimeError, match="the job failed"):
        runtime.run_job(Opts, job, ["job.py", "--JOB_NAME", "j", "--lake_path", "/lake"])
    assert _logging_state() == before
    assert capsys.readouterr().err.count("INFO musiclake.test: job figures for /lake") == 1


def test_job_logging_nested_adds_no_second_handler(capsys):
    with runtime.job_logging(), runtime.job_logging():
        logging.getLogger("musiclake.test").info("once")
    assert capsys.readouterr().err.count("INFO musiclake.test: once") == 1
