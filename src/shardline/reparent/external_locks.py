"""Shard locks ctld holds on behalf of external failover tools (LockShard, RefreshShardLock, UnlockShard).

ctld keeps the topo lease alive while it runs; the tool keeps the lock by refreshing it within its ttl, and
ctld releases it when the tool stops doing so. If ctld itself dies, the topo lease expires after the ttl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from shardline.errors import FailedPrecondition, InvalidArgument, Unavailable
from shardline.topo.contract import Lock, NoNode
from shardline.topo.locks import lock_shard, shard_lock_key
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ExternalLock:
    """A shard lock held for a client; it lapses unless refreshed before ``deadline`` (monotonic time)."""

    keyspace: str
    shard: str
    purpose: str
    client: str
    ttl: float
    lock: Lock
    deadline: float
    stack: AsyncExitStack
    watchdog: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.lock.id

    def to_json(self) -> dict[str, Any]:
        return {
            "keyspace": self.keyspace,
            "shard": self.shard,
            "lock_id": self.id,
            "purpose": self.purpose,
            "client": self.client,
            "ttl": self.ttl,
            "expires_in": round(max(0.0, self.deadline - time.monotonic()), 3),
        }


class ExternalLocks:
    """The locks one ctld holds for clients, by lock id."""

    def __init__(self) -> None:
        self._held: dict[str, ExternalLock] = {}

    async def lock(
        self, ts: TopoServer, keyspace: str, shard: str, purpose: str, client: str, ttl: float, timeout: float
    ) -> ExternalLock:
        """Takes the shard lock for ``client`` (waiting up to ``timeout`` for its holder)."""
        if ttl <= 0:
            raise InvalidArgument(f"LockShard: ttl must be positive, got {ttl}")
        if not purpose:
            raise InvalidArgument("LockShard: say what the lock is for (--purpose)")
        stack = AsyncExitStack()
        action = f"{purpose} (held by ctld for {client})"
        lock = await stack.enter_async_context(lock_shard(ts, keyspace, shard, action, ttl=ttl, timeout=timeout))
        held = ExternalLock(keyspace, shard, purpose, client, ttl, lock, time.monotonic() + ttl, stack)
        held.watchdog = asyncio.create_task(self._expire(held), name=f"external lock {keyspace}/{shard}")
        self._held[held.id] = held
        log.info("shard %s/%s locked for %s: %s (lock id %s)", keyspace, shard, client, purpose, held.id)
        return held

    def get(self, keyspace: str, shard: str, lock_id: str) -> ExternalLock:
        """The held lock ``lock_id`` of the shard; FailedPrecondition if it lapsed, was released, or is not one."""
        held = self._held.get(lock_id)
        if held is None or (held.keyspace, held.shard) != (keyspace, shard) or not held.lock.is_held():
            raise FailedPrecondition(
                f"lock {lock_id} is not held on shard {keyspace}/{shard} by this ctld: it expired, was released, "
                "or belongs to another shard"
            )
        return held

    def refresh(self, keyspace: str, shard: str, lock_id: str) -> ExternalLock:
        """Extends the lock by its ttl from now."""
        held = self.get(keyspace, shard, lock_id)
        held.deadline = time.monotonic() + held.ttl
        return held

    async def unlock(self, ts: TopoServer, keyspace: str, shard: str, lock_id: str) -> None:
        """Releases the lock. A lock id this ctld does not hold (another process's, or a lock left by a dead
        ctld) is released in topo if it still holds the shard; NotFound otherwise."""
        held = self._held.get(lock_id)
        if held is None or (held.keyspace, held.shard) != (keyspace, shard):
            try:
                await ts.conn.release_lock(shard_lock_key(keyspace, shard), lock_id)
            except NoNode:
                raise NoNode(f"lock {lock_id} does not hold shard {keyspace}/{shard}") from None
            return
        if held.watchdog is not None:
            held.watchdog.cancel()
        await self._release(held)

    async def _release(self, held: ExternalLock) -> None:
        self._held.pop(held.id, None)
        try:
            await held.stack.aclose()
        except Unavailable as exc:  # the lease lapsed in topo already
            log.warning("lock %s of shard %s/%s: %s", held.id, held.keyspace, held.shard, exc)

    async def _expire(self, held: ExternalLock) -> None:
        while (left := held.deadline - time.monotonic()) > 0:
            await asyncio.sleep(left)
        log.warning(
            "lock %s of shard %s/%s (%s) expired: %s did not refresh it within %gs",
            held.id, held.keyspace, held.shard, held.purpose, held.client, held.ttl,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._release(held))


EXTERNAL_LOCKS = ExternalLocks()
"""The locks this process (ctld) holds for clients."""
