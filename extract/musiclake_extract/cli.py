"""``musiclake-extract``: land Spotify Web API data or MPD slices in the raw landing zone; ``login`` for the
user flow's refresh token.

Exit codes: 0 complete (manifest written), 4 complete but input was rejected (malformed or truncated slices,
records over ``MAX_RECORD_BYTES``: see the summary), 3 stopped cleanly with a checkpoint (run the same command
again to resume), 2 usage or configuration error (bad options, a bad ``--playlists-file`` line, missing or
refused credentials, an expired refresh token, an unfinished import of another MPD source), 1 unexpected error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from musiclake.landing import ManifestError
from musiclake_extract.api_extract import ENRICHABLE, TIME_RANGES, ApiOptions, read_playlists_file, run_api
from musiclake_extract.client import SPOTIFY_API_BASE_URL, SPOTIFY_TOKEN_URL, AuthError, Credentials, RedactSecrets
from musiclake_extract.login import DEFAULT_REDIRECT_URI, SPOTIFY_AUTHORIZE_URL, LoginOptions, read_secret
from musiclake_extract.mpd_import import MpdOptions, run_mpd
from musiclake_extract.reporting import (
    EXIT_COMPLETE,
    EXIT_ERROR,
    EXIT_USAGE,
    Progress,
    RunResult,
    UsageError,
    format_summary,
)

__all__ = ["UsageError", "build_parser", "main", "run_command"]
log = logging.getLogger("musiclake_extract")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``musiclake-extract`` (also used by the Lambda handler)."""
    parser = argparse.ArgumentParser(
        prog="musiclake-extract",
        description="Land Spotify Web API responses or Million Playlist Dataset slices, verbatim, in the raw "
        "landing zone (s3://bucket/prefix or a local folder).",
        epilog="Exit codes: 0 complete, 4 complete but input rejected (see the summary), 3 stopped with a "
        "checkpoint (run again to resume), 2 usage/configuration, 1 unexpected error.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    api = sub.add_parser(
        "api",
        help="extract from the Spotify Web API (credentials from SPOTIFY_* variables)",
        description="Credentials: SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (client credentials), "
        "plus SPOTIFY_REFRESH_TOKEN for the user flow (--me, items of own playlists).",
    )
    api.add_argument("--landing", required=True, help="landing root: s3://bucket/prefix or a local folder")
    api.add_argument(
        "--playlist", action="append", default=[], metavar="ID", help="playlist id, URI or URL (repeatable)"
    )
    api.add_argument("--playlists-file", metavar="F", help="file (local or s3://) with one playlist id per line")
    api.add_argument(
        "--me", action="store_true", help="all of the user's playlists, saved tracks, top items and recently played"
    )
    api.add_argument("--search", action="append", default=[], metavar="QUERY", help="search query (repeatable)")
    api.add_argument("--search-type", default="track", help="search types, comma separated (default: track)")
    api.add_argument("--search-pages", type=int, default=1, help="pages of 10 results per query (default: 1)")
    api.add_argument(
        "--top-time-range",
        action="append",
        choices=TIME_RANGES,
        metavar="RANGE",
        help=f"time range of top items, repeatable: {', '.join(TIME_RANGES)} (default: medium_term)",
    )
    api.add_argument(
        "--enrich",
        default=",".join(ENRICHABLE),
        help="single-item lookups for new ids: any of tracks,albums,artists, or none (default: all)",
    )
    api.add_argument("--api-base-url", default=SPOTIFY_API_BASE_URL, help="Web API base (default: Spotify's)")
    api.add_argument("--token-url", default=SPOTIFY_TOKEN_URL, help="token endpoint (default: Spotify's)")
    api.add_argument(
        "--max-retry-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="longest Retry-After to wait; beyond it the run stops with its checkpoint (default: 120)",
    )
    api.add_argument("--max-retries", type=int, default=5, help="retries of 5xx/timeouts per request (default: 5)")
    api.add_argument("--backoff", type=float, default=1.0, help="first retry backoff in seconds (default: 1)")
    api.add_argument("--timeout", type=float, default=10.0, help="request timeout in seconds (default: 10)")
    api.add_argument(
        "--records-per-part",
        type=int,
        default=200,
        help="responses per commit (part files + checkpoint) (default: 200)",
    )
    api.add_argument("--time-budget", type=float, metavar="SECONDS", help="stop cleanly after this long")
    api.add_argument(
        "--resume-now",
        action="store_true",
        help="resume a rate-limited run even before the time Spotify asked to wait until",
    )
    api.add_argument("--json", action="store_true", help="print the result as JSON instead of text")

    mpd = sub.add_parser("mpd", help="land Million Playlist Dataset slice files")
    mpd.add_argument("--source", required=True, help="a slice file, or a folder / s3:// prefix of mpd.slice.*.json")
    mpd.add_argument("--landing", required=True, help="landing root: s3://bucket/prefix or a local folder")
    mpd.add_argument("--json", action="store_true", help="print the result as JSON instead of text")

    login = sub.add_parser(
        "login",
        help="get a refresh token for the user flow (authorization code with PKCE, works without a browser)",
        description="Prints an authorize URL to open in any browser, reads the URL Spotify redirects to (pasted on "
        "stdin), checks its state and exchanges the code with the PKCE verifier. The app comes from "
        "SPOTIFY_CLIENT_ID (and SPOTIFY_CLIENT_SECRET if set), or from the secret given with --secret-id.",
    )
    where = login.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--print", dest="print_token", action="store_true", help="print the refresh token on stdout (only it)"
    )
    where.add_argument(
        "--secret-id",
        metavar="ID",
        help="store it as SPOTIFY_REFRESH_TOKEN in this Secrets Manager secret (other keys kept; nothing printed)",
    )
    login.add_argument(
        "--redirect-uri",
        default=DEFAULT_REDIRECT_URI,
        help=f"a redirect URI registered for the app (default: {DEFAULT_REDIRECT_URI}; nothing has to listen there)",
    )
    login.add_argument("--authorize-url", default=SPOTIFY_AUTHORIZE_URL, help="authorize endpoint (default: Spotify's)")
    login.add_argument("--token-url", default=SPOTIFY_TOKEN_URL, help="token endpoint (default: Spotify's)")

    return parser


