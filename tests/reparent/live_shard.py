"""A live shard for reparent and failover tests: an embedded topo, tablet agents in this process, each with its
own MariaDB, a primary made by InitShardPrimary, and a table to write to."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from shardline.ctl.context import CtlContext
from shardline.ctl.reparent import init_shard_primary
from shardline.mysqlctl.users import APP
from shardline.reparent.keyspace_policy import set_keyspace_durability_policy
from shardline.tablet.agent import TabletAgent, TabletConfig
from shardline.tablet.server import TabletServer
from shardline.topo.records import Shard, Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer
from tests.ports import free_port

CELL = "zone1"
KEYSPACE = "ks"
SHARD = "0"
TABLE_SQL = f"CREATE TABLE {KEYSPACE}.t (id BIGINT PRIMARY KEY, v VARCHAR(64))"



def alias(uid: int) -> TabletAlias:
    return TabletAlias(CELL, uid)


@dataclass
class LiveShard:
    """Shard ks/0: tablet 100 the primary, the others replicas (RDONLY where asked)."""

    root: Path
    ctx: CtlContext
    servers: dict[int, TabletServer]

    @property
    def ts(self) -> TopoServer:
        return self.ctx.ts

    async def tablet(self, uid: int) -> Tablet:
        return await self.ts.get_tablet(alias(uid))

    async def shard_record(self) -> Shard:
        return await self.ts.get_shard(KEYSPACE, SHARD)

    async def primary_uid(self) -> int:
        record = await self.shard_record()
        assert record.primary_alias is not None
        return record.primary_alias.uid

    async def sql(self, uid: int, sql: str) -> list[tuple]:
        """Runs one statement as root on the tablet's MariaDB."""
        return await asyncio.to_thread(self.servers[uid].agent.mysql.execute, sql)

    async def variable(self, uid: int, name: str) -> Any:
        return (await self.sql(uid, f"SELECT @@GLOBAL.{name}"))[0][0]

    async def ids(self, uid: int) -> set[int]:
        return {row[0] for row in await self.sql(uid, f"SELECT id FROM {KEYSPACE}.t")}

    def app_connect(self, uid: int) -> pymysql.connections.Connection:
        """A connection as the application user, for whom read_only applies."""
        mysql = self.servers[uid].agent.mysql
        return pymysql.connect(
            host=mysql.host, port=mysql.port, user=APP.user, password=APP.password, database=KEYSPACE, autocommit=True
        )

    async def insert(self, uid: int, ids: range) -> None:
        def run() -> None:
            with self.app_connect(uid) as conn, conn.cursor() as cursor:
                for row_id in ids:
                    cursor.execute("INSERT INTO t (id, v) VALUES (%s, 'x')", (row_id,))

        await asyncio.to_thread(run)

    async def wait_for(self, uid: int, ids: set[int], timeout: float = 10.0) -> None:
        """Waits until the tablet has every row of ``ids``."""
        deadline = time.monotonic() + timeout
        while not ids <= await self.ids(uid):
            assert time.monotonic() < deadline, f"tablet {uid} lacks rows {sorted(ids - await self.ids(uid))[:10]}"
            await asyncio.sleep(0.05)

    async def replication(self, uid: int) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with self.servers[uid].agent.mysql.dba_connect() as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute("SHOW SLAVE STATUS")
                return cur.fetchone() or {}

        return await asyncio.to_thread(run)

    async def wait_replicating(self, uid: int, source_uid: int, timeout: float = 10.0) -> None:
        """Waits until the tablet's IO and SQL threads run against ``source_uid``'s MariaDB."""
        port = self.servers[source_uid].agent.mysql.port
        deadline = time.monotonic() + timeout
        while True:
            status = await self.replication(uid)
            if (status.get("Master_Port"), status.get("Slave_IO_Running"), status.get("Slave_SQL_Running")) == (
                port,
                "Yes",
                "Yes",
            ):
                return
            assert time.monotonic() < deadline, f"tablet {uid} does not replicate from {source_uid}: {status}"
            await asyncio.sleep(0.05)

    def kill_mysql(self, uid: int) -> None:
        """kill -9 of the tablet's MariaDB."""
        pid = self.servers[uid].agent.mysql.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while self.servers[uid].agent.mysql.status().running:
            time.sleep(0.01)

    async def kill_tablet(self, uid: int) -> None:
        """kill -9 of the MariaDB, and the agent gone (its HTTP server closed) as if its process died."""
        self.kill_mysql(uid)
        await self.servers.pop(uid).stop()

    async def stop(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers.values()), return_exceptions=True)


@asynccontextmanager
async def live_shard(
    root: Path, *, replicas: int = 2, rdonly: int = 0, durability_policy: str = "none", init_primary: bool = True
) -> AsyncIterator[LiveShard]:
    """Tablet 100 and ``replicas`` REPLICA then ``rdonly`` RDONLY tablets (uids 101, 102, ...); unless
    ``init_primary`` is false, 100 made the primary, table ``t`` created and the durability policy applied.
    Everything is stopped on exit."""
    async with CtlContext.open(f"embedded:{root / 'topo.db'}") as ctx:
        await ctx.ts.add_cell(CELL)
        await ctx.ts.create_keyspace(KEYSPACE)
        await ctx.ts.create_shard(KEYSPACE, SHARD)
        types = [TabletType.REPLICA] * (1 + replicas) + [TabletType.RDONLY] * rdonly
        servers = {
            100 + i: TabletServer(
                TabletAgent(ctx.ts, TabletConfig(alias(100 + i), KEYSPACE, SHARD, tablet_type, free_port(), root)), 0
            )
            for i, tablet_type in enumerate(types)
        }
        shard = LiveShard(root, ctx, servers)
        try:
            await asyncio.gather(*(server.start() for server in servers.values()))
            if init_primary:
                await init_shard_primary(ctx, f"{KEYSPACE}/{SHARD}", str(alias(100)))
                await shard.sql(100, TABLE_SQL)
            if durability_policy != "none":
                await set_keyspace_durability_policy(ctx.ts, ctx.tmc, KEYSPACE, durability_policy)
            yield shard
        finally:
            await shard.stop()
