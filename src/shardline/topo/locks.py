"""Shard and keyspace locks: every topology change that must not race another (reparent, reshard cut-over,
shard creation) runs inside one. The lock records who holds it and why; a crashed holder's lock expires
after its ttl."""

from __future__ import annotations

import contextlib
import datetime
import getpass
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shardline.errors import Unavailable
from shardline.topo.contract import Lock, LockInfo, LockTimeout, TopoUnavailable

if TYPE_CHECKING:
    from shardline.topo.server import TopoServer

DEFAULT_LOCK_TTL = 30.0
DEFAULT_LOCK_TIMEOUT = 45.0


def keyspace_lock_key(keyspace: str) -> str:
    return f"global/locks/keyspaces/{keyspace}"


def shard_lock_key(keyspace: str, shard: str) -> str:
    return f"global/locks/keyspaces/{keyspace}/shards/{shard}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def lock_holder(action: str) -> dict[str, Any]:
    """This process's identity and what it is doing, as stored in the lock."""
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "user": _user(),
        "action": action,
        "time": time.time(),
    }


def describe_holder(info: LockInfo) -> str:
    """One readable line about a lock holder."""
    holder = info.holder
    taken = holder.get("time")
    since = (
        datetime.datetime.fromtimestamp(taken, datetime.UTC).strftime(" since %Y-%m-%d %H:%M:%S UTC")
        if isinstance(taken, int | float)
        else ""
    )
    return (
        f"{holder.get('user', '?')}@{holder.get('hostname', '?')} pid {holder.get('pid', '?')} "
        f"for {holder.get('action', '?')!r}{since} (lock id {info.lock_id})"
    )


@contextlib.asynccontextmanager
async def _locked(
    ts: TopoServer, key: str, what: str, action: str, ttl: float, timeout: float
) -> AsyncIterator[Lock]:
    try:
        lock = await ts.conn.lock(key, holder=lock_holder(action), ttl=ttl, timeout=timeout)
    except LockTimeout as exc:
        holder = describe_holder(exc.holder) if exc.holder else "a holder that just released it"
        raise LockTimeout(f"{what} is locked by {holder}; gave up after {timeout:g}s", exc.holder) from None
    try:
        yield lock
    except BaseException:
        with contextlib.suppress(TopoUnavailable):  # the action's own error matters more; the lock expires
            await lock.release()
        raise
    lost = not lock.is_held()
    await lock.release()
    if lost:
        raise Unavailable(f"lost the lock on {what} during {action!r}: its lease could not be renewed")


@contextlib.asynccontextmanager
async def lock_keyspace(
    ts: TopoServer,
    keyspace: str,
    action: str,
    *,
    ttl: float = DEFAULT_LOCK_TTL,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> AsyncIterator[Lock]:
    """Holds the keyspace's lock for ``action``; waits up to ``timeout`` for another holder (then LockTimeout
    naming it). Released on exit, even on error."""
    await ts.get_keyspace(keyspace)
    async with _locked(ts, keyspace_lock_key(keyspace), f"keyspace {keyspace}", action, ttl, timeout) as lock:
        yield lock


@contextlib.asynccontextmanager
async def lock_shard(
    ts: TopoServer,
    keyspace: str,
    shard: str,
    action: str,
    *,
    ttl: float = DEFAULT_LOCK_TTL,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> AsyncIterator[Lock]:
    """Holds the shard's lock for ``action``; waits up to ``timeout`` for another holder (then LockTimeout
    naming it). Released on exit, even on error."""
    await ts.get_shard(keyspace, shard)
    async with _locked(
        ts, shard_lock_key(keyspace, shard), f"shard {keyspace}/{shard}", action, ttl, timeout
    ) as lock:
        yield lock


async def get_shard_lock(ts: TopoServer, keyspace: str, shard: str) -> LockInfo | None:
    """Who holds the shard's lock now, or None."""
    return await ts.conn.get_lock(shard_lock_key(keyspace, shard))
