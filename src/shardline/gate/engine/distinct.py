"""Distinct: drops rows equal (under each column's collation) to an earlier row."""

from __future__ import annotations

from typing import Any

from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.gate.engine.ordering import row_key
from shardline.sqltypes import Result


class Distinct(RowOperator):
    """``columns``: the (column, weight column) pairs that make a row distinct (other columns are carried);
    None: every column, compared under its collation at the gate."""

    def __init__(self, input: Primitive, columns: tuple[tuple[int, int | None], ...] | None) -> None:
        self.input = input
        self.columns = columns

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        columns = self.columns
        if columns is None:
            columns = tuple((i, None) for i in range(len(result.fields)))
        key_of = row_key(result.fields, columns)
        seen: dict[tuple, None] = {}
        rows = []
        for row in result.rows:
            key = key_of(row)
            if key not in seen:
                seen[key] = None
                rows.append(row)
        return Result(fields=result.fields, rows=rows)

    def describe(self) -> dict[str, Any]:
        if self.columns is None:
            return {"OperatorType": "Distinct", "Columns": "all"}
        columns = ", ".join(f"({c}|{w})" if w is not None else str(c) for c, w in self.columns)
        return {"OperatorType": "Distinct", "Columns": columns}
