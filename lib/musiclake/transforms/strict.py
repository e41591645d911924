"""Strict typed parsing: JSON text -> a typed struct, and the reason a record cannot be curated.

Spark's JSON parser returns *partial results*: a field whose value does not have the declared type (``"modified_at":
"yesterday"`` for a bigint) comes back as NULL and the rest of the record is kept. Read naively, that curates the
record with a NULL in that field. Here every parse carries the parser's corrupt-record column (:data:`CORRUPT`),
which is set exactly when some value did not fit, and :func:`problem` turns it into a reason naming the field and
its value; a second, all-string parse (:func:`shadow`) finds the field, and it runs only for the records the
parser flagged, so clean data is parsed once.

Impossible values (a negative duration, a playlist modified after it was fetched) are :class:`Rule` s checked
on the typed struct; the first broken one is the reason.

Nested lists of records (an MPD playlist's ``tracks``, an API page's ``items``) are *item-level*: a playlist whose
only problem is inside one of its items keeps its other items. Callers parse such a list with the items declared
as raw JSON text only when the typed parse flagged the record (see :func:`musiclake.transforms.mpd`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from musiclake.transforms.columns import ID_LENGTH, first_problem, is_spotify_id, is_spotify_uri

# The parser's corrupt-record field: the record's raw text when a value did not have its declared type.
CORRUPT = "_musiclake_corrupt_record"
_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
_VALUE_CHARS = 80  # of a bad value quoted in a reason
LATE_SECONDS = 86400  # a time in a record more than this after its fetch is impossible (clock skew aside)


def with_corrupt(schema: T.StructType) -> T.StructType:
    """``schema`` plus the corrupt-record field (a string) that :func:`parse` fills."""
    return T.StructType([*schema.fields, T.StructField(CORRUPT, T.StringType(), True)])


def parse(text: Column, schema: T.StructType) -> Column:
    """``text`` parsed as ``schema`` with the corrupt-record field set when any value did not fit its type.

    ``text`` that is not a JSON object gives a struct whose fields are all null and :data:`CORRUPT` holds the
    text (``null`` text gives null).
    """
    return F.from_json(text, with_corrupt(schema), _OPTIONS)


def shadow(schema: T.StructType) -> T.StructType:
    """``schema`` with every leaf and every list declared as a string: what the JSON held, whatever its type."""
    return T.StructType([
        T.StructField(f.name, shadow(f.dataType) if isinstance(f.dataType, T.StructType) else T.StringType(), True)
        for f in schema.fields
    ])


def _fields(schema: T.StructType, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], T.DataType]]:
    """Every field's path and type, an object before the fields inside it."""
    out: list[tuple[tuple[str, ...], T.DataType]] = []
    for f in schema.fields:
        if f.name == CORRUPT:
            continue
        path = (*prefix, f.name)
        out.append((path, f.dataType))
        if isinstance(f.dataType, T.StructType):
            out += _fields(f.dataType, path)
    return out


def _get(struct: Column, path: tuple[str, ...]) -> Column:
    """The field at ``path``; a name such as ``artists[0]`` is the first element of the list ``artists``."""
    for name in path:
        name, _, index = name.partition("[")
        struct = struct.getField(name)
        if index:
            struct = struct.getItem(int(index.rstrip("]")))
    return struct


def _at(parsed: Column, field: str) -> Column:
    """The field at the dotted path ``field`` (such as ``item.artists[0].id``) of the struct ``parsed``."""
    return _get(parsed, tuple(field.split(".")))


def shadow_column(parsed: str) -> str:
    """The column :func:`with_shadow` adds for the struct column ``parsed``."""
    return f"{parsed}_as_text"


def with_shadow(df: DataFrame, parsed: str, schema: T.StructType, text: Column) -> DataFrame:
    """Add :func:`shadow_column`: ``text`` read with every leaf as text, only where the parser flagged the record
    (a column of its own, so the leaf checks of :func:`problem` refer to one parse, not one each)."""
    flagged = F.col(parsed).getField(CORRUPT).isNotNull()
    return df.withColumn(shadow_column(parsed), F.when(flagged, F.from_json(text, shadow(schema))))


def with_parsed(df: DataFrame, column: str, schema: T.StructType, text: Column,
                where: Column | None = None) -> DataFrame:
    """Add ``column``: ``text`` parsed by :func:`parse` (only where ``where`` holds, when given), and its
    :func:`with_shadow` column, ready for :func:`problem`."""
    parsed = parse(text, schema)
    df = df.withColumn(column, parsed if where is None else F.when(where, parsed))
    return with_shadow(df, column, schema, text)


