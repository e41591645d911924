"""Load and save at the edges: Delta tables (create with column comments, MERGE upserts), catalog registration.

Every curated table is a Delta table at ``<lake_path>/<name>``, registered in the catalog as
``<database>.<name>`` (the Glue Data Catalog on AWS, Spark's Hive metastore locally), so Spark SQL and
Athena see the same names. Writes are MERGEs keyed on the table's primary key: re-running a job on the
same input changes nothing, and ``DESCRIBE HISTORY`` shows one version per run that changed data.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from musiclake import storage

log = logging.getLogger("musiclake.io")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableSpec:
    """A curated table: its name, schema (column comments in field metadata), key and partitioning.

    Parameters
    ----------
    name
        Table name, also its folder under the lake path.
    schema
        The table's columns; ``StructField.metadata["comment"]`` becomes the catalog column comment.
    keys
        The primary key MERGEs match on (unique, not null).
    partition_by
        Partition columns (chosen for how the table is queried).
    comment
        The table comment in the catalog.
    path
        Optional explicit location overriding ``<lake_path>/<name>`` (e.g. a job's ``--recommendations_path``).
    """

    name: str
    schema: StructType
    keys: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    comment: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    path: str | None = None

    def location(self, lake_path: str) -> str:
        return self.path or storage.join(lake_path, self.name)

    def qualified(self, database: str) -> str:
        return f"{_checked(database)}.{_checked(self.name)}"


def _checked(identifier: str) -> str:
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"invalid database/table name {identifier!r}: use letters, digits and _")
    return identifier


def ensure_database(spark: SparkSession, database: str, location: str | None = None) -> None:
    """Create the catalog database if it does not exist."""
    where = f" LOCATION '{location}'" if location else ""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {_checked(database)}{where}")


def ensure_table(spark: SparkSession, spec: TableSpec, lake_path: str, database: str) -> DeltaTable:
    """Create the Delta table (registered as ``database.name`` with comments) unless it already exists."""
    ensure_database(spark, database)
    builder = (
        DeltaTable.createIfNotExists(spark)
        .tableName(spec.qualified(database))
        .location(spec.location(lake_path))
        .comment(spec.comment)
    )
    for column in spec.schema.fields:
        builder = builder.addColumn(
            column.name, column.dataType, nullable=column.nullable, comment=column.metadata.get("comment")
        )
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    for key, value in {"delta.autoOptimize.optimizeWrite": "true", **spec.properties}.items():
        builder = builder.property(key, value)
    return builder.execute()


def load_table(spark: SparkSession, spec: TableSpec, lake_path: str, version: int | None = None) -> DataFrame:
    """Read a curated table by path (works with or without the catalog), optionally at a fixed version."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(spec.location(lake_path))


def load_current(spark: SparkSession, spec: TableSpec, lake_path: str) -> DataFrame:
    """The table as of now, pinned to its current version (later writes in the same job do not leak in);
    an empty DataFrame with the table's schema when the table does not exist yet."""
    if not table_exists(spark, spec, lake_path):
        return spark.createDataFrame([], spec.schema)
    return load_table(spark, spec, lake_path, version=current_version(spark, spec, lake_path))


def load_envelopes(spark: SparkSession, files: list[str], schema: StructType, corrupt_column: str) -> DataFrame:
    """Read landing files (gzip JSON Lines) with an explicit envelope schema; no inference.

    Lines that are not JSON are kept whole in ``corrupt_column``; ``source_file`` names the file of each line.
    """
    return (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", corrupt_column)
        .json(files)
        .withColumn("source_file", F.input_file_name())
    )


def table_exists(spark: SparkSession, spec: TableSpec, lake_path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, spec.location(lake_path))


def conform(df: DataFrame, schema: StructType, keep: tuple[str, ...] = ()) -> DataFrame:
    """Select exactly the schema's columns (plus ``keep``), cast to its types: the write-side schema contract."""
    missing = [f.name for f in schema.fields if f.name not in df.columns] + [c for c in keep if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write: columns missing from the DataFrame: {missing}")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields], *keep)


def merge_upsert(
    spark: SparkSession,
    spec: TableSpec,
    updates: DataFrame,
    lake_path: str,
    database: str,
    *,
    delete_flag: str | None = None,
    delete_missing: bool = False,
) -> dict[str, int]:
    """MERGE ``updates`` into the table on its keys: insert new keys, update rows whose values changed.

    Parameters
    ----------
    delete_flag
        Optional boolean column of ``updates``: matched rows flagged true are deleted (and never inserted).
    delete_missing
        Delete stored rows whose key is not in ``updates`` (``updates`` is then the whole table: a full sync).

    Returns
    -------
    Delta's operation metrics of the merge (numTargetRowsInserted/Updated/Deleted, ...).

    Notes
    -----
    Deciding *which* rows win (latest observation, newer than stored) is the caller's job; this only applies
    them. Unchanged rows are not rewritten, so merging the same updates twice changes nothing.
    """
    table = ensure_table(spark, spec, lake_path, database)
    # No repartition by the partition columns here: with one partition value (all of the MPD is source=mpd)
    # that funnels every row through one task. Delta's optimized write (a table property, see ensure_table)
    # already bins the output into few, large files per partition.
    source = conform(updates, spec.schema, keep=(delete_flag,) if delete_flag else ())
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in spec.keys)
    value_columns = [f.name for f in spec.schema.fields if f.name not in spec.keys]
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in value_columns) or "false"
    assignments = {f"`{f.name}`": f"s.`{f.name}`" for f in spec.schema.fields}
    merge = table.alias("t").merge(source.alias("s"), on)
    if delete_flag:
        merge = merge.whenMatchedDelete(condition=f"s.`{delete_flag}`")
        changed = f"NOT s.`{delete_flag}` AND ({changed})"
    merge = merge.whenMatchedUpdate(condition=changed, set=assignments).whenNotMatchedInsert(
        condition=f"NOT s.`{delete_flag}`" if delete_flag else None, values=assignments
    )
    if delete_missing:
        merge = merge.whenNotMatchedBySourceDelete()
    before = current_version(spark, spec, lake_path)
    merge.execute()
    # A MERGE that changes nothing commits nothing: then the latest commit is an older one, not ours.
    latest = table.history(1).select("version", "operationMetrics").first()
    metrics = _numeric(latest["operationMetrics"]) if latest and latest["version"] > before else {}
    log.info("merged into %s: %s", spec.name,
             {k: v for k, v in metrics.items() if k.startswith("numTargetRows")} or "no change")
    return metrics


