"""Assertions on the serving stack (deploy/cloudformation/serving.yaml) and its image (docker/serving/Dockerfile).

The API is a container-image Lambda function behind a function URL with IAM auth; it reads the model and three
tables from the lake bucket and may write nothing; its role carries the project's permissions boundary; its alarms
(5xx answers, p99 latency, errors, throttles) are in the monitoring stack with the others; the pipeline builds and
pushes its image and ``musiclake-deploy`` deploys it.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
from iac_helpers import BOUNDARY_ARN, REPO, TEMPLATES, resources_of

from musiclake.serve import lambda_app, layout
from musiclake_deploy import tool
from musiclake_deploy.tool import load_template

DOCKERFILE = REPO / "docker" / "serving" / "Dockerfile"
DATA_KEY = {"Fn::ImportValue": {"Fn::Sub": "${Project}-${Stage}-DataKeyArn"}}
# What the read path opens under the lake root: the model folders, the training input, the two name tables.
SERVED_PREFIXES = {"/".join(layout.MODELS_DIR), "interactions", layout.TRACKS, layout.PLAYLISTS}


@pytest.fixture(scope="module")
def serving() -> dict[str, Any]:
    return load_template(TEMPLATES / "serving.yaml")


def _only(template: dict[str, Any], rtype: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of(template, rtype).items()
    return item[0], item[1]["Properties"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub_text(value: Any) -> str:
    sub = value.get("Fn::Sub") if isinstance(value, dict) else value
    return sub[0] if isinstance(sub, list) else sub


def _statements(serving: dict[str, Any]) -> list[dict[str, Any]]:
    _, role = _only(serving, "AWS::IAM::Role")
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_the_api_is_the_serving_image_as_a_lambda_function(serving):
    _, function = _only(serving, "AWS::Lambda::Function")
    assert function["PackageType"] == "Image" and function["Code"] == {"ImageUri": {"Ref": "ServingImageUri"}}
    assert function["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    assert function["MemorySize"] == {"Ref": "MemoryMb"} and function["Timeout"] == {"Ref": "TimeoutSeconds"}
    assert function["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    assert function["TracingConfig"] == {"Mode": "Active"} and function["KmsKeyArn"] == DATA_KEY
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "LogGroup"}}


def test_the_function_reads_the_lake_the_glue_jobs_write(serving):
    _, function = _only(serving, "AWS::Lambda::Function")
    variables = function["Environment"]["Variables"]
    assert set(variables) >= {lambda_app.LAKE_PATH_VARIABLE, lambda_app.CHECK_VARIABLE}
    lake = variables[lambda_app.LAKE_PATH_VARIABLE]["Fn::Sub"]
    assert lake[0] == "s3://${Lake}/${LakePrefix}"
    assert lake[1]["Lake"] == {"Fn::ImportValue": {"Fn::Sub": "${Project}-${Stage}-LakeBucket"}}
    assert serving["Parameters"]["LakePrefix"]["Default"] == "lake"  # glue.yaml: --lake_path s3://<lake>/lake
    glue = load_template(TEMPLATES / "glue.yaml")
    assert "s3://${Lake}/lake" in json.dumps(glue["Resources"])


def test_the_function_url_requires_iam_auth_and_no_policy_opens_it(serving):
    _, url = _only(serving, "AWS::Lambda::Url")
    assert url["AuthType"] == "AWS_IAM" and url["TargetFunctionArn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    permissions = [r["Properties"] for r in resources_of(serving, "AWS::Lambda::Permission").values()]
    assert permissions, "cross-account callers need the function's policy"
    for permission in permissions:
        assert permission["Principal"] == {"Ref": "InvokerPrincipal"}  # never "*"
        assert permission.get("FunctionUrlAuthType") == "AWS_IAM" or permission.get("InvokedViaFunctionUrl") is True
    assert all(r.get("Condition") == "HasInvoker" for r in resources_of(serving, "AWS::Lambda::Permission").values())


def test_the_role_is_assumed_by_lambda_only_with_inline_policies_under_the_boundary(serving):
    _, role = _only(serving, "AWS::IAM::Role")
    assert [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "lambda.amazonaws.com"}]
    assert "ManagedPolicyArns" not in role
    assert role["PermissionsBoundary"] == {"Fn::Sub": BOUNDARY_ARN}


def test_the_lake_is_read_only_and_only_where_the_read_path_reads(serving):
    statements = _statements(serving)
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    assert {a for s in s3 for a in _as_list(s["Action"])} == {"s3:GetObject", "s3:ListBucket"}
    (get,) = [s for s in s3 if s["Action"] == "s3:GetObject"]
    objects = {re.sub(r"^arn:\$\{AWS::Partition\}:s3:::\$\{Lake\}/\$\{LakePrefix\}/", "", _sub_text(r))
               for r in _as_list(get["Resource"])}
    assert objects == {f"{prefix}/*" for prefix in SERVED_PREFIXES}
    (listing,) = [s for s in s3 if s["Action"] == "s3:ListBucket"]
    prefixes = {_sub_text(p).removeprefix("${LakePrefix}/") for p in listing["Condition"]["StringLike"]["s3:prefix"]}
    assert prefixes == {f"{prefix}/*" for prefix in SERVED_PREFIXES}
    kms = [s for s in statements if any(a.startswith("kms:") for a in _as_list(s["Action"]))]
    assert [(s["Action"], s["Resource"]) for s in kms] == [("kms:Decrypt", DATA_KEY)]


def test_resource_star_only_for_xray(serving):
    star = [s for s in _statements(serving) if "*" in _as_list(s["Resource"])]
    assert [(s["Sid"], sorted(_as_list(s["Action"]))) for s in star] == [
        ("XRayTracesHaveNoResourceLevelPermissions", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"])]


def test_alarms_on_5xx_p99_latency_errors_and_throttles_are_in_the_monitoring_stack(serving):
    assert not resources_of(serving, "AWS::CloudWatch::Alarm"), "one place for alarms: monitoring.yaml"
    _, function = _only(serving, "AWS::Lambda::Function")
    monitoring = load_template(TEMPLATES / "monitoring.yaml")
    alarms = [a["Properties"] for a in resources_of(monitoring, "AWS::CloudWatch::Alarm").values()
              if a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": function["FunctionName"]}]]
    by_metric = {a["MetricName"]: a for a in alarms}
    assert set(by_metric) == {"Url5xxCount", "UrlRequestLatency", "Errors", "Throttles"}
    assert by_metric["UrlRequestLatency"]["ExtendedStatistic"] == "p99"
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["TreatMissingData"] == "notBreaching"


def test_the_pipeline_builds_pushes_and_deploys_the_serving_image():
    pipeline = load_template(TEMPLATES / "pipeline.yaml")
    repository = pipeline["Resources"]["ServingRepository"]["Properties"]
    assert repository["RepositoryName"] == {"Fn::Sub": "${Project}/serving"}
    build = pipeline["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]
    assert {"Name": "SERVING_REPOSITORY_URI", "Value": {"Fn::GetAtt": ["ServingRepository", "RepositoryUri"]}} in build
    deploys = [a for stage in pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]
               for a in stage["Actions"] if stage["Name"].startswith("Deploy")]
    assert len(deploys) == 2
    assert all("#{Build.SERVING_IMAGE_URI}" in a["Configuration"]["EnvironmentVariables"]["Fn::Sub"] for a in deploys)
    buildspec = (REPO / "buildspec.yml").read_text()
    assert "docker build -f docker/serving/Dockerfile" in buildspec
    assert 'docker push "${SERVING_IMAGE_URI}"' in buildspec
    assert tool.STAGE_STACKS.index("storage") < tool.STAGE_STACKS.index("serving") < tool.STAGE_STACKS.index(
        "monitoring")


def test_the_log_group_is_encrypted_and_expires(serving):
    _, logs = _only(serving, "AWS::Logs::LogGroup")
    assert logs["KmsKeyId"] == DATA_KEY and logs["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert logs["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${Project}-${Stage}-serving"}


def _instructions() -> list[str]:
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def test_the_image_installs_only_the_serve_extra_and_runs_the_lambda_handler_as_non_root():
    instructions = _instructions()
    requirements = [word for i in instructions if i.startswith("RUN ") and re.search(r"pip (wheel|install)", i)
                    for word in shlex.split(i.replace("&&", " && ")) if "musiclake" in word or word.startswith(".")]
    assert requirements and all(re.search(r"\[serve\]", r) for r in requirements), requirements
    sources = [word for i in instructions if i.startswith("COPY ") and "--from=" not in i
               for word in i.split()[1:-1] if not word.startswith("--")]
    assert not [s for s in sources if s.split("/")[0] in ("sim", "deploy", "tests", "bench")], sources
    assert 'CMD ["musiclake.serve.lambda_app.handler"]' in instructions
    assert 'ENTRYPOINT ["python", "-m", "awslambdaric"]' in instructions
    assert [i for i in instructions if i.startswith("USER ")] == ["USER 10001"]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+$", "\n".join(instructions), re.M)
