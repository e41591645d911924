"""Render a query result (an Arrow table) as a text table, CSV or JSON for the terminal or a pipe."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TextIO

import pyarrow as pa

from musiclake.query import FORMATS

MAX_CELL = 48  # characters of one cell in the table format


def plain(value: Any, data_type: pa.DataType | None = None) -> Any:
    """A Python value from Arrow made JSON-ready, guided by its Arrow type: maps become objects, times ISO
    strings, decimals numbers, bytes base64, NaN and infinities null."""
    if value is None:
        return None
    if data_type is not None and pa.types.is_map(data_type):
        return {str(k): plain(v, data_type.item_type) for k, v in value}
    if data_type is not None and pa.types.is_struct(data_type):
        return {field.name: plain(value.get(field.name), field.type) for field in data_type}
    if isinstance(value, list):
        item_type = getattr(data_type, "value_type", None)
        return [plain(item, item_type) for item in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def records(result: pa.Table) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (see :func:`plain`)."""
    types = dict(zip(result.column_names, result.schema.types, strict=True))
    return [{name: plain(value, types[name]) for name, value in row.items()} for row in result.to_pylist()]


def cell_text(value: Any) -> str:
    """One JSON-ready value as text: NULL for null, true/false, nested values as compact JSON."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def write_table(result: pa.Table, out: TextIO, max_rows: int | None = 100) -> None:
    """A fixed-width text table (cells cut at :data:`MAX_CELL` characters), then the row count."""
    shown = result if max_rows is None else result.slice(0, max_rows)
    names = result.column_names
    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in result.schema.types]
    rows = [[_cut(cell_text(row[name])) for name in names] for row in records(shown)]
    widths = [max([len(name), *(len(r[i]) for r in rows)]) for i, name in enumerate(names)]

    def line(cells: list[str]) -> str:
        padded = (c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True))
        return " | ".join(padded)

    out.write(line(names).rstrip() + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write(line(row).rstrip() + "\n")
    total = result.num_rows
    if shown.num_rows < total:
        out.write(f"({shown.num_rows} of {total} rows shown; --max_rows N shows more)\n")
    else:
        out.write(f"({total} row{'' if total == 1 else 's'})\n")


def write_csv(result: pa.Table, out: TextIO) -> None:
    """RFC 4180 CSV with a header; null is an empty field, nested values are JSON text."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.column_names)
    for row in records(result):
        writer.writerow(["" if v is None else cell_text(v) for v in row.values()])


def write_json(result: pa.Table, out: TextIO) -> None:
    """A JSON array of row objects, one row per line (so ``jq`` and line tools both work)."""
    rows = records(result)
    if not rows:
        out.write("[]\n")
        return
    out.write("[\n")
    for index, row in enumerate(rows):
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        out.write(text + (",\n" if index < len(rows) - 1 else "\n"))
    out.write("]\n")


def render(result: pa.Table, fmt: str, max_rows: int | None = None) -> str:
    """The whole rendering as a string (``max_rows`` limits every format; table shows 100 by default)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    buffer = io.StringIO()
    if fmt == "table":
        write_table(result, buffer, 100 if max_rows is None else max_rows)
        return buffer.getvalue()
    limited = result if max_rows is None else result.slice(0, max_rows)
    (write_csv if fmt == "csv" else write_json)(limited, buffer)
    return buffer.getvalue()


def _cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
