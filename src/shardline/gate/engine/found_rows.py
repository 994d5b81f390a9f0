"""``SELECT SQL_CALC_FOUND_ROWS ... LIMIT n``: the rows, and how many there are without the LIMIT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.gate.engine.base import BindVars, Primitive

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor
    from shardline.sqltypes import Result


class SQLCalcFoundRows(Primitive):
    """Runs the query (``limit``) and then its COUNT(*) without ORDER BY and LIMIT (``count``), as Vitess
    does: a shard's own FOUND_ROWS() would count that shard alone, on a connection the next statement may not
    get. The count becomes the result's ``found_rows``, which the session's FOUND_ROWS() returns."""

    def __init__(self, limit: Primitive, count: Primitive) -> None:
        self.limit = limit
        self.count = count

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        result = await self.limit.execute(vcursor, bind_vars)
        counted = await self.count.execute(vcursor, bind_vars)
        value = counted.rows[0][0] if counted.rows else None
        result.found_rows = int(value) if value is not None else 0
        return result

    def inputs(self) -> list[Primitive]:
        return [self.limit, self.count]

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "SQL_CALC_FOUND_ROWS"}
