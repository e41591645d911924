"""musiclake-deploy: the deploy tool (``musiclake_deploy``, console script ``musiclake-deploy``), apart from the wheel.

It deploys ``deploy/cloudformation/*.yaml`` with boto3 change sets and uploads the release (the Glue wheel built
from the repository's ``setup.py`` and ``glue_jobs/``); the Glue jobs and the extractor image never need it, so it
is its own distribution. Its version is the project's (``lib/musiclake/VERSION``). Install it from the repository
root with ``pip install ./deploy`` (CodeBuild's deploy stages) or editable (``make venv``).
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
VERSION = (HERE.parent / "lib" / "musiclake" / "VERSION").read_text().strip()

setup(
    name="musiclake-deploy",
    version=VERSION,
    description="Deploy musiclake's CloudFormation stacks (change sets) and run the pipeline's integration check",
    python_requires=">=3.11",
    packages=["musiclake_deploy"],
    install_requires=[
        "boto3>=1.40.61,<2",
        "PyYAML>=6.0.2,<7",  # the CloudFormation templates, read for the plan
    ],
    entry_points={"console_scripts": ["musiclake-deploy=musiclake_deploy.cli:main"]},
)
