"""Errors of ``musiclake query``: each carries a one-line message meant for the user, not a traceback."""

from __future__ import annotations


class QueryError(Exception):
    """A query could not run; ``str(error)`` says why and, where possible, what to do."""


class SqlParseError(QueryError):
    """The SQL is not valid Athena (Trino) SQL; the message names the line and column."""


class UnknownTableError(QueryError):
    """The SQL names a table the lake does not have; the message lists the ones it has."""


class LakeNotFoundError(QueryError):
    """No Delta table (and no raw landing zone) was found at the given lake path."""


class AccessDeniedError(QueryError):
    """The SQL reached beyond the lake's tables (a file, a URL, an extension, a setting, a write): refused."""
