"""The shard lock a reparent runs under: taken here, or handed in by a caller that holds it already (the
failover agent after its analysis, ctld for an external tool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shardline.errors import InvalidArgument, Unavailable
from shardline.topo.contract import Lock
from shardline.topo.locks import DEFAULT_LOCK_TIMEOUT, lock_shard, shard_lock_key
from shardline.topo.server import TopoServer


def check_locked(lock: Lock, keyspace: str, shard: str) -> None:
    """Raises unless ``lock`` is the shard's lock and is still held (call it before writing topo)."""
    if lock.key != shard_lock_key(keyspace, shard):
        raise InvalidArgument(f"lock {lock.id} is not the lock of shard {keyspace}/{shard}")
    if not lock.is_held():
        raise Unavailable(f"lost the lock of shard {keyspace}/{shard}: its lease could not be renewed")


@asynccontextmanager
async def shard_locked(
    ts: TopoServer,
    keyspace: str,
    shard: str,
    action: str,
    *,
    lock: Lock | None = None,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> AsyncIterator[Lock]:
    """Runs the block under the shard's lock: ``lock`` if given (it must be that shard's and held), otherwise
    one taken for ``action`` (waiting up to ``timeout``) and released on exit."""
    if lock is not None:
        check_locked(lock, keyspace, shard)
        yield lock
        return
    async with lock_shard(ts, keyspace, shard, action, timeout=timeout) as taken:
        yield taken