def last_operation_metrics(table: DeltaTable) -> dict[str, int]:
    """The numeric operation metrics of the table's latest commit (e.g. numTargetRowsInserted)."""
    row = table.history(1).select("operationMetrics").first()
    return _numeric(row["operationMetrics"]) if row else {}


def _numeric(metrics: dict[str, str] | None) -> dict[str, int]:
    return {k: int(v) for k, v in (metrics or {}).items() if str(v).lstrip("-").isdigit()}


def append_rows(spark: SparkSession, spec: TableSpec, rows: DataFrame, lake_path: str, database: str) -> None:
    """Append to a log-like table (job_runs, quarantine, processed_runs) after making sure it exists."""
    ensure_table(spark, spec, lake_path, database)
    conform(rows, spec.schema).write.format("delta").mode("append").save(spec.location(lake_path))


def overwrite_table(
    spark: SparkSession, spec: TableSpec, rows: DataFrame, lake_path: str, database: str, *, files: int | None = None
) -> None:
    """Replace a derived table's contents in one Delta commit (the previous version stays in history)."""
    ensure_table(spark, spec, lake_path, database)
    data = conform(rows, spec.schema)
    if files:
        data = data.repartition(files, *spec.partition_by) if spec.partition_by else data.coalesce(files)
    data.write.format("delta").mode("overwrite").option("overwriteSchema", "false").save(spec.location(lake_path))


def list_partitions(spark: SparkSession, qualified_name: str) -> list[dict[str, str]]:
    """The partitions of a catalogued Delta table, as ``{column: value}`` dicts in sorted order.

    ``SHOW PARTITIONS`` does not apply to Delta tables (their partitions live in the Delta log, which is also
    how Athena prunes them), so this reads the partition values from the table's current snapshot files.
    """
    detail = spark.sql(f"DESCRIBE DETAIL {qualified_name}").first()
    columns = list(detail["partitionColumns"]) if detail else []
    if not columns:
        return []
    # small by construction: one row per partition
    rows = spark.table(qualified_name).select(*columns).distinct().orderBy(*columns).collect()
    return [{c: (None if r[c] is None else str(r[c])) for c in columns} for r in rows]


def current_version(spark: SparkSession, spec: TableSpec, lake_path: str) -> int:
    """The table's latest Delta version."""
    return int(DeltaTable.forPath(spark, spec.location(lake_path)).history(1).first()["version"])
