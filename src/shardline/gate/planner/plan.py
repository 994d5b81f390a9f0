"""A plan: the primitive tree of one normalized statement, with what the executor and EXPLAIN need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shardline.gate.engine.base import BindVars, Primitive
    from shardline.gate.engine.vcursor import ShardTarget, VCursor
    from shardline.gate.planner.classify import StatementKind
    from shardline.sqltypes import Result


@dataclass(frozen=True)
class Plan:
    """``root`` runs the statement; ``tables`` are the ``keyspace.table`` names it reads or writes."""

    kind: StatementKind
    sql: str
    root: Primitive
    tables: tuple[str, ...] = ()

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        return await self.root.execute(vcursor, bind_vars)

    async def relay_shards(self, vcursor: VCursor, bind_vars: BindVars) -> list[ShardTarget] | None:
        """The shards whose responses to the client's original text, concatenated, answer it (see Primitive)."""
        return await self.root.relay_shards(vcursor, bind_vars)

    def describe(self) -> dict[str, Any]:
        """The plan as ``VEXPLAIN PLAN`` shows it."""
        return {
            "QueryType": self.kind.value,
            "Original": self.sql,
            "Instructions": _describe(self.root),
            "TablesUsed": list(self.tables),
        }


def _describe(primitive: Primitive) -> dict[str, Any]:
    out = primitive.describe()
    inputs = primitive.inputs()
    if inputs:
        out["Inputs"] = [_describe(child) for child in inputs]
    return out
