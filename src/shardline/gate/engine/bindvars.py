"""Bind variables: the values a plan is executed with, and their SQL text when a query is rendered.

A value is a :class:`Literal` (a literal the normalizer took out of the client's text: it renders as that exact
text, so a regenerated query names its columns as the client's did), a Python value (``None``, ``int``,
``Decimal``, ``float``, ``str``, ``bytes``, and from prepared statements ``date``, ``datetime``, ``time``,
``timedelta``), or a list of those (rendered as a comma-separated list).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shardline.errors import InvalidArgument
from shardline.sqltypes import BINARY_CHARSET, DECIMAL_TYPES, FLOAT_TYPES, INTEGER_TYPES, Field

_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"})
_TEXT_TYPES_MAYBE_BINARY = frozenset({0x0F, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE})  # varchar, blobs, strings


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal as the client wrote it: its SQL text (``42``, ``'O\\'Hara'``, ``x'ff'``) and its value."""

    sql: str
    value: Any

    def __repr__(self) -> str:
        return self.sql


def value_of(bind_value: Any) -> Any:
    """The Python value of a bind value (a literal's value, or the value itself)."""
    return bind_value.value if isinstance(bind_value, Literal) else bind_value


def quote_string(text: str) -> str:
    """A MySQL string literal for the text (backslash escapes, the server's default SQL mode)."""
    return "'" + text.translate(_ESCAPES) + "'"


def encode_sql(value: Any) -> str:
    """The SQL text of a bind value; lists become ``a, b, c``."""
    if isinstance(value, Literal):
        return value.sql
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, bytes | bytearray):
        return "x'" + value.hex() + "'" if value else "''"
    if isinstance(value, datetime.date | datetime.time):  # datetime.datetime is a date too
        return (
            "'"
            + (value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat())
            + "'"
        )
    if isinstance(value, datetime.timedelta):
        return "'" + _time_text(value) + "'"
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidArgument("an empty list cannot be rendered as SQL")
        return ", ".join(encode_sql(item) for item in value)
    raise InvalidArgument(f"cannot use a {type(value).__name__} as a bind variable")


def _time_text(value: datetime.timedelta) -> str:
    """A duration as MySQL's TIME text: ``[-]H:MM:SS[.ffffff]``, hours beyond 24 allowed."""
    micros = abs(value) // datetime.timedelta(microseconds=1)
    seconds, micro = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    sign = "-" if value < datetime.timedelta(0) else ""
    return f"{sign}{hours:02d}:{minute:02d}:{second:02d}" + (f".{micro:06d}" if micro else "")


def from_row_value(field: Field, value: bytes | None) -> Any:
    """A result value as a bind value that compares like the column did (numbers, text, binary strings)."""
    if value is None:
        return None
    if field.type in INTEGER_TYPES:
        return int(value)
    if field.type in DECIMAL_TYPES:
        return Decimal(value.decode())
    if field.type in FLOAT_TYPES:
        return float(value)
    if field.charset == BINARY_CHARSET and field.type in _TEXT_TYPES_MAYBE_BINARY:
        return bytes(value)
    try:
        return value.decode()
    except UnicodeDecodeError:
        return bytes(value)
