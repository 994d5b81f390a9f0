"""The failover agent's rounds: the tablets read once, the shards' checks spread over the poll interval."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from shardline.errors import Unavailable
from shardline.key import parse_shard_name
from shardline.orc.agent import Orc
from shardline.topo.records import Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer
from tests.ports import free_port

SHARDS = {"-40": 100, "40-80": 200, "80-": 300}


@pytest.fixture
async def checks(tmp_path, monkeypatch) -> AsyncIterator[tuple[TopoServer, list[tuple[float, str, list[int]]]]]:
    """A topo with a tablet record in each of three shards (no agents), and the list of the failover agent's
    shard checks: (time, shard, uids of the tablets it was given)."""
    ts = await TopoServer.open(f"embedded:{tmp_path}/topo.db")
    await ts.add_cell("zone1")
    await ts.create_keyspace("customer")
    for shard, uid in SHARDS.items():
        await ts.create_shard("customer", shard)
        await ts.create_tablet(Tablet(
            alias=TabletAlias("zone1", uid), hostname="127.0.0.1", mysql_host="127.0.0.1", mysql_port=free_port(),
            port=free_port(), keyspace="customer", shard=shard, key_range=parse_shard_name(shard),
            type=TabletType.REPLICA, db_name="customer",
        ))  # fmt: skip
    seen: list[tuple[float, str, list[int]]] = []

    async def shard_state(ts, tmc, keyspace, shard, tablets):
        seen.append((time.monotonic(), shard, [tablet.alias.uid for tablet in tablets]))
        raise Unavailable("no agents in this test")

    monkeypatch.setattr("shardline.orc.agent.shard_state", shard_state)
    yield ts, seen
    await ts.close()


async def until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_first_round_checks_every_shard_at_once_and_unchanged_rounds_spread_them(checks):
    ts, seen = checks
    orc = Orc(ts, poll_interval=1.5)
    await orc.start()
    try:
        await until(lambda: len(seen) >= 9)  # registering the tablets was a change: the second round is at once too
    finally:
        await orc.stop()
    first, second = [at for at, _, _ in seen[:3]], [at for at, _, _ in seen[6:9]]
    assert max(first) - min(first) < 0.3, seen
    assert all(0.35 < later - earlier < 0.8 for earlier, later in itertools.pairwise(second)), seen
    assert {shard: uids for _, shard, uids in seen[:3]} == {shard: [uid] for shard, uid in SHARDS.items()}


async def test_a_health_change_cuts_the_spread_short(checks):
    ts, seen = checks
    orc = Orc(ts)
    try:
        await orc.tick()  # registers the tablets with the health check (a change, which wakes the loop)
        orc._wake.clear()
        seen.clear()
        started = time.monotonic()
        round_ = asyncio.create_task(orc.tick(spread=600))
        await until(lambda: len(seen) == 1)
        await asyncio.sleep(0.2)
        assert len(seen) == 1  # the others wait their turn
        orc._wake.set()  # what a tablet's health change does
        await asyncio.wait_for(round_, 10)
        assert len(seen) == 3 and max(at for at, _, _ in seen) - started < 5
    finally:
        await orc.stop()
