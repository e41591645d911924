"""Typed job options over Glue's own ``getResolvedOptions``.

Each job declares one frozen dataclass. Fields without a default are required Glue arguments;
fields with a default are optional. ``getResolvedOptions`` treats every name it is given as
required, so optional names are passed to it only when ``--name`` appears in ``argv`` - the
documented way to have optional Glue job arguments. Values are then converted to the field's type.

Example
-------
>>> @dataclass(frozen=True)
... class MyOptions(JobOptions):
...     lake_path: str
...     top_k: int = 500
>>> MyOptions.from_argv(["job.py", "--JOB_NAME", "j", "--lake_path", "/tmp/lake"]).top_k
500
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T", bound="JobOptions")

_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


class OptionsError(SystemExit):
    """A missing or malformed job argument. Exits with status 2 and a message naming the argument.

    Like argparse, the message is written to stderr when the error is raised (an uncaught ``SystemExit`` with an
    integer status prints nothing), so ``python glue_jobs/v1/<job>.py`` tells the user what is wrong.
    """

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message
        print(f"error: {message}", file=sys.stderr)

    def __str__(self) -> str:
        return self.message


def _arg_name(field_name: str) -> str:
    return "JOB_NAME" if field_name == "job_name" else field_name


def _convert(name: str, raw: str, annotation: Any) -> Any:
    """Convert one raw argument string to the declared type (str, int, float, bool, list[str], Optional)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"option {name}: only Optional[X] unions are supported")
        if raw.strip().lower() in ("", "none", "null"):
            return None
        return _convert(name, raw, inner[0])
    if origin is list:
        (item,) = typing.get_args(annotation) or (str,)
        return [_convert(name, part.strip(), item) for part in raw.split(",") if part.strip()]
    if annotation is bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise OptionsError(f"--{name}: expected true or false, got {raw!r}")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise OptionsError(f"--{name}: expected an integer, got {raw!r}") from None
    if annotation is float:
        try:
            return float(raw)
        except ValueError:
            raise OptionsError(f"--{name}: expected a number, got {raw!r}") from None
    if annotation is str:
        return raw
    raise TypeError(f"option {name}: unsupported type {annotation!r}")


@dataclass(frozen=True)
class JobOptions:
    """Base class of every job's options: ``--JOB_NAME`` is always required (Glue passes it)."""

    job_name: str

    @classmethod
    def from_argv(cls: type[T], argv: Sequence[str] | None = None) -> T:
        """Parse ``argv`` (``sys.argv`` by default, program name first) into a typed options object.

        Parameters
        ----------
        argv
            The full argument vector as Glue passes it: ``[script, "--JOB_NAME", name, "--x", value, ...]``.

        Returns
        -------
        An instance of ``cls``. Unknown arguments (Glue adds several of its own) are ignored.

        Raises
        ------
        OptionsError
            (a ``SystemExit``) naming the missing or malformed argument.
        """
        from awsglue.utils import GlueArgumentError, getResolvedOptions  # AWS's own parser, as on Glue

        argv = list(sys.argv if argv is None else argv)
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        present = {a.split("=", 1)[0] for a in argv[1:] if a.startswith("--")}
        required = [f for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [f"--{_arg_name(f.name)}" for f in required if f"--{_arg_name(f.name)}" not in present]
        if missing:
            raise OptionsError(f"missing required job argument(s): {', '.join(missing)}")
        names = [_arg_name(f.name) for f in fields if f in required or f"--{_arg_name(f.name)}" in present]
        try:
            resolved = getResolvedOptions(argv, names)
        except GlueArgumentError as exc:  # e.g. "argument --lake_path: expected one argument"
            raise OptionsError(f"invalid job arguments: {exc}") from None
        values = {f.name: _convert(_arg_name(f.name), resolved[_arg_name(f.name)], hints[f.name])
                  for f in fields if _arg_name(f.name) in resolved and _arg_name(f.name) in names}
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
