"""Limit: applies LIMIT/OFFSET at the gate; its input (shards) was asked for ``offset + count`` rows."""

from __future__ import annotations

from typing import Any

from shardline.errors import InvalidArgument
from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.gate.engine.evalengine import Env, Expr
from shardline.sqltypes import Result


class Limit(RowOperator):
    """``upper_bind`` (when set) receives ``offset + count`` for the input's pushed-down LIMIT."""

    def __init__(
        self, input: Primitive, count: Expr, offset: Expr | None = None, upper_bind: str = ""
    ) -> None:
        self.input = input
        self.count = count
        self.offset = offset
        self.upper_bind = upper_bind

    def input_bind_vars(self, bind_vars: BindVars) -> BindVars:
        count, offset = self._bounds(bind_vars)  # a bad LIMIT is refused before the shards are asked
        return {**bind_vars, self.upper_bind: count + offset} if self.upper_bind else bind_vars

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        count, offset = self._bounds(bind_vars)
        return Result(fields=result.fields, rows=result.rows[offset : offset + count])

    def _bounds(self, bind_vars: BindVars) -> tuple[int, int]:
        env = Env(bind_vars)
        count = _non_negative(self.count.evaluate(env), "LIMIT")
        offset = _non_negative(self.offset.evaluate(env), "OFFSET") if self.offset is not None else 0
        return count, offset

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperatorType": "Limit", "Count": str(self.count)}
        if self.offset is not None:
            out["Offset"] = str(self.offset)
        return out


def _non_negative(value: Any, clause: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(f"{clause} needs a non-negative integer, got {value!r}", code=1210)
    return value
