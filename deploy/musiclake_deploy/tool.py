"""``musiclake-deploy`` and ``musiclake-deploy integration-run``: the CloudFormation stacks of one stage, with boto3.

``musiclake-deploy --stage dev`` deploys, in order, the stacks in ``deploy/cloudformation/``: ``storage`` (KMS key,
buckets), the release upload (the wheel from ``make wheel`` and ``glue_jobs/v1/*.py`` to
``s3://<artifacts>/releases/<release>/``), ``extractor`` (Lambda + ECS, needs an image), ``glue`` (database, jobs,
crawler, workflows), ``serving`` (the recommendations API as a Lambda function behind an IAM-authenticated function
URL, needs an image) and ``monitoring`` (Athena workgroup, alarms, dashboard). It first prints the plan (stacks,
parameters, resources by type read from the templates), then for each stack creates a CloudFormation change set,
prints its changes and asks before executing it (``--yes`` skips the question; ``--plan`` prints the plan and
stops without touching AWS). ``--pipeline`` deploys ``pipeline.yaml`` (CodePipeline) instead; it also holds the
permissions boundary every role of the stage stacks carries, so it is deployed first, once, by an administrator.

``musiclake-deploy integration-run --stage dev`` waits for the ETL workflow run started by newly landed data and
then runs ``train_als`` once; it exits non-zero when a job fails (the pipeline's integration stage).

The release is the checkout's: its version is ``lib/musiclake/VERSION`` next to the templates (the same version
this package was built with when the file is absent), its wheel ``dist/musiclake-<version>-py3-none-any.whl``.
This module does not import ``musiclake``: the deploy tool and the Glue wheel are separate distributions.
The argument parser is in :mod:`musiclake_deploy.cli`.

Environment (read at the edge, in the parser): ``IMAGE_URI``, ``EXTRACTOR_REPOSITORY_ARN``, ``SERVING_IMAGE_URI``,
``SPOTIFY_SECRET_ARN``,
``CFN_EXECUTION_ROLE_ARN``, ``RELEASE_ID``, ``ALARM_EMAIL`` are the defaults of the matching options (CodeBuild sets
them); the AWS account and region come from the usual boto3 configuration.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musiclake_deploy import __version__

TEMPLATES_DIR = Path("deploy") / "cloudformation"
# Deployment order: every stack imports the storage stack's exports; monitoring comes last and alarms on all of them.
STAGE_STACKS: tuple[str, ...] = ("storage", "extractor", "glue", "serving", "monitoring")
PIPELINE_STACK = "pipeline"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
MAX_TEMPLATE_BODY = 51_200  # bytes CloudFormation accepts inline
_IMAGE_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repo>[a-z0-9._/-]+)(?::[\w.-]+|@sha256:[a-f0-9]{64})$")


class DeployError(Exception):
    """A problem the user can fix; the message says how."""


# ---- templates ------------------------------------------------------------------------------------------------

def _cfn_tag(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


def load_template(path: str | Path) -> dict[str, Any]:
    """A CloudFormation YAML template as plain data (short-form tags expanded to ``Ref`` / ``Fn::*``)."""
    import yaml  # PyYAML: a dependency of musiclake-deploy (imported here so `--help` starts without it)

    class CfnLoader(yaml.SafeLoader):
        """SafeLoader plus CloudFormation's short-form tags (``!Ref``, ``!Sub``, ...)."""

    CfnLoader.add_multi_constructor("!", _cfn_tag)
    return yaml.load(Path(path).read_text(), Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass


def resource_types(template: dict[str, Any]) -> Counter[str]:
    """How many resources of each type a template declares (conditional ones included)."""
    return Counter(r["Type"] for r in template.get("Resources", {}).values())


def find_templates_dir(start: Path | None = None) -> Path:
    """``deploy/cloudformation`` under the current directory or the source checkout this module runs from."""
    for base in (start or Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / TEMPLATES_DIR
        if (candidate / "storage.yaml").is_file():
            return candidate
    raise DeployError(f"no {TEMPLATES_DIR}/storage.yaml found: run from the repository root or pass --templates-dir")


def project_version(root: Path) -> str:
    """The version of the release in the checkout ``root``: ``lib/musiclake/VERSION``, else this package's."""
    version_file = root / "lib" / "musiclake" / "VERSION"
    return version_file.read_text().strip() if version_file.is_file() else __version__


# ---- the plan -------------------------------------------------------------------------------------------------

@dataclass
class Release:
    """What the Glue jobs run: the wheel and the job scripts, uploaded under ``releases/<release_id>/``."""

    version: str
    release_id: str
    wheel: Path
    scripts: list[Path]

    @property
    def prefix(self) -> str:
        return f"releases/{self.release_id}"

    def files(self) -> list[tuple[Path, str]]:
        """(local file, key) pairs to upload."""
        return [(self.wheel, f"{self.prefix}/dist/{self.wheel.name}")] + [
            (s, f"{self.prefix}/glue_jobs/{s.parent.name}/{s.name}") for s in self.scripts
        ]


@dataclass
class StackPlan:
    key: str
    name: str
    template: Path
    parameters: dict[str, str]
    skipped: str = ""
    resources: Counter[str] = field(default_factory=Counter)


def default_release_id(version: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """``<version>-<short commit>`` (CodeBuild's source version, else ``git rev-parse``), else a timestamp."""
    commit = environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                    timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return f"{version}-{commit[:8]}" if commit else f"{version}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"


def job_scripts(root: Path) -> list[Path]:
    """The Glue entry scripts ``glue_jobs/v1/<job>.py`` (not ``__init__.py`` or other ``_`` modules)."""
    return sorted(p for p in (root / "glue_jobs" / "v1").glob("*.py") if not p.name.startswith("_"))


def find_release(root: Path, version: str, release_id: str) -> Release:
    """The wheel in ``dist/`` and the scripts in ``glue_jobs/v1/``; tells the user to build what is missing."""
    wheel = root / "dist" / f"musiclake-{version}-py3-none-any.whl"
    if not wheel.is_file():
        raise DeployError(f"{wheel} not found: build it with `make wheel` (the Glue jobs install it), then run again")
    scripts = job_scripts(root)
    if not scripts:
        raise DeployError(f"no job scripts in {root / 'glue_jobs' / 'v1'}: run from the repository root")
    return Release(version, release_id, wheel, scripts)


def repository_arn_from_image(image_uri: str, partition: str = "aws", option: str = "--image-uri") -> str:
    """The ECR repository ARN of an image URI (``acct.dkr.ecr.region.amazonaws.com/repo:tag``)."""
    m = _IMAGE_URI.match(image_uri)
    if not m:
        raise DeployError(f"{option} {image_uri!r} is not an ECR image URI "
                          "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)")
    return f"arn:{partition}:ecr:{m['region']}:{m['account']}:repository/{m['repo']}"


def parse_overrides(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``--param glue.EtlWorkerType=G.2X`` -> ``{"glue": {"EtlWorkerType": "G.2X"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        m = re.fullmatch(r"([a-z]+)\.([A-Za-z0-9]+)=(.*)", item)
        if not m:
            raise DeployError(f"--param {item!r}: expected STACK.Name=value, e.g. glue.EtlWorkerType=G.2X")
        out.setdefault(m[1], {})[m[2]] = m[3]
    return out


def plan_stage(args: argparse.Namespace, templates: Path, release: Release | None) -> list[StackPlan]:
    """The stacks of ``args.stage`` in deployment order, with their parameters (or why one is skipped)."""
    common = {"Project": args.project, "Stage": args.stage}
    overrides = parse_overrides(args.param)
    unknown = set(overrides) - set(STAGE_STACKS)
    if unknown:
        raise DeployError(f"--param names unknown stack(s) {sorted(unknown)}; stacks: {', '.join(STAGE_STACKS)}")
    only = getattr(args, "only", None) or list(STAGE_STACKS)
    if set(only) - set(STAGE_STACKS):
        raise DeployError(f"--only {','.join(only)}: stacks are {', '.join(STAGE_STACKS)}")
    plans = []
    for key in (k for k in STAGE_STACKS if k in only):
        params = dict(common)
        skipped = ""
        if key == "extractor":
            if not args.image_uri or not args.spotify_secret_arn:
                skipped = ("needs --image-uri (the extractor image pushed to ECR by the pipeline's build, or "
                           "docker build -f docker/extractor/Dockerfile . && docker push) and --spotify-secret-arn "
                           "(a Secrets Manager secret with SPOTIFY_CLIENT_ID/SECRET/REFRESH_TOKEN)")
            else:
                params.update(ExtractorImageUri=args.image_uri, SpotifySecretArn=args.spotify_secret_arn,
                              ExtractorRepositoryArn=args.repository_arn or repository_arn_from_image(args.image_uri))
        elif key == "serving":
            if not getattr(args, "serving_image_uri", None):
                skipped = ("needs --serving-image-uri (the serving image pushed to ECR by the pipeline's build, or "
                           "docker build -f docker/serving/Dockerfile . && docker push)")
            else:
                repository_arn_from_image(args.serving_image_uri, option="--serving-image-uri")  # an ECR image
                params["ServingImageUri"] = args.serving_image_uri
        elif key == "glue":
            params.update(DatabaseName=f"{args.project}_{args.stage}".replace("-", "_"),
                          MusiclakeVersion=release.version if release else __version__,
                          ReleasePrefix=release.prefix if release else "releases/<release>")
        elif key == "monitoring" and args.alarm_email:
            params["AlarmEmail"] = args.alarm_email
        params.update(overrides.get(key, {}))
        path = templates / f"{key}.yaml"
        plans.append(StackPlan(key, f"{args.project}-{args.stage}-{key}", path, params, skipped,
                               resource_types(load_template(path))))
    return plans


def format_plan(plans: list[StackPlan], release: Release | None, where: str) -> str:
    """Human-readable plan: what will be created or updated, in order."""
    lines = [f"musiclake-deploy plan ({where})"]
    step = 0
    for plan in plans:
        if plan.key == "glue" and release is not None and not plan.skipped:
            step += 1
            lines.append(f"{step}. upload release {release.release_id} to s3://<ArtifactsBucket>/{release.prefix}/:")
            lines.extend(f"   {local.name} -> {key}" for local, key in release.files())
        step += 1
        lines.append(f"{step}. stack {plan.name}  ({plan.template})")
        if plan.skipped:
            lines.append(f"   SKIPPED: {plan.skipped}")
            continue
        lines.append("   parameters: " + ", ".join(f"{k}={v}" for k, v in plan.parameters.items()))
        total = sum(plan.resources.values())
        lines.append(f"   {total} resources: " + ", ".join(f"{n} {t}" for t, n in sorted(plan.resources.items())))
    return "\n".join(lines)


# ---- AWS ------------------------------------------------------------------------------------------------------

def _describe_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _failure_reasons(cfn: Any, name: str, limit: int = 10) -> list[str]:
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
    return [f"{e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason', '')}"
            for e in failed[:limit]]


def format_changes(changes: list[dict[str, Any]]) -> list[str]:
    """One line per resource change of a change set: ``+ Add``, ``~ Modify`` (replacement) or ``- Remove``."""
    marks = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}
    lines = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        action = rc.get("Action", "?")
        replace = " (REPLACEMENT)" if rc.get("Replacement") == "True" else ""
        lines.append(f"   {marks.get(action, '?')} {action:<7}{rc.get('ResourceType', ''):<36}"
                     f"{rc.get('LogicalResourceId', '')}{replace}")
    return lines


class Deployer:
    """Change-set based deployment of the planned stacks through one boto3 session."""

    def __init__(self, session: Any, role_arn: str | None, confirm: Callable[[str], bool],
                 out: Callable[[str], None] = print, poll_seconds: float = 5.0) -> None:
        self.cfn = session.client("cloudformation")
        self.s3 = session.client("s3")
        self.role_arn = role_arn
        self.confirm = confirm
        self.out = out
        self.poll = poll_seconds

    def deploy(self, plan: StackPlan) -> dict[str, str] | None:
        """Create a change set, show it, execute it after confirmation; returns the stack's outputs.

        Returns None when the user declined.
        """
        body = plan.template.read_text()
        if len(body.encode()) > MAX_TEMPLATE_BODY:
            raise DeployError(f"{plan.template} exceeds {MAX_TEMPLATE_BODY} bytes: split it into two stacks")
        stack = _describe_stack(self.cfn, plan.name)
        status = stack["StackStatus"] if stack else "NONE"
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
            raise DeployError(f"stack {plan.name} is {status} and cannot be updated: delete it "
                              f"(aws cloudformation delete-stack --stack-name {plan.name}) and run again")
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise DeployError(f"stack {plan.name} is {status}: wait until it finishes, then run again")
        change_type = "CREATE" if status in ("NONE", "REVIEW_IN_PROGRESS") else "UPDATE"
        change_set = f"{plan.name}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
        request: dict[str, Any] = dict(
            StackName=plan.name, ChangeSetName=change_set, ChangeSetType=change_type, TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in plan.parameters.items()],
            Capabilities=CAPABILITIES,
            Tags=[{"Key": k.lower(), "Value": v} for k, v in plan.parameters.items() if k in ("Project", "Stage")],
        )
        if self.role_arn:
            request["RoleARN"] = self.role_arn
        self.cfn.create_change_set(**request)
        described = self._wait_change_set(plan.name, change_set)
        if described is None:
            self.out(f"   {plan.name}: no changes")
            return self.outputs(plan.name)
        self.out(f"{plan.name}: change set {change_set} ({change_type}):")
        for line in format_changes(described.get("Changes", [])):
            self.out(line)
        if not self.confirm(f"execute the change set of {plan.name}?"):
            self.cfn.delete_change_set(StackName=plan.name, ChangeSetName=change_set)
            return None
        self.cfn.execute_change_set(StackName=plan.name, ChangeSetName=change_set)
        self._wait_stack(plan.name)
        return self.outputs(plan.name)

    def _wait_change_set(self, stack: str, change_set: str) -> dict[str, Any] | None:
        while True:
            described = self.cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
            if described["Status"] == "CREATE_COMPLETE":
                return described
            if described["Status"] == "FAILED":
                reason = described.get("StatusReason", "")
                if "didn't contain changes" in reason or "No updates" in reason:
                    self.cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
                    return None
                raise DeployError(f"change set for {stack} failed: {reason}")
            time.sleep(self.poll)

    def _wait_stack(self, name: str) -> None:
        while True:
            status = self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"):
                self.out(f"   {name}: {status}")
                return
            if status.endswith("_FAILED") or ("ROLLBACK" in status and status.endswith("_COMPLETE")):
                reasons = "\n     ".join(_failure_reasons(self.cfn, name)) or "(no failed events)"
                raise DeployError(f"stack {name} ended {status}; first failures:\n     {reasons}\n"
                                  "fix the cause and run `musiclake-deploy` again")
            time.sleep(self.poll)

    def outputs(self, name: str) -> dict[str, str]:
        stack = _describe_stack(self.cfn, name) or {}
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def physical_id(self, stack: str, logical_id: str) -> str:
        """The physical id (e.g. the bucket name) of one resource of a deployed stack."""
        from botocore.exceptions import ClientError

        try:
            for page in self.cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
                for resource in page["StackResourceSummaries"]:
                    if resource["LogicalResourceId"] == logical_id:
                        return resource["PhysicalResourceId"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                raise DeployError(f"stack {stack} does not exist yet: deploy it first (without --only, or with "
                                  f"--only {stack.rsplit('-', 1)[-1]})") from None
            raise
        raise DeployError(f"stack {stack} has no resource {logical_id}: was the template changed?")

    def upload(self, release: Release, bucket: str) -> None:
        """Upload the wheel and the job scripts under ``releases/<release_id>/`` of the artefacts bucket."""
        for local, key in release.files():
            self.s3.upload_file(str(local), bucket, key)
            self.out(f"   uploaded s3://{bucket}/{key}")


# ---- handlers (the parser is musiclake_deploy.cli) ----------------------------------------------------------

def _confirm_interactively(question: str) -> bool:
    if not sys.stdin.isatty():
        raise DeployError("not a terminal, cannot ask for confirmation: pass --yes to deploy, "
                          "or --plan to only print the plan")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Handler of ``musiclake-deploy [deploy]``: 0 deployed, 1 declined or refused by AWS, 2 a problem to fix first."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _run(args)
    except DeployError as exc:
        print(f"musiclake-deploy: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"musiclake-deploy: AWS refused the request: {exc}\nfix the cause (permissions, a missing export "
              "from an earlier stack: deploy the stacks in order) and run the same command again", file=sys.stderr)
        return 1


def _session(args: argparse.Namespace) -> tuple[Any, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(profile_name=args.profile if getattr(args, "profile", None) else None,
                                    region_name=args.region)
    if not session.region_name:
        raise DeployError("no AWS region: pass --region or set AWS_REGION")
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"cannot reach AWS ({exc}): configure credentials (aws configure / AWS_PROFILE), "
                          "or use --plan to see the plan without an account") from None
    return session, identity["Account"]


def _run(args: argparse.Namespace) -> int:
    if not args.pipeline and not args.stage:
        raise DeployError("--stage is required (e.g. --stage dev), unless you deploy the --pipeline stack")
    if args.stage and not re.fullmatch(r"[a-z][a-z0-9]{1,7}", args.stage):
        raise DeployError(f"--stage {args.stage!r}: use 2-8 lower-case letters or digits, starting with a letter")
    templates = args.templates_dir or find_templates_dir()
    root = templates.resolve().parents[1]
    if args.pipeline:
        path = templates / f"{PIPELINE_STACK}.yaml"
        overrides = parse_overrides(args.param)
        plans = [StackPlan(PIPELINE_STACK, f"{args.project}-{PIPELINE_STACK}", path,
                           {"Project": args.project, **overrides.get(PIPELINE_STACK, {})}, "",
                           resource_types(load_template(path)))]
        release = None
    else:
        version = project_version(root)
        release_id = args.release or default_release_id(version)
        release = None
        try:
            release = find_release(root, version, release_id)
        except DeployError as exc:
            if not args.plan:
                raise
            print(f"note: {exc}")
            release = Release(version, release_id, root / "dist" / f"musiclake-{version}-py3-none-any.whl",
                              job_scripts(root))
        plans = plan_stage(args, templates, release)
    if args.plan:
        print(format_plan(plans, release, "plan only: nothing is deployed"))
        return 0
    session, account = _session(args)
    print(format_plan(plans, release, f"account {account}, region {session.region_name}"))
    confirm = (lambda _q: True) if args.yes else _confirm_interactively
    deployer = Deployer(session, args.role_arn, confirm)
    for plan in plans:
        if plan.skipped:
            print(f"{plan.name}: skipped ({plan.skipped})")
            continue
        if plan.key == "glue" and release is not None:  # the jobs point at releases/<id>/: upload it first
            deployer.upload(release, deployer.physical_id(f"{args.project}-{args.stage}-storage", "ArtifactsBucket"))
        if deployer.deploy(plan) is None:
            print(f"{plan.name}: not executed; stopping here (later stacks depend on it)")
            return 1
    print("deployed: " + ", ".join(p.name for p in plans if not p.skipped))
    return 0


# ---- integration run ------------------------------------------------------------------------------------------

_TERMINAL_JOB = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"}


def wait_for_workflow(glue: Any, workflow: str, since: float, deadline: float, poll: float = 20.0) -> dict[str, Any]:
    """The first run of ``workflow`` started at or after ``since``, once it has finished."""
    while time.time() < deadline:
        runs = glue.get_workflow_runs(Name=workflow, MaxResults=10).get("Runs", [])
        started = [r for r in runs if r["StartedOn"].timestamp() >= since]
        if started:
            run = min(started, key=lambda r: r["StartedOn"])
            if run["Status"] in ("COMPLETED", "STOPPED", "ERROR"):
                return run
        time.sleep(poll)
    raise DeployError(f"no finished run of workflow {workflow} since {time.ctime(since)}: was new data landed? "
                      "(musiclake-extract mpd --source ... --landing s3://<landing>/raw)")


def run_job(glue: Any, job: str, arguments: dict[str, str], deadline: float, poll: float = 20.0) -> str:
    """Start a Glue job run and wait for its final state."""
    run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
    while time.time() < deadline:
        state = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"]
        if state in _TERMINAL_JOB:
            return state
        time.sleep(poll)
    raise DeployError(f"job {job} run {run_id} did not finish in time")


def run_integration(args: argparse.Namespace) -> int:
    """Handler of ``musiclake-deploy integration-run``: 0 trained, 1 a job failed, 2 a problem to fix."""
    try:
        session, account = _session(args)
        glue = session.client("glue")
        deadline = time.time() + args.timeout
        since = args.since if args.since is not None else time.time() - 900
        prefix = f"{args.project}-{args.stage}"
        run = wait_for_workflow(glue, f"{prefix}-etl", since, deadline)
        stats = run.get("Statistics", {})
        print(f"workflow {prefix}-etl run {run['WorkflowRunId']}: {run['Status']} {stats}")
        if run["Status"] != "COMPLETED" or any(stats.get(k) for k in ("FailedActions", "TimeoutActions",
                                                                      "StoppedActions", "ErroredActions")):
            print(f"the ETL workflow failed: see its job runs in the Glue console ({account})", file=sys.stderr)
            return 1
        extra = dict(a.lstrip("-").split("=", 1) for a in args.train_arg)
        state = run_job(glue, f"{prefix}-train_als", {f"--{k}": v for k, v in extra.items()}, deadline)
        print(f"job {prefix}-train_als: {state}")
        return 0 if state == "SUCCEEDED" else 1
    except DeployError as exc:
        print(f"musiclake-deploy integration-run: {exc}", file=sys.stderr)
        return 2
