"""Reparent, durability and shard-lock commands: PlannedReparentShard, EmergencyReparentShard,
TabletExternallyReparented, SetKeyspaceDurabilityPolicy, and GetShardLock / LockShard / RefreshShardLock /
UnlockShard for operators and external failover tools (docs/failover.md has the protocol)."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from shardline.ctl.commands import Arg, Command
from shardline.ctl.context import CtlContext, parse_keyspace_shard
from shardline.reparent.durability import check_policy
from shardline.reparent.emergency import emergency_reparent_shard
from shardline.reparent.external import tablet_externally_reparented
from shardline.reparent.external_locks import EXTERNAL_LOCKS
from shardline.reparent.keyspace_policy import set_keyspace_durability_policy
from shardline.reparent.planned import DEFAULT_WAIT_REPLICAS_TIMEOUT, planned_reparent_shard
from shardline.topo.contract import Lock
from shardline.topo.locks import DEFAULT_LOCK_TIMEOUT, DEFAULT_LOCK_TTL, describe_holder, get_shard_lock
from shardline.topo.records import DURABILITY_POLICIES, TabletAlias


def _held_lock(keyspace: str, shard: str, lock_id: str | None) -> Lock | None:
    """The lock this ctld holds for the caller under ``lock_id``, or None to take one."""
    return EXTERNAL_LOCKS.get(keyspace, shard, lock_id).lock if lock_id else None


def _alias(text: str | None) -> TabletAlias | None:
    return TabletAlias.parse(text) if text else None


async def _reparent(
    reparent_shard: Callable[..., Awaitable[Any]],
    ctx: CtlContext,
    keyspace_shard: str,
    new_primary: str | None,
    wait_replicas_timeout: float,
    lock_timeout: float,
    lock_id: str | None,
) -> dict[str, Any]:
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    result = await reparent_shard(
        ctx.ts,
        ctx.tmc,
        keyspace,
        shard,
        new_primary=_alias(new_primary),
        wait_replicas_timeout=wait_replicas_timeout,
        lock=_held_lock(keyspace, shard, lock_id),
        lock_timeout=lock_timeout,
    )
    return result.to_json()


async def planned_reparent(
    ctx: CtlContext,
    keyspace_shard: str,
    new_primary: str | None = None,
    wait_replicas_timeout: float = DEFAULT_WAIT_REPLICAS_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_id: str | None = None,
) -> dict[str, Any]:
    return await _reparent(planned_reparent_shard, ctx, keyspace_shard, new_primary, wait_replicas_timeout,
                           lock_timeout, lock_id)


async def emergency_reparent(
    ctx: CtlContext,
    keyspace_shard: str,
    new_primary: str | None = None,
    wait_replicas_timeout: float = DEFAULT_WAIT_REPLICAS_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    lock_id: str | None = None,
) -> dict[str, Any]:
    return await _reparent(emergency_reparent_shard, ctx, keyspace_shard, new_primary, wait_replicas_timeout,
                           lock_timeout, lock_id)


async def externally_reparented(ctx: CtlContext, alias: str, lock_id: str | None = None) -> dict[str, Any]:
    tablet_alias = TabletAlias.parse(alias)
    tablet = await ctx.ts.get_tablet(tablet_alias)
    lock = _held_lock(tablet.keyspace, tablet.shard, lock_id)
    return (await tablet_externally_reparented(ctx.ts, ctx.tmc, tablet_alias, lock=lock)).to_json()


async def set_durability_policy(ctx: CtlContext, keyspace: str, durability_policy: str) -> dict[str, Any]:
    record, warnings = await set_keyspace_durability_policy(ctx.ts, ctx.tmc, keyspace, check_policy(durability_policy))
    return record.to_json() | {"warnings": warnings}


async def get_lock(ctx: CtlContext, keyspace_shard: str) -> dict[str, Any]:
    """Who holds the shard's lock, since when and why."""
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    info = await get_shard_lock(ctx.ts, keyspace, shard)
    if info is None:
        return {"keyspace": keyspace, "shard": shard, "locked": False}
    taken = info.holder.get("time")
    since = (
        datetime.datetime.fromtimestamp(taken, datetime.UTC).isoformat() if isinstance(taken, int | float) else None
    )
    return {
        "keyspace": keyspace,
        "shard": shard,
        "locked": True,
        "lock_id": info.lock_id,
        "action": info.holder.get("action"),
        "holder": info.holder,
        "since": since,
        "description": describe_holder(info),
    }


