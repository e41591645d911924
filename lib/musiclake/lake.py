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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial, reduce
from typing import Any

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from musiclake import landing, schemas, storage
from musiclake.runtime import small_frame
from musiclake.schemas import TableSpec, checked_identifier
from musiclake.transforms.columns import require_columns
from musiclake.transforms.envelopes import LINE_COLUMN, OVERSIZE_COLUMN, TYPED_BODY_COLUMN

log = logging.getLogger("musiclake.lake")

WRITE_METRICS = ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted")
# A MERGE batch with at most this many distinct first-key values names them in its condition, so Delta skips the
# files whose min/max statistics exclude them; above it the list costs more (driver, Delta log) than it saves.
MERGE_KEY_LITERALS_MAX = 1000
# A first load whose rows the caller counted is written straight from the batch's partitions, as one file when it has
# fewer rows than this (a million rows of the lake's tables are tens of MB of Parquet), else a file per partition.
FIRST_LOAD_ROWS_PER_FILE = 1_000_000
# Commits a write of ours may be followed by before it returns (auto compaction's OPTIMIZE), with room to spare.
COMMITS_AFTER_A_WRITE = 3
CREATE_OPERATION = "CREATE TABLE"  # the commit (version 0, no data files) of DeltaTable.createIfNotExists
# What the quarantine keeps of a line over the record-size limit (the landing file keeps it whole).
OVERSIZE_PREFIX_CHARS = 4096


class CatalogConflictError(RuntimeError):
    """A table the job writes is registered in the catalog at another location that still holds data."""


class TableNotFoundError(LookupError):
    """There is no Delta table where a table of the lake should be."""


@dataclass(frozen=True)
class TableState:
    """A Delta table's latest version and id (:meth:`Lake.state`); version -1 and no id when there is no table."""

    version: int
    table_id: str | None

    @property
    def exists(self) -> bool:
        return self.version >= 0


