"""Concatenate: the rows of several inputs one after the other (UNION ALL across routes)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from shardline.errors import MySQLError
from shardline.gate.engine.base import BindVars, Primitive
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor


class Concatenate(Primitive):
    """Runs the inputs concurrently; the result has the first input's fields."""

    def __init__(self, sources: list[Primitive]) -> None:
        self.sources = sources

    def inputs(self) -> list[Primitive]:
        return list(self.sources)

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        results = await asyncio.gather(*(source.execute(vcursor, bind_vars) for source in self.sources))
        width = len(results[0].fields)
        if any(len(r.fields) != width for r in results):
            raise MySQLError(1222, "21000", "The used SELECT statements have a different number of columns")
        return Result(fields=results[0].fields, rows=[row for r in results for row in r.rows])

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Concatenate"}
