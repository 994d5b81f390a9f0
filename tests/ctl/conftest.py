"""ctl fixtures: a fresh topo per test for the topo-only commands, and one live sharded keyspace per session
(two shards, each a primary and a replica made by InitShardPrimary) for the commands that reach tablets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from shardline.ctl.context import CtlContext
from shardline.ctl.reparent import init_shard_primary
from shardline.tablet.agent import TabletAgent, TabletConfig
from shardline.tablet.server import TabletServer
from shardline.topo.records import TabletAlias, TabletType
from tests.ports import free_port

LIVE_KEYSPACE = "live"
LIVE_SHARDS = {"-80": (200, 201), "80-": (300, 301)}



@pytest.fixture
async def ctx(tmp_path) -> AsyncIterator[CtlContext]:
    """A context on a fresh embedded topo with cell zone1."""
    async with CtlContext.open(f"embedded:{tmp_path / 'topo.db'}") as context:
        await context.ts.add_cell("zone1")
        yield context


@dataclass
class LiveKeyspace:
    ctx: CtlContext
    tablets: dict[TabletAlias, TabletServer]
    name: str = LIVE_KEYSPACE
    shards: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(LIVE_SHARDS))
    """Shard -> (primary uid, replica uid)."""

    def server(self, uid: int) -> TabletServer:
        return self.tablets[TabletAlias("zone1", uid)]


@pytest.fixture(scope="session")
async def live(tmp_path_factory) -> AsyncIterator[LiveKeyspace]:
    """Keyspace ``live`` with shards -80 (tablets 200, 201) and 80- (300, 301), after InitShardPrimary made
    200 and 300 the primaries."""
    root = tmp_path_factory.mktemp("live")
    async with CtlContext.open(f"embedded:{root / 'topo.db'}") as context:
        await context.ts.add_cell("zone1")
        await context.ts.create_keyspace(LIVE_KEYSPACE)
        servers: dict[TabletAlias, TabletServer] = {}
        try:
            for shard, uids in LIVE_SHARDS.items():
                await context.ts.create_shard(LIVE_KEYSPACE, shard)
                for uid in uids:
                    config = TabletConfig(
                        TabletAlias("zone1", uid), LIVE_KEYSPACE, shard, TabletType.REPLICA, free_port(), root
                    )
                    servers[config.alias] = TabletServer(TabletAgent(context.ts, config), 0)
            await asyncio.gather(*(server.start() for server in servers.values()))
            for shard, uids in LIVE_SHARDS.items():
                await init_shard_primary(context, f"{LIVE_KEYSPACE}/{shard}", f"zone1-{uids[0]}")
            yield LiveKeyspace(context, servers)
        finally:
            for server in servers.values():
                await server.stop()
