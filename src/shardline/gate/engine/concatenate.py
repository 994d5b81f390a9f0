"""Concatenate: the rows of several inputs one after the other (UNION ALL across routes)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from shardline.errors import MySQLError, Unsupported
from shardline.gate.engine.base import BindVars, Primitive
from shardline.sqltypes import (
    BINARY_CHARSET,
    DECIMAL_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    Field,
    FieldType,
    Result,
)

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor


class Concatenate(Primitive):
    """Runs the inputs concurrently; the result has the first input's fields. ``compared``: the rows are
    compared afterwards (UNION's duplicate removal, ORDER BY), so a column must hold values of one kind."""

    def __init__(self, sources: list[Primitive], *, compared: bool = False) -> None:
        self.sources = sources
        self.compared = compared

    def inputs(self) -> list[Primitive]:
        return list(self.sources)

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        results = await asyncio.gather(*(source.execute(vcursor, bind_vars) for source in self.sources))
        width = len(results[0].fields)
        if any(len(r.fields) != width for r in results):
            raise MySQLError(1222, "21000", "The used SELECT statements have a different number of columns")
        if self.compared:
            for column in range(width):
                kinds = {_kind(r.fields[column]) for r in results} - {None}
                if len(kinds) > 1:
                    raise Unsupported(
                        f"UNION column {column + 1} mixes {' and '.join(sorted(kinds))} values from different "
                        "shards, which the gate cannot compare as MySQL would; cast them to one type"
                    )
        return Result(fields=results[0].fields, rows=[row for r in results for row in r.rows])

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Concatenate"}


def _kind(field: Field) -> str | None:
    """How the gate compares a column's values: as numbers, as text, or as raw bytes (None: only NULLs)."""
    if field.type == FieldType.NULL:
        return None
    if field.type in INTEGER_TYPES or field.type in DECIMAL_TYPES or field.type in FLOAT_TYPES:
        return "number"
    return "text" if field.charset != BINARY_CHARSET else "binary"
