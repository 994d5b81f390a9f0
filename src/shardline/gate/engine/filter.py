"""Filter: keeps the rows for which a predicate is true (HAVING evaluated at the gate)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.evalengine import Env, Expr, truth
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor


class Filter(Primitive):
    """Keeps the rows whose predicate is true."""

    def __init__(self, input: Primitive, predicate: Expr) -> None:
        self.input = input
        self.predicate = predicate

    def inputs(self) -> list[Primitive]:
        return [self.input]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        result = await self.input.execute(vcursor, bind_vars)
        fields = result.fields
        keep = [
            row for row in result.rows if truth(self.predicate.evaluate(Env(bind_vars, row, fields))) == 1
        ]
        return Result(fields=fields, rows=keep)

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Filter", "Predicate": str(self.predicate)}