async def lock(
    ctx: CtlContext,
    keyspace_shard: str,
    purpose: str,
    ttl: float = DEFAULT_LOCK_TTL,
    wait_timeout: float = 0.0,
    client: str = "shardline ctl",
) -> dict[str, Any]:
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    held = await EXTERNAL_LOCKS.lock(ctx.ts, keyspace, shard, purpose, client, ttl, wait_timeout)
    return held.to_json()


async def refresh_lock(ctx: CtlContext, keyspace_shard: str, lock_id: str) -> dict[str, Any]:
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    return EXTERNAL_LOCKS.refresh(keyspace, shard, lock_id).to_json()


async def unlock(ctx: CtlContext, keyspace_shard: str, lock_id: str) -> None:
    keyspace, shard = parse_keyspace_shard(keyspace_shard)
    await EXTERNAL_LOCKS.unlock(ctx.ts, keyspace, shard, lock_id)


_SHARD = Arg("keyspace_shard", metavar="KEYSPACE/SHARD")
_LOCK_ID = Arg("--lock-id", help="run under this lock, taken with LockShard (default: take the shard lock)")
_REPARENT_ARGS = (
    _SHARD,
    Arg("--new-primary", help="tablet alias to promote (default: the most advanced REPLICA)"),
    Arg(
        "--wait-replicas-timeout",
        type=float,
        default=DEFAULT_WAIT_REPLICAS_TIMEOUT,
        help=f"seconds the new primary may take to catch up (default {DEFAULT_WAIT_REPLICAS_TIMEOUT:g})",
    ),
    Arg(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help=f"seconds to wait for the shard lock (default {DEFAULT_LOCK_TIMEOUT:g})",
    ),
    _LOCK_ID,
)

COMMANDS = (
    Command(
        "PlannedReparentShard",
        "Hands a healthy shard's primary role over to a replica without losing writes.",
        planned_reparent,
        _REPARENT_ARGS,
    ),
    Command(
        "EmergencyReparentShard",
        "Promotes the most advanced replica of a shard whose primary is dead.",
        emergency_reparent,
        _REPARENT_ARGS,
    ),
    Command(
        "TabletExternallyReparented",
        "Records in topo a primary that an external tool promoted.",
        externally_reparented,
        (Arg("alias", metavar="TABLET_ALIAS"), _LOCK_ID),
    ),
    Command(
        "SetKeyspaceDurabilityPolicy",
        "Sets a keyspace's durability policy and applies it to its tablets.",
        set_durability_policy,
        (Arg("keyspace"), Arg("--durability-policy", required=True, choices=DURABILITY_POLICIES)),
    ),
    Command("GetShardLock", "Prints who holds a shard's lock, since when and why.", get_lock, (_SHARD,)),
    Command(
        "LockShard",
        "Takes a shard's lock for an external tool; ctld holds it until UnlockShard or a missed refresh.",
        lock,
        (
            _SHARD,
            Arg("--purpose", required=True, help="what the lock is for (recorded in it)"),
            Arg("--ttl", type=float, default=DEFAULT_LOCK_TTL, help=f"seconds between refreshes (default {DEFAULT_LOCK_TTL:g})"),
            Arg("--wait-timeout", type=float, default=0.0, help="seconds to wait for the current holder (default 0)"),
            Arg("--client", default="shardline ctl", help="who the lock is for (recorded in it)"),
        ),
    ),
    Command(
        "RefreshShardLock",
        "Keeps a lock taken with LockShard for another ttl.",
        refresh_lock,
        (_SHARD, Arg("--lock-id", required=True)),
    ),
    Command(
        "UnlockShard",
        "Releases a shard lock by its id.",
        unlock,
        (_SHARD, Arg("--lock-id", required=True)),
    ),
)
