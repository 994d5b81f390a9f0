"""MemorySort: sorts all rows of its input at the gate (ORDER BY over aggregated or joined rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.ordering import OrderKey, sort_rows
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor


class MemorySort(Primitive):
    """Sorts its input's rows on the order keys."""

    def __init__(self, input: Primitive, order: tuple[OrderKey, ...]) -> None:
        self.input = input
        self.order = order

    def inputs(self) -> list[Primitive]:
        return [self.input]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        result = await self.input.execute(vcursor, bind_vars)
        return Result(fields=result.fields, rows=sort_rows(result.rows, result.fields, self.order))

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Sort", "Variant": "Memory", "OrderBy": ", ".join(map(str, self.order))}
