"""Assertions on the key resources and properties of the CloudFormation templates in deploy/cloudformation/."""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from iac_helpers import BOUNDARY_ARN, REPO, TEMPLATES, resources_of

from musiclake import landing, runtime
from musiclake.jobs.housekeeping import SAFE_RETENTION_HOURS, HousekeepingOptions
from musiclake.options import JobOptions
from musiclake.query import raw
from musiclake_deploy.tool import job_scripts

JOB_SCRIPTS = job_scripts(REPO)  # glue_jobs/v1/<job>.py, what `musiclake-deploy` uploads (no __init__.py)

# Allow statements whose Resource is "*": only actions that have no resource-level permissions, or key policies
# (where "*" means the key itself). (template, logical id, Sid) -> why it cannot be narrowed.
ALLOWED_STAR_RESOURCE = {
    ("storage", "DataKey", "AccountAdministersKeyThroughIam"): "key policy: '*' is this key; IAM decides who uses it",
    ("storage", "DataKey", "CloudWatchLogsEncryptsLogGroups"): "key policy: '*' is this key; scoped by log ARN",
    ("storage", "DataKey", "EventsAndAlarmsPublishToEncryptedTopics"): "key policy: '*' is this key; own account",
    ("storage", "DataKey", "CloudFormationAdministersAndUsesThisKey"): "key policy: '*' is this key; named actions",
    ("pipeline", "PipelineKey", "AccountAdministersKeyThroughIam"): "key policy: '*' is this key",
    ("pipeline", "PipelineKey", "CloudWatchLogsEncryptsLogGroups"): "key policy: '*' is this key; scoped by log ARN",
    ("extractor", "LambdaRole", "XRayTracesHaveNoResourceLevelPermissions"): "xray:PutTraceSegments has none",
    ("serving", "FunctionRole", "XRayTracesHaveNoResourceLevelPermissions"): "xray:PutTraceSegments has none",
    ("extractor", "TaskExecutionRole", "EcrAuthTokenHasNoResourceLevelPermissions"): "ecr:GetAuthorizationToken",
    ("pipeline", "BuildRole", "EcrAuthTokenHasNoResourceLevelPermissions"): "ecr:GetAuthorizationToken has none",
    ("glue", "JobRole", "GlueMetricsHaveNoResourceLevelPermissions"): "cloudwatch:PutMetricData (namespace Glue)",
    ("pipeline", "DeployRole", "ValidateTemplateHasNoResourceLevelPermissions"): "cloudformation:ValidateTemplate",
    ("pipeline", "CloudFormationExecutionRole", "GlueSecurityConfigurationsHaveNoResourceLevelPermissions"):
        "glue:*SecurityConfiguration have no resource-level permissions",
    ("pipeline", "CloudFormationExecutionRole", "ServiceActionsWithoutResourceLevelPermissions"):
        "ecs:CreateCluster, ecs:RegisterTaskDefinition and the Describe/List calls have none",
    ("pipeline", "CloudFormationExecutionRole", "CreateKeysHaveNoResourceLevelPermissions"):
        "kms:CreateKey (and tagging the key it creates) has none; only keys tagged project=<Project>",
    ("pipeline", "CloudFormationExecutionRole", "ListAliasesHasNoResourceLevelPermissions"): "kms:ListAliases",
    # A permissions boundary grants nothing; '*' only for the actions above, which have no resource-level permissions.
    ("pipeline", "PermissionsBoundary", "ActionsWithoutResourceLevelPermissions"):
        "the ceiling of the actions without resource-level permissions listed above",
}
# Allow statements with a whole-service action ("glue:*"): only CloudFormation's execution role, which must
# create, update and delete every resource type of the stage stacks, and the permissions boundary (a ceiling, which
# grants nothing); each is limited to the project's resources. Never kms:*, except the account's default key
# statement in key policies (the key delegating to IAM).
ALLOWED_SERVICE_WILDCARD = {
    ("storage", "DataKey", "AccountAdministersKeyThroughIam"): "the account's default key statement",
    ("pipeline", "PipelineKey", "AccountAdministersKeyThroughIam"): "the account's default key statement",
    **{("pipeline", "CloudFormationExecutionRole", sid): "CloudFormation manages the stage stacks' resources"
       for sid in ("StageBuckets", "StageGlue", "StageLambda", "StageQueuesTopicsRules",
                   "StageLogsAlarmsDashboards", "StageAthena", "StageEcs")},
    ("pipeline", "PermissionsBoundary", "ProjectResources"): "a ceiling on the project's resources; grants nothing",
}


