"""Every packaged analytics query (``lib/musiclake/sql/*.sql``) gives the same answer embedded and on Spark SQL.

Each file runs unchanged through the local engine (DuckDB over the Delta tables) on the ``full_lake`` fixture,
and, independently, through Spark SQL on the same tables as registered in the metastore (in ``full_lake.database``),
after sqlglot translates it from Athena's dialect (Trino) to Spark's. Columns must match by name and order, rows
one by one (every query has a deterministic ORDER BY), floats within a tolerance. A new ``.sql`` file is picked
up by the parametrization without touching this module.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any

import pytest

from musiclake.query.sql_files import list_queries, load_query

QUERIES = list_queries()
REL_TOL = 1e-9
ABS_TOL = 1e-12


def to_spark_sql(athena_sql: str, database: str) -> str:
    """``athena_sql`` in Spark's dialect, its unqualified table names (not CTEs) qualified with ``database``."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(athena_sql, read="trino")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and not table.db and table.name.lower() not in ctes:
            table.set("db", exp.to_identifier(database))
    return tree.sql(dialect="spark")


def _normalize(value: Any) -> Any:
    """Numbers as float (bool kept), timestamps as naive UTC (Spark's are naive local time), the rest as is."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return left == right


def assert_same_rows(local: list[dict[str, Any]], spark: list[dict[str, Any]], query: str) -> None:
    """Row by row, column by column, with a tolerance for floats; the message names the first difference."""
    assert len(local) == len(spark), f"{query}: {len(local)} rows locally, {len(spark)} on Spark"
    for index, (mine, theirs) in enumerate(zip(local, spark, strict=True)):
        for column in mine:
            a, b = _normalize(mine[column]), _normalize(theirs[column])
            assert _same(a, b), f"{query}: row {index}, column {column}: local {a!r} != Spark {b!r}"


@pytest.fixture(scope="module")
def local_engine(full_lake):
    from musiclake.query.engine import LocalEngine

    with LocalEngine(full_lake.lake) as engine:
        yield engine


def test_every_query_file_says_what_it_answers_and_its_columns() -> None:
    assert len(QUERIES) >= 10
    for name in QUERIES:
        sql = load_query(name)
        assert sql.lstrip().startswith("--"), f"{name}.sql: no header comment"
        assert "Output:" in sql, f"{name}.sql: the header does not list the output columns"
        assert re.search(r"\bORDER\s+BY\b", sql, re.IGNORECASE) or "one row" in sql, f"{name}.sql: no ORDER BY"
        assert not re.search(r"\b(musiclake|fulllake\w*)\.", sql), f"{name}.sql: table names must be unqualified"


@pytest.mark.parametrize("query", QUERIES)
def test_query_gives_the_same_rows_embedded_and_on_spark_sql(query: str, local_engine, spark, full_lake) -> None:
    sql = load_query(query)
    local = local_engine.execute(sql)
    spark_df = spark.sql(to_spark_sql(sql, full_lake.database))

    assert local.column_names == spark_df.columns
    local_rows = local.to_pylist()
    assert local_rows, f"{query}: empty result on the full lake; the fixture should make every query non-trivial"
    assert any(value is not None for value in local_rows[0].values())
    spark_rows = [row.asDict() for row in spark_df.collect()]  # small: each query aggregates or limits
    assert_same_rows(local_rows, spark_rows, query)
