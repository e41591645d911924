"""Validate raw landing envelopes and split off what must be quarantined."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from musiclake.schemas import CORRUPT_COLUMN
from musiclake.transforms.columns import first_problem

REASON = "_reason"
RECORD = "_record"
# Set by the reader (musiclake.lake.load_envelopes) on a line over the record-size limit: its size in bytes.
# Such a line is not parsed; the corrupt-record column holds the start of it.
OVERSIZE_COLUMN = "_oversize_bytes"
# Set by the reader on a line it parsed once with its body typed (``load_envelopes(..., typed=...)``): the body as a
# struct (``body`` is then null), and the line itself, for the record of a body a later check quarantines.
TYPED_BODY_COLUMN = "_typed_body"
LINE_COLUMN = "_line"


def _missing(name: str, df: DataFrame) -> Column:
    absent = F.col(name).isNull()
    if name == "body" and TYPED_BODY_COLUMN in df.columns:
        absent = absent & F.col(TYPED_BODY_COLUMN).isNull()
    return F.when(absent, F.lit(f"envelope missing required field {name}"))


def with_envelope_problem(df: DataFrame, expected: set[tuple[str, str]] | None = None) -> DataFrame:
    """Add ``_reason`` (null when the envelope is usable) and ``_record`` (the raw text kept for quarantine).

    Problems: a line over the record-size limit (when the reader marked it in :data:`OVERSIZE_COLUMN`, which
    is then dropped), a line that is not JSON, a missing ``run_id``/``source``/``entity``/``body``, a ``run_id``
    that is not the run of the file holding the line (:func:`run_of_file`; a later run id would win every dedupe),
    a 200 response whose body is not a JSON object, and (with ``expected``, the ``(source, entity)`` pairs the runs'
    manifests list) an envelope of a pair no manifest lists: no branch of the job would read it. A body the reader
    parsed already (:data:`TYPED_BODY_COLUMN`) is there; the record of such an envelope is its line.
    """
    body_not_object = F.when(
        ok_response() & ~F.ltrim(F.col("body")).startswith("{"),
        F.lit("body is not a JSON object"),
    )
    oversize = (
        F.when(F.col(OVERSIZE_COLUMN).isNotNull(),
               F.format_string("record over MAX_RECORD_BYTES (%d bytes)", F.col(OVERSIZE_COLUMN)))
        if OVERSIZE_COLUMN in df.columns else F.lit(None).cast("string")
    )
    malformed = F.when(F.col(CORRUPT_COLUMN).isNotNull(), F.lit("malformed JSON line"))
    file_run = run_of_file(F.col("source_file"))
    foreign_run = F.when(F.col("run_id") != file_run,
                         F.format_string("envelope of run %s in a file of run %s", F.col("run_id"), file_run))
    unexpected = F.lit(None).cast("string")
    if expected is not None:
        listed = F.lit(False)
        for source, entity in sorted(expected):
            listed = listed | is_entity(source, entity, ok_only=False)
        unexpected = F.when(~listed, F.format_string("envelope of %s/%s, which its run's manifest does not list",
                                                     F.col("source"), F.col("entity")))
    reason = first_problem(oversize, malformed, *(_missing(c, df) for c in ("run_id", "source", "entity", "body")),
                           foreign_run, body_not_object, unexpected)
    reader_columns = (CORRUPT_COLUMN, OVERSIZE_COLUMN, TYPED_BODY_COLUMN, LINE_COLUMN)
    envelope_columns = [c for c in df.columns if c not in reader_columns]
    # Only a bad envelope needs its record: serialising every good one (body included) would double the cache.
    line = [F.col(LINE_COLUMN)] if LINE_COLUMN in df.columns else []
    record = F.coalesce(F.col(CORRUPT_COLUMN), *line, F.to_json(F.struct(*envelope_columns)))
    with_reason = df.withColumn(REASON, reason)
    return with_reason.withColumn(RECORD, F.when(F.col(REASON).isNotNull(), record)).drop(OVERSIZE_COLUMN)


def good_rows(df: DataFrame) -> DataFrame:
    """Rows without a ``_reason``, minus the bookkeeping columns."""
    return df.filter(F.col(REASON).isNull()).drop(REASON, RECORD)


def bad_rows(df: DataFrame) -> DataFrame:
    """Rows with a ``_reason`` (bookkeeping columns kept for the quarantine)."""
    return df.filter(F.col(REASON).isNotNull())


def split_problems(df: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(good, bad)`` by ``_reason``: good rows lose the bookkeeping columns, bad rows keep them."""
    return good_rows(df), bad_rows(df)


def is_entity(source: str, entity: str, ok_only: bool = True) -> Column:
    """True for envelopes of one source/entity (by default only successful responses: http_status 200, or none
    for files)."""
    selected = (F.col("source") == source) & (F.col("entity") == entity)
    if ok_only:
        selected = selected & ok_response()
    return selected


def ok_response() -> Column:
    """True for an envelope of a successful response: http_status 200, or none (a file record)."""
    return F.coalesce(F.col("http_status"), F.lit(200)) == 200


def of_entity(source: str, entity: str, ok_only: bool = True) -> Callable[[DataFrame], DataFrame]:
    """Envelopes of one source/entity (see :func:`is_entity`)."""

    def transform(df: DataFrame) -> DataFrame:
        return df.filter(is_entity(source, entity, ok_only))

    return transform


def run_of_file(source_file: Column) -> Column:
    """The landing run a file belongs to, from the ``run_id=`` folder that holds it (null for a file in another
    folder): the run each of its lines is counted under, whatever the line says. Only the file's own folder counts:
    a landing root may sit under a folder of that name."""
    run = F.regexp_extract(source_file, r"/run_id=([^/]+)/[^/]+$", 1)
    return F.when(run != "", run)


def to_quarantine(bad: DataFrame, job_run_id: str, today: str) -> DataFrame:
    """Rows for the quarantine table from rows carrying ``_reason`` and ``_record`` (and envelope columns)."""
    columns = {
        c: (F.col(c) if c in bad.columns else F.lit(None).cast("string")) for c in ("run_id", "source", "entity")
    }
    source_file = F.coalesce(F.col("source_file"), F.lit("unknown"))
    return bad.select(
        F.sha2(F.concat_ws("\u0001", source_file, F.col(RECORD), F.col(REASON)), 256).alias("quarantine_id"),
        F.coalesce(run_of_file(source_file), columns["run_id"]).alias("run_id"),
        columns["source"].alias("source"),
        columns["entity"].alias("entity"),
        source_file.alias("source_file"),
        F.col(REASON).alias("reason"),
        F.col(RECORD).alias("record"),
        F.lit(job_run_id).alias("job_run_id"),
        F.lit(today).alias("quarantined_date"),
    )