def type_problem(parsed: Column, schema: T.StructType, text: Column, raw: Column) -> Column:
    """For a record the parser flagged: ``wrong type for field <path>: <value> is not <type>``.

    Compares each field of the typed parse with the same field as the JSON holds it; the first field (an object
    before the fields inside it) that the JSON holds but the typed parse lost is the reason. A leaf is read as text
    by the record's second parse (``raw``, from :func:`with_shadow`); an object (``"owner": "bob"``, where the
    second parse loses it too) by its JSON path in ``text``. Text that is not a JSON object, or a problem no field
    shows (an element of a nested list), gets a reason naming the record instead.
    """
    checks = []
    for path, dtype in _fields(schema):
        name = ".".join(path)
        if isinstance(dtype, T.StructType):
            value = F.get_json_object(text, f"$.{name}")  # an object's JSON text, a scalar's value
            lost = value.isNotNull() & ~F.ltrim(value).startswith("{")
        else:
            value = _get(raw, path)
            lost = value.isNotNull()
        checks.append(F.when(
            _get(parsed, path).isNull() & lost,
            F.concat(F.lit(f"wrong type for field {name}: "), F.substring(value, 1, _VALUE_CHARS),
                     F.lit(f" is not {_type_name(dtype)}")),
        ))
    not_an_object = F.when(~F.ltrim(text).startswith("{"), F.lit("record is not a JSON object"))
    return first_problem(not_an_object, *checks, F.lit("a value does not have its declared type"))


def _type_name(dtype: T.DataType) -> str:
    if isinstance(dtype, T.ArrayType):
        return "a list of objects" if isinstance(dtype.elementType, T.StructType) else "a list"
    if isinstance(dtype, T.StructType):
        return "an object"
    return {"bigint": "an integer", "int": "an integer", "boolean": "true or false", "double": "a number",
            "string": "text"}.get(dtype.simpleString(), dtype.simpleString())


@dataclass(frozen=True)
class Rule:
    """A value the type allows but the data cannot hold: ``ok`` is true (or null) for a possible value."""

    field: str
    ok: Column
    expected: str

    def problem(self, parsed: Column) -> Column:
        value = _at(parsed, self.field)
        return F.when(
            value.isNotNull() & ~F.coalesce(self.ok, F.lit(True)),
            F.concat(F.lit(f"impossible value in field {self.field}: "),
                     F.substring(value.cast("string"), 1, _VALUE_CHARS), F.lit(f" ({self.expected})")),
        )


def at_least(parsed: Column, field: str, minimum: int) -> Rule:
    """A rule: ``field`` is null or at least ``minimum``."""
    return Rule(field, _at(parsed, field) >= minimum, f"expected at least {minimum}")


def no_nulls(parsed: Column, field: str) -> Rule:
    """A rule: the list ``field`` is null or holds no null element (a list of objects whose first is curated)."""
    return Rule(field, ~F.exists(_at(parsed, field), lambda element: element.isNull()),
                "expected no null element")


def spotify_id(parsed: Column, field: str) -> Rule:
    """A rule: ``field`` is null or a Spotify id (an id that is there but malformed is not curated as null)."""
    return Rule(field, is_spotify_id(_at(parsed, field)),
                f"expected a Spotify id: {ID_LENGTH} letters and digits")


def spotify_uri(parsed: Column, field: str, kind: str) -> Rule:
    """A rule: ``field`` is null or a ``spotify:<kind>:<id>`` URI."""
    return Rule(field, is_spotify_uri(_at(parsed, field), kind),
                f"expected a spotify:{kind} URI")


def release_date(parsed: Column, field: str) -> Rule:
    """A rule: ``field`` (text) is null or a date of the API's precisions: ``YYYY``, ``YYYY-MM`` or
    ``YYYY-MM-DD`` (``0000``: not known)."""
    value = _at(parsed, field)
    return Rule(field, value.rlike(r"^\d{4}(-\d{2}(-\d{2})?)?$") & value.cast("date").isNotNull(),
                "expected a date as YYYY, YYYY-MM or YYYY-MM-DD")


def not_after_fetch(field: str, seconds: Column, fetched: Column) -> Rule:
    """A rule: the time of ``field`` (``seconds``, epoch seconds) is null or at most :data:`LATE_SECONDS` after
    the record was fetched (``fetched``, epoch seconds): a record cannot hold a time after it was fetched."""
    return Rule(field, seconds <= fetched + LATE_SECONDS, "after it was fetched")


def iso_timestamp(parsed: Column, field: str) -> Rule:
    """A rule: ``field`` (text) is null or an ISO-8601 timestamp."""
    return Rule(field, F.to_timestamp(_at(parsed, field)).isNotNull(),
                "expected an ISO-8601 timestamp")


def problem(parsed: str, schema: T.StructType, text: Column, rules: Sequence[Rule] = ()) -> Column:
    """Why the record in struct column ``parsed`` (from :func:`parse`, with :func:`with_shadow` added) cannot be
    curated, or null: a type problem first, then the first broken rule."""
    p = F.col(parsed)
    return first_problem(
        F.when(p.getField(CORRUPT).isNotNull(), type_problem(p, schema, text, F.col(shadow_column(parsed)))),
        *(rule.problem(p) for rule in rules),
    )
