"""``musiclake-deploy``: the plan, the errors that say what to do, and change-set deployment.

The storage stack is deployed for real against moto's CloudFormation (on the session's moto server) and the
release is uploaded to the bucket it created. moto's change sets do not produce stack outputs/exports, so the
stacks that import them (extractor, glue, monitoring) are exercised through a recording CloudFormation fake.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from iac_helpers import REPO, TEMPLATES

from musiclake_deploy import __version__, cli, tool

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/musiclake/extractor:0.1.0-abc"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:musiclake/spotify-AbCdEf"
SERVING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/musiclake/serving:0.1.0-abc"


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    """A copy of what a deploy needs (templates, job scripts) plus a stand-in wheel in dist/."""
    shutil.copytree(TEMPLATES, tmp_path / "deploy" / "cloudformation")
    shutil.copytree(REPO / "glue_jobs" / "v1", tmp_path / "glue_jobs" / "v1")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / f"musiclake-{__version__}-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return tmp_path


def _no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the plan must not call AWS")

    monkeypatch.setattr(boto3.session, "Session", refuse)


def test_plan_lists_stacks_parameters_resources_and_the_release_without_calling_aws(checkout, monkeypatch, capsys):
    _no_aws(monkeypatch)
    rc = cli.main(["deploy", "--stage", "dev", "--plan", "--templates-dir", str(checkout / "deploy/cloudformation"),
                   "--release", "0.1.0-test", "--image-uri", IMAGE, "--spotify-secret-arn", SECRET,
                   "--serving-image-uri", SERVING_IMAGE, "--param", "glue.TrainNumberOfWorkers=8"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "plan only: nothing is deployed" in out
    order = [out.index(f"stack musiclake-dev-{s}") for s in ("storage", "extractor", "glue", "serving", "monitoring")]
    assert order == sorted(order)
    assert out.index("upload release 0.1.0-test") < order[2]  # the jobs' scripts are there before the jobs
    assert "releases/0.1.0-test/dist/musiclake-0.1.0-py3-none-any.whl" in out
    assert "releases/0.1.0-test/glue_jobs/v1/raw_to_curated.py" in out
    assert "5 AWS::Glue::Job" in out and "3 AWS::Glue::Trigger" in out
    assert "5 AWS::S3::Bucket" in out and "1 AWS::Lambda::Function" in out
    assert "DatabaseName=musiclake_dev" in out and "TrainNumberOfWorkers=8" in out
    assert "ExtractorRepositoryArn=arn:aws:ecr:us-east-1:123456789012:repository/musiclake/extractor" in out
    assert f"ServingImageUri={SERVING_IMAGE}" in out and "1 AWS::Lambda::Url" in out


def test_plan_without_an_image_skips_the_extractor_and_says_how_to_get_one(checkout, monkeypatch, capsys):
    _no_aws(monkeypatch)
    for var in ("IMAGE_URI", "SPOTIFY_SECRET_ARN", "SERVING_IMAGE_URI"):
        monkeypatch.delenv(var, raising=False)
    rc = cli.main(["deploy", "--stage", "prod", "--dry-run", "--templates-dir",
                   str(checkout / "deploy/cloudformation")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "stack musiclake-prod-extractor" in out and "SKIPPED: needs --image-uri" in out
    assert "docker build -f docker/extractor/Dockerfile" in out and "--spotify-secret-arn" in out
    assert "stack musiclake-prod-serving" in out and "SKIPPED: needs --serving-image-uri" in out
    assert "docker build -f docker/serving/Dockerfile" in out


def test_plan_of_the_pipeline_stack(checkout, monkeypatch, capsys):
    _no_aws(monkeypatch)
    rc = cli.main(["deploy", "--pipeline", "--plan", "--templates-dir",
                   str(checkout / "deploy/cloudformation"), "--param", "pipeline.RepositoryId=me/musiclake"])
    out = capsys.readouterr().out
    assert rc == 0 and "stack musiclake-pipeline" in out and "1 AWS::CodePipeline::Pipeline" in out
    assert "RepositoryId=me/musiclake" in out


def test_deploy_is_the_default_subcommand(checkout, monkeypatch, capsys):
    _no_aws(monkeypatch)
    rc = cli.main(["--stage", "dev", "--plan", "--templates-dir", str(checkout / "deploy/cloudformation"),
                   "--release", "0.1.0-test"])
    out = capsys.readouterr().out
    assert rc == 0 and "musiclake-deploy plan (plan only" in out and "stack musiclake-dev-storage" in out


def test_the_release_is_the_checkouts_version_and_job_scripts(checkout, monkeypatch, capsys):
    _no_aws(monkeypatch)
    (checkout / "lib" / "musiclake").mkdir(parents=True)
    (checkout / "lib" / "musiclake" / "VERSION").write_text("9.9.9\n")
    (checkout / "glue_jobs" / "v1" / "__init__.py").write_text("")
    rc = cli.main(["--stage", "dev", "--plan", "--templates-dir", str(checkout / "deploy/cloudformation"),
                   "--release", "9.9.9-test"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "note: " in out and "musiclake-9.9.9-py3-none-any.whl not found: build it with `make wheel`" in out
    assert "releases/9.9.9-test/dist/musiclake-9.9.9-py3-none-any.whl" in out and "MusiclakeVersion=9.9.9" in out
    assert "glue_jobs/v1/train_als.py" in out and "__init__.py" not in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--param", "glue.Bad"], "expected STACK.Name=value"),
    (["--param", "nosuch.X=1"], "unknown stack"),
    (["--only", "storage,nosuch"], "stacks are storage, extractor, glue, serving, monitoring"),
    (["--stage", "Dev-1"], "use 2-8 lower-case letters or digits"),
    (["--image-uri", "docker.io/library/python:3", "--spotify-secret-arn", SECRET], "is not an ECR image URI"),
    (["--serving-image-uri", "musiclake-serving:latest"], "--serving-image-uri 'musiclake-serving:latest' is not"),
])
def test_bad_options_exit_2_with_what_to_do(checkout, monkeypatch, capsys, argv, message):
    _no_aws(monkeypatch)
    rc = cli.main(["deploy", "--stage", "dev", "--plan", "--templates-dir", str(checkout / "deploy/cloudformation"),
                   *argv])
    assert rc == 2 and message in capsys.readouterr().err


def test_deploy_without_the_wheel_says_to_run_make_wheel(checkout, monkeypatch, capsys):
    _no_aws(monkeypatch)
    (checkout / "dist" / f"musiclake-{__version__}-py3-none-any.whl").unlink()
    rc = cli.main(["deploy", "--stage", "dev", "--yes", "--templates-dir", str(checkout / "deploy/cloudformation")])
    assert rc == 2 and "make wheel" in capsys.readouterr().err


def test_deploy_without_reachable_aws_says_to_configure_credentials_or_plan(checkout, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    rc = cli.main(["deploy", "--stage", "dev", "--yes", "--region", "us-east-1",
                   "--templates-dir", str(checkout / "deploy/cloudformation")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach AWS" in err and "--plan" in err


# ---- against moto's CloudFormation -------------------------------------------------------------------------------

@pytest.fixture()
def moto_aws(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every AWS service of boto3 pointed at the session's moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_server


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")  # moto models no bucket policies
def test_storage_stack_deploys_through_a_change_set_and_the_release_uploads(checkout, moto_aws, capsys):
    project = "mlk" + dt.datetime.now().strftime("%H%M%S%f")[-8:]
    rc = cli.main(["deploy", "--stage", "dev", "--project", project, "--yes", "--only", "storage",
                   "--templates-dir", str(checkout / "deploy/cloudformation"), "--release", "0.1.0-moto"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"{project}-dev-storage: change set" in out and "+ Add    AWS::S3::Bucket" in out
    cfn = boto3.client("cloudformation")
    (stack,) = cfn.describe_stacks(StackName=f"{project}-dev-storage")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "CAPABILITY_NAMED_IAM" in stack.get("Capabilities", ["CAPABILITY_NAMED_IAM"])
    s3 = boto3.client("s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    account = boto3.client("sts").get_caller_identity()["Account"]
    for kind in ("landing", "lake", "athena-results", "artifacts", "access-logs"):
        assert f"{project}-dev-{kind}-{account}-us-east-1" in buckets

    session = boto3.session.Session()
    deployer = tool.Deployer(session, None, confirm=lambda _q: True, out=lambda _line: None)
    bucket = deployer.physical_id(f"{project}-dev-storage", "ArtifactsBucket")
    release = tool.find_release(checkout, __version__, "0.1.0-moto")
    deployer.upload(release, bucket)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"releases/0.1.0-moto/dist/musiclake-0.1.0-py3-none-any.whl",
                    "releases/0.1.0-moto/glue_jobs/v1/build_interactions.py",
                    "releases/0.1.0-moto/glue_jobs/v1/housekeeping.py",
                    "releases/0.1.0-moto/glue_jobs/v1/raw_to_curated.py",
                    "releases/0.1.0-moto/glue_jobs/v1/raw_to_interactions.py",
                    "releases/0.1.0-moto/glue_jobs/v1/train_als.py"}

    rc = cli.main(["deploy", "--stage", "dev", "--project", project, "--yes", "--only", "storage",
                   "--templates-dir", str(checkout / "deploy/cloudformation"), "--release", "0.1.0-moto"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "(UPDATE)" in out or "no changes" in out  # the second run updates the existing stack


def test_glue_stack_before_the_storage_stack_says_to_deploy_storage_first(checkout, moto_aws, capsys):
    project = "mlk" + dt.datetime.now().strftime("%H%M%S%f")[-8:]
    rc = cli.main(["deploy", "--stage", "dev", "--project", project, "--yes", "--only", "glue",
                   "--templates-dir", str(checkout / "deploy/cloudformation")])
    err = capsys.readouterr().err
    assert rc == 2 and f"stack {project}-dev-storage does not exist yet" in err and "--only storage" in err


# ---- the whole stage through a recording CloudFormation fake -------------------------------------------------------

class _FakeCfn:
    """Just enough CloudFormation: stacks appear when their change set is executed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stacks: dict[str, str] = {}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if StackName not in self.stacks:
            raise ClientError({"Error": {"Code": "ValidationError",
                                         "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.stacks[StackName], "Outputs": []}]}

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("create_change_set", kwargs))
        return {"Id": kwargs["ChangeSetName"]}

    def describe_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:  # noqa: N803
        return {"Status": "CREATE_COMPLETE", "Changes": [{"ResourceChange": {
            "Action": "Add", "ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "Something"}}]}

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> None:  # noqa: N803
        self.calls.append(("execute_change_set", {"StackName": StackName}))
        self.stacks[StackName] = "CREATE_COMPLETE"

    def delete_change_set(self, StackName: str, ChangeSetName: str) -> None:  # noqa: N803
        self.calls.append(("delete_change_set", {"StackName": StackName}))

    def get_paginator(self, _name: str) -> Any:
        return SimpleNamespace(paginate=lambda StackName: [{"StackResourceSummaries": [  # noqa: N803
            {"LogicalResourceId": "ArtifactsBucket", "PhysicalResourceId": "artifacts-bucket"}]}])


class _FakeSession:
    region_name = "us-east-1"

    def __init__(self) -> None:
        self.cfn = _FakeCfn()
        self.uploads: list[tuple[str, str]] = []
        self.s3 = SimpleNamespace(upload_file=lambda local, bucket, key: self.uploads.append((bucket, key)))

    def client(self, name: str) -> Any:
        return {"cloudformation": self.cfn, "s3": self.s3}[name]


def _stage_args(checkout: Path, **extra: Any) -> Any:
    parser = cli.build_parser()
    args = parser.parse_args(["deploy", "--stage", "dev", "--templates-dir", str(checkout / "deploy/cloudformation"),
                              "--release", "0.1.0-fake", "--image-uri", IMAGE, "--spotify-secret-arn", SECRET,
                              "--serving-image-uri", SERVING_IMAGE])
    for key, value in extra.items():
        setattr(args, key, value)
    return args


def test_whole_stage_deploys_in_order_with_role_capabilities_and_the_release(checkout, monkeypatch, capsys):
    session = _FakeSession()
    monkeypatch.setattr(tool, "_session", lambda _args: (session, "123456789012"))
    args = _stage_args(checkout, yes=True, role_arn="arn:aws:iam::123456789012:role/musiclake-cloudformation-exec")
    assert tool.run(args) == 0
    created = [kw for name, kw in session.cfn.calls if name == "create_change_set"]
    assert [c["StackName"] for c in created] == [f"musiclake-dev-{s}" for s in tool.STAGE_STACKS]
    assert all(c["ChangeSetType"] == "CREATE" and c["Capabilities"] == ["CAPABILITY_NAMED_IAM"] for c in created)
    assert all(c["RoleARN"].endswith("role/musiclake-cloudformation-exec") for c in created)
    # the execution role creates only KMS keys tagged project=<Project>: the stack tags give the storage key that tag
    assert all({"Key": "project", "Value": "musiclake"} in c["Tags"] for c in created)
    glue = {p["ParameterKey"]: p["ParameterValue"] for p in created[2]["Parameters"]}
    assert glue == {"Project": "musiclake", "Stage": "dev", "DatabaseName": "musiclake_dev",
                    "MusiclakeVersion": __version__, "ReleasePrefix": "releases/0.1.0-fake"}
    serving = {p["ParameterKey"]: p["ParameterValue"] for p in created[3]["Parameters"]}
    assert serving == {"Project": "musiclake", "Stage": "dev", "ServingImageUri": SERVING_IMAGE}
    assert ("artifacts-bucket", "releases/0.1.0-fake/glue_jobs/v1/train_als.py") in session.uploads
    out = capsys.readouterr().out
    assert out.index("account 123456789012") < out.index("change set")  # the plan comes first
    assert "+ Add    AWS::S3::Bucket" in out


def test_declining_a_change_set_deletes_it_and_stops(checkout, monkeypatch, capsys):
    session = _FakeSession()
    monkeypatch.setattr(tool, "_session", lambda _args: (session, "123456789012"))
    monkeypatch.setattr(tool, "_confirm_interactively", lambda _q: False)
    assert tool.run(_stage_args(checkout, yes=False)) == 1
    assert [name for name, _ in session.cfn.calls] == ["create_change_set", "delete_change_set"]
    assert "not executed" in capsys.readouterr().out


def test_without_a_terminal_the_deploy_asks_for_yes(checkout, monkeypatch, capsys):
    session = _FakeSession()
    monkeypatch.setattr(tool, "_session", lambda _args: (session, "123456789012"))
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    assert tool.run(_stage_args(checkout, yes=False)) == 2
    assert "pass --yes" in capsys.readouterr().err


def test_a_rolled_back_stack_must_be_deleted_first(checkout, monkeypatch, capsys):
    session = _FakeSession()
    session.cfn.stacks["musiclake-dev-storage"] = "ROLLBACK_COMPLETE"
    monkeypatch.setattr(tool, "_session", lambda _args: (session, "123456789012"))
    assert tool.run(_stage_args(checkout, yes=True)) == 2
    assert "aws cloudformation delete-stack --stack-name musiclake-dev-storage" in capsys.readouterr().err


# ---- integration run helpers ---------------------------------------------------------------------------------------

class _FakeGlue:
    def __init__(self, runs: list[dict[str, Any]], states: list[str]) -> None:
        self.runs, self.states, self.started = runs, states, []

    def get_workflow_runs(self, Name: str, MaxResults: int) -> dict[str, Any]:  # noqa: N803
        return {"Runs": self.runs}

    def start_job_run(self, JobName: str, Arguments: dict[str, str]) -> dict[str, str]:  # noqa: N803
        self.started.append((JobName, Arguments))
        return {"JobRunId": "jr_1"}

    def get_job_run(self, JobName: str, RunId: str) -> dict[str, Any]:  # noqa: N803
        return {"JobRun": {"JobRunState": self.states.pop(0)}}


def test_integration_run_waits_for_the_new_etl_run_then_trains(monkeypatch, capsys):
    now = dt.datetime.now(dt.UTC)
    glue = _FakeGlue([{"WorkflowRunId": "old", "StartedOn": now - dt.timedelta(hours=2), "Status": "COMPLETED"},
                      {"WorkflowRunId": "new", "StartedOn": now, "Status": "COMPLETED",
                       "Statistics": {"SucceededActions": 2, "FailedActions": 0}}],
                     ["RUNNING", "SUCCEEDED"])
    monkeypatch.setattr(tool, "_session", lambda _a: (SimpleNamespace(client=lambda _n: glue), "123456789012"))
    monkeypatch.setattr(tool.time, "sleep", lambda _s: None)
    args = cli.build_parser().parse_args(["integration-run", "--stage", "dev", "--since",
                                          str(now.timestamp() - 60), "--train-arg=--top_k=50"])
    assert args.handler(args) == 0
    assert glue.started == [("musiclake-dev-train_als", {"--top_k": "50"})]
    assert "run new: COMPLETED" in capsys.readouterr().out


def test_integration_run_fails_when_the_etl_workflow_had_a_failed_job(monkeypatch, capsys):
    now = dt.datetime.now(dt.UTC)
    glue = _FakeGlue([{"WorkflowRunId": "new", "StartedOn": now, "Status": "COMPLETED",
                       "Statistics": {"SucceededActions": 0, "FailedActions": 1}}], [])
    monkeypatch.setattr(tool, "_session", lambda _a: (SimpleNamespace(client=lambda _n: glue), "123456789012"))
    args = cli.build_parser().parse_args(["integration-run", "--stage", "dev", "--since", str(now.timestamp() - 60)])
    assert args.handler(args) == 1 and not glue.started
    assert "the ETL workflow failed" in capsys.readouterr().err
