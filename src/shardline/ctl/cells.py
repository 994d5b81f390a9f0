"""Cell commands."""

from __future__ import annotations

from typing import Any

from shardline.ctl.commands import Arg, Command
from shardline.ctl.context import CtlContext


async def add_cell_info(ctx: CtlContext, cell: str, server_address: str = "", root: str = "") -> dict[str, Any]:
    """Registers a cell; without ``server_address`` its data lives in the global topo."""
    return (await ctx.ts.add_cell(cell, server_address, root)).to_json()


async def get_cell_info(ctx: CtlContext, cell: str) -> dict[str, Any]:
    return (await ctx.ts.get_cell_info(cell)).to_json()


async def get_cell_info_names(ctx: CtlContext) -> list[str]:
    return await ctx.ts.get_cells()


COMMANDS = (
    Command(
        "AddCellInfo",
        "Registers a cell.",
        add_cell_info,
        (
            Arg("cell"),
            Arg("--server-address", default="", help="topo spec of the cell's own topo (default: the global one)"),
            Arg("--root", default="", help="key prefix of the cell's data in that topo"),
        ),
    ),
    Command("GetCellInfo", "Prints a cell as JSON.", get_cell_info, (Arg("cell"),)),
    Command("GetCellInfoNames", "Prints the names of all cells as JSON.", get_cell_info_names),
)
