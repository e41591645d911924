"""The lake: one object that knows where the tables live and in which catalog database they are registered.

Every table is a Delta table at ``<root>/<name>`` (or its spec's explicit ``path``), registered in the catalog as
``<database>.<name>`` (the Glue Data Catalog on AWS, Spark's Hive metastore locally), so Spark SQL and Athena see
the same names. Writes are MERGEs keyed on the table's primary key: re-running a job on the same input changes
nothing, and ``DESCRIBE HISTORY`` shows one version per run that changed data.

A job builds one :class:`Lake` from its options and hands it to its stages::

    lake = Lake(spark, opts.lake_path, opts.database)
    stored = lake.load_current(schemas.TRACKS)
    written = lake.merge(schemas.TRACKS, updates)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from musiclake import schemas, storage
from musiclake.schemas import TableSpec, checked_identifier
from musiclake.transforms.columns import require_columns

log = logging.getLogger("musiclake.lake")

WRITE_METRICS = ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted")


@dataclass(frozen=True)
class Lake:
    """The tables under ``root``, registered in the catalog database ``database``.

    Parameters
    ----------
    spark
        The job's session (Delta enabled; the runtime module makes one).
    root
        The lake's root path or URI (a local folder or ``s3://bucket/prefix``).
    database
        The catalog database every table is registered in.
    """

    spark: SparkSession
    root: str
    database: str

    def path(self, *parts: str) -> str:
        """A path under the lake root (e.g. ``lake.path("models", "als")``)."""
        return storage.join(self.root, *parts)

    def location(self, spec: TableSpec) -> str:
        """Where the table's Delta log lives."""
        return spec.path or self.path(spec.name)

    # --- reading ----------------------------------------------------------------------------------------------
    def exists(self, spec: TableSpec) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.location(spec))

    def version(self, spec: TableSpec) -> int:
        """The table's latest Delta version."""
        return int(DeltaTable.forPath(self.spark, self.location(spec)).history(1).first()["version"])

    def load(self, spec: TableSpec, version: int | None = None) -> DataFrame:
        """Read a table by path (works with or without the catalog), optionally at a fixed version."""
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.location(spec))

    def load_current(self, spec: TableSpec) -> DataFrame:
        """The table pinned to its current version (later writes in the same job do not leak in); an empty
        DataFrame with the table's schema when the table does not exist yet."""
        if not self.exists(spec):
            return self.spark.createDataFrame([], spec.schema)
        return self.load(spec, version=self.version(spec))

    def load_optional(self, spec: TableSpec) -> DataFrame | None:
        """The table, or None when it does not exist."""
        return self.load(spec) if self.exists(spec) else None

    # --- writing ----------------------------------------------------------------------------------------------
    def ensure(self, spec: TableSpec) -> DeltaTable:
        """Create the Delta table (registered as ``database.name`` with comments) unless it already exists."""
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {checked_identifier(self.database)}")
        builder = (
            DeltaTable.createIfNotExists(self.spark)
            .tableName(spec.qualified(self.database))
            .location(self.location(spec))
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

    def merge(
        self, spec: TableSpec, updates: DataFrame, *, delete_flag: str | None = None, delete_missing: bool = False
    ) -> int:
        """MERGE ``updates`` into the table on its keys: insert new keys, update rows whose values changed.

        Parameters
        ----------
        delete_flag
            Optional boolean column of ``updates``: matched rows flagged true are deleted (and never inserted).
        delete_missing
            Delete stored rows whose key is not in ``updates`` (``updates`` is then the whole table: a full sync).

        Returns
        -------
        Rows inserted + updated + deleted (0 when the MERGE changed nothing).

        Notes
        -----
        Deciding *which* rows win (latest observation, newer than stored) is the caller's job; this only applies
        them. Unchanged rows are not rewritten, so merging the same updates twice changes nothing.
        """
        table = self.ensure(spec)
        # No repartition by the partition columns here: with one partition value (all of the MPD is source=mpd)
        # that funnels every row through one task. Delta's optimized write (a table property, see ensure)
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
        before = self.version(spec)
        merge.execute()
        # A MERGE that changes nothing commits nothing: then the latest commit is an older one, not ours.
        latest = table.history(1).select("version", "operationMetrics").first()
        metrics = _numeric(latest["operationMetrics"]) if latest and latest["version"] > before else {}
        log.info("merged into %s: %s", spec.name,
                 {k: v for k, v in metrics.items() if k.startswith("numTargetRows")} or "no change")
        return sum(metrics.get(k, 0) for k in WRITE_METRICS)

    def append(self, spec: TableSpec, rows: DataFrame) -> None:
        """Append to a log-like table (job_runs) after making sure it exists."""
        self.ensure(spec)
        conform(rows, spec.schema).write.format("delta").mode("append").save(self.location(spec))

    def overwrite(self, spec: TableSpec, rows: DataFrame, *, files: int | None = None) -> None:
        """Replace a derived table's contents in one Delta commit (the previous version stays in history)."""
        self.ensure(spec)
        data = conform(rows, spec.schema)
        if files:
            data = data.repartition(files, *spec.partition_by) if spec.partition_by else data.coalesce(files)
        data.write.format("delta").mode("overwrite").option("overwriteSchema", "false").save(self.location(spec))

    def list_partitions(self, spec: TableSpec) -> list[dict[str, str | None]]:
        """The partitions of a catalogued Delta table, as ``{column: value}`` dicts in sorted order.

        ``SHOW PARTITIONS`` does not apply to Delta tables (their partitions live in the Delta log, which is also
        how Athena prunes them), so this reads the partition values from the table's current snapshot.
        """
        if not spec.partition_by:
            return []
        columns = list(spec.partition_by)
        # small by construction: one row per partition
        rows = self.spark.table(spec.qualified(self.database)).select(*columns).distinct().orderBy(*columns).collect()
        return [{c: (None if r[c] is None else str(r[c])) for c in columns} for r in rows]


def conform(df: DataFrame, schema: StructType, keep: tuple[str, ...] = ()) -> DataFrame:
    """Select exactly the schema's columns (plus ``keep``), cast to its types: the write-side schema contract."""
    require_columns(df, [*(f.name for f in schema.fields), *keep], "cannot write")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields], *keep)


def load_envelopes(spark: SparkSession, files: list[str]) -> DataFrame:
    """Read landing files (gzip JSON Lines) with the explicit envelope schema; no inference.

    Lines that are not JSON are kept whole in :data:`schemas.CORRUPT_COLUMN`; ``source_file`` names the file of
    each line.
    """
    return (
        spark.read.schema(schemas.ENVELOPE)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", schemas.CORRUPT_COLUMN)
        .json(files)
        .withColumn("source_file", F.input_file_name())
    )


def _numeric(metrics: dict[str, str] | None) -> dict[str, int]:
    return {k: int(v) for k, v in (metrics or {}).items() if str(v).lstrip("-").isdigit()}
