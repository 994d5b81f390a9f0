"""Limit: applies LIMIT/OFFSET at the gate; its input (shards) was asked for ``offset + count`` rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.errors import InvalidArgument
from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.evalengine import Env, Expr
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor


class Limit(Primitive):
    """``upper_bind`` (when set) receives ``offset + count`` for the input's pushed-down LIMIT."""

    def __init__(
        self, input: Primitive, count: Expr, offset: Expr | None = None, upper_bind: str = ""
    ) -> None:
        self.input = input
        self.count = count
        self.offset = offset
        self.upper_bind = upper_bind

    def inputs(self) -> list[Primitive]:
        return [self.input]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        env = Env(bind_vars)
        count = _non_negative(self.count.evaluate(env), "LIMIT")
        offset = _non_negative(self.offset.evaluate(env), "OFFSET") if self.offset is not None else 0
        if self.upper_bind:
            bind_vars = {**bind_vars, self.upper_bind: count + offset}
        result = await self.input.execute(vcursor, bind_vars)
        return Result(fields=result.fields, rows=result.rows[offset : offset + count])

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperatorType": "Limit", "Count": str(self.count)}
        if self.offset is not None:
            out["Offset"] = str(self.offset)
        return out


def _non_negative(value: Any, clause: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(f"{clause} needs a non-negative integer, got {value!r}", code=1210)
    return value
