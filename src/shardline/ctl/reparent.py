"""InitShardPrimary: give a new shard its first primary."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from shardline.ctl.commands import Arg, Command
from shardline.ctl.context import CtlContext, on_tablets, parse_keyspace_shard
from shardline.errors import FailedPrecondition, InvalidArgument
from shardline.topo.locks import lock_shard
from shardline.topo.records import TabletAlias

ACTION = "InitShardPrimary"


async def init_shard_primary(
    ctx: CtlContext, keyspace_shard: str, alias: str, force: bool = False, wait_replicas_timeout: float = 30.0
) -> dict[str, Any]:
    """Under the shard lock: wipes the replication state of every tablet of the shard, makes ``alias`` a
    read-write primary (semi-sync per the keyspace's durability policy), points the others at it, writes a
    reparent journal row and waits for every replica to have it, records the primary in the Shard record and
    rebuilds the keyspace's serving graph once its serving shards cover the key space.

    A shard that has a primary already is refused unless ``force``. Returns the updated Shard record.
    """
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    primary_alias = TabletAlias.parse(alias)
    if wait_replicas_timeout <= 0:
        raise InvalidArgument(f"{ACTION}: --wait-replicas-timeout must be positive, got {wait_replicas_timeout}")
    async with lock_shard(ctx.ts, keyspace, shard, f"{ACTION}({primary_alias})"):
        record = await ctx.ts.get_shard(keyspace, shard)
        if record.primary_alias is not None and not force:
            raise FailedPrecondition(
                f"shard {keyspace}/{shard} already has primary {record.primary_alias}; use --force to replace it"
            )
        tablets = await ctx.ts.get_tablets_by_shard(keyspace, shard)
        primary = next((tablet for tablet in tablets if tablet.alias == primary_alias), None)
        if primary is None:
            members = ", ".join(str(tablet.alias) for tablet in tablets) or "none"
            raise InvalidArgument(f"tablet {primary_alias} is not in shard {keyspace}/{shard} (tablets: {members})")
        replicas = [tablet for tablet in tablets if tablet.alias != primary_alias]

        await on_tablets(tablets, ctx.tmc.primary_position)  # every tablet answers before anything changes
        await on_tablets(tablets, ctx.tmc.reset_replication)
        position = await ctx.tmc.init_primary(primary)
        await on_tablets(replicas, lambda tablet: ctx.tmc.init_replica(tablet, primary_alias, position))
        journal_position = await ctx.tmc.populate_reparent_journal(
            primary, time.time_ns(), ACTION, primary_alias, position
        )
        await on_tablets(
            replicas, lambda tablet: ctx.tmc.wait_for_position(tablet, journal_position, wait_replicas_timeout)
        )
        term_start = (await ctx.ts.get_tablet(primary_alias)).primary_term_start_time
        updated = await ctx.ts.update_shard_fields(
            keyspace,
            shard,
            lambda s: dataclasses.replace(s, primary_alias=primary_alias, primary_term_start_time=term_start),
        )
    try:
        await ctx.ts.rebuild_srv_keyspace(keyspace)
    except FailedPrecondition:
        pass  # other shards of the keyspace are missing yet; RebuildKeyspaceGraph once they exist
    return updated.to_json()


COMMANDS = (
    Command(
        ACTION,
        "Makes a tablet the first primary of a shard and the other tablets its replicas.",
        init_shard_primary,
        (
            Arg("keyspace_shard", metavar="KEYSPACE/SHARD"),
            Arg("alias", metavar="TABLET_ALIAS"),
            Arg("--force", action="store_true", help="even if the shard has a primary already"),
            Arg(
                "--wait-replicas-timeout",
                type=float,
                default=30.0,
                help="seconds to wait for replicas to catch up (default 30)",
            ),
        ),
    ),
)
