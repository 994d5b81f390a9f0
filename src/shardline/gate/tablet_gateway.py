"""Picks the tablet that serves a shard for a tablet type and lends connections from its pool. Writes only ever
go to the shard's serving primary; replica reads go to healthy replicas under the lag limit."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from typing import TYPE_CHECKING, Final, TypeVar

from shardline.errors import ShardlineError, Unavailable
from shardline.gate.buffer import DEFAULT_MAX_REQUESTS, DEFAULT_WINDOW, PrimaryBuffer, is_failover_error
from shardline.gate.pool import TabletPool
from shardline.mysqlctl.users import APP, Credentials

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from shardline.gate.engine.vcursor import ShardTarget
    from shardline.gate.healthcheck import TabletView
    from shardline.gate.pool import PooledConnection
    from shardline.gate.srvtopo import ServingGraph
    from shardline.topo.records import Tablet

T = TypeVar("T")
_LOOPBACK: Final = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|::1)$")


class TabletGateway:
    """Tablet choice plus one connection pool per tablet address."""

    def __init__(self, *, pool_size: int = 16, max_replica_lag: float = 30.0, credentials: Credentials = APP,
                 buffer_window: float = DEFAULT_WINDOW, buffer_max_requests: int = DEFAULT_MAX_REQUESTS) -> None:
        self.pool_size = pool_size
        self.max_replica_lag = max_replica_lag
        self.credentials = credentials
        self.serving: ServingGraph | None = None
        self._pools: dict[tuple[str, str, int], TabletPool] = {}
        self._index: dict[tuple[str, str, str], list[TabletView]] | None = None
        self._view_pools: dict[int, tuple[TabletView, TabletPool]] = {}  # the pool of each view in the index
        # (keyspace, shard, tablet type) -> the pools try_connection lends from, until tablets change
        self._serving_pools: dict[tuple[str, str, str], list[TabletPool]] = {}
        self._round_robin = itertools.count()
        self.buffer: PrimaryBuffer | None = (
            PrimaryBuffer(window=buffer_window, max_requests=buffer_max_requests) if buffer_window > 0 else None)
        """Holds primary requests during a failover; None (a window of 0) fails them at once."""

    def attach(self, serving: ServingGraph) -> None:
        self.serving = serving

    def tablets_changed(self) -> None:
        """Health or topo changed: rebuild the shard index on next use."""
        self._index = None
        self._serving_pools.clear()
        if self.buffer is not None:
            self.buffer.notify()

    async def connection(self, target: ShardTarget, tablet_type: str, settings_sql: str = "") -> PooledConnection:
        """A connection to the tablet that serves ``target`` for ``tablet_type`` (a primary request waits in the
        failover buffer while the shard has no serving primary)."""
        return await self._connect(await self._serving(target, tablet_type), settings_sql)

    async def reserve(self, target: ShardTarget, settings_sql: str = "") -> PooledConnection:
        """A reserved connection (``TabletPool.reserve``) to the shard's serving primary."""
        return await self._pool(await self._serving(target, "primary")).reserve(settings_sql)

    def is_primary(self, target: ShardTarget, conn: PooledConnection) -> bool:
        """Whether ``conn`` still reaches the shard's serving primary."""
        try:
            return self._pool(self.pick(target, "primary")) is conn.pool
        except Unavailable:
            return False

    async def execute(self, target: ShardTarget, tablet_type: str, settings_sql: str,
                      op: Callable[[PooledConnection], Awaitable[T]]) -> T:
        """Runs ``op`` on a pooled connection outside any transaction. A primary that turned read-only or cannot
        be reached (the statement did not run) is a failover: the request is buffered and sent to the next
        primary."""
        while True:
            view = await self._serving(target, tablet_type)
            try:
                conn = await self._connect(view, settings_sql)
                try:
                    return await op(conn)
                finally:
                    conn.release()
            except ShardlineError as exc:
                if tablet_type != "primary" or self.buffer is None or not is_failover_error(exc):
                    raise
                self.buffer.primary_failed(target, view)

    async def _serving(self, target: ShardTarget, tablet_type: str) -> TabletView:
        if tablet_type == "primary" and self.buffer is not None:
            return await self.buffer.primary(target, lambda: self.pick(target, tablet_type))
        return self.pick(target, tablet_type)

    def try_connection(self, target: ShardTarget, tablet_type: str, settings_sql: str,
                       pipeline_depth: int = 1) -> PooledConnection | None:
        """A pooled connection carrying ``settings_sql`` to the tablet that serves ``target``, lent at once: an
        idle one, or with ``pipeline_depth`` > 1 one shared by up to that many pipelined commands
        (``TabletPool.try_pipelined``). None where getting one means waiting or deciding (no idle connection,
        no serving tablet, a failover being buffered): then the caller takes the ``connection``/``execute``
        way."""
        if tablet_type == "primary" and self.buffer is not None and self.buffer.buffering:
            return None
        key = (target.keyspace, target.name, tablet_type)
        pools = self._serving_pools.get(key)
        if pools is None:
            try:
                pools = self._serving_pools[key] = self._pools_for(target, tablet_type)
            except Unavailable:
                return None
        pool = pools[0] if len(pools) == 1 else pools[next(self._round_robin) % len(pools)]
        if pipeline_depth > 1:
            return pool.try_pipelined(settings_sql, pipeline_depth)
        return pool.try_idle(settings_sql)

    def _pools_for(self, target: ShardTarget, tablet_type: str) -> list[TabletPool]:
        """The pools ``pick`` chooses among: the serving primary's, or each healthy replica's."""
        if tablet_type == "primary":
            return [self._pool(self.pick(target, tablet_type))]
        candidates = self._shard_index().get((target.keyspace, target.name, tablet_type), [])
        pools = [self._pool(v) for v in candidates
                 if v.lag_seconds is not None and v.lag_seconds <= self.max_replica_lag]
        if not pools:
            raise Unavailable(f"no healthy {tablet_type} of {target.keyspace}/{target.name}")
        return pools

    async def _connect(self, view: TabletView, settings_sql: str) -> PooledConnection:
        return await self._pool(view).get(settings_sql)

    def _pool(self, view: TabletView) -> TabletPool:
        known = self._view_pools.get(id(view))
        if known is not None and known[0] is view:  # the entry holds the view, so its id is not reused
            return known[1]
        tablet = view.tablet
        key = (str(tablet.alias), tablet.mysql_host, tablet.mysql_port)
        pool = self._pools.get(key)
        if pool is None:
            pool = TabletPool(tablet.mysql_host, tablet.mysql_port, tablet.db_name, self.credentials,
                              size=self.pool_size, unix_socket=_local_socket(tablet))
            self._pools[key] = pool
        self._view_pools[id(view)] = (view, pool)
        return pool

    def pick(self, target: ShardTarget, tablet_type: str) -> TabletView:
        """The tablet to use; Unavailable (retryable) when the shard has none for that type right now."""
        candidates = self._shard_index().get((target.keyspace, target.name, tablet_type), [])
        if tablet_type == "primary":
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                return max(candidates, key=lambda v: v.primary_term_start_time or 0.0)
        else:
            healthy = [v for v in candidates
                       if v.lag_seconds is not None and v.lag_seconds <= self.max_replica_lag]
            if healthy:
                return healthy[next(self._round_robin) % len(healthy)]
        raise Unavailable(f"target: {target.keyspace}.{target.name}.{tablet_type}: no healthy tablet available",
                          code=1105)

    def _shard_index(self) -> dict[tuple[str, str, str], list[TabletView]]:
        if self._index is None:
            assert self.serving is not None
            index: dict[tuple[str, str, str], list[TabletView]] = {}
            live: set[tuple[str, str, int]] = set()
            for view in self.serving.tablets():
                tablet = view.tablet
                live.add((str(tablet.alias), tablet.mysql_host, tablet.mysql_port))
                if view.serving:
                    index.setdefault((tablet.keyspace, tablet.shard, view.tablet_type), []).append(view)
            for key in [k for k in self._pools if k not in live]:
                asyncio.get_running_loop().create_task(self._pools.pop(key).close())
            self._view_pools.clear()
            self._index = index
        return self._index

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*[p.close() for p in pools], return_exceptions=True)


def _local_socket(tablet: Tablet) -> str:
    """The tablet's MariaDB socket when that MariaDB is on this machine (published on a loopback address, and
    its socket file is here); '' otherwise."""
    if not tablet.mysql_socket or not _LOOPBACK.match(tablet.mysql_host):
        return ""
    return tablet.mysql_socket if os.path.exists(tablet.mysql_socket) else ""
