"""Route: runs one query on the shards its routing picks and combines their results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.gate.engine.base import BindVars
from shardline.gate.engine.ordering import OrderKey, sort_rows
from shardline.gate.engine.routing import Destination, RoutedPrimitive, Routing
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.sqltemplate import SQLTemplate
    from shardline.gate.engine.vcursor import ShardTarget, VCursor


class Route(RoutedPrimitive):
    """Sends ``query`` to each destination shard, concatenates the rows (merge-sorted on ``order`` when several
    shards answer) and drops the last ``helpers`` columns (columns the planner added, such as weight strings).

    ``passthrough`` means the query is the client's statement itself (only an IN list may be narrowed per
    shard): on a single shard the executor may send the original text and relay the result.
    When no shard qualifies (no vindex value maps to a keyspace id), no row can match: the query still runs on
    one shard so that the result has its fields (and an aggregate over no rows its row). ``in_bind`` names the
    bind variable that receives, per shard, the IN-list values routed to it.
    """

    def __init__(
        self,
        routing: Routing,
        query: SQLTemplate,
        *,
        passthrough: bool = False,
        order: tuple[OrderKey, ...] = (),
        helpers: int = 0,
        in_bind: str = "",
        table: str = "",
    ) -> None:
        self.routing = routing
        self.query = query
        self.passthrough = passthrough
        self.order = order
        self.helpers = helpers
        self.in_bind = in_bind
        self.table = table

    async def single_shard(self, vcursor: VCursor, bind_vars: BindVars) -> ShardTarget | None:
        """The one shard the client's original text can run on unchanged, or None if that is not the case."""
        shards = await self.relay_shards(vcursor, bind_vars)
        return shards[0] if shards is not None and len(shards) == 1 else None

    async def relay_shards(self, vcursor: VCursor, bind_vars: BindVars) -> list[ShardTarget] | None:
        """Where the client's text runs unchanged: one shard, or several whose rows need no merging (an IN route
        reaching several shards narrows its list per shard instead, so it is not relayed)."""
        if not self.passthrough:
            return None
        destinations = await self.routing.destinations(vcursor, bind_vars)
        if not destinations:  # no row can match: any shard answers with the fields (and empty aggregates)
            return [vcursor.shards(self.keyspace)[0]]
        if len(destinations) == 1:
            return [destinations[0].shard]
        if self.in_bind or self.order or self.helpers:
            return None
        return [d.shard for d in destinations]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        destinations = await self.routing.destinations(vcursor, bind_vars)
        if not destinations:
            destinations = [Destination(vcursor.shards(self.keyspace)[0], [None])]
        queries = [(d.shard, self._render(bind_vars, d)) for d in destinations]
        return self.combine(await vcursor.execute_on_shards(queries))

    def _render(self, bind_vars: BindVars, destination: Destination) -> str:
        if self.in_bind:
            return self.query.render({**bind_vars, self.in_bind: destination.in_values or [None]})
        return self.query.render(bind_vars)

    def combine(self, results: list[Result]) -> Result:
        """The route's result from its shards' results (in destination order)."""
        if len(results) == 1:
            combined = results[0]
        else:
            first = results[0]
            combined = Result(
                fields=first.fields,
                rows=[row for result in results for row in result.rows],
                rows_affected=sum(r.rows_affected for r in results),
                insert_id=next((r.insert_id for r in results if r.insert_id), 0),
                warnings=sum(r.warnings for r in results),
            )
            if self.order:
                combined.rows = sort_rows(combined.rows, combined.fields, self.order)
        if self.helpers:
            n = len(combined.fields) - self.helpers
            combined = Result(
                fields=combined.fields[:n],
                rows=[row[:n] for row in combined.rows],
                rows_affected=combined.rows_affected,
                insert_id=combined.insert_id,
                warnings=combined.warnings,
            )
        return combined

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperatorType": "Route", **self.routing.describe()}
        out["Query"] = self.query.text
        if self.order:
            out["OrderBy"] = ", ".join(map(str, self.order))
        if self.helpers:
            out["HelperColumns"] = self.helpers
        if self.table:
            out["Table"] = self.table
        return out
