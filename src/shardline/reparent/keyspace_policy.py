"""SetKeyspaceDurabilityPolicy: record a keyspace's policy, then bring every shard's tablets in line with it,
each shard under its lock. Enabling semi-sync starts with the replicas (so that the primary has someone to
wait for); disabling it starts with the primary (so that it never waits for acknowledgements that stopped)."""

from __future__ import annotations

import asyncio
import dataclasses

from shardline.errors import ShardlineError
from shardline.reparent import durability
from shardline.reparent.replication import TabletStatus, tablet_statuses
from shardline.reparent.shard import load_shard_info
from shardline.tablet.client import TabletManagerClient
from shardline.topo.locks import lock_keyspace, lock_shard
from shardline.topo.records import Keyspace
from shardline.topo.server import TopoServer

ACTION = "SetKeyspaceDurabilityPolicy"


async def set_keyspace_durability_policy(
    ts: TopoServer, tmc: TabletManagerClient, keyspace: str, policy: str
) -> tuple[Keyspace, list[str]]:
    """Stores the policy and applies it to the tablets that answer; returns the keyspace record and one
    warning per tablet that could not be changed (the failover agent fixes those later)."""
    durability.check_policy(policy)
    async with lock_keyspace(ts, keyspace, f"{ACTION}({policy})"):
        record = await ts.update_keyspace_fields(
            keyspace, lambda current: dataclasses.replace(current, durability_policy=policy)
        )
    warnings: list[str] = []
    for shard in await ts.get_shard_names(keyspace):
        async with lock_shard(ts, keyspace, shard, f"{ACTION}({policy})"):
            warnings.extend(await _apply_to_shard(ts, tmc, keyspace, shard, policy))
    return record, warnings


async def _apply_to_shard(
    ts: TopoServer, tmc: TabletManagerClient, keyspace: str, shard: str, policy: str
) -> list[str]:
    info = await load_shard_info(ts, keyspace, shard)
    statuses, failures = await tablet_statuses(tmc, info.tablets.values())
    warnings = [f"tablet {alias} not changed: {error}" for alias, error in failures.items()]
    primary = statuses.get(info.primary_alias) if info.primary_alias is not None else None
    replicas = [status for status in statuses.values() if status is not primary and status.replication is not None]

    async def fix_replicas() -> None:
        outcomes = await asyncio.gather(*(_fix_replica(tmc, status, policy) for status in replicas), return_exceptions=True)
        for status, outcome in zip(replicas, outcomes, strict=True):
            if isinstance(outcome, ShardlineError):
                warnings.append(f"tablet {status.alias} not changed: {outcome}")
            elif isinstance(outcome, BaseException):
                raise outcome

    async def fix_primary() -> None:
        if primary is None or primary.semi_sync.primary_ok(policy):
            return
        try:
            await durability.apply_primary(tmc, primary.tablet, policy)
        except ShardlineError as exc:
            warnings.append(f"primary {primary.alias} not changed: {exc}")

    steps = (fix_replicas, fix_primary) if durability.semi_sync_required(policy) else (fix_primary, fix_replicas)
    for step in steps:
        await step()
    return warnings


async def _fix_replica(tmc: TabletManagerClient, status: TabletStatus, policy: str) -> None:
    if not status.semi_sync.replica_ok(status.tablet.type, policy):
        running = status.replication is not None and status.replication.io_running
        await durability.apply_replica(tmc, status.tablet, policy, restart_io=running)
