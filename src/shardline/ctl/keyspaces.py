"""Keyspace and shard commands, and the keyspace serving graph."""

from __future__ import annotations

from typing import Any

from shardline.ctl.commands import CELLS_ARG, Arg, Command
from shardline.ctl.context import CtlContext, parse_keyspace_shard, split_cells
from shardline.topo.records import DURABILITY_POLICIES


async def create_keyspace(ctx: CtlContext, keyspace: str, durability_policy: str = "none") -> dict[str, Any]:
    """Creates a keyspace and publishes it (with an empty VSchema) to every cell's SrvVSchema."""
    record = await ctx.ts.create_keyspace(keyspace, durability_policy=durability_policy)
    await ctx.ts.rebuild_srv_vschema()
    return record.to_json()


async def delete_keyspace(ctx: CtlContext, keyspace: str, recursive: bool = False) -> None:
    """Deletes a keyspace (with ``recursive``, its shards and tablet records too) and unpublishes it."""
    await ctx.ts.delete_keyspace(keyspace, recursive=recursive)
    await ctx.ts.rebuild_srv_vschema()


async def get_keyspace(ctx: CtlContext, keyspace: str) -> dict[str, Any]:
    return (await ctx.ts.get_keyspace(keyspace)).to_json()


async def get_keyspaces(ctx: CtlContext) -> list[dict[str, Any]]:
    return [(await ctx.ts.get_keyspace(name)).to_json() for name in await ctx.ts.get_keyspace_names()]


async def create_shard(ctx: CtlContext, keyspace_shard: str) -> dict[str, Any]:
    """Creates a shard; one overlapping a serving shard is refused."""
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    return (await ctx.ts.create_shard(keyspace, shard)).to_json()


async def get_shard(ctx: CtlContext, keyspace_shard: str) -> dict[str, Any]:
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    return (await ctx.ts.get_shard(keyspace, shard)).to_json()


async def find_all_shards_in_keyspace(ctx: CtlContext, keyspace: str) -> dict[str, dict[str, Any]]:
    """Every shard of the keyspace by name, in key-range order."""
    return {shard.name: shard.to_json() for shard in await ctx.ts.get_shards(keyspace)}


async def rebuild_keyspace_graph(ctx: CtlContext, keyspace: str, cells: str | None = None) -> dict[str, Any]:
    """Publishes the keyspace's serving shards to the cells; refused if they leave a gap or overlap."""
    return (await ctx.ts.rebuild_srv_keyspace(keyspace, split_cells(cells))).to_json()


async def get_srv_keyspace(ctx: CtlContext, cell: str, keyspace: str) -> dict[str, Any]:
    return (await ctx.ts.get_srv_keyspace(cell, keyspace)).to_json()


COMMANDS = (
    Command(
        "CreateKeyspace",
        "Creates a keyspace.",
        create_keyspace,
        (
            Arg("keyspace"),
            Arg("--durability-policy", default="none", choices=DURABILITY_POLICIES, help="default: none"),
        ),
    ),
    Command(
        "DeleteKeyspace",
        "Deletes a keyspace.",
        delete_keyspace,
        (Arg("keyspace"), Arg("--recursive", action="store_true", help="also delete its shards and tablets")),
    ),
    Command("GetKeyspace", "Prints a keyspace as JSON.", get_keyspace, (Arg("keyspace"),)),
    Command("GetKeyspaces", "Prints every keyspace as JSON.", get_keyspaces),
    Command("CreateShard", "Creates a shard.", create_shard, (Arg("keyspace_shard", metavar="KEYSPACE/SHARD"),)),
    Command("GetShard", "Prints a shard as JSON.", get_shard, (Arg("keyspace_shard", metavar="KEYSPACE/SHARD"),)),
    Command(
        "FindAllShardsInKeyspace",
        "Prints every shard of a keyspace as JSON.",
        find_all_shards_in_keyspace,
        (Arg("keyspace"),),
    ),
    Command(
        "RebuildKeyspaceGraph",
        "Rebuilds the keyspace's serving graph (SrvKeyspace) in the cells.",
        rebuild_keyspace_graph,
        (Arg("keyspace"), CELLS_ARG),
    ),
    Command(
        "GetSrvKeyspace",
        "Prints a keyspace's serving graph in a cell as JSON.",
        get_srv_keyspace,
        (Arg("cell"), Arg("keyspace")),
    ),
)
