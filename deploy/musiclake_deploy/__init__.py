"""musiclake_deploy: the deploy tool of musiclake (``musiclake-deploy``), apart from the Glue wheel.

* :mod:`musiclake_deploy.tool` - the plan, change-set deployment of the CloudFormation stacks, the release upload,
  the integration run of the pipeline;
* :mod:`musiclake_deploy.cli` - the ``musiclake-deploy`` command line.

Its own distribution (``musiclake-deploy``, built from ``deploy/setup.py``; boto3 and PyYAML): the Glue jobs and
the extractor image never ship it. Its version is the project's (``lib/musiclake/VERSION``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("musiclake-deploy")
except PackageNotFoundError:  # pragma: no cover - run from a source tree that was not installed
    __version__ = "0+unknown"
