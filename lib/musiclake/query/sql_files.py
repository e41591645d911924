"""The analytics queries shipped with the package: ``lib/musiclake/sql/<name>.sql``, in Athena (Trino) dialect.

One source of truth for both paths: the same file runs on Athena (``musiclake query --athena --query NAME``)
and embedded (``musiclake query --query NAME``). Table names in them are unqualified; the database comes from
the Athena query context (or, locally, is the lake itself).
"""

from __future__ import annotations

from importlib import resources

PACKAGE = "musiclake"
FOLDER = "sql"
SUFFIX = ".sql"


def _folder() -> resources.abc.Traversable:
    return resources.files(PACKAGE).joinpath(FOLDER)


def list_queries() -> list[str]:
    """Names of the packaged queries (file names without ``.sql``), sorted; empty if none are packaged."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(item.name[: -len(SUFFIX)] for item in folder.iterdir() if item.name.endswith(SUFFIX))


def load_query(name: str) -> str:
    """The SQL text of the packaged query ``name`` (with or without ``.sql``).

    Raises
    ------
    KeyError
        If there is no such query; the message lists the available names.
    """
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    if stem not in list_queries():
        raise KeyError(f"no packaged query {stem!r}; available: {', '.join(list_queries()) or '(none)'}")
    return _folder().joinpath(stem + SUFFIX).read_text(encoding="utf-8")
