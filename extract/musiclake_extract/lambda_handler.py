"""AWS Lambda entry point: an event chooses *what* to extract; *where* comes only from the function's configuration.

Events (an explicit allow-list of keys per command; anything else is refused)::

    {"command": "api", "me": true, "playlists": ["37i9dQZF1DXcBWIGoYBM5M"], "search": ["daft punk"],
     "enrich": "albums", "max_retry_after": 60}
    {"command": "mpd", "source": "s3://bucket/mpd/"}

``api`` keys: ``playlists`` (or ``playlist``), ``me``, ``search`` (or ``searches``), ``search_type``,
``search_pages``, ``top_time_ranges`` (or ``top_time_range``), ``enrich``, ``max_retry_after``,
``records_per_part``, ``time_budget``, ``resume_now``. ``mpd`` keys: ``source`` (defaults to
``MUSICLAKE_MPD_SOURCE``).

The function's environment decides everything an event must not: the landing root (``MUSICLAKE_LANDING``),
the Spotify endpoints (``SPOTIFY_API_BASE_URL`` and ``SPOTIFY_TOKEN_URL``, Spotify's when unset) and the
credentials: ``SPOTIFY_CLIENT_ID``, ``SPOTIFY_CLIENT_SECRET``, ``SPOTIFY_REFRESH_TOKEN``, or the JSON of the
Secrets Manager secret named by ``SPOTIFY_SECRET_ID`` (same keys). So an event cannot send the credentials to
another host, read another secret, or land elsewhere.

Outcomes, so that the Lambda error metric counts real failures only:

* complete: returns the run's result (``status`` ``complete``, ``exit_code`` 0);
* stopped cleanly with a checkpoint (rate limit, quota, time budget; exit code 3 on the CLI): returns normally
  with ``status`` ``stopped``, ``will_resume`` true and a message; the next invocation resumes the run;
* anything else raises, so Lambda reports a failure: :class:`InvalidEvent` (a key outside the allow-list, a
  value of the wrong type), ``UsageError`` (bad options, missing configuration), ``AuthError`` (credentials
  refused; an expired or revoked refresh token says to re-authorise with ``musiclake-extract login``),
  :class:`RunRejectedInput` (complete, but slices or records were rejected: exit code 4 on the CLI), or the
  unexpected error itself (the checkpoint is kept).

Unless the event sets a shorter ``time_budget``, the run stops cleanly 30 s before the Lambda's own timeout.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from musiclake_extract.cli import build_parser, run_command
from musiclake_extract.client import SPOTIFY_API_BASE_URL, SPOTIFY_TOKEN_URL, RedactSecrets
from musiclake_extract.reporting import UsageError

SAFETY_MARGIN_S = 30.0
_SECRET_KEYS = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN")
_FLAG, _TEXT, _TEXTS, _NUMBER, _INT = "flag", "text", "texts", "number", "int"
# event key -> (CLI option, kind). Only these keys are accepted; none of them says where data or credentials go.
EVENT_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "api": {
        "playlists": ("--playlist", _TEXTS),
        "playlist": ("--playlist", _TEXTS),
        "me": ("--me", _FLAG),
        "search": ("--search", _TEXTS),
        "searches": ("--search", _TEXTS),
        "search_type": ("--search-type", _TEXT),
        "search_pages": ("--search-pages", _INT),
        "top_time_ranges": ("--top-time-range", _TEXTS),
        "top_time_range": ("--top-time-range", _TEXTS),
        "enrich": ("--enrich", _TEXT),
        "max_retry_after": ("--max-retry-after", _NUMBER),
        "records_per_part": ("--records-per-part", _INT),
        "time_budget": ("--time-budget", _NUMBER),
        "resume_now": ("--resume-now", _FLAG),
    },
    "mpd": {"source": ("--source", _TEXT)},
}


class InvalidEvent(ValueError):
    """The event asks for something an event may not (an unknown key, a wrong type, no command)."""


class RunRejectedInput(RuntimeError):
    """The run completed (manifest written) but rejected slices or records: a failure a scheduler must see."""


def event_to_argv(event: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[str]:
    """The ``musiclake-extract`` argument list for a Lambda event, with the configured landing and endpoints.

    Parameters
    ----------
    event : mapping
        ``command`` plus keys of :data:`EVENT_KEYS` for that command.
    environ : mapping, optional
        The function's configuration (``os.environ`` by default): ``MUSICLAKE_LANDING``,
        ``SPOTIFY_API_BASE_URL``, ``SPOTIFY_TOKEN_URL``, ``MUSICLAKE_MPD_SOURCE``.

    Raises
    ------
    InvalidEvent
        No valid ``command``, a key outside the allow-list (named in the message), or a value of the wrong type.
    UsageError
        ``MUSICLAKE_LANDING`` is not configured.
    """
    environ = os.environ if environ is None else environ
    command = event.get("command")
    if command not in EVENT_KEYS:
        raise InvalidEvent(f'the event needs "command": one of {", ".join(sorted(EVENT_KEYS))}; got {command!r}')
    allowed = EVENT_KEYS[command]
    refused = sorted(k for k in event if k != "command" and k not in allowed)
    if refused:
        raise InvalidEvent(
            f"event keys not allowed for {command!r}: {', '.join(map(repr, refused))}. An event chooses what to "
            f"extract ({', '.join(sorted(allowed))}); the landing root, the endpoints and the credentials come "
            "only from the function's configuration"
        )
    landing = environ.get("MUSICLAKE_LANDING")
    if not landing:
        raise UsageError("the function's configuration has no MUSICLAKE_LANDING (the landing root)")
    argv = [command, "--landing", landing]
    if command == "api":
        argv += ["--api-base-url", environ.get("SPOTIFY_API_BASE_URL") or SPOTIFY_API_BASE_URL]
        argv += ["--token-url", environ.get("SPOTIFY_TOKEN_URL") or SPOTIFY_TOKEN_URL]
    if command == "mpd" and "source" not in event and environ.get("MUSICLAKE_MPD_SOURCE"):
        argv += ["--source", environ["MUSICLAKE_MPD_SOURCE"]]
    for key, value in event.items():
        if key == "command" or value is None:
            continue
        flag, kind = allowed[key]
        argv += _option(key, flag, kind, value)
    return argv


def _option(key: str, flag: str, kind: str, value: Any) -> list[str]:
    def wrong(expected: str) -> InvalidEvent:
        return InvalidEvent(f"event key {key!r} takes {expected}, not {type(value).__name__}")

    if kind == _FLAG:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return [flag] if value else []
    if kind == _TEXTS:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise wrong("a string or a list of strings")
        return [part for v in values for part in (flag, v)]
    if kind == _TEXT:
        if not isinstance(value, str):
            raise wrong("a string")
        return [flag, value]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == _INT and not isinstance(value, int)):
        raise wrong("an integer" if kind == _INT else "a number")
    return [flag, str(value)]


def _environment() -> dict[str, str]:
    """The function's environment, with the credentials of ``SPOTIFY_SECRET_ID`` (configuration only) merged in."""
    environ = dict(os.environ)
    secret_id = environ.get("SPOTIFY_SECRET_ID")
    if secret_id:
        import boto3

        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        doc = json.loads(value)
        environ.update({k: str(doc[k]) for k in _SECRET_KEYS if doc.get(k)})
    return environ


