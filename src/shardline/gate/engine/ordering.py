"""Comparing result values at the gate as MySQL does: numbers numerically, text by its collation's weights.

For text, the planner asks the shards for ``weight_string(expr)`` next to the value (Vitess's approach) and the
gate compares those bytes; NULL sorts before every value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from shardline.errors import Unsupported
from shardline.gate.engine.evalengine import text_key
from shardline.sqltypes import (
    BINARY_CHARSET,
    DECIMAL_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    Field,
    FieldType,
    Row,
    to_python,
)

_NUMERIC: Final = INTEGER_TYPES | DECIMAL_TYPES | FLOAT_TYPES | {FieldType.NULL}
TEXT_TYPES: Final = frozenset(
    {FieldType.VARCHAR, FieldType.VAR_STRING, FieldType.STRING, FieldType.TINY_BLOB, FieldType.MEDIUM_BLOB,
     FieldType.LONG_BLOB, FieldType.BLOB, FieldType.JSON, FieldType.ENUM, FieldType.SET}
)  # fmt: skip


_ENUM_FLAG: Final = 256
_SET_FLAG: Final = 2048


@dataclass(frozen=True, slots=True)
class OrderKey:
    """Sort on ``column``; for text, on the weight string in ``weight_column`` when the shards sent one."""

    column: int
    weight_column: int | None = None
    descending: bool = False

    def __str__(self) -> str:
        where = (
            f"({self.column}|{self.weight_column})" if self.weight_column is not None else str(self.column)
        )
        return f"{where} {'DESC' if self.descending else 'ASC'}"


def value_key(fields: Sequence[Field], column: int, weight_column: int | None) -> Callable[[Row], Any]:
    """A function giving, for a row, a key that orders and equates the column's value as MySQL would."""
    field = fields[column]
    if field.type in _NUMERIC:
        kind = field.type

        def numeric(row: Row) -> Any:
            value = row[column]
            return (0,) if value is None else (1, to_python(kind, value))

        return numeric
    if field.type in TEXT_TYPES and field.charset != BINARY_CHARSET:
        if weight_column is not None:

            def weighted(row: Row) -> Any:
                return (0,) if row[column] is None else (1, row[weight_column] or b"")

            return weighted
        collation = field.charset

        def collated(row: Row) -> Any:
            value = row[column]
            return (0,) if value is None else (1, text_key(value, collation))

        return collated

    def raw(row: Row) -> Any:
        value = row[column]
        return (0,) if value is None else (1, value)

    return raw


def row_key(fields: Sequence[Field], columns: Sequence[tuple[int, int | None]]) -> Callable[[Row], tuple]:
    """A key over several (column, weight column) pairs, for grouping and DISTINCT."""
    keys = [value_key(fields, column, weight) for column, weight in columns]
    if len(keys) == 1:
        (only,) = keys
        return lambda row: (only(row),)
    return lambda row: tuple([key(row) for key in keys])


def sort_rows(rows: list[Row], fields: Sequence[Field], order: Sequence[OrderKey]) -> list[Row]:
    """Rows sorted by the keys (stable). Already sorted runs, such as each shard's rows, merge in linear time."""
    for key in order:
        if fields[key.column].flags & (_ENUM_FLAG | _SET_FLAG):
            raise Unsupported(
                f"ordering ENUM or SET column '{fields[key.column].name}' across shards is not supported "
                "(MySQL orders them by member position)"
            )
    for key in reversed(order):
        rows = sorted(rows, key=value_key(fields, key.column, key.weight_column), reverse=key.descending)
    return rows
