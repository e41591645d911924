"""Typed job options parsed with AWS's own getResolvedOptions (AWSGlueDataplanePython)."""

from dataclasses import dataclass

import pytest

from musiclake.options import JobOptions, OptionsError


@dataclass(frozen=True)
class ExampleOptions(JobOptions):
    lake_path: str
    top_k: int = 500
    tune: bool = False
    alpha: float | None = None
    playlists: list[str] | None = None


def test_required_and_defaults():
    opts = ExampleOptions.from_argv(["job.py", "--JOB_NAME", "demo", "--lake_path", "s3://b/lake"])
    assert opts == ExampleOptions(job_name="demo", lake_path="s3://b/lake")


def test_optional_arguments_are_typed():
    argv = ["job.py", "--JOB_NAME", "j", "--lake_path", "/l", "--top_k", "20", "--tune", "TRUE",
            "--alpha", "2.5", "--playlists", "a, b,c"]
    opts = ExampleOptions.from_argv(argv)
    assert (opts.top_k, opts.tune, opts.alpha, opts.playlists) == (20, True, 2.5, ["a", "b", "c"])


def test_arguments_glue_adds_itself_are_ignored():
    argv = ["job.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--job-bookmark-option", "job-bookmark-disable",
            "--TempDir", "s3://tmp/", "--JOB_NAME", "j", "--lake_path", "/l", "--enable-metrics", "true"]
    assert ExampleOptions.from_argv(argv).lake_path == "/l"


def test_missing_required_argument_names_it():
    with pytest.raises(OptionsError, match="--lake_path") as excinfo:
        ExampleOptions.from_argv(["job.py", "--JOB_NAME", "j"])
    assert excinfo.value.code == 2


def test_missing_job_name_names_it():
    with pytest.raises(OptionsError, match="--JOB_NAME"):
        ExampleOptions.from_argv(["job.py", "--lake_path", "/l"])


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--top_k", "ten", "--top_k: expected an integer"), ("--tune", "maybe", "--tune: expected true or false"),
     ("--alpha", "x", "--alpha: expected a number")],
)
def test_malformed_argument_names_it(flag, value, expected):
    with pytest.raises(OptionsError, match=expected):
        ExampleOptions.from_argv(["job.py", "--JOB_NAME", "j", "--lake_path", "/l", flag, value])


def test_argument_without_value_is_an_error():
    with pytest.raises(OptionsError, match="--lake_path"):
        ExampleOptions.from_argv(["job.py", "--JOB_NAME", "j", "--lake_path"])


def test_optional_none_value():
    opts = ExampleOptions.from_argv(["job.py", "--JOB_NAME", "j", "--lake_path", "/l", "--alpha", "none"])
    assert opts.alpha is None


def test_error_message_is_written_to_stderr(capsys):
    with pytest.raises(OptionsError):
        ExampleOptions.from_argv(["job.py", "--JOB_NAME", "j"])
    assert "missing required job argument(s): --lake_path" in capsys.readouterr().err