def _policy_documents(name: str, template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(template, logical id, policy document) of every identity and resource policy of a template."""
    docs = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []):
            docs.append((name, logical_id, policy["PolicyDocument"]))
        for key in ("PolicyDocument", "KeyPolicy", "RepositoryPolicyText"):
            if isinstance(props.get(key), dict):
                docs.append((name, logical_id, props[key]))
    return docs


def _statements(templates: dict[str, dict[str, Any]]):
    for name, template in templates.items():
        for tname, logical_id, doc in _policy_documents(name, template):
            for statement in doc["Statement"]:
                yield tname, logical_id, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub_text(value: Any) -> str:
    """The text of a plain string or of an Fn::Sub (either form)."""
    if isinstance(value, str):
        return value
    sub = value.get("Fn::Sub") if isinstance(value, dict) else None
    if isinstance(sub, list):
        return sub[0]
    return sub if isinstance(sub, str) else json.dumps(value)


def _required_job_arguments(script: Path) -> set[str]:
    """Fields without a default of the options dataclass the entry script runs with (the required Glue arguments)."""
    module = importlib.import_module(f"glue_jobs.v1.{script.stem}")
    options = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, JobOptions) and v is not JobOptions]
    assert len(options) == 1, f"{script}: expected one JobOptions class, found {options}"
    return {f"--{f.name}" for f in dataclasses.fields(options[0])
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


def _glue_jobs_by_script(glue: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    by_script = {}
    for logical_id, job in resources_of(glue, "AWS::Glue::Job").items():
        location = _sub_text(job["Properties"]["Command"]["ScriptLocation"])
        match = re.search(r"/glue_jobs/v1/(\w+)\.py$", location)
        assert match, f"{logical_id}: ScriptLocation {location} is not a glue_jobs/v1 script"
        by_script[match.group(1)] = (logical_id, job["Properties"])
    return by_script


# ---- Glue ----------------------------------------------------------------------------------------------------

def test_one_glue_job_per_versioned_script(templates):
    scripts = {p.stem for p in JOB_SCRIPTS}
    assert scripts, "glue_jobs/v1 has no scripts"
    assert set(_glue_jobs_by_script(templates["glue"])) == scripts


@pytest.mark.parametrize("script", [p.stem for p in JOB_SCRIPTS])
def test_glue_job_runs_glue_51_with_delta_catalog_wheel_metrics_and_logs(templates, script):
    logical_id, job = _glue_jobs_by_script(templates["glue"])[script]
    args = job["DefaultArguments"]
    assert job["GlueVersion"] == "5.1"
    assert job["Command"]["Name"] == "glueetl"
    assert job["Role"] == {"Fn::GetAtt": ["JobRole", "Arn"]}
    assert args["--datalake-formats"] == "delta"
    assert args["--enable-glue-datacatalog"] == "true"
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in args["--conf"]
    assert "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog" in args["--conf"]
    wheel = _sub_text(args["--additional-python-modules"])
    assert wheel.startswith("s3://${Artifacts}/${ReleasePrefix}/dist/")
    assert wheel.endswith("musiclake-${MusiclakeVersion}-py3-none-any.whl")
    assert _sub_text(job["Command"]["ScriptLocation"]).startswith("s3://${Artifacts}/${ReleasePrefix}/glue_jobs/v1/")
    assert args["--enable-metrics"] == "true"
    assert args["--enable-continuous-cloudwatch-log"] == "true"
    assert args["--job-bookmark-option"] == "job-bookmark-disable"  # bookmarks do not cover Delta tables
    assert args["--musiclake_runtime"] == "glue"
    assert job["SecurityConfiguration"] == {"Ref": "SecurityConfiguration"}
    assert set(job) >= {"WorkerType", "NumberOfWorkers", "Timeout"}
    assert all(isinstance(job[k], dict) and "Ref" in job[k] for k in ("WorkerType", "NumberOfWorkers")), \
        "worker type and count are parameters"


@pytest.mark.parametrize("script", JOB_SCRIPTS, ids=lambda p: p.stem)
def test_glue_job_passes_every_required_job_argument(templates, script):
    _, job = _glue_jobs_by_script(templates["glue"])[script.stem]
    required = _required_job_arguments(script) - {"--job_name"}  # Glue passes --JOB_NAME itself
    assert required and required <= set(job["DefaultArguments"])


def test_housekeeping_runs_weekly_on_its_own_trigger_with_its_retentions_as_job_arguments(templates):
    glue = templates["glue"]
    logical_id, job = _glue_jobs_by_script(glue)["housekeeping"]
    args, params = job["DefaultArguments"], glue["Parameters"]
    assert args["--vacuum_retention_hours"] == {"Ref": "VacuumRetentionHours"}
    assert args["--quarantine_retention_days"] == {"Ref": "QuarantineRetentionDays"}
    assert "--allow_short_retention" not in args  # never on AWS: other jobs and readers share the lake
    defaults = {f.name: f.default for f in dataclasses.fields(HousekeepingOptions)}
    assert params["VacuumRetentionHours"]["MinValue"] == SAFE_RETENTION_HOURS == defaults["vacuum_retention_hours"]
    assert params["VacuumRetentionHours"]["Default"] == SAFE_RETENTION_HOURS
    assert params["QuarantineRetentionDays"]["Default"] == defaults["quarantine_retention_days"]
    assert params["QuarantineRetentionDays"]["MinValue"] == 1
    (trigger,) = [t["Properties"] for t in resources_of(glue, "AWS::Glue::Trigger").values()
                  if {"JobName": {"Ref": logical_id}} in t["Properties"]["Actions"]]
    assert (trigger["Type"], trigger["StartOnCreation"]) == ("SCHEDULED", True)
    assert trigger["Schedule"] == {"Ref": "HousekeepingSchedule"} and "WorkflowName" not in trigger
    schedule = params["HousekeepingSchedule"]["Default"]
    assert re.fullmatch(r"cron\(\d+ \d+ \? \* (MON|TUE|WED|THU|FRI|SAT|SUN) \*\)", schedule), "weekly"
    assert schedule != params["TrainSchedule"]["Default"]  # an OPTIMIZE and a concurrent write can conflict
    # VACUUM and the quarantine DELETE remove objects under lake/ only, with the role every job runs with
    deletes = [_sub_text(r) for s in _role_statements(glue["Resources"]["JobRole"])
               if "s3:DeleteObject" in _as_list(s["Action"]) for r in _as_list(s["Resource"])]
    assert [r for r in deletes if "${Lake}" in r] == ["arn:${AWS::Partition}:s3:::${Lake}/lake/*"]


def test_musiclake_runtime_argument_selects_the_glue_runtime():
    assert runtime.is_glue(["job.py", "--JOB_NAME", "j", "--musiclake_runtime", "glue"], environ={})


# Glue (Hive) column type of each Arrow type in the schema of `musiclake query`'s local raw table.
_GLUE_TYPE_OF_ARROW = {pa.string(): "string", pa.int32(): "int", pa.int64(): "bigint"}
_LANDING_IMPORT = {"Fn::ImportValue": {"Fn::Sub": "${Project}-${Stage}-LandingBucket"}}


def _raw_table(glue: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the declared Glue table named like the local raw table."""
    tables = {t["Properties"]["TableInput"]["Name"]: (k, t["Properties"])
              for k, t in resources_of(glue, "AWS::Glue::Table").items()}
    assert raw.TABLE in tables, f"glue.yaml declares no Glue table {raw.TABLE!r} (it declares {sorted(tables)})"
    return tables[raw.TABLE]


def test_raw_table_on_aws_has_the_local_raw_tables_name_and_columns(templates):
    """The same SQL (e.g. json_extract_scalar(body, '$.name') FROM raw) runs locally and on Athena."""
    _, table = _raw_table(templates["glue"])
    table_input = table["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]
    partition_keys = [(c["Name"], c["Type"]) for c in table_input["PartitionKeys"]]
    unmapped = [f for f in raw.SCHEMA if f.type not in _GLUE_TYPE_OF_ARROW]
    assert not unmapped, f"map these Arrow types of raw.SCHEMA to Glue types: {unmapped}"
    local = [(f.name, _GLUE_TYPE_OF_ARROW[f.type]) for f in raw.SCHEMA]
    assert columns + partition_keys == local
    assert [name for name, _ in columns] == list(raw.ENVELOPE_COLUMNS)
    assert partition_keys == [(name, "string") for name in raw.PARTITIONS]
    assert dict(columns)["body"] == "string"  # JSON text, as locally; a crawler would have inferred a struct


def test_raw_table_reads_the_landing_zones_gzip_json_lines_with_the_openx_serde(templates):
    glue = templates["glue"]
    _, table = _raw_table(glue)
    table_input = table["TableInput"]
    descriptor = table_input["StorageDescriptor"]
    assert table["DatabaseName"] == {"Ref": "Database"}
    assert table_input["TableType"] == "EXTERNAL_TABLE"
    assert table_input["Parameters"]["classification"] == "json"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"  # decompresses .gz itself
    assert descriptor["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    serde = descriptor["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"  # nested body -> JSON text
    assert serde["Parameters"]["ignore.malformed.json"] == "false"  # a malformed line is an error, not NULLs
    assert descriptor["Location"] == {"Fn::Sub": ["s3://${Landing}/raw/", {"Landing": _LANDING_IMPORT}]}
    # the landing root the jobs that curate read
    for script in ("raw_to_curated", "raw_to_interactions"):
        _, job = _glue_jobs_by_script(glue)[script]
        assert job["DefaultArguments"]["--raw_path"] == {"Fn::Sub": ["s3://${Landing}/raw",
                                                                     {"Landing": _LANDING_IMPORT}]}


def test_partition_folders_are_the_table_partition_keys_and_hold_no_manifests_or_checkpoints(templates):
    _, table = _raw_table(templates["glue"])
    keys = [c["Name"] for c in table["TableInput"]["PartitionKeys"]]
    root = "s3://landing/raw"
    run_id = landing.new_run_id("spotify")
    folder = landing.run_folder(root, "spotify", "tracks", "2026-11-26", run_id)
    assert [segment.split("=")[0] for segment in folder[len(root) + 1:].split("/")] == keys
    # not data: outside every source=/entity=/ingest_date=/run_id= folder, so in no partition Athena reads
    for uri in (landing.manifest_uri(root, "spotify", run_id), landing.checkpoint_uri(root, "spotify", "tracks")):
        assert not uri[len(root) + 1:].startswith("source="), uri


def test_crawler_only_adds_partitions_to_the_declared_raw_table(templates):
    glue = templates["glue"]
    table_id, _ = _raw_table(glue)
    (crawler,) = resources_of(glue, "AWS::Glue::Crawler").values()
    props = crawler["Properties"]
    assert set(props["Targets"]) == {"CatalogTargets"}, "an S3 target would let the crawler infer its own table"
    (target,) = props["Targets"]["CatalogTargets"]
    assert target == {"DatabaseName": {"Ref": "Database"}, "Tables": [raw.TABLE]}
    assert table_id in _as_list(crawler.get("DependsOn", [])), "a catalog target must exist before the crawler"
    assert props["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    configuration = json.loads(props["Configuration"])
    assert configuration["CrawlerOutput"]["Partitions"]["AddOrUpdateBehavior"] == "InheritFromTable"
    assert props["RecrawlPolicy"]["RecrawlBehavior"] == "CRAWL_EVERYTHING"  # new-folders-only is for S3 targets
    assert props["CrawlerSecurityConfiguration"] == {"Ref": "SecurityConfiguration"}


def test_crawler_role_reaches_only_the_raw_table_and_creates_no_table(templates):
    role = templates["glue"]["Resources"]["CrawlerRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    catalog = [s for s in statements if any(a.startswith("glue:") for a in _as_list(s["Action"]))]
    actions = {a for s in catalog for a in _as_list(s["Action"])}
    assert not actions & {"glue:CreateTable", "glue:DeleteTable", "glue:CreateDatabase"}
    tables = [_sub_text(r) for s in catalog for r in _as_list(s["Resource"]) if ":table/" in _sub_text(r)]
    table_arn = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${DatabaseName}/" + raw.TABLE
    assert tables == [table_arn]


def test_the_etl_workflow_runs_both_etl_steps_in_one_job_run_and_training_on_a_schedule(templates):
    glue = templates["glue"]
    triggers = {k: r["Properties"] for k, r in resources_of(glue, "AWS::Glue::Trigger").items()}
    actions = {k: [a["JobName"]["Ref"] for a in t["Actions"]] for k, t in triggers.items()}
    start = next(k for k, t in triggers.items() if t["Type"] == "EVENT")
    assert actions[start] == ["RawToInteractionsJob"]  # raw_to_curated, then build_interactions, one session
    assert _glue_jobs_by_script(glue)["raw_to_interactions"][0] == "RawToInteractionsJob"
    assert not [k for k, t in triggers.items() if t["Type"] == "CONDITIONAL"], "no second job to chain"
    scheduled = next(k for k, t in triggers.items() if t["Type"] == "SCHEDULED")
    assert actions[scheduled] == ["TrainAlsJob"] and triggers[scheduled]["Schedule"] == {"Ref": "TrainSchedule"}
    # The EVENT trigger fires when the extractor writes a manifest (a complete landing run).
    (rule,) = [r for r in resources_of(glue, "AWS::Events::Rule").values()]
    assert rule["Properties"]["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "raw/_manifests/"}]
    assert rule["Properties"]["Targets"][0]["RoleArn"] == {"Fn::GetAtt": ["EtlEventRole", "Arn"]}


# ---- storage -------------------------------------------------------------------------------------------------

def _bucket_policies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
            for p in resources_of(template, "AWS::S3::BucketPolicy").values()}


@pytest.mark.parametrize("name", ["storage", "pipeline"])
def test_every_bucket_is_encrypted_versioned_private_and_tls_only(templates, name):
    template = templates[name]
    buckets = resources_of(template, "AWS::S3::Bucket")
    policies = _bucket_policies(template)
    assert buckets
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256"), logical_id
        assert props["VersioningConfiguration"]["Status"] == "Enabled", logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, logical_id
        assert props["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
        assert props.get("LifecycleConfiguration"), logical_id
        deny = [s for s in policies[logical_id]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Principal"] == "*"
                   and s["Action"] == "s3:*" and len(_as_list(s["Resource"])) == 2 for s in deny), logical_id


def test_data_buckets_use_the_stage_kms_key_and_log_access(templates):
    buckets = resources_of(templates["storage"], "AWS::S3::Bucket")
    for logical_id in ("LandingBucket", "LakeBucket", "AthenaResultsBucket", "ArtifactsBucket"):
        props = buckets[logical_id]["Properties"]
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}


def test_old_raw_data_is_tiered_and_the_landing_bucket_notifies_eventbridge(templates):
    landing = templates["storage"]["Resources"]["LandingBucket"]["Properties"]
    rules = {r["Id"]: r for r in landing["LifecycleConfiguration"]["Rules"]}
    tiering = rules["raw-data-tiering"]
    assert tiering["Prefix"] == "raw/"
    assert [t["StorageClass"] for t in tiering["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert landing["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert templates["storage"]["Resources"]["LandingBucket"]["DeletionPolicy"] == "Retain"


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_limit(templates):
    (wg,) = resources_of(templates["monitoring"], "AWS::Athena::WorkGroup").values()
    config = wg["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert "AthenaResultsBucket" in json.dumps(config["ResultConfiguration"]["OutputLocation"])


# ---- IAM -----------------------------------------------------------------------------------------------------

def test_no_iam_statement_allows_every_action(templates):
    for name, logical_id, statement in _statements(templates):
        if statement["Effect"] != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            assert action != "*", (name, logical_id, statement.get("Sid"))
            if action.endswith(":*"):
                key = (name, logical_id, statement.get("Sid"))
                assert key in ALLOWED_SERVICE_WILDCARD, f"{key}: {action} - narrow it or document why not"


def test_resource_star_only_where_aws_offers_no_resource_level_permissions(templates):
    for name, logical_id, statement in _statements(templates):
        if statement["Effect"] == "Allow" and "*" in _as_list(statement.get("Resource", [])):
            key = (name, logical_id, statement.get("Sid"))
            assert key in ALLOWED_STAR_RESOURCE, f"{key}: Resource '*' - narrow it or document why not"


def test_documented_iam_exceptions_still_exist(templates):
    present = {(n, lid, s.get("Sid")) for n, lid, s in _statements(templates)}
    assert set(ALLOWED_STAR_RESOURCE) <= present
    assert set(ALLOWED_SERVICE_WILDCARD) <= present


def test_one_role_per_component_assumed_only_by_its_service(templates):
    expected = {
        "extractor": {"LambdaRole": "lambda.amazonaws.com", "TaskExecutionRole": "ecs-tasks.amazonaws.com",
                      "TaskRole": "ecs-tasks.amazonaws.com"},
        "glue": {"JobRole": "glue.amazonaws.com", "CrawlerRole": "glue.amazonaws.com",
                 "EtlEventRole": "events.amazonaws.com"},
        "serving": {"FunctionRole": "lambda.amazonaws.com"},
        "pipeline": {"PipelineRole": "codepipeline.amazonaws.com", "BuildRole": "codebuild.amazonaws.com",
                     "DeployRole": "codebuild.amazonaws.com", "IntegrationRole": "codebuild.amazonaws.com",
                     "CloudFormationExecutionRole": "cloudformation.amazonaws.com"},
    }
    for name, roles in expected.items():
        found = resources_of(templates[name], "AWS::IAM::Role")
        assert set(found) == set(roles), name
        for logical_id, service in roles.items():
            statements = found[logical_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            assert [s["Principal"] for s in statements] == [{"Service": service}], logical_id
            assert "ManagedPolicyArns" not in found[logical_id]["Properties"], "inline least-privilege policies"


# ---- least privilege: the permissions boundary, KMS ----------------------------------------------------------------

_DATA_KEY = {"Fn::ImportValue": {"Fn::Sub": "${Project}-${Stage}-DataKeyArn"}}
_EXEC_ROLE = "CloudFormationExecutionRole"
# The actions whose iam:PermissionsBoundary condition key is the boundary the created or changed role carries.
_ROLE_WRITES = {"iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy", "iam:DetachRolePolicy"}
_BOUNDARY_EDITS = {"iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:DeletePolicy",
                   "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"}


def _boundary_statements(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    boundary = templates["pipeline"]["Resources"]["PermissionsBoundary"]
    assert boundary["Type"] == "AWS::IAM::ManagedPolicy"
    return {s["Sid"]: s for s in boundary["Properties"]["PolicyDocument"]["Statement"]}


def _role_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _identity_statements(templates: dict[str, dict[str, Any]]):
    """(template, logical id, statement) of the roles' inline policies and the managed policies: not key, bucket,
    queue or repository policies, where the resource is the policy's own."""
    for name, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                for statement in _role_statements(resource):
                    yield name, logical_id, statement
            elif resource["Type"] == "AWS::IAM::ManagedPolicy":
                for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                    yield name, logical_id, statement


def test_every_role_of_every_stack_carries_the_permissions_boundary(templates):
    roles = {name: resources_of(template, "AWS::IAM::Role") for name, template in templates.items()}
    assert all(roles[name] for name in ("extractor", "glue", "serving", "pipeline"))
    for name, by_id in roles.items():
        expected = {"Ref": "PermissionsBoundary"} if name == "pipeline" else {"Fn::Sub": BOUNDARY_ARN}
        for logical_id, role in by_id.items():
            assert role["Properties"].get("PermissionsBoundary") == expected, f"{name}.{logical_id}: no boundary"
    name = templates["pipeline"]["Resources"]["PermissionsBoundary"]["Properties"]["ManagedPolicyName"]
    assert BOUNDARY_ARN.endswith(f":policy/{name['Fn::Sub']}"), "the stage stacks name the policy pipeline.yaml creates"


def test_the_boundary_admits_every_action_a_role_is_granted(templates):
    """A boundary missing an action would silently deny it: every granted action is under the ceiling."""
    ceiling = [a.lower() for s in _boundary_statements(templates).values() if s["Effect"] == "Allow"
               for a in _as_list(s["Action"])]
    for name, template in templates.items():
        for logical_id, role in resources_of(template, "AWS::IAM::Role").items():
            for statement in _role_statements(role):
                for action in _as_list(statement["Action"]) if statement["Effect"] == "Allow" else []:
                    assert any(fnmatch.fnmatchcase(action.lower(), c) for c in ceiling), (name, logical_id, action)


def test_the_boundary_refuses_roles_without_it_and_any_change_to_itself(templates):
    statements = _boundary_statements(templates)
    without = statements["RolesOnlyWithThisBoundary"]
    assert without["Effect"] == "Deny" and set(without["Action"]) == _ROLE_WRITES and without["Resource"] == "*"
    assert without["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": {"Fn::Sub": BOUNDARY_ARN}}}
    kept = statements["BoundaryStaysAndIsReadOnly"]
    assert kept["Effect"] == "Deny" and set(kept["Action"]) >= _BOUNDARY_EDITS and kept["Resource"] == "*"
    # IAM within the ceiling: the project's roles (and the ECS service-linked role), nothing else
    for statement in statements.values():
        iam = [a for a in _as_list(statement["Action"]) if a.startswith("iam:")]
        if iam and statement["Effect"] == "Allow":
            resources = [_sub_text(r) for r in _as_list(statement["Resource"])]
            assert all(re.search(r":role/(\$\{Project\}-\*|aws-service-role/ecs\.amazonaws\.com/\*)$", r)
                       for r in resources), (statement["Sid"], resources)
            assert not set(iam) & (_BOUNDARY_EDITS | {"iam:AttachRolePolicy", "iam:CreatePolicy", "iam:CreateUser"})


def test_the_execution_role_creates_and_changes_roles_only_with_the_boundary(templates):
    role = templates["pipeline"]["Resources"][_EXEC_ROLE]
    statements = _role_statements(role)
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    granted = {a for s in allowed for a in _as_list(s["Action"])}
    assert {"iam:CreateRole", "iam:PutRolePolicy"} <= granted
    assert not any(a.startswith("iam:") and a.endswith("*") for a in granted)
    assert not granted & (_BOUNDARY_EDITS | {"iam:AttachRolePolicy", "iam:CreatePolicy", "iam:CreateUser"})
    for statement in allowed:
        if set(_as_list(statement["Action"])) & _ROLE_WRITES:
            assert statement["Condition"] == {
                "StringEquals": {"iam:PermissionsBoundary": {"Ref": "PermissionsBoundary"}}}, statement["Sid"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert set(deny["Action"]) >= _BOUNDARY_EDITS and {"Ref": "PermissionsBoundary"} in deny["Resource"]


def test_no_identity_policy_grants_kms_star_or_key_actions_on_every_key(templates):
    on_every_key = {("pipeline", _EXEC_ROLE, "CreateKeysHaveNoResourceLevelPermissions"),
                    ("pipeline", _EXEC_ROLE, "ListAliasesHasNoResourceLevelPermissions"),
                    ("pipeline", "PermissionsBoundary", "ActionsWithoutResourceLevelPermissions")}
    seen = set()
    for name, logical_id, statement in _identity_statements(templates):
        kms = [a for a in _as_list(statement["Action"]) if a.lower().startswith("kms:")]
        if statement["Effect"] != "Allow" or not kms:
            continue
        assert not [a for a in kms if "*" in a], f"{name}.{logical_id} {statement.get('Sid')}: name the KMS actions"
        if "*" in _as_list(statement["Resource"]):
            key = (name, logical_id, statement.get("Sid"))
            assert key in on_every_key, f"{key}: KMS on Resource '*'"
            assert set(kms) <= {"kms:CreateKey", "kms:TagResource", "kms:ListAliases"}, key
            seen.add(key)
    assert seen == on_every_key
    (create,) = [s for s in _role_statements(templates["pipeline"]["Resources"][_EXEC_ROLE])
                 if s.get("Sid") == "CreateKeysHaveNoResourceLevelPermissions"]
    assert create["Condition"] == {"StringEquals": {"aws:RequestTag/project": {"Ref": "Project"}}}


def test_stage_roles_use_only_the_stage_data_key_named_by_its_import(templates):
    for name in ("extractor", "glue", "serving"):
        for logical_id, role in resources_of(templates[name], "AWS::IAM::Role").items():
            for statement in _role_statements(role):
                kms = [a for a in _as_list(statement["Action"]) if a.startswith("kms:")]
                if kms:
                    assert statement["Resource"] == _DATA_KEY, (name, logical_id)
                    assert set(kms) <= {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}


def test_the_execution_role_gets_key_rights_from_the_data_key_policy_only(templates):
    """Its own policy has no action on keys; the stage key's policy names it with the actions it needs."""
    exec_role = templates["pipeline"]["Resources"][_EXEC_ROLE]
    for statement in _role_statements(exec_role):
        assert not any(":key/" in _sub_text(r) for r in _as_list(statement["Resource"])), statement["Sid"]
    key = templates["storage"]["Resources"]["DataKey"]["Properties"]
    (grant,) = [s for s in key["KeyPolicy"]["Statement"] if s["Sid"] == "CloudFormationAdministersAndUsesThisKey"]
    role_name = exec_role["Properties"]["RoleName"]["Fn::Sub"]
    assert grant["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + role_name}}
    assert not [a for a in grant["Action"] if "*" in a] and "kms:PutKeyPolicy" in grant["Action"]
    # CreateKeysHaveNoResourceLevelPermissions requires the tag project=<Project>: the stack's tags, which
    # CloudFormation gives the key (musiclake-deploy tags every stack; test_deploy_cli checks it)
    assert "Tags" not in key or {"Key": "project", "Value": {"Ref": "Project"}} in key["Tags"]


# ---- the raw zone is write-once ------------------------------------------------------------------------------------

def test_the_landing_bucket_refuses_puts_of_data_files_and_manifests_without_if_none_match(templates):
    policy = _bucket_policies(templates["storage"])["LandingBucket"]
    (deny,) = [s for s in policy["Statement"] if s.get("Sid") == "RawZoneIsWriteOnce"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:PutObject")
    assert deny["Condition"] == {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
    patterns = [_sub_text(r).removeprefix("${LandingBucket.Arn}/") for r in deny["Resource"]]
    run_id = landing.new_run_id("mpd")
    written_once = [landing.run_folder("raw", "mpd", "playlists", "2026-11-26", run_id) + "/part-00000.jsonl.gz",
                    landing.manifest_uri("raw", "spotify", run_id)]
    for key in written_once:
        assert any(fnmatch.fnmatchcase(key, p) for p in patterns), key
    checkpoint = landing.checkpoint_uri("raw", "mpd", "import")  # the extractor's resume state is rewritten
    assert not any(fnmatch.fnmatchcase(checkpoint, p) for p in patterns)
    assert any(s.get("Sid") == "DenyInsecureTransport" for s in policy["Statement"])  # the TLS rule stays
    # the stage's writers may still write there: the condition, not a missing permission, is what refuses overwrites
    for role in ("LambdaRole", "TaskRole"):
        writes = [s for s in _role_statements(templates["extractor"]["Resources"][role]) if s["Sid"] == "WriteRawZone"]
        assert writes and "s3:PutObject" in writes[0]["Action"]


# ---- extractor -----------------------------------------------------------------------------------------------

def test_extractor_lambda_is_the_image_with_limits_dlq_failure_destination_and_schedule(templates):
    extractor = templates["extractor"]
    (fn,) = resources_of(extractor, "AWS::Lambda::Function").values()
    props = fn["Properties"]
    assert props["PackageType"] == "Image" and props["Code"] == {"ImageUri": {"Ref": "ExtractorImageUri"}}
    assert props["Timeout"] == {"Ref": "LambdaTimeoutSeconds"} and props["MemorySize"] == {"Ref": "LambdaMemoryMb"}
    assert props["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    (invoke,) = resources_of(extractor, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailureQueue", "Arn"]}
    (rule,) = resources_of(extractor, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert props["Environment"]["Variables"]["SPOTIFY_SECRET_ID"] == {"Ref": "SpotifySecretArn"}


def test_secrets_come_from_secrets_manager_only(templates):
    extractor = templates["extractor"]
    (task,) = resources_of(extractor, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert {s["Name"] for s in container["Secrets"]} == {
        "SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN"}
    assert all("${SpotifySecretArn}:" in _sub_text(s["ValueFrom"]) for s in container["Secrets"])
    assert not any("SECRET" in e["Name"] or "TOKEN" in e["Name"] for e in container.get("Environment", []))
    for name, template in templates.items():
        for pname, param in template.get("Parameters", {}).items():
            if re.search(r"secret|token|password", pname, re.I):
                assert pname.endswith("Arn") and "Default" not in param, f"{name}.{pname}: pass an ARN, never a value"


def test_ecs_task_is_fargate_with_the_same_image_read_only_and_non_root(templates):
    (task,) = resources_of(templates["extractor"], "AWS::ECS::TaskDefinition").values()
    props = task["Properties"]
    (container,) = props["ContainerDefinitions"]
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert container["Image"] == {"Ref": "ExtractorImageUri"}
    assert container["ReadonlyRootFilesystem"] is True and container["User"] == "10001"
    assert resources_of(templates["extractor"], "AWS::ECS::Cluster")


def test_ecr_repositories_of_both_images_scan_on_push_with_immutable_tags(templates):
    repos = resources_of(templates["pipeline"], "AWS::ECR::Repository")
    assert {r["Properties"]["RepositoryName"]["Fn::Sub"] for r in repos.values()} == {
        "${Project}/extractor", "${Project}/serving"}
    for repo in repos.values():
        assert repo["Properties"]["ImageScanningConfiguration"]["ScanOnPush"] is True
        assert repo["Properties"]["ImageTagMutability"] == "IMMUTABLE"
        assert repo["Properties"]["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    build = templates["pipeline"]["Resources"]["BuildRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (push,) = [s for s in build["Statement"] if "ecr:PutImage" in s["Action"]]
    assert push["Resource"] == [{"Fn::GetAtt": [k, "Arn"]} for k in ("ExtractorRepository", "ServingRepository")]


# ---- monitoring ----------------------------------------------------------------------------------------------

def test_alarms_cover_glue_failures_lambda_errors_throttles_and_ecs_failures(templates):
    monitoring = templates["monitoring"]
    alarms = [a["Properties"] for a in resources_of(monitoring, "AWS::CloudWatch::Alarm").values()]
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert {("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/Events", "MatchedEvents")} <= metrics
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    rules = {k: r["Properties"]["EventPattern"] for k, r in resources_of(monitoring, "AWS::Events::Rule").items()}
    assert rules["GlueJobFailedRule"]["detail"]["state"] == ["FAILED", "TIMEOUT", "ERROR"]
    dims = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms if a["Namespace"] == "AWS/Events"}
    serving = {a["MetricName"]: a for a in alarms
               if a["Dimensions"][0]["Value"] == {"Fn::Sub": "${Project}-${Stage}-serving"}}
    assert set(serving) == {"Url5xxCount", "UrlRequestLatency", "Errors", "Throttles"}
    assert serving["UrlRequestLatency"]["ExtendedStatistic"] == "p99"
    assert serving["UrlRequestLatency"]["Threshold"] == {"Ref": "ServingLatencyP99Ms"}
    assert serving["Url5xxCount"]["Statistic"] == "Sum"
    assert serving["Url5xxCount"]["Threshold"] == {"Ref": "ServingServerErrorsThreshold"}
    assert dims == {"GlueJobFailedRule", "EcsTaskFailedRule"}
    (dashboard,) = resources_of(monitoring, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"][0]
    assert len(json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]) >= 4


# The ECS failure rule, evaluated on task events: a small EventBridge pattern matcher (exact values, prefix,
# anything-but, exists, $or; arrays match when any element does), enough for the patterns of monitoring.yaml.
_CONTEXT = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012",
            "Project": "musiclake", "Stage": "dev"}


def _resolved(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: _CONTEXT[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def _value_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return value == matcher
    (kind, arg), = matcher.items()
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if kind == "anything-but":
        return value not in _as_list(arg)
    raise AssertionError(f"matcher {kind} not supported by this test's evaluator")


def _matches(pattern: dict[str, Any], event: Any) -> bool:
    if isinstance(event, list):
        return any(_matches(pattern, item) for item in event)
    for key, expected in pattern.items():
        if key == "$or":
            if not any(_matches(branch, event) for branch in expected):
                return False
            continue
        present = isinstance(event, dict) and key in event
        if isinstance(expected, dict):
            if not present or not _matches(expected, event[key]):
                return False
            continue
        exists = [m["exists"] for m in expected if isinstance(m, dict) and "exists" in m]
        if exists:
            if present != exists[0]:
                return False
            continue
        if not present:
            return False
        values = event[key] if isinstance(event[key], list) else [event[key]]
        if not any(_value_matches(m, v) for m in expected for v in values):
            return False
    return True


def _task_stopped(exit_code: int | None, stop_code: str = "EssentialContainerExited",
                  cluster: str = "musiclake-dev-extractor", status: str = "STOPPED") -> dict[str, Any]:
    container: dict[str, Any] = {"name": "extractor", "lastStatus": status}
    if exit_code is not None:
        container["exitCode"] = exit_code
    return {"source": "aws.ecs", "detail-type": "ECS Task State Change", "account": "123456789012",
            "detail": {"clusterArn": f"arn:aws:ecs:eu-west-1:123456789012:cluster/{cluster}", "lastStatus": status,
                       "stopCode": stop_code, "containers": [container]}}


@pytest.mark.parametrize(("event", "alarms"), [
    (_task_stopped(0), False),                                 # done
    (_task_stopped(3), False),                                 # stopped with a checkpoint: the next run resumes
    (_task_stopped(1), True),                                  # an error
    (_task_stopped(2), True),                                  # refused input, rejected MPD slices
    (_task_stopped(137, "EssentialContainerExited"), True),    # killed (out of memory)
    (_task_stopped(None, "TaskFailedToStart"), True),          # image pull or secret injection failed
    (_task_stopped(1, cluster="musiclake-prod-extractor"), False),  # another stage's cluster
    (_task_stopped(1, status="RUNNING"), False),
], ids=["exit0", "exit3-resumable", "exit1", "exit2", "exit137", "failed-to-start", "other-stage", "running"])
def test_ecs_failure_rule_matches_failures_but_not_done_or_resumable_stops(templates, event, alarms):
    rule = templates["monitoring"]["Resources"]["EcsTaskFailedRule"]["Properties"]
    assert _matches(_resolved(rule["EventPattern"]), event) is alarms


def test_the_evaluator_knows_eventbridge_array_semantics():
    assert _matches({"detail": {"containers": {"exitCode": [{"anything-but": [0, 3]}]}}},
                    {"detail": {"containers": [{"exitCode": 0}, {"exitCode": 1}]}})  # any container
    assert not _matches({"detail": {"containers": {"exitCode": [{"anything-but": [0, 3]}]}}},
                        {"detail": {"containers": [{"name": "x"}]}})  # anything-but needs the field


# ---- pipeline and parameterisation ---------------------------------------------------------------------------

def test_pipeline_stages_source_build_dev_integration_approval_prod(templates):
    (pipeline,) = resources_of(templates["pipeline"], "AWS::CodePipeline::Pipeline").values()
    stages = pipeline["Properties"]["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "Build", "DeployDev", "IntegrationDev", "Approve", "DeployProd"]
    approval = stages[4]["Actions"][0]["ActionTypeId"]
    assert (approval["Category"], approval["Provider"]) == ("Approval", "Manual")
    projects = resources_of(templates["pipeline"], "AWS::CodeBuild::Project")
    for project in projects.values():
        assert (REPO / project["Properties"]["Source"]["BuildSpec"]).is_file()
    assert projects["BuildProject"]["Properties"]["Environment"]["PrivilegedMode"] is True


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.yaml")), ids=lambda p: p.name)
def test_nothing_account_or_region_specific_is_hard_coded(path):
    text = path.read_text()
    assert not re.search(r"(?<![\d\[{])\d{12}(?!\d)", text), "account ids come from AWS::AccountId or parameters"
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-(east|west|north|south|central|northeast|southeast)-\d\b", text)
    assert "arn:aws:" not in text, "use arn:${AWS::Partition}:"


@pytest.mark.parametrize("name", ["storage", "extractor", "glue", "serving", "monitoring"])
def test_stage_stacks_take_project_and_stage_parameters(templates, name):
    params = templates[name]["Parameters"]
    assert "Stage" in params and "Default" not in params["Stage"]
    assert params["Project"]["Default"] == "musiclake"


def test_the_scheduled_event_passes_the_lambdas_allow_list_and_where_comes_from_the_environment(templates):
    from musiclake_extract.lambda_handler import event_to_argv

    extractor = templates["extractor"]
    (fn,) = resources_of(extractor, "AWS::Lambda::Function").values()
    variables = fn["Properties"]["Environment"]["Variables"]
    (rule,) = resources_of(extractor, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    options = extractor["Parameters"]["ScheduleOptionsJson"]["Default"]
    event = json.loads(target["Input"]["Fn::Sub"].replace("${ScheduleOptionsJson}", options))

    assert set(event) == {"command", "me"}  # what to extract only: no landing, endpoint or secret in the event
    assert _sub_text(variables["MUSICLAKE_LANDING"]) == "s3://${Landing}/raw"
    argv = event_to_argv(event, {"MUSICLAKE_LANDING": "s3://landing-bucket/raw", "SPOTIFY_SECRET_ID": "arn:secret"})
    assert argv[:1] == ["api"] and "--me" in argv
    assert argv[argv.index("--landing") + 1] == "s3://landing-bucket/raw"
