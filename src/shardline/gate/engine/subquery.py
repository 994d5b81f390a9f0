"""UncorrelatedSubquery: runs a subquery first and binds its result into the outer query (a pulled-out
``IN (SELECT ...)``, ``EXISTS (SELECT ...)`` or scalar subquery that cannot run inside the outer route)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shardline.errors import MySQLError
from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.bindvars import from_row_value

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor
    from shardline.sqltypes import Result


class PulloutKind(StrEnum):
    """What the outer query needs from the subquery."""

    IN = "PulloutIn"  # the values (a list; [NULL] if none) and whether there are any (1/0)
    EXISTS = "PulloutExists"  # whether there is a row (1/0)
    VALUE = "PulloutValue"  # the single value (NULL if no row)


class UncorrelatedSubquery(Primitive):
    """``values_bind`` receives the values (IN) or the value (VALUE); ``has_values_bind`` 1 or 0 (IN, EXISTS)."""

    def __init__(
        self, kind: PulloutKind, subquery: Primitive, outer: Primitive, values_bind: str, has_values_bind: str
    ) -> None:
        self.kind = kind
        self.subquery = subquery
        self.outer = outer
        self.values_bind = values_bind
        self.has_values_bind = has_values_bind

    def inputs(self) -> list[Primitive]:
        return [self.subquery, self.outer]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        result = await self.subquery.execute(vcursor, bind_vars)
        rows = result.rows
        bound = dict(bind_vars)
        if self.kind == PulloutKind.EXISTS:
            bound[self.has_values_bind] = int(bool(rows))
            return await self.outer.execute(vcursor, bound)
        if len(result.fields) != 1:
            raise MySQLError(1241, "21000", "Operand should contain 1 column(s)")
        field = result.fields[0]
        if self.kind == PulloutKind.VALUE:
            if len(rows) > 1:
                raise MySQLError(1242, "21000", "Subquery returns more than 1 row")
            bound[self.values_bind] = from_row_value(field, rows[0][0]) if rows else None
        else:
            bound[self.values_bind] = [from_row_value(field, row[0]) for row in rows] or [None]
            bound[self.has_values_bind] = int(bool(rows))
        return await self.outer.execute(vcursor, bound)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperatorType": "UncorrelatedSubquery", "Variant": self.kind.value}
        out["PulloutVars"] = [name for name in (self.values_bind, self.has_values_bind) if name]
        return out
