"""UPDATE and DELETE: the statement runs on the shards its routing picks; rows affected are summed.

A table with owned lookup vindexes keeps its lookup rows in step: before the statement runs, the rows it will
touch are read with ``SELECT ... FOR UPDATE`` on the same shards (their keyspace id, their vindex column values
and, for an UPDATE, the new values), and the lookup rows are deleted or moved, in the session's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shardline.errors import FailedPrecondition
from shardline.gate.engine.base import BindVars
from shardline.gate.engine.bindvars import from_row_value
from shardline.gate.engine.routing import RoutedPrimitive, Routing, map_values
from shardline.sqltypes import Result
from shardline.vindexes.base import LookupVindex

if TYPE_CHECKING:
    from shardline.gate.engine.sqltemplate import SQLTemplate
    from shardline.gate.engine.vcursor import ShardTarget, VCursor
    from shardline.sqltypes import Field, Row
    from shardline.vindexes.vschema import ColumnVindex, Table

@dataclass(frozen=True)
class LookupChange:
    """Where an owned lookup vindex's values are in a row of the owned vindex query.

    ``old``: the current value of each vindex column. For an UPDATE, ``new``: the value after the update (the
    ``old`` position for a column the UPDATE does not set) and ``same``: flags ``column <=> new value`` of the
    columns it sets; a row whose flags are all 1 keeps its lookup row.
    """

    column_vindex: ColumnVindex
    old: tuple[int, ...]
    new: tuple[int, ...] = ()
    same: tuple[int, ...] = ()

    def values(self, fields: list[Field], row: Row, positions: tuple[int, ...]) -> list[Any]:
        return [from_row_value(fields[i], row[i]) for i in positions]

    def describe(self) -> str:
        if self.new:
            return f"{self.column_vindex.name}:{','.join(map(str, self.new))}"
        return self.column_vindex.name


@dataclass(frozen=True)
class OwnedVindexUpkeep:
    """Reads the rows a DML statement touches (``query``: the primary vindex column first) and deletes (DELETE)
    or moves (UPDATE: ``changes`` have ``new``) their owned lookup rows."""

    query: SQLTemplate
    primary: ColumnVindex
    changes: tuple[LookupChange, ...]

    async def run(self, vcursor: VCursor, bind_vars: BindVars, shards: list[ShardTarget]) -> None:
        text = self.query.render(bind_vars)
        for result in await vcursor.execute_on_shards([(shard, text) for shard in shards]):
            if not result.rows:
                continue
            fields = result.fields
            values = [from_row_value(fields[0], row[0]) for row in result.rows]
            ksids = await map_values(self.primary.vindex, vcursor, values)
            for value, ksid in zip(values, ksids, strict=True):
                if not isinstance(ksid, bytes):
                    raise FailedPrecondition(
                        f"could not map [{value!r}] of column {self.primary.column} to a keyspace id"
                    )
            for change in self.changes:
                await self._apply(vcursor, change, fields, result.rows, ksids)

    @staticmethod
    async def _apply(
        vcursor: VCursor, change: LookupChange, fields: list[Field], rows: list[Row], ksids: list[Any]
    ) -> None:
        vindex = change.column_vindex.vindex
        assert isinstance(vindex, LookupVindex)
        if not change.new:
            by_ksid: dict[bytes, list[list[Any]]] = {}
            for row, ksid in zip(rows, ksids, strict=True):
                by_ksid.setdefault(ksid, []).append(change.values(fields, row, change.old))
            for ksid, old_rows in by_ksid.items():
                await vindex.delete(vcursor, old_rows, ksid)
            return
        for row, ksid in zip(rows, ksids, strict=True):
            if all(row[i] == b"1" for i in change.same):
                continue
            old = change.values(fields, row, change.old)
            await vindex.update(vcursor, old, ksid, change.values(fields, row, change.new))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"KsidVindex": self.primary.name, "OwnedVindexQuery": self.query.text}
        updated = [change.describe() for change in self.changes if change.new]
        if updated:
            out["ChangedVindexValues"] = updated
        return out


class DML(RoutedPrimitive):
    """An UPDATE or DELETE (``operator``) of ``table``: ``query`` (the client's statement) runs on every shard
    ``routing`` picks, after ``upkeep`` has maintained the owned lookup vindexes."""

    def __init__(
        self,
        operator: str,
        routing: Routing,
        query: SQLTemplate,
        table: Table,
        *,
        upkeep: OwnedVindexUpkeep | None = None,
    ) -> None:
        self.operator = operator
        self.routing = routing
        self.query = query
        self.table = table
        self.upkeep = upkeep

    async def single_shard(self, vcursor: VCursor, bind_vars: BindVars) -> ShardTarget | None:
        """The one shard that runs the client's statement unchanged, with nothing else to do; else None."""
        if self.upkeep is not None:
            return None
        destinations = await self.routing.destinations(vcursor, bind_vars)
        return destinations[0].shard if len(destinations) == 1 else None

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        shards = [d.shard for d in await self.routing.destinations(vcursor, bind_vars)]
        if not shards:
            return Result()
        if self.upkeep is not None:
            await self.upkeep.run(vcursor, bind_vars, shards)
        text = self.query.render(bind_vars)
        results = await vcursor.execute_on_shards([(shard, text) for shard in shards])
        if len(results) == 1:
            return results[0]
        return Result(
            rows_affected=sum(r.rows_affected for r in results), warnings=sum(r.warnings for r in results)
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperatorType": self.operator, **self.routing.describe()}
        out["TargetTabletType"] = "PRIMARY"
        out["Query"] = self.query.text
        out["Table"] = self.table.name
        if self.upkeep is not None:
            out.update(self.upkeep.describe())
        return out