@dataclass(frozen=True)
class Commit:
    """One commit of a Delta table, as its commit info records it (:meth:`Lake.commits`)."""

    version: int
    operation: str
    metrics: dict[str, int]


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
    _databases_made: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    # Tables this Lake has seen registered here and present (the catalog check, or its own ensure): ensure() then
    # skips the CREATE ... IF NOT EXISTS, which costs catalog round trips and a query per table and write.
    _registered: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def path(self, *parts: str) -> str:
        """A path under the lake root (e.g. ``lake.path("models", "als")``)."""
        return storage.join(self.root, *parts)

    def location(self, spec: TableSpec) -> str:
        """Where the table's Delta log lives."""
        return spec.path or self.path(spec.name)

    # --- reading ----------------------------------------------------------------------------------------------
    def state(self, spec: TableSpec) -> TableState:
        """The table's latest version and Delta id, from its log's latest snapshot (:class:`TableState`).

        One read of the Delta log's newest entries, in the driver; no Spark job (``DeltaTable.history`` and
        ``detail`` each start one, and ``detail`` lists every data file). The snapshot is Delta's own
        (``DeltaLog.update``, Delta 3.3 as on Glue 5.1), the one a read of the table would use.
        """
        snapshot = self._latest_snapshot(spec)[1]
        version = int(snapshot.version())
        return TableState(version, str(snapshot.metadata().id()) if version >= 0 else None)

    def _latest_snapshot(self, spec: TableSpec) -> tuple[Any, Any]:
        """The table's Delta log (Delta's cached ``DeltaLog``, a JVM object) and its latest snapshot, brought up to
        date by reading the log's newest entries (``DeltaLog.update``) in the driver."""
        jvm = self.spark._jvm
        delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(self.spark._jsparkSession, self.location(spec))
        return delta_log, delta_log.update(False, jvm.scala.Option.empty(), jvm.scala.Option.empty())

    def exists(self, spec: TableSpec) -> bool:
        return self.state(spec).exists

    def commits(self, spec: TableSpec, after: int, limit: int) -> list[Commit]:
        """The table's latest commits after version ``after`` (at most ``limit``), newest first.

        Read from the commit files in the driver (their commit info, the first line of each): no Spark job, where
        ``DeltaTable.history`` runs one (a ``range`` over the versions, read by tasks) for the same rows.
        """
        jvm = self.spark._jvm
        delta_log, snapshot = self._latest_snapshot(spec)
        latest = int(snapshot.version())
        store, conf, found = delta_log.store(), delta_log.newDeltaHadoopConf(), []
        for version in range(latest, max(after, latest - limit), -1):  # each commit file named as the protocol says
            commit_file = jvm.org.apache.hadoop.fs.Path(delta_log.logPath(), f"{version:020d}.json")
            info = jvm.org.apache.spark.sql.delta.DeltaHistoryManager.getCommitInfoOpt(store, commit_file, conf)
            if info.isDefined():
                metrics = info.get().operationMetrics()
                as_dict = dict(jvm.scala.collection.JavaConverters.mapAsJavaMap(metrics.get())) if (
                    metrics.isDefined()) else None
                found.append(Commit(version, info.get().operation(), _numeric(as_dict)))
        return found

    def version(self, spec: TableSpec) -> int:
        """The table's latest Delta version.

        Raises
        ------
        TableNotFoundError
            If there is no Delta table at the table's location.
        """
        return self._existing(spec).version

    def table_id(self, spec: TableSpec) -> str:
        """The table's Delta id (from its metadata): it stays the same over every version of the table, and a
        table deleted and created again at the same path gets a new one.

        Raises
        ------
        TableNotFoundError
            If there is no Delta table at the table's location.
        """
        return str(self._existing(spec).table_id)

    def _existing(self, spec: TableSpec) -> TableState:
        state = self.state(spec)
        if not state.exists:
            raise TableNotFoundError(f"no Delta table {spec.name} at {self.location(spec)}")
        return state

    def load(self, spec: TableSpec, version: int | None = None) -> DataFrame:
        """Read a table by path (works with or without the catalog), optionally at a fixed version."""
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.location(spec))

    def load_current(self, spec: TableSpec) -> DataFrame:
        """The table pinned to its current version (later writes in the same job do not leak in); an empty
        DataFrame with the table's schema when the table does not exist yet."""
        state = self.state(spec)
        if not state.exists:
            return small_frame(self.spark, [], spec.schema)
        return self.load(spec, version=state.version)

    def changes(self, spec: TableSpec, after_version: int, to_version: int) -> DataFrame:
        """The rows the commits after ``after_version`` up to ``to_version`` inserted, updated or deleted (Delta's
        change data feed: the table's columns plus ``_change_type``, ``_commit_version``), lazily.

        The feed covers the range when the table records it (``delta.enableChangeDataFeed``, set by the spec's
        properties when the table is created) since before ``after_version + 1`` and VACUUM kept the files of those
        commits; otherwise reading it fails (when it is planned or read), and the caller's fallback must be a full
        read of the table.
        """
        return (self.spark.read.format("delta").option("readChangeFeed", "true")
                .option("startingVersion", after_version + 1).option("endingVersion", to_version)
                .load(self.location(spec)))

    def load_optional(self, spec: TableSpec) -> DataFrame | None:
        """The table, or None when it does not exist."""
        return self.load(spec) if self.exists(spec) else None

    # --- the catalog ------------------------------------------------------------------------------------------
    def check_registrations(self, specs: Iterable[TableSpec]) -> None:
        """Make sure the catalog registrations of the tables a job writes point at this lake, before it writes.

        Parameters
        ----------
        specs
            The tables the job registers (creates or writes).

        Raises
        ------
        CatalogConflictError
            Naming both locations and the way out, when a table is registered at another location that still
            holds files (another lake's table: never taken over).

        Notes
        -----
        A registration whose location holds nothing any more (the folder was deleted or is empty) is stale: for a
        table of ours (:data:`schemas.TABLES`) it is dropped (the catalog entry only) and registered again here
        when this lake holds the table, else by the job's first write. Without this, a deleted lake makes every
        later run fail with ``DELTA_TABLE_NOT_FOUND`` whatever its lake path. Catalog calls: one listing of the
        database's tables, one lookup of those of ``specs`` it holds (none at all in the usual case of a new
        database); then a file-system check per registered table.
        """
        wanted = {spec.name: spec for spec in specs}
        stale, problems = [], []
        for name, registered_at in self._registered_locations(wanted).items():
            spec = wanted[name]
            ours = self.location(spec)
            if _qualified(self.spark, registered_at) == _qualified(self.spark, ours) and self.exists(spec):
                self._registered.add(ours)
                continue  # the usual case
            if name in schemas.TABLES and _holds_nothing(self.spark, registered_at):
                stale.append((spec, registered_at))
            else:
                problems.append((spec, registered_at))
        if problems:
            found = "; ".join(f"{spec.qualified(self.database)} is registered at {registered_at}, which is not empty, "
                              f"but this lake keeps it at {self.location(spec)}" for spec, registered_at in problems)
            raise CatalogConflictError(
                f"tables this job writes are registered at other locations; nothing was changed: {found}. Either run "
                f"with another --database for lake {self.root}, or, if those locations are no longer wanted, drop "
                f"the entries (DROP TABLE {', '.join(spec.qualified(self.database) for spec, _ in problems)}: the "
                "catalog entries only, their files stay) and run again."
            )
        for spec, registered_at in stale:
            log.warning("%s was registered at %s, which holds nothing any more: registering it at %s",
                        spec.qualified(self.database), registered_at, self.location(spec))
            self.spark.sql(f"DROP TABLE IF EXISTS {spec.qualified(self.database)}")  # external: the entry only
            if self.exists(spec):
                self.ensure(spec)

    @contextmanager
    def checking_registrations(self, specs: Iterable[TableSpec]) -> Iterator[None]:
        """:meth:`check_registrations` in a thread of its own while the block runs, waited for when it ends.

        The block must only read: nothing is written before the check has passed. The catalog's first use in a
        process is its slowest call (locally the Derby metastore starts), and a job's first reads (its inputs'
        versions, the landing runs to process, the plan) need no catalog, so the two overlap. A conflict raises
        :class:`CatalogConflictError` when the block ends, in place of any error of the block (which is then its
        context).
        """
        from concurrent.futures import ThreadPoolExecutor

        from pyspark import inheritable_thread_target

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="musiclake-catalog") as pool:
            check = pool.submit(inheritable_thread_target(partial(self.check_registrations, list(specs))))
            try:
                yield
            finally:
                check.result()

    def _registered_locations(self, names: Iterable[str]) -> dict[str, str]:
        """``{name: location}`` of the tables among ``names`` registered in the database (none if it is new)."""
        try:  # small: one row per table of the database
            listed = {r["tableName"] for r in self.spark.sql(f"SHOW TABLES IN {checked_identifier(self.database)}")
                      .collect() if not r["isTemporary"]}
        except AnalysisException as exc:
            if "SCHEMA_NOT_FOUND" in str(exc.getErrorClass()):
                return {}
            raise
        present = sorted(listed.intersection(names))
        if not present:
            return {}
        # The session catalog's own lookup: it reads the registration only, where DESCRIBE would load the Delta
        # table (and fail on exactly the stale entries looked for); one call for all of them.
        jvm = self.spark._jvm
        identifiers, database = jvm.java.util.ArrayList(), jvm.scala.Some(self.database)
        for name in present:
            identifiers.add(jvm.org.apache.spark.sql.catalyst.TableIdentifier.apply(name, database))
        converters = jvm.scala.collection.JavaConverters
        catalog = self.spark._jsparkSession.sessionState().catalog()
        tables = converters.seqAsJavaList(catalog.getTablesByName(converters.asScalaBuffer(identifiers).toSeq()))
        return {t.identifier().table(): t.location().toString() for t in tables}

    # --- writing ----------------------------------------------------------------------------------------------
    def ensure(self, spec: TableSpec) -> DeltaTable:
        """Create the Delta table (registered as ``database.name`` with comments) unless it already exists.

        A table this Lake has already found registered here and present (:meth:`check_registrations`, or an
        earlier call) is only opened by its path, unless it has been deleted since.
        """
        if self.location(spec) in self._registered:
            try:
                return DeltaTable.forPath(self.spark, self.location(spec))
            except AnalysisException as exc:
                if "DELTA_MISSING_DELTA_TABLE" not in str(exc.getErrorClass()):
                    raise
                self._registered.discard(self.location(spec))  # deleted: made (and registered) again below
        if self.database not in self._databases_made:  # once per job: a catalog round trip each time otherwise
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {checked_identifier(self.database)}")
            self._databases_made.add(self.database)
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
        table = builder.execute()
        self._registered.add(self.location(spec))
        return table

    def merge(
        self, spec: TableSpec, updates: DataFrame, *, delete_flag: str | None = None, delete_missing: bool = False,
        empty: bool | None = None, rows: int | None = None,
    ) -> int:
        """MERGE ``updates`` into the table on its keys: insert new keys, update rows whose values changed.

        Parameters
        ----------
        updates
            The batch. Unless ``delete_missing``, it is read once more before the MERGE (a small distinct of its
            keys and partition values, see Notes): pass a persisted frame, or one cheap to compute again.
        delete_flag
            Optional boolean column of ``updates``: matched rows flagged true are deleted (and never inserted).
        delete_missing
            Delete stored rows whose key is not in ``updates`` (``updates`` is then the whole table: a full sync).
        empty
            Whether the caller knows the batch to be empty (without ``delete_flag`` rows); None: a first load finds
            out with a query of its own (a limit 1 of the batch's plan), which the caller can spare it.
        rows
            The batch's rows (without ``delete_flag`` rows), when the caller has counted them; ``empty`` is then
            ``rows == 0``. A first load then also knows how many files to write (see Notes).

        Returns
        -------
        Rows inserted + updated + deleted (0 when the MERGE changed nothing or the batch is empty).

        Notes
        -----
        Deciding *which* rows win (latest observation, newer than stored) is the caller's job; this only applies
        them. Unchanged rows are not rewritten, so merging the same updates twice changes nothing.

        The cost follows the batch, not the table: the MERGE condition also holds literal predicates on the
        stored rows the batch can match (:func:`batch_predicates`), which Delta uses to skip files before it
        joins: the partitions the batch touches (``t.source IN ('spotify')``, for tables whose partition follows
        the key) and, for a batch of at most :data:`MERGE_KEY_LITERALS_MAX` distinct first-key values, those
        values (files skipped on their min/max statistics). An empty batch merges nothing (the table is only
        made sure to exist), and one into a table as :meth:`ensure` created it (version 0) is an append (nothing
        to match); given the batch's ``rows``, that append is written without the shuffle of the optimized write
        (the tables' ``optimizeWrite`` property, kept for MERGEs and uncounted loads), which would move every row
        of a big first load once more only to cut its files: a file per partition of the batch, or one file for
        fewer than :data:`FIRST_LOAD_ROWS_PER_FILE` rows (its partitions coalesced: no shuffle either). Besides
        the MERGE, the Delta log is read in the driver, without a Spark job: before, the latest version; after,
        the MERGE's metrics from its commit (if it committed), found among the last few commits since auto
        compaction may have committed after it. A full sync (``delete_missing``) gets neither predicate: it must
        see the whole table, since a stored row left out of the scan would be neither matched nor deleted.
        """
        state = self.state(spec)  # before ensure(): a table it creates now gets a first load, nothing else to read
        table = self.ensure(spec)
        # No repartition by the partition columns here: with one partition value (all of the MPD is source=mpd)
        # that funnels every row through one task. Delta's optimized write (a table property, see ensure)
        # already bins the output into few, large files per partition.
        source = conform(updates, spec.schema, keep=(delete_flag,) if delete_flag else ())
        before = max(state.version, 0)  # the version a commit of ours must follow
        first_load = not state.exists or (  # or still as ensure() created it (version 0, no data files)
            before == 0 and self.commits(spec, after=-1, limit=1)[0].operation == CREATE_OPERATION)
        if first_load:  # nothing to match, so an append
            return self._first_load(spec, source, delete_flag, before, rows == 0 if rows is not None else empty, rows)
        on = F.expr(" AND ".join(f"t.`{k}` <=> s.`{k}`" for k in spec.keys))
        if not delete_missing:
            touched = batch_predicates(spec, source)
            if touched is None:
                log.info("merged into %s: empty batch, nothing to merge", spec.name)
                return 0
            for predicate in touched:
                on = on & predicate
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
        merge.execute()
        metrics = self.commit_metrics(spec, before, "MERGE")
        log.info("merged into %s: %s", spec.name,
                 {k: v for k, v in metrics.items() if k.startswith("numTargetRows")} or "no change")
        return sum(metrics.get(k, 0) for k in WRITE_METRICS)

    def _first_load(self, spec: TableSpec, source: DataFrame, delete_flag: str | None, before: int,
                    empty: bool | None, rows: int | None) -> int:
        """What a MERGE into a table without data files amounts to, as one append: the rows not flagged for
        deletion (a MERGE would also join them with the empty table first); its files follow ``rows`` when
        known (:meth:`merge`). Returns the rows written."""
        data = source.filter(~F.col(delete_flag)).drop(delete_flag) if delete_flag else source
        if data.isEmpty() if empty is None else empty:  # an empty append would still commit a version
            log.info("merged into %s: empty batch, nothing to merge", spec.name)
            return 0
        writer = data.write
        if rows is not None:  # a big batch keeps its partitions: coalescing it to fewer makes tasks of unequal size
            small = rows < FIRST_LOAD_ROWS_PER_FILE
            writer = (data.coalesce(1) if small else data).write.option("optimizeWrite", "false")
        writer.format("delta").mode("append").save(self.location(spec))
        written = self.commit_metrics(spec, before, "WRITE").get("numOutputRows", 0)
        log.info("merged into %s: first load, %d rows appended", spec.name, written)
        return written

    def commit_metrics(self, spec: TableSpec, before: int, operation: str) -> dict[str, int]:
        """The numeric metrics of the newest ``operation`` commit after version ``before`` (none when the operation
        committed nothing, e.g. a MERGE that changed no row). Not simply the latest commit: auto compaction (the
        ``autoCompact`` table property) may commit an ``OPTIMIZE`` right after a write."""
        return next((c.metrics for c in self.commits(spec, before, COMMITS_AFTER_A_WRITE + 1)
                     if c.operation == operation), {})

    def append(self, spec: TableSpec, rows: DataFrame) -> None:
        """Append to a log-like table (job_runs) after making sure it exists. A column the table lacks (one added
        to the spec after the lake was made) is added to it by the append (Delta schema evolution)."""
        self.ensure(spec)
        (conform(rows, spec.schema).write.format("delta").mode("append").option("mergeSchema", "true")
         .save(self.location(spec)))

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


