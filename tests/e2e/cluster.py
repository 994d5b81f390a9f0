"""A whole cluster for end-to-end tests: embedded topo, tablet agents with their own MariaDB instances, and a
gate, all running on an event loop in a background thread so that tests can use blocking MySQL clients."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pymysql
import uvloop

from shardline.ctl.context import CtlContext
from shardline.ctl.reparent import init_shard_primary
from shardline.ctl.schema import apply_schema, apply_vschema
from shardline.gate.server import Gate
from shardline.tablet.agent import TabletAgent, TabletConfig
from shardline.tablet.client import TabletManagerClient
from shardline.tablet.server import TabletServer
from shardline.topo.records import TabletAlias, TabletType
from shardline.topo.server import TopoServer
from tests.ports import free_port

T = TypeVar("T")
CELL = "zone1"



@dataclass
class KeyspaceSpec:
    """A keyspace to create: its shards, replicas per shard, schema and VSchema."""

    name: str
    shards: list[str]
    replicas: int = 0
    schema: list[str] = field(default_factory=list)
    vschema: dict[str, Any] = field(default_factory=dict)
    durability_policy: str = "none"


class ClusterThread:
    """Starts and stops the cluster; ``call`` runs a coroutine on the cluster's loop from a test."""

    def __init__(self, root: Path, keyspaces: list[KeyspaceSpec], *, gate_options: dict[str, Any] | None = None):
        self.root = root
        self.keyspaces = keyspaces
        self.gate_options = gate_options or {}
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cluster", daemon=True)
        self.ts: TopoServer | None = None
        self.ctx: CtlContext | None = None
        self.tablets: dict[str, TabletServer] = {}
        self.gate: Gate | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def start(self) -> None:
        self.thread.start()
        try:
            self.call(self._start())
        except BaseException:
            self.stop()  # what did start (tablets and their MariaDB) must not outlive a failed start
            raise

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)

    @property
    def gate_port(self) -> int:
        assert self.gate is not None
        return self.gate.port

    def connect(self, database: str | None = None, **kwargs: Any) -> pymysql.connections.Connection:
        """A PyMySQL connection to the gate (autocommit on unless told otherwise)."""
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("ssl_disabled", True)
        return pymysql.connect(host="127.0.0.1", port=self.gate_port, user="root", password="",
                               database=database, **kwargs)

    async def _start(self) -> None:
        self.ts = await TopoServer.open(f"embedded:{self.root / 'topo.db'}")
        await self.ts.add_cell(CELL)
        self.ctx = CtlContext(self.ts, TabletManagerClient())
        uid = 100
        for spec in self.keyspaces:
            await self.ts.create_keyspace(spec.name, durability_policy=spec.durability_policy)
            for shard in spec.shards:
                await self.ts.create_shard(spec.name, shard)
                servers = []
                for replica in range(spec.replicas + 1):
                    config = TabletConfig(TabletAlias(CELL, uid + replica), spec.name, shard, TabletType.REPLICA,
                                          free_port(), self.root)
                    servers.append(TabletServer(TabletAgent(self.ts, config), 0))
                await asyncio.gather(*(server.start() for server in servers))
                for server in servers:
                    self.tablets[str(server.agent.alias)] = server
                await init_shard_primary(self.ctx, f"{spec.name}/{shard}", str(servers[0].agent.alias))
                uid += 100
            if spec.schema:
                await apply_schema(self.ctx, spec.name, ";\n".join(spec.schema))
            await apply_vschema(self.ctx, spec.name, spec.vschema or {"sharded": len(spec.shards) > 1})
        self.gate = Gate(self.ts, CELL, port=0, http_port=0, **self.gate_options)
        await self.gate.start()
        await self.wait_serving()

    async def wait_serving(self, timeout: float = 30.0) -> None:
        """Waits until the gate sees every shard's primary and replicas serving."""
        assert self.gate is not None
        wanted = Counter({(ks.name, shard, "primary"): 1 for ks in self.keyspaces for shard in ks.shards})
        wanted.update({(ks.name, shard, "replica"): ks.replicas for ks in self.keyspaces for shard in ks.shards})
        async with asyncio.timeout(timeout):
            while True:
                serving = Counter((v.tablet.keyspace, v.tablet.shard, v.tablet_type)
                                  for v in self.gate.serving.tablets() if v.serving)
                if all(serving[key] >= n for key, n in wanted.items()):
                    return
                await asyncio.sleep(0.1)

    async def _stop(self) -> None:
        if self.gate is not None:
            await self.gate.close()
        await asyncio.gather(*(server.stop() for server in self.tablets.values()), return_exceptions=True)
        if self.ctx is not None:
            await self.ctx.tmc.close()
        if self.ts is not None:
            await self.ts.close()
