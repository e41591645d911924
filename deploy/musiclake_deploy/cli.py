"""``musiclake-deploy``: deploy a stage's CloudFormation stacks, or check a deployed stage end to end (CI).

Subcommands (``deploy`` is the default, so ``musiclake-deploy --stage dev`` is ``musiclake-deploy deploy --stage
dev``)::

    musiclake-deploy --stage dev --plan              # the plan: stacks, parameters, resources, uploads; no AWS call
    musiclake-deploy --stage dev [--yes]             # change sets, shown and executed stack by stack
    musiclake-deploy --pipeline --param pipeline.RepositoryId=me/musiclake
    musiclake-deploy integration-run --stage dev --since EPOCH [--train-arg=--top_k=50]

Run it from the repository root (or pass ``--templates-dir``): it deploys ``deploy/cloudformation/*.yaml`` and
uploads ``dist/musiclake-<version>-py3-none-any.whl`` (``make wheel``) with ``glue_jobs/v1/*.py``.
Exit codes: 0 done, 1 declined or refused by AWS / a job failed, 2 a problem to fix first (the message says how).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from musiclake_deploy import __version__, tool

SUBCOMMANDS = ("deploy", "integration-run")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``musiclake-deploy`` with its subcommands ``deploy`` and ``integration-run``."""
    parser = argparse.ArgumentParser(
        prog="musiclake-deploy",
        description="Deploy musiclake's CloudFormation stacks (deploy is the default subcommand).",
    )
    parser.add_argument("--version", action="version", version=f"musiclake-deploy {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", "-v", action="store_true", help="log progress on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    env = os.environ
    deploy = subparsers.add_parser(
        "deploy", parents=[common], help="deploy a stage's CloudFormation stacks (prints the plan first)",
        description="Deploy deploy/cloudformation/{storage,extractor,glue,serving,monitoring}.yaml as stacks "
                    "<project>-<stage>-<name> with change sets, uploading the release (wheel, job scripts) "
                    "after the storage stack. Prints the plan and each change set, asks before executing. "
                    "Every role carries the permissions boundary of the pipeline stack: deploy it first.",
    )
    deploy.add_argument("--stage", help="environment name, e.g. dev or prod (required unless --pipeline)")
    deploy.add_argument("--project", default="musiclake", help="resource name prefix (default: %(default)s)")
    deploy.add_argument("--region", help="AWS region (default: the boto3 configuration)")
    deploy.add_argument("--profile", help="AWS profile (default: the boto3 configuration)")
    deploy.add_argument("--plan", "--dry-run", dest="plan", action="store_true",
                        help="print what would be deployed and stop (no AWS call)")
    deploy.add_argument("--yes", "-y", action="store_true", help="execute change sets without asking")
    deploy.add_argument("--pipeline", action="store_true",
                        help="deploy pipeline.yaml (CodePipeline, ECR repository) instead of the stage stacks; "
                             "give its parameters with --param pipeline.Name=value")
    deploy.add_argument("--image-uri", default=env.get("IMAGE_URI"), help="extractor image in ECR ($IMAGE_URI)")
    deploy.add_argument("--serving-image-uri", default=env.get("SERVING_IMAGE_URI"),
                        help="serving (recommendations API) image in ECR ($SERVING_IMAGE_URI)")
    deploy.add_argument("--repository-arn", default=env.get("EXTRACTOR_REPOSITORY_ARN"),
                        help="its ECR repository ARN (default: derived from --image-uri)")
    deploy.add_argument("--spotify-secret-arn", default=env.get("SPOTIFY_SECRET_ARN"),
                        help="Secrets Manager secret with the Spotify credentials ($SPOTIFY_SECRET_ARN)")
    deploy.add_argument("--alarm-email", default=env.get("ALARM_EMAIL"), help="e-mail subscribed to the alarms")
    deploy.add_argument("--release", default=env.get("RELEASE_ID"),
                        help="release id, the key prefix releases/<id>/ (default: <version>-<commit>)")
    deploy.add_argument("--role-arn", default=env.get("CFN_EXECUTION_ROLE_ARN"),
                        help="CloudFormation execution role ($CFN_EXECUTION_ROLE_ARN; default: your credentials)")
    deploy.add_argument("--only", type=lambda v: [x.strip() for x in v.split(",") if x.strip()], default=None,
                        metavar="STACKS",
                        help=f"deploy only these stacks, comma separated ({','.join(tool.STAGE_STACKS)})")
    deploy.add_argument("--param", action="append", default=[], metavar="STACK.Name=value",
                        help="override a template parameter, e.g. glue.TrainNumberOfWorkers=8 (repeatable)")
    deploy.add_argument("--templates-dir", type=Path, help="default: ./deploy/cloudformation")
    deploy.set_defaults(handler=tool.run)

    check = subparsers.add_parser(
        "integration-run", parents=[common], help="wait for the ETL workflow run of new data, then train (CI)",
        description="After new data was landed in the stage (e.g. musiclake-extract mpd ... --landing "
                    "s3://<landing>/raw), wait for the ETL workflow run it starts, then run train_als; "
                    "exit 1 if any job fails.",
    )
    check.add_argument("--stage", required=True)
    check.add_argument("--project", default="musiclake")
    check.add_argument("--region")
    check.add_argument("--since", type=float, default=None, metavar="EPOCH",
                       help="the data was landed at this time (default: now minus 15 minutes)")
    check.add_argument("--timeout", type=float, default=5400.0, help="seconds to wait in total (default 5400)")
    check.add_argument("--train-arg", action="append", default=[], metavar="--name=value",
                       help="extra train_als argument, e.g. --train-arg=--top_k=50")
    check.set_defaults(handler=tool.run_integration)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line; without a subcommand it is ``deploy`` (``musiclake-deploy --stage dev --plan``)."""
    words = list(argv)
    if not (words and (words[0] in SUBCOMMANDS or words[0] in ("-h", "--help", "--version"))):
        words = ["deploy", *words]
    return build_parser().parse_args(words)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``musiclake-deploy`` console script; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
