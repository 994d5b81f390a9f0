"""MemorySort: sorts all rows of its input at the gate (ORDER BY over aggregated or joined rows)."""

from __future__ import annotations

from typing import Any

from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.gate.engine.ordering import OrderKey, sort_rows
from shardline.sqltypes import Result


class MemorySort(RowOperator):
    """Sorts its input's rows on the order keys."""

    def __init__(self, input: Primitive, order: tuple[OrderKey, ...]) -> None:
        self.input = input
        self.order = order

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        return Result(fields=result.fields, rows=sort_rows(result.rows, result.fields, self.order))

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Sort", "Variant": "Memory", "OrderBy": ", ".join(map(str, self.order))}
