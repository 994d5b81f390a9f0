"""Projection: picks, orders and names the columns the client sees (dropping the planner's helper columns)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.columnname import ColumnName


class Projection(RowOperator):
    """Keeps the input columns at ``columns`` (None: all but the last ``helpers``), then names each output
    column (a None name keeps the input's)."""

    def __init__(
        self,
        input: Primitive,
        helpers: int = 0,
        names: tuple[ColumnName | None, ...] = (),
        *,
        columns: tuple[int, ...] | None = None,
    ) -> None:
        self.input = input
        self.helpers = helpers
        self.names = names
        self.columns = columns

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        fields, rows = result.fields, result.rows
        if self.columns is not None:
            picked = self.columns
            fields = [fields[i] for i in picked]
            rows = [tuple(row[i] for i in picked) for row in rows]
        elif self.helpers:
            n = len(fields) - self.helpers
            fields = fields[:n]
            rows = [row[:n] for row in rows]
        if self.names:
            fields = [
                replace(field, name=name.render(bind_vars)) if name is not None else field
                for field, name in zip(fields, self.names, strict=False)
            ]
        return Result(fields=fields, rows=rows)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperatorType": "Projection"}
        if self.columns is not None:
            out["Columns"] = list(self.columns)
        elif self.helpers:
            out["HelperColumns"] = self.helpers
        if self.names:
            out["Names"] = [str(n) if n is not None else None for n in self.names]
        return out
