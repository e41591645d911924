"""AWS Lambda entry point: the API of :mod:`musiclake.serve.app` behind Mangum (function URL / HTTP API events).

The image's command is ``musiclake.serve.lambda_app.handler`` (see docker/serving/Dockerfile). Environment, read
here at the edge:

* ``MUSICLAKE_LAKE_PATH`` (required) - the lake root, ``s3://<lake bucket>/lake``: the model under
  ``models/als/`` and the ``interactions``, ``tracks`` and ``playlists`` tables;
* ``MUSICLAKE_MODEL_CHECK_SECONDS`` (default 60) - least seconds between checks for a newly trained model.

The model is loaded during the function's init phase (an execution environment answers many requests); a new
version is loaded in the background while the old one answers (each environment swaps on its own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mangum import Mangum

from musiclake.serve.app import create_app

LAKE_PATH_VARIABLE = "MUSICLAKE_LAKE_PATH"
CHECK_VARIABLE = "MUSICLAKE_MODEL_CHECK_SECONDS"


def build_handler(environ: Mapping[str, str]) -> Mangum:
    """The Lambda handler for the lake ``environ`` names.

    Raises
    ------
    KeyError
        If ``MUSICLAKE_LAKE_PATH`` is not set (the function's configuration is wrong).
    """
    lake_path = environ.get(LAKE_PATH_VARIABLE)
    if not lake_path:
        raise KeyError(f"{LAKE_PATH_VARIABLE} is not set: the function needs the lake root (s3://<bucket>/lake)")
    app = create_app(lake_path, check_interval=float(environ.get(CHECK_VARIABLE, "60")))
    return Mangum(app, lifespan="off")


_handler: Mangum | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda's entry point (the handler is built at the first event when the init phase did not build it)."""
    global _handler
    if _handler is None:
        _handler = build_handler(os.environ)
    return _handler(event, context)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get(LAKE_PATH_VARIABLE):
    _handler = build_handler(os.environ)  # in the init phase: full CPU, and not billed against the first request
