"""Column -> Column helpers shared by the transforms, and the one check that a DataFrame has the columns it needs."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

ID_LENGTH = 22  # characters of a Spotify id, all base62
_ID = rf"[0-9A-Za-z]{{{ID_LENGTH}}}"
SPOTIFY_ID = rf"^{_ID}$"


def is_spotify_id(value: Column) -> Column:
    """Whether ``value`` is a 22-character base62 Spotify id (null for a null ``value``)."""
    return value.rlike(SPOTIFY_ID)


def is_spotify_uri(uri: Column, kind: str) -> Column:
    """Whether ``uri`` is ``spotify:<kind>:<id>`` with a Spotify id (null for a null ``uri``)."""
    return uri.rlike(rf"^spotify:{kind}:{_ID}$")


def spotify_id_from_uri(uri: Column, kind: str) -> Column:
    """``spotify:<kind>:<id>`` -> ``<id>`` (null for other kinds, local files and malformed URIs)."""
    return F.when(is_spotify_uri(uri, kind), F.substring(uri, len(f"spotify:{kind}:") + 1, ID_LENGTH))


def valid_spotify_id(value: Column) -> Column:
    """``value`` when it is a 22-character base62 Spotify id, else null."""
    return F.when(is_spotify_id(value), value)


def field_problem(raw_json: Column, parsed: Column, path: str) -> Column:
    """Why a required field is unusable, or null when it is fine.

    ``missing required field <path>`` when the raw JSON has no (or a null) value there, ``wrong type for field
    <path>`` when it has one that did not parse into the declared type.
    """
    present = F.get_json_object(raw_json, f"$.{path}").isNotNull()
    return (
        F.when(parsed.isNotNull(), F.lit(None).cast("string"))
        .when(present, F.lit(f"wrong type for field {path}"))
        .otherwise(F.lit(f"missing required field {path}"))
    )


def first_problem(*problems: Column) -> Column:
    """The first non-null problem of several checks (null when every check passes)."""
    return F.coalesce(*problems)


def api_timestamp(value: Column) -> Column:
    """An ISO-8601 UTC timestamp string as sent by the API / written in envelopes -> timestamp."""
    return F.to_timestamp(value)


class MissingColumnsError(ValueError):
    """A DataFrame lacks columns a step needs; the message names them."""


def require_columns(df: DataFrame, columns: Iterable[str], what: str) -> None:
    """Fail fast, naming every column of ``columns`` that ``df`` lacks (the one column check of the library).

    Raises
    ------
    MissingColumnsError
        If any of ``columns`` is not in ``df``; the message names ``what``, the missing and the present columns.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingColumnsError(f"{what}: missing column(s) {missing}; it has {df.columns}")
