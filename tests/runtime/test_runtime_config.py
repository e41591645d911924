"""Runtime decisions that need no JVM: Glue detection, Java 17 lookup, jar cache errors, S3 settings."""

from pathlib import Path

import pytest

from musiclake import java17, runtime


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
