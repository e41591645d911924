"""``musiclake query``: Athena SQL on the lake, on AWS (Athena) or embedded locally (DuckDB over Delta, no Spark).

* :mod:`musiclake.query.engine` - :class:`~musiclake.query.engine.LocalEngine`, Athena-dialect SQL transpiled by
  sqlglot and run by DuckDB over the Delta tables (read by delta-rs) and the raw landing zone.
* :mod:`musiclake.query.athena` - :class:`~musiclake.query.athena.AthenaEngine`, the same ``execute`` on Athena.
* :mod:`musiclake.query.sql_files` - the packaged analytics queries (``lib/musiclake/sql/*.sql``).
* :mod:`musiclake.query.command` - the CLI.

Importing this package is cheap: DuckDB, delta-rs, sqlglot and boto3 load only with the engine modules.
"""

from musiclake.query.errors import LakeNotFoundError, QueryError, SqlParseError, UnknownTableError
from musiclake.query.sql_files import list_queries, load_query

# the output formats of `musiclake query`: here, not in query.output (pyarrow), so that building the CLI's parser
# loads no pyarrow (`musiclake serve` never needs it)
FORMATS = ("table", "csv", "json")

__all__ = [
    "FORMATS", "LakeNotFoundError", "QueryError", "SqlParseError", "UnknownTableError", "list_queries", "load_query",
]
