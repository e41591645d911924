"""AWS Lambda entry point: the same commands and options as ``musiclake-extract``, taken from the event.

Event keys are the CLI's long options with underscores; lists repeat the option, ``true`` sets a flag::

    {"command": "api", "landing": "s3://bucket/raw", "me": true, "playlists": ["37i9dQZF1DXcBWIGoYBM5M"],
     "search": ["daft punk"], "max_retry_after": 60}
    {"command": "mpd", "source": "s3://bucket/mpd/", "landing": "s3://bucket/raw"}

Credentials come from the function's environment (``SPOTIFY_CLIENT_ID``, ``SPOTIFY_CLIENT_SECRET``,
``SPOTIFY_REFRESH_TOKEN``) or, when ``SPOTIFY_SECRET_ID`` (or the event's ``secret_id``) names a Secrets Manager
secret, from that secret's JSON (same keys). Unless the event sets ``time_budget``, the run stops cleanly 30 s
before the Lambda's own timeout and keeps its checkpoint; the next invocation resumes it. The return value is
the run's result (status ``complete`` or ``stopped``, ``exit_code``, ``run_id``, ``summary``).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from musiclake_extract.cli import UsageError, build_parser, run_command
from musiclake_extract.client import AuthError, RedactSecrets

SAFETY_MARGIN_S = 30.0
_LIST_OPTIONS = {
    "playlists": "--playlist",
    "playlist": "--playlist",
    "search": "--search",
    "searches": "--search",
    "top_time_ranges": "--top-time-range",
    "top_time_range": "--top-time-range",
}
_NOT_OPTIONS = {"command", "secret_id"}
_SECRET_KEYS = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN")


def event_to_argv(event: dict[str, Any]) -> list[str]:
    """The ``musiclake-extract`` argument list equivalent to a Lambda event.

    Raises
    ------
    UsageError
        If the event has no ``command`` or a value of an unsupported type.
    """
    command = event.get("command")
    if command not in ("api", "mpd"):
        raise UsageError('the event needs "command": "api" or "mpd"')
    argv = [command]
    for key, value in event.items():
        if key in _NOT_OPTIONS or value is None or value is False:
            continue
        flag = _LIST_OPTIONS.get(key, "--" + key.replace("_", "-"))
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv += [flag, str(item)]
        elif isinstance(value, (str, int, float)):
            argv += [flag, str(value)]
        else:
            raise UsageError(f"unsupported value for {key!r}: {type(value).__name__}")
    return argv


def _environment(event: dict[str, Any]) -> dict[str, str]:
    environ = dict(os.environ)
    secret_id = event.get("secret_id") or environ.get("SPOTIFY_SECRET_ID")
    if secret_id:
        import boto3

        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        doc = json.loads(value)
        environ.update({k: str(doc[k]) for k in _SECRET_KEYS if doc.get(k)})
    return environ


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Run one extractor command from a Lambda event; returns the run's result as a dict."""
    event = dict(event or {})
    environ = _environment(event)
    root = logging.getLogger()
    redact = RedactSecrets([environ.get(k, "") for k in _SECRET_KEYS[1:]])
    for h in root.handlers or [logging.lastResort]:
        if h is not None and not any(isinstance(f, RedactSecrets) for f in h.filters):
            h.addFilter(redact)
    logging.getLogger("musiclake_extract").setLevel(logging.INFO)
    if context is not None and "time_budget" not in event and event.get("command") == "api":
        remaining = context.get_remaining_time_in_millis() / 1000.0
        event["time_budget"] = max(1.0, remaining - SAFETY_MARGIN_S)
    try:
        args = build_parser().parse_args(event_to_argv(event))
        result = run_command(args, environ, progress=False)
    except (UsageError, AuthError) as exc:
        return {"status": "error", "exit_code": 2, "message": str(exc)}
    except SystemExit as exc:  # argparse rejected the options
        return {
            "status": "error",
            "exit_code": 2,
            "message": f"invalid options in the event (argparse exit {exc.code})",
        }
    return result.as_dict()