def batch_predicates(spec: TableSpec, batch: DataFrame) -> list[Column] | None:
    """Conditions on the stored rows (alias ``t``) that every row ``batch`` can match on the keys satisfies.

    Returns
    -------
    ``None`` for an empty batch; else, possibly empty, ``t.<partition column> IN (<values in the batch>)`` for each
    partition column when ``spec.partition_follows_key``, and ``t.<first key> IN (<values in the batch>)`` when
    the batch holds at most :data:`MERGE_KEY_LITERALS_MAX` distinct first-key values.

    Notes
    -----
    Two small actions on ``batch``: the distinct partition values (one row per partition the batch touches) and at
    most ``MERGE_KEY_LITERALS_MAX + 1`` distinct first-key values, collected to the driver: small by construction.
    The values become literals of the expression (never SQL text), so no value needs escaping. A null value
    matches a null stored value, as the key condition's ``<=>`` does.
    """
    first_key = spec.keys[0]
    # small by construction: at most MERGE_KEY_LITERALS_MAX + 1 rows
    keys = [r[0] for r in batch.select(first_key).distinct().limit(MERGE_KEY_LITERALS_MAX + 1).collect()]
    if not keys:
        return None
    predicates = []
    if spec.partition_by and spec.partition_follows_key:
        # small by construction: one row per partition the batch touches
        touched = batch.select(*spec.partition_by).distinct().collect()
        predicates += [_one_of(column, {r[column] for r in touched}) for column in spec.partition_by]
    if len(keys) <= MERGE_KEY_LITERALS_MAX:
        predicates.append(_one_of(first_key, set(keys)))
    return predicates