def _time_budget(event: dict[str, Any], context: Any) -> None:
    """Stop 30 s before the Lambda's timeout, or earlier if the event asks."""
    if context is None or event.get("command") != "api":
        return
    remaining = max(1.0, context.get_remaining_time_in_millis() / 1000.0 - SAFETY_MARGIN_S)
    asked = event.get("time_budget")
    if isinstance(asked, (int, float)) and not isinstance(asked, bool):
        remaining = min(remaining, float(asked))
    event["time_budget"] = remaining


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Run one extractor command from a Lambda event; see the module docstring for what it returns or raises."""
    event = dict(event or {})
    argv = event_to_argv(event)  # refuses a bad event before any secret is read or request is sent
    environ = _environment()
    root = logging.getLogger()
    redact = RedactSecrets([environ.get(k, "") for k in _SECRET_KEYS[1:]])
    for h in root.handlers or [logging.lastResort]:
        if h is not None and not any(isinstance(f, RedactSecrets) for f in h.filters):
            h.addFilter(redact)
    logging.getLogger("musiclake_extract").setLevel(logging.INFO)
    _time_budget(event, context)
    argv = event_to_argv(event, environ)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse rejected a value (it printed why on stderr)
        raise InvalidEvent(f"invalid option values in the event (argparse exit {exc.code}); see the log") from None
    result = run_command(args, environ, progress=False)
    outcome = result.as_dict()
    if result.status == "stopped":
        outcome["will_resume"] = True
        outcome["message"] = f"{result.message} The next invocation resumes run {result.run_id}."
        logging.getLogger("musiclake_extract").info("stopped, will resume: %s", outcome["message"])
        return outcome
    if result.rejected:
        raise RunRejectedInput(
            f"run {result.run_id} completed with {result.rejected} rejected input(s): {result.message}; "
            f"manifest {result.manifest_uri}"
        )
    return outcome
