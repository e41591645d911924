"""The same SQL on Amazon Athena: start the query, poll until it ends, read the results back as Arrow.

boto3 does the work (so the usual AWS configuration applies: profile, region, ``AWS_ENDPOINT_URL_ATHENA`` for a
local Athena API such as moto's). Results come through ``get_query_results`` (paged) and are typed by the
result set's column metadata; Athena renders ``array``, ``map`` and ``row`` values as text, and so are they here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from musiclake.query.errors import QueryError

log = logging.getLogger("musiclake.query.athena")

SUCCEEDED, FAILED, CANCELLED = "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)
DEFAULT_CATALOG = "AwsDataCatalog"
_USER_ERROR = 2  # AthenaError.ErrorCategory: 1 system, 2 user, 3 other


class AthenaEngine:
    """Run Athena SQL through the Athena API and return results as Arrow, like :class:`LocalEngine`.

    Parameters
    ----------
    workgroup
        Athena workgroup (None: the account's ``primary``).
    database
        Glue database the unqualified table names resolve in (the jobs' ``--database``).
    output_location
        ``s3://`` prefix for result files; None if the workgroup defines one.
    region
        AWS region (None: from the AWS configuration).
    client
        A boto3 Athena client to use instead of creating one.
    poll_interval, max_poll_interval
        First and longest wait between two status polls (seconds); the wait grows by half each poll.
    timeout
        Seconds to wait for a query before cancelling it and raising :class:`QueryError`.
    """

    def __init__(
        self,
        workgroup: str | None,
        database: str,
        output_location: str | None,
        region: str | None = None,
        client: Any = None,
        *,
        catalog: str = DEFAULT_CATALOG,
        poll_interval: float = 0.25,
        max_poll_interval: float = 5.0,
        timeout: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.workgroup = workgroup
        self.database = database
        self.output_location = output_location
        self.catalog = catalog
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout = timeout
        self._sleep = sleep
        if client is None:
            import boto3  # lazily: only the --athena path needs it

            try:
                client = boto3.client("athena", region_name=region)
            except Exception as error:  # botocore NoRegionError, bad configuration
                raise QueryError(f"cannot create an Athena client: {error} (set --region or AWS_REGION)") from error
        self.client = client

    def __enter__(self) -> AthenaEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def execute(self, sql: str) -> pa.Table:
        """Run one statement on Athena and return its result (empty for statements without rows).

        Raises
        ------
        QueryError
            The query failed or was cancelled (with Athena's reason and what to do), timed out, or the API
            refused the request (credentials, workgroup, output location).
        """
        execution_id = self.submit(sql)
        execution = self.wait(execution_id)
        return self.fetch(execution_id, statement_type=execution.get("StatementType"))

    def submit(self, sql: str) -> str:
        """Start the query; returns its execution id."""
        statement = sql.strip().rstrip(";").strip()
        if not statement:
            raise QueryError("no SQL statement given")
        request: dict[str, Any] = {
            "QueryString": statement,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        if self.workgroup:
            request["WorkGroup"] = self.workgroup
        execution_id = self._call("start the query", self.client.start_query_execution, **request)["QueryExecutionId"]
        log.info("athena query %s started (workgroup %s, database %s)", execution_id, self.workgroup, self.database)
        return execution_id

    def wait(self, execution_id: str) -> dict[str, Any]:
        """Poll until the query ends; returns its ``QueryExecution``. Cancels it when :attr:`timeout` passes.

        Raises
        ------
        QueryError
            On ``FAILED`` or ``CANCELLED`` (naming Athena's reason) and on timeout.
        """
        deadline = time.monotonic() + self.timeout
        interval = self.poll_interval
        while True:
            execution = self._call(
                "poll the query", self.client.get_query_execution, QueryExecutionId=execution_id
            )["QueryExecution"]
            state = execution["Status"]["State"]
            if state in TERMINAL_STATES:
                break
            if time.monotonic() >= deadline:
                self._call("cancel the query", self.client.stop_query_execution, QueryExecutionId=execution_id)
                raise QueryError(
                    f"Athena query {execution_id} still {state} after {self.timeout:g}s: cancelled; raise --timeout "
                    "or look at the query in the Athena console"
                )
            self._sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval)
        if state != SUCCEEDED:
            raise QueryError(failure_message(execution_id, execution["Status"], self.database))
        return execution

    def fetch(self, execution_id: str, *, statement_type: str | None = "DML") -> pa.Table:
        """The result rows of a finished query as an Arrow table typed from the result metadata."""
        paginator = self.client.get_paginator("get_query_results")
        columns: list[dict[str, Any]] = []
        rows: list[list[str | None]] = []
        try:
            for page in paginator.paginate(QueryExecutionId=execution_id):
                result_set = page["ResultSet"]
                columns = columns or result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                rows.extend([cell.get("VarCharValue") for cell in row.get("Data", [])] for row in result_set["Rows"])
        except Exception as error:
            raise QueryError(f"cannot read the results of Athena query {execution_id}: {_client_message(error)}") \
                from error
        labels = [c.get("Label") or c.get("Name") for c in columns]
        if statement_type == "DML" and rows and rows[0] == labels:  # Athena repeats the header as row one
            rows = rows[1:]
        return to_arrow(columns, rows)

    def _call(self, doing: str, method: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        try:
            return method(**kwargs)
        except Exception as error:  # botocore ClientError, NoCredentialsError, EndpointConnectionError, ...
            raise QueryError(
                f"could not {doing} on Athena: {_client_message(error)} (check the AWS credentials and region, "
                f"the workgroup {self.workgroup or 'primary'!r} and the output location)"
            ) from error


def failure_message(execution_id: str, status: dict[str, Any], database: str) -> str:
    """One line for a failed or cancelled query: Athena's reason, and what to do about it."""
    state = status.get("State", "FAILED")
    error = status.get("AthenaError") or {}
    reason = status.get("StateChangeReason") or error.get("ErrorMessage") or "no reason given"
    if state == CANCELLED:
        advice = "it was cancelled (by a user, or a workgroup limit); run it again"
    elif error.get("ErrorCategory") == _USER_ERROR or "TABLE_NOT_FOUND" in reason or "SYNTAX_ERROR" in reason:
        advice = f"fix the SQL (Athena's dialect is Trino; unqualified tables resolve in database {database!r})"
    elif error.get("Retryable"):
        advice = "a transient Athena error: run it again"
    else:
        advice = "see the query in the Athena console for details"
    return f"Athena query {execution_id} {state}: {' '.join(str(reason).split())} - {advice}"


def _client_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        details = response["Error"]
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', '')}".strip()
    return " ".join(str(error).split()) or type(error).__name__


# -- result typing -------------------------------------------------------------------------------------------
def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T", 1))


def _timestamp_tz(text: str) -> datetime:
    moment, _, zone = text.rpartition(" ")
    if not moment:  # no zone given
        return _timestamp(text).replace(tzinfo=UTC)
    parsed = _timestamp(moment)
    return (parsed.replace(tzinfo=UTC) if zone in ("UTC", "Z") else parsed.replace(tzinfo=ZoneInfo(zone))).astimezone(
        UTC
    )


def _boolean(text: str) -> bool:
    return text.lower() == "true"


_CONVERTERS: dict[str, tuple[pa.DataType, Callable[[str], Any]]] = {
    "boolean": (pa.bool_(), _boolean),
    "tinyint": (pa.int8(), int),
    "smallint": (pa.int16(), int),
    "integer": (pa.int32(), int),
    "int": (pa.int32(), int),
    "bigint": (pa.int64(), int),
    "double": (pa.float64(), float),
    "float": (pa.float32(), float),
    "real": (pa.float32(), float),
    "date": (pa.date32(), date.fromisoformat),
    "timestamp": (pa.timestamp("us"), _timestamp),
    "timestamp with time zone": (pa.timestamp("us", tz="UTC"), _timestamp_tz),
    "varbinary": (pa.binary(), lambda text: bytes.fromhex(text.replace(" ", ""))),
}


def arrow_type(column: dict[str, Any]) -> tuple[pa.DataType, Callable[[str], Any]]:
    """The Arrow type and value parser for one ``ColumnInfo`` (strings for varchar, json, array, map, row...)."""
    name = str(column.get("Type", "varchar")).lower()
    if name == "decimal":
        precision, scale = int(column.get("Precision") or 38), int(column.get("Scale") or 0)
        return pa.decimal128(min(max(precision, 1), 38), scale), Decimal
    return _CONVERTERS.get(name, (pa.string(), str))


def to_arrow(columns: list[dict[str, Any]], rows: Iterable[list[str | None]]) -> pa.Table:
    """Athena's text cells -> a typed Arrow table; a column whose values do not parse stays text."""
    rows = list(rows)
    arrays, fields = [], []
    for index, column in enumerate(columns):
        texts = [row[index] if index < len(row) else None for row in rows]
        data_type, parse = arrow_type(column)
        try:
            array = pa.array([None if t is None else parse(t) for t in texts], type=data_type)
        except (ValueError, ArithmeticError, pa.ArrowException):
            log.warning("column %s: values are not %s, kept as text", column.get("Name"), column.get("Type"))
            array = pa.array(texts, type=pa.string())
        arrays.append(array)
        fields.append(pa.field(column.get("Label") or column.get("Name") or f"_col{index}", array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