def _one_of(column: str, values: set) -> Column:
    """``t.<column> IN (values)``, null-safe: true for a null stored value when ``values`` holds None."""
    stored = F.col(f"t.`{column}`")
    known = sorted(v for v in values if v is not None)
    matches = stored.isin(known) if known else F.lit(False)
    return (matches | stored.isNull()) if None in values else matches


def conform(df: DataFrame, schema: StructType, keep: tuple[str, ...] = ()) -> DataFrame:
    """Select exactly the schema's columns (plus ``keep``), cast to its types: the write-side schema contract."""
    require_columns(df, [*(f.name for f in schema.fields), *keep], "cannot write")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields], *keep)


@dataclass(frozen=True)
class TypedBody:
    """Landing files whose lines are envelopes of one ``source``/``entity``, and the ``schema`` of that body:
    :func:`load_envelopes` parses each of their lines once, body typed, rather than keeping the body as text to be
    parsed again."""

    source: str
    entity: str
    schema: StructType
    files: tuple[str, ...]


def load_envelopes(spark: SparkSession, files: list[str], max_record_bytes: int = landing.MAX_RECORD_BYTES,
                   typed: TypedBody | None = None) -> DataFrame:
    """Read landing files (gzip JSON Lines) with the explicit envelope schema; no inference.

    Lines that are not JSON (a line with text after its JSON object too) are kept whole in
    :data:`schemas.CORRUPT_COLUMN`; ``source_file`` names the file of each line. A line over ``max_record_bytes``
    (UTF-8 bytes, newline excluded) is not parsed: its size is in
    :data:`~musiclake.transforms.envelopes.OVERSIZE_COLUMN` (null for every other line) and its first
    :data:`OVERSIZE_PREFIX_CHARS` characters in the corrupt-record column, for the quarantine. Blank lines are
    skipped, as Spark's JSON reader does.

    With ``typed``, a line of its files is parsed once with its body as ``typed.schema``: when that parse is clean
    (every value of its type, the envelope complete, of ``typed.source``/``entity``, a 200 or file record) the body
    is in :data:`TYPED_BODY_COLUMN` (``body`` null) and the line in :data:`LINE_COLUMN`; any other line of them is
    read like the lines of the other files (the two columns null), its problem found as usual.

    Notes
    -----
    Jackson (2.15, Spark 3.5) refuses a string value over 20 million characters by default; the reader's
    ``maxStringLen`` is set to the record-size limit, so every record within the limit is read.
    """
    typed_files = set(typed.files) if typed else set()
    groups = {typed_only: [f for f in files if (f in typed_files) == typed_only] for typed_only in (False, True)}
    return reduce(DataFrame.unionByName, [_read_envelopes(spark, group, max_record_bytes, typed, typed_only)
                                          for typed_only, group in groups.items() if group])


