"""Tablet commands."""

from __future__ import annotations

from typing import Any

from shardline.ctl.commands import Arg, Command
from shardline.ctl.context import CtlContext
from shardline.errors import InvalidArgument
from shardline.topo.records import TabletAlias


async def get_tablets(
    ctx: CtlContext, keyspace: str | None = None, shard: str | None = None, cell: str | None = None
) -> list[dict[str, Any]]:
    """The tablets of a cell (default: all cells), optionally only those of a keyspace and shard."""
    if shard is not None and keyspace is None:
        raise InvalidArgument("GetTablets: --shard needs --keyspace")
    if keyspace is not None:
        await ctx.ts.get_keyspace(keyspace)
    if shard is not None:
        await ctx.ts.get_shard(keyspace, shard)
    cells = [cell] if cell is not None else await ctx.ts.get_cells()
    return [tablet.to_json() for name in cells for tablet in await ctx.ts.get_tablets(name, keyspace, shard)]


async def get_tablet(ctx: CtlContext, alias: str) -> dict[str, Any]:
    return (await ctx.ts.get_tablet(TabletAlias.parse(alias))).to_json()


COMMANDS = (
    Command(
        "GetTablets",
        "Prints tablets as JSON.",
        get_tablets,
        (Arg("--keyspace"), Arg("--shard"), Arg("--cell")),
    ),
    Command("GetTablet", "Prints a tablet as JSON.", get_tablet, (Arg("alias", metavar="TABLET_ALIAS"),)),
)