def credentials_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> Credentials:
    """SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET / SPOTIFY_REFRESH_TOKEN (optional) from the environment."""
    client_id, secret = environ.get("SPOTIFY_CLIENT_ID"), environ.get("SPOTIFY_CLIENT_SECRET")
    if not client_id or not secret:
        raise UsageError("set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (and SPOTIFY_REFRESH_TOKEN for --me)")
    return Credentials(client_id, secret, environ.get("SPOTIFY_REFRESH_TOKEN") or None)


def api_options(args: argparse.Namespace) -> ApiOptions:
    """ApiOptions from parsed ``api`` arguments."""
    playlists = list(args.playlist)
    if args.playlists_file:
        try:
            playlists += read_playlists_file(args.playlists_file)
        except ValueError as exc:  # names the file and the line
            raise UsageError(f"--playlists-file {exc}") from None
    enrich = tuple(e.strip() for e in args.enrich.split(",") if e.strip() and e.strip() != "none")
    if not (playlists or args.me or args.search):
        raise UsageError("nothing to extract: give --playlist, --playlists-file, --me or --search")
    try:
        return ApiOptions(
            landing=args.landing,
            playlists=playlists,
            me=args.me,
            searches=list(args.search),
            search_types=args.search_type,
            search_pages=args.search_pages,
            top_time_ranges=tuple(args.top_time_range or ("medium_term",)),
            enrich=enrich,
            api_base_url=args.api_base_url,
            token_url=args.token_url,
            max_retry_after=args.max_retry_after,
            max_retries=args.max_retries,
            backoff=args.backoff,
            timeout=args.timeout,
            records_per_part=args.records_per_part,
            time_budget=args.time_budget,
            resume_now=args.resume_now,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class _StderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is at the time of each record."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - mirrors StreamHandler.stream
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


def configure_logging(verbosity: int, secrets: list[str]) -> None:
    """Log to stderr through a filter that masks secrets and bearer/basic credentials."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_musiclake", False)]:
        root.removeHandler(old)
    handler._musiclake = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING
    logging.getLogger("musiclake_extract").setLevel(level)
    logging.getLogger("musiclake").setLevel(level)


def run_command(
    args: argparse.Namespace, environ: dict[str, str] | os._Environ[str] = os.environ, progress: bool = True
) -> RunResult:
    """Run a parsed command; returns the run's result.

    Raises
    ------
    UsageError
        Bad options or missing credentials.
    AuthError
        Credentials refused by the token endpoint.
    """
    if args.command == "api":
        credentials = credentials_from_env(environ)
        options = api_options(args)
        if options.me and not credentials.has_user:
            raise UsageError("--me needs SPOTIFY_REFRESH_TOKEN (the user flow)")
        return run_api(options, credentials, progress=Progress("spotify", enabled=None if progress else False))
    if args.command == "mpd":
        return run_mpd(
            MpdOptions(source=args.source, landing=args.landing),
            progress=Progress("mpd", enabled=None if progress else False),
        )
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks


def login_options(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str] = os.environ) -> LoginOptions:
    """LoginOptions from parsed ``login`` arguments: the app from the environment, else from ``--secret-id``."""
    client_id, client_secret = environ.get("SPOTIFY_CLIENT_ID"), environ.get("SPOTIFY_CLIENT_SECRET")
    if not client_id and args.secret_id:
        stored = read_secret(args.secret_id)
        client_id, client_secret = stored.get("SPOTIFY_CLIENT_ID"), stored.get("SPOTIFY_CLIENT_SECRET")
    if not client_id:
        raise UsageError(
            "set SPOTIFY_CLIENT_ID (and SPOTIFY_CLIENT_SECRET), or give --secret-id of a secret holding them"
        )
    return LoginOptions(
        client_id=str(client_id),
        client_secret=str(client_secret) if client_secret else None,
        redirect_uri=args.redirect_uri,
        authorize_url=args.authorize_url,
        token_url=args.token_url,
    )


def run_login(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The ``login`` command: the refresh token on stdout (``--print``) or into the secret (``--secret-id``)."""
    from musiclake_extract.login import login, store_refresh_token

    try:
        options = login_options(args, environ)
        token = login(options, read_line=sys.stdin.readline, err=sys.stderr)
        if args.print_token:
            print(token)
            print("New refresh token printed above: store it as SPOTIFY_REFRESH_TOKEN.", file=sys.stderr)
        else:
            version = store_refresh_token(args.secret_id, token)
            print(f"stored a new SPOTIFY_REFRESH_TOKEN in secret {args.secret_id} (version {version})")
    except _aws_errors() as exc:
        raise UsageError(f"Secrets Manager secret {args.secret_id}: {exc}") from None
    return EXIT_COMPLETE


def _aws_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 ships in the image
        return ()
    return (BotoCoreError, ClientError)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    secrets = [os.environ.get("SPOTIFY_CLIENT_SECRET", ""), os.environ.get("SPOTIFY_REFRESH_TOKEN", "")]
    configure_logging(args.verbose, [s for s in secrets if s])
    try:
        if args.command == "login":
            return run_login(args)
        result = run_command(args)
    except UsageError as exc:
        print(f"musiclake-extract: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuthError as exc:
        print(f"musiclake-extract: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as exc:
        print(f"musiclake-extract: not found: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ManifestError as exc:  # a landed run's manifest that is not the contract's: running again will not help
        print(f"musiclake-extract: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # noqa: BLE001 - report, keep the checkpoint, exit non-zero
        log.exception("unexpected error; the checkpoint (if any) is kept, run again to resume")
        return EXIT_ERROR
    if getattr(args, "json", False):
        print(json.dumps(result.as_dict(), indent=2, default=str))
    else:
        print(format_summary(result))
    if result.status != "complete":
        print(result.message, file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