def _read_envelopes(spark: SparkSession, files: list[str], max_record_bytes: int, typed: TypedBody | None,
                    typed_only: bool) -> DataFrame:
    """:func:`load_envelopes` of ``files``: all typed by ``typed`` (``typed_only``), or none (the typed columns
    then null, present when ``typed`` is given)."""
    # strict JSON: Spark's reader takes 'single-quoted' names and strings by default
    json_options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": schemas.CORRUPT_COLUMN,
                    "maxStringLen": str(max(landing.MAX_RECORD_BYTES, max_record_bytes)), "allowSingleQuotes": "false"}
    line, size = F.col("value"), F.octet_length("value")
    # Jackson stops at the end of the line's first JSON value and ignores what follows: a line with more after it
    # (`{...} xyz`, or a second object: `{...}{...}`, `{...},{...}`) is no JSON line, and would lose what follows
    # unseen. A line is parsed only when it ends with its object (JSON's blanks after it allowed) and, read as the
    # elements of a JSON array, is exactly one value: `[{...}{...}]` is no JSON, `[{...},{...}]` holds two. That
    # read builds nothing (`json_array_length`: Jackson skips each element), but tokenises the line once more: up to
    # ~3 s of a 28 s read of 100k playlists (BENCHMARKS.md); a line over the size limit is not read by it.
    fits = size <= F.lit(max_record_bytes)
    elements = F.json_array_length(F.concat(F.lit("["), line, F.lit("]")))  # null when that is no JSON
    one_value = F.coalesce(elements == 1, F.lit(False))
    lines = (spark.read.text(files).filter(F.trim(line) != "")
             .withColumn("_whole", F.expr("trim(TRAILING ' \\t' FROM value)").endswith("}") & (~fits | one_value)))
    whole = F.col("_whole")
    readable = fits & whole  # what the JSON parser is given; any other line is kept as text
    typed_by = typed if typed_only else None
    if typed_by is not None:
        typed_envelope = StructType([StructField(f.name, typed_by.schema if f.name == "body" else f.dataType, True)
                                     for f in schemas.ENVELOPE.fields])
        typed_parse = F.from_json(F.when(readable, line), typed_envelope, json_options)
        lines = lines.select(line, whole, typed_parse.alias("_typed"))
        t = F.col("_typed")
        complete = [t[name].isNotNull() for name in ("run_id", "source", "entity", "body")]
        clean = F.coalesce(
            t[schemas.CORRUPT_COLUMN].isNull() & (t["source"] == typed_by.source) & (t["entity"] == typed_by.entity)
            & (F.coalesce(t["http_status"], F.lit(200)) == 200) & reduce(Column.__and__, complete),
            F.lit(False),
        )
        # Columns of their own, each read by several columns below: Spark then evaluates them once a line (a
        # projection that reads an expensive expression more than once is not merged into the next). The text
        # parse runs for the lines not clean only.
        lines = lines.withColumn("_clean", clean)
        clean = F.col("_clean")
        text_parse = F.from_json(F.when(readable & ~clean, line), schemas.ENVELOPE, json_options)
        lines = lines.withColumn("_envelope", text_parse)
        parsed = F.col("_envelope")
    else:
        clean, parsed = F.lit(False), F.from_json(F.when(readable, line), schemas.ENVELOPE, json_options)
    envelope_columns = []
    for f in schemas.ENVELOPE.fields:
        if f.name == schemas.CORRUPT_COLUMN:
            column = F.coalesce(parsed[f.name], F.when(~fits, F.substring(line, 1, OVERSIZE_PREFIX_CHARS)),
                                F.when(~whole, line))
        elif typed_only and f.name != "body":
            column = F.when(clean, F.col("_typed")[f.name]).otherwise(parsed[f.name])
        else:
            column = parsed[f.name]
        envelope_columns.append(column.alias(f.name))
    typed_columns = []
    if typed_only:
        typed_columns = [F.when(clean, F.col("_typed")["body"]).alias(TYPED_BODY_COLUMN),
                         F.when(clean, line).alias(LINE_COLUMN)]
    elif typed is not None:
        typed_columns = [F.lit(None).cast(typed.schema).alias(TYPED_BODY_COLUMN),
                         F.lit(None).cast("string").alias(LINE_COLUMN)]
    return lines.select(*envelope_columns, F.input_file_name().alias("source_file"),
                        F.when(~fits, size).alias(OVERSIZE_COLUMN), *typed_columns)


def file_sizes(spark: SparkSession, folder: str) -> dict[str, int]:
    """``{file name: bytes}`` of the files directly in ``folder`` (empty when it does not exist).

    One listing, through the file system Spark reads with (Hadoop: local, S3A, or EMRFS on Glue).
    """
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    try:
        statuses = fs.listStatus(path)
    except Exception as exc:  # py4j wraps java.io.FileNotFoundException
        if "FileNotFoundException" in str(exc):
            return {}
        raise
    return {s.getPath().getName(): int(s.getLen()) for s in statuses if s.isFile()}


def _qualified(spark: SparkSession, location: str) -> str:
    """A location as the file system spells it in full (``/x`` -> ``file:/x``), for comparing locations."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return str(fs.makeQualified(path).toString()).rstrip("/")


def _holds_nothing(spark: SparkSession, location: str) -> bool:
    """True when ``location`` does not exist or is an empty folder."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return not fs.exists(path) or (fs.getFileStatus(path).isDirectory() and len(fs.listStatus(path)) == 0)


def _numeric(metrics: dict[str, str] | None) -> dict[str, int]:
    return {k: int(v) for k, v in (metrics or {}).items() if str(v).lstrip("-").isdigit()}
