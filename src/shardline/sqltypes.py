"""Query results as they travel inside shardline: fields plus rows of MySQL text-protocol values.

A value is ``bytes`` exactly as MySQL's text protocol carries it (``b"42"``, ``b"2026-11-25 09:00:00"``) or
``None`` for NULL, so relaying and re-encoding rows is lossless; primitives that compare or aggregate convert
with :func:`to_python`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class FieldType:
    """MySQL column type codes (protocol ``MYSQL_TYPE_*``)."""

    DECIMAL = 0x00
    TINY = 0x01
    SHORT = 0x02
    LONG = 0x03
    FLOAT = 0x04
    DOUBLE = 0x05
    NULL = 0x06
    TIMESTAMP = 0x07
    LONGLONG = 0x08
    INT24 = 0x09
    DATE = 0x0A
    TIME = 0x0B
    DATETIME = 0x0C
    YEAR = 0x0D
    NEWDATE = 0x0E
    VARCHAR = 0x0F
    BIT = 0x10
    JSON = 0xF5
    NEWDECIMAL = 0xF6
    ENUM = 0xF7
    SET = 0xF8
    TINY_BLOB = 0xF9
    MEDIUM_BLOB = 0xFA
    LONG_BLOB = 0xFB
    BLOB = 0xFC
    VAR_STRING = 0xFD
    STRING = 0xFE
    GEOMETRY = 0xFF


INTEGER_TYPES = frozenset(
    {FieldType.TINY, FieldType.SHORT, FieldType.LONG, FieldType.LONGLONG, FieldType.INT24, FieldType.YEAR}
)
FLOAT_TYPES = frozenset({FieldType.FLOAT, FieldType.DOUBLE})
DECIMAL_TYPES = frozenset({FieldType.DECIMAL, FieldType.NEWDECIMAL})

BINARY_CHARSET = 63
UTF8MB4_GENERAL_CI = 45


@dataclass(slots=True, frozen=True)
class Field:
    """One column of a result: the column definition of MySQL's protocol."""

    name: str
    type: int = FieldType.VAR_STRING
    table: str = ""
    org_table: str = ""
    database: str = ""
    org_name: str = ""
    charset: int = UTF8MB4_GENERAL_CI
    column_length: int = 0
    flags: int = 0
    decimals: int = 0


Row = tuple[bytes | None, ...]


@dataclass(slots=True)
class Result:
    """The outcome of one statement: a result set (fields, rows) or an OK (rows_affected, insert_id)."""

    fields: list[Field] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    rows_affected: int = 0
    insert_id: int = 0
    warnings: int = 0
    info: str = ""
    found_rows: int | None = None  # of a SELECT SQL_CALC_FOUND_ROWS: its rows without the LIMIT


def to_python(field_type: int, value: bytes | None) -> Any:
    """Converts a text-protocol value to a Python value that compares and adds correctly for its type."""
    if value is None:
        return None
    if field_type in INTEGER_TYPES:
        return int(value)
    if field_type in DECIMAL_TYPES:
        return Decimal(value.decode())
    if field_type in FLOAT_TYPES:
        return float(value)
    return value


def from_python(value: Any) -> bytes | None:
    """Converts a Python value to its text-protocol form."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()
