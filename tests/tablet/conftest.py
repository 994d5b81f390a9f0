"""Tablet fixtures: a fresh embedded topo with cell zone1 and keyspace ks, and in-process tablet agents, each
owning a real MariaDB started from the template datadir."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from shardline.tablet.agent import TabletAgent, TabletConfig
from shardline.tablet.server import TabletServer
from shardline.topo.records import TabletAlias, TabletType
from shardline.topo.server import TopoServer
from tests.ports import free_port

KEYSPACE = "ks"



@pytest.fixture
async def topo(tmp_path) -> AsyncIterator[TopoServer]:
    ts = await TopoServer.open(f"embedded:{tmp_path / 'topo.db'}")
    await ts.add_cell("zone1")
    await ts.create_keyspace(KEYSPACE)
    yield ts
    await ts.close()


StartTablet = Callable[..., Awaitable[TabletServer]]


@pytest.fixture
async def start_tablet(topo, tmp_path) -> AsyncIterator[StartTablet]:
    """``await start_tablet(uid, port=0, mysql_port=None, keep_mysql=False)``: a started agent of ks/0; all
    are stopped (with their MariaDB) at the end of the test."""
    started: list[TabletServer] = []

    async def start(uid: int, *, port: int = 0, mysql_port: int | None = None, keep_mysql: bool = False):
        config = TabletConfig(
            alias=TabletAlias("zone1", uid),
            keyspace=KEYSPACE,
            shard="0",
            tablet_type=TabletType.REPLICA,
            mysql_port=mysql_port or free_port(),
            root=tmp_path / "vtdataroot",
            keep_mysql=keep_mysql,
        )
        server = TabletServer(TabletAgent(topo, config), port)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()
