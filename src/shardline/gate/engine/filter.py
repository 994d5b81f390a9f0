"""Filter: keeps the rows for which a predicate is true (HAVING evaluated at the gate)."""

from __future__ import annotations

from typing import Any

from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.gate.engine.evalengine import Env, Expr, truth
from shardline.sqltypes import Result


class Filter(RowOperator):
    """Keeps the rows whose predicate is true."""

    def __init__(self, input: Primitive, predicate: Expr) -> None:
        self.input = input
        self.predicate = predicate

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        fields = result.fields
        keep = [
            row for row in result.rows if truth(self.predicate.evaluate(Env(bind_vars, row, fields))) == 1
        ]
        return Result(fields=fields, rows=keep)

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Filter", "Predicate": str(self.predicate)}
