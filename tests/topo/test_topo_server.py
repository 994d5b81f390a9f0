"""TopoServer: keyspaces, shards, tablets, VSchemas and the serving graph on the embedded backend, plus a smoke
run of the same calls on etcd."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shardline.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from shardline.key import KeyRange, parse_shard_name
from shardline.topo import LockTimeout, open_topo
from shardline.topo.locks import get_shard_lock, lock_keyspace, lock_shard
from shardline.topo.records import Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer

VSCHEMA = {"sharded": True, "vindexes": {"hash": {"type": "hash"}}, "tables": {"t": {"column_vindexes": []}}}


def make_tablet(uid: int, shard: str = "-80", cell: str = "zone1", keyspace: str = "customer") -> Tablet:
    return Tablet(
        alias=TabletAlias(cell, uid),
        hostname="localhost",
        mysql_host="127.0.0.1",
        mysql_port=17000 + uid,
        port=15000 + uid,
        keyspace=keyspace,
        shard=shard,
        key_range=parse_shard_name(shard),
        type=TabletType.REPLICA,
        db_name=keyspace,
    )


@pytest.fixture
async def ts(tmp_path: Path) -> AsyncIterator[TopoServer]:
    server = await TopoServer.open(f"embedded:{tmp_path}/topo.db")
    await server.add_cell("zone1")
    await server.create_keyspace("customer")
    yield server
    await server.close()


async def next_item(iterator: AsyncIterator, timeout: float = 5):
    return await asyncio.wait_for(anext(iterator), timeout)


async def test_unknown_cell_is_named_in_the_error(ts: TopoServer) -> None:
    with pytest.raises(NotFound, match="cell 'nope' does not exist"):
        await ts.get_cell_info("nope")
    with pytest.raises(NotFound, match="cell 'nope' does not exist"):
        await ts.get_tablets("nope")
    with pytest.raises(AlreadyExists):
        await ts.add_cell("zone1")
    with pytest.raises(InvalidArgument):
        await ts.add_cell("bad-name")
    assert await ts.get_cells() == ["zone1"]


async def test_create_keyspace_twice_is_refused_and_changes_nothing(ts: TopoServer) -> None:
    await ts.create_keyspace("commerce", durability_policy="semi_sync")
    with pytest.raises(AlreadyExists, match="keyspace 'commerce' already exists"):
        await ts.create_keyspace("commerce")
    assert (await ts.get_keyspace("commerce")).durability_policy == "semi_sync"
    assert await ts.get_keyspace_names() == ["commerce", "customer"]
    with pytest.raises(InvalidArgument):
        await ts.create_keyspace("x", durability_policy="whatever")
    with pytest.raises(NotFound, match="keyspace 'x' does not exist"):
        await ts.get_keyspace("x")


async def test_overlapping_serving_shard_is_refused_and_topo_unchanged(ts: TopoServer) -> None:
    await ts.create_shard("customer", "-80")
    await ts.create_shard("customer", "80-")
    with pytest.raises(InvalidArgument, match="customer/-40 overlaps serving shard customer/-80"):
        await ts.create_shard("customer", "-40")
    assert await ts.get_shard_names("customer") == ["-80", "80-"]
    target = await ts.create_shard("customer", "-40", serving=False)
    assert not target.is_primary_serving and target.key_range == KeyRange(b"", b"\x40")
    assert await ts.get_shard_names("customer") == ["-40", "-80", "80-"]
    with pytest.raises(AlreadyExists):
        await ts.create_shard("customer", "-80", serving=False)
    with pytest.raises(InvalidArgument, match="invalid shard name"):
        await ts.create_shard("customer", "zz")
    with pytest.raises(NotFound, match="keyspace 'nope'"):
        await ts.create_shard("nope", "0")


async def test_rebuild_srv_keyspace_detects_a_gap_and_publishes_a_partition(ts: TopoServer) -> None:
    await ts.create_shard("customer", "-80")
    await ts.create_shard("customer", "c0-")
    with pytest.raises(FailedPrecondition, match="gap in key space between -80 and c0-"):
        await ts.rebuild_srv_keyspace("customer")
    with pytest.raises(NotFound):
        await ts.get_srv_keyspace("zone1", "customer")
    await ts.create_shard("customer", "80-c0")
    srv = await ts.rebuild_srv_keyspace("customer")
    assert await ts.get_srv_keyspace("zone1", "customer") == srv
    assert set(srv.partitions) == {TabletType.PRIMARY, TabletType.REPLICA, TabletType.RDONLY}
    assert [ref.name for ref in srv.partitions[TabletType.PRIMARY]] == ["-80", "80-c0", "c0-"]


async def test_rebuild_ignores_non_serving_shards(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    await ts.create_shard("customer", "-80", serving=False)
    await ts.create_shard("customer", "80-", serving=False)
    srv = await ts.rebuild_srv_keyspace("customer")
    assert [ref.name for ref in srv.partitions[TabletType.PRIMARY]] == ["0"]
    await ts.update_shard_fields("customer", "-80", lambda s: dataclasses.replace(s, is_primary_serving=True))
    with pytest.raises(FailedPrecondition, match="overlap"):
        await ts.rebuild_srv_keyspace("customer")


async def test_update_shard_fields_retries_concurrent_changes(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")

    def bump(shard):
        return dataclasses.replace(shard, primary_term_start_time=(shard.primary_term_start_time or 0) + 1)

    await asyncio.gather(*(ts.update_shard_fields("customer", "0", bump) for _ in range(10)))
    assert (await ts.get_shard("customer", "0")).primary_term_start_time == 10
    with pytest.raises(InvalidArgument):
        await ts.update_shard_fields("customer", "0", lambda s: dataclasses.replace(s, name="1"))
    with pytest.raises(NotFound, match="customer/9 does not exist"):
        await ts.update_shard_fields("customer", "9", bump)


async def test_tablet_record_updated_to_a_new_port_is_read_back(ts: TopoServer) -> None:
    await ts.create_shard("customer", "-80")
    with pytest.raises(NotFound, match="cell 'zone9'"):
        await ts.create_tablet(make_tablet(200, cell="zone9"))
    with pytest.raises(NotFound, match="shard customer/80-"):
        await ts.create_tablet(make_tablet(200, shard="80-"))
    with pytest.raises(NotFound, match="keyspace 'nope'"):
        await ts.create_tablet(make_tablet(200, keyspace="nope"))
    await ts.create_tablet(make_tablet(200))
    with pytest.raises(AlreadyExists, match="zone1-0000000200"):
        await ts.create_tablet(make_tablet(200))
    alias = TabletAlias.parse("zone1-200")
    await ts.update_tablet_fields(
        alias, lambda t: dataclasses.replace(t, port=25200, type=TabletType.PRIMARY)
    )
    tablet = await ts.get_tablet(alias)
    assert (tablet.port, tablet.type, tablet.mysql_port) == (25200, TabletType.PRIMARY, 17200)
    assert [t.alias for t in await ts.get_tablets("zone1", "customer", "-80")] == [alias]
    assert await ts.get_tablets("zone1", "customer", "80-") == []
    await ts.delete_tablet(alias)
    with pytest.raises(NotFound, match="tablet zone1-0000000200 does not exist"):
        await ts.get_tablet(alias)


async def test_cell_with_its_own_backend_keeps_its_tablets_there(ts: TopoServer, tmp_path: Path) -> None:
    await ts.create_shard("customer", "-80")
    await ts.add_cell("zone2", server_address=f"embedded:{tmp_path}/zone2.db")
    await ts.create_tablet(make_tablet(100, cell="zone1"))
    await ts.create_tablet(make_tablet(300, cell="zone2"))
    by_shard = await ts.get_tablets_by_shard("customer", "-80")
    assert [str(t.alias) for t in by_shard] == ["zone1-0000000100", "zone2-0000000300"]
    zone2 = await open_topo(f"embedded:{tmp_path}/zone2.db")
    try:
        assert [e.key for e in await zone2.list("")] == ["cells/zone2/tablets/zone2-0000000300/Tablet"]
    finally:
        await zone2.close()
    assert [e.key for e in await ts.conn.list("cells/")] == ["cells/zone1/tablets/zone1-0000000100/Tablet"]


async def test_watch_srv_vschema_delivers_each_rebuild(ts: TopoServer) -> None:
    watch = ts.watch_srv_vschema("zone1")
    try:
        assert await next_item(watch) is None
        await ts.rebuild_srv_vschema()
        assert (await next_item(watch)).keyspaces == {"customer": {}}
        await ts.save_vschema("customer", VSCHEMA)
        assert await ts.get_vschema("customer") == VSCHEMA
        await ts.rebuild_srv_vschema()
        assert (await next_item(watch)).keyspaces == {"customer": VSCHEMA}
        await ts.rebuild_srv_vschema()  # unchanged: gates are not woken
        await ts.create_keyspace("commerce")
        await ts.rebuild_srv_vschema(["zone1"])
        assert (await next_item(watch)).keyspaces == {"customer": VSCHEMA, "commerce": {}}
    finally:
        await watch.aclose()


async def test_watch_srv_keyspace_and_tablets(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    srv_watch = ts.watch_srv_keyspace("zone1", "customer")
    tablet_watch = ts.watch_tablets("zone1")
    try:
        assert await next_item(srv_watch) is None
        assert await next_item(tablet_watch) == []
        await ts.rebuild_srv_keyspace("customer")
        assert [r.name for r in (await next_item(srv_watch)).partitions[TabletType.RDONLY]] == ["0"]
        await ts.create_tablet(make_tablet(100, shard="0"))
        await ts.create_tablet(make_tablet(101, shard="0"))
        assert [t.alias.uid for t in await next_item(tablet_watch)] == [100]
        assert [t.alias.uid for t in await next_item(tablet_watch)] == [100, 101]
        await ts.update_tablet_fields(TabletAlias("zone1", 101), lambda t: dataclasses.replace(t, port=1))
        assert [t.port for t in await next_item(tablet_watch)] == [15100, 1]
        await ts.delete_tablet(TabletAlias("zone1", 100))
        assert [t.alias.uid for t in await next_item(tablet_watch)] == [101]
    finally:
        await srv_watch.aclose()
        await tablet_watch.aclose()


async def test_delete_keyspace_refuses_shards_unless_recursive(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    await ts.create_tablet(make_tablet(100, shard="0"))
    await ts.save_vschema("customer", VSCHEMA)
    await ts.rebuild_srv_keyspace("customer")
    with pytest.raises(FailedPrecondition, match="still has shards 0"):
        await ts.delete_keyspace("customer")
    with pytest.raises(FailedPrecondition, match="still has tablets zone1-0000000100"):
        await ts.delete_shard("customer", "0")
    assert await ts.get_shard_names("customer") == ["0"]
    await ts.delete_keyspace("customer", recursive=True)
    assert await ts.get_keyspace_names() == []
    assert [e.key for e in await ts.conn.list("")] == ["global/cells/zone1/CellInfo"]


async def test_shard_lock_race_second_actor_times_out_naming_the_holder(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    async with lock_shard(ts, "customer", "0", "PlannedReparentShard", ttl=5):
        holder = await get_shard_lock(ts, "customer", "0")
        assert holder is not None and holder.holder["action"] == "PlannedReparentShard"
        assert holder.holder["pid"] == os.getpid()
        with pytest.raises(LockTimeout, match=r"shard customer/0 is locked by .* for 'PlannedReparentShard'"):
            async with lock_shard(ts, "customer", "0", "EmergencyReparentShard", timeout=0.3):
                pytest.fail("the second actor must not get the lock")
        waiter = asyncio.create_task(_take_shard_lock(ts))
        await asyncio.sleep(0.2)
        assert not waiter.done()
    assert await asyncio.wait_for(waiter, 3) == "EmergencyReparentShard"
    assert await get_shard_lock(ts, "customer", "0") is None


async def _take_shard_lock(ts: TopoServer) -> str:
    async with lock_shard(ts, "customer", "0", "EmergencyReparentShard", timeout=5):
        holder = await get_shard_lock(ts, "customer", "0")
        return holder.holder["action"]


async def test_locks_are_released_when_the_action_fails(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    with pytest.raises(RuntimeError, match="boom"):
        async with lock_shard(ts, "customer", "0", "Failing"):
            raise RuntimeError("boom")
    assert await get_shard_lock(ts, "customer", "0") is None
    with pytest.raises(NotFound):
        async with lock_shard(ts, "customer", "9", "NoSuchShard"):
            pass


async def test_create_shard_waits_for_the_keyspace_lock(ts: TopoServer) -> None:
    async with lock_keyspace(ts, "customer", "Reshard", timeout=1):
        creating = asyncio.create_task(ts.create_shard("customer", "0"))
        await asyncio.sleep(0.3)
        assert not creating.done()
        assert await ts.get_shard_names("customer") == []
    await asyncio.wait_for(creating, 3)
    assert await ts.get_shard_names("customer") == ["0"]


async def test_a_lost_lock_is_reported_when_the_action_ends(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    with pytest.raises(Unavailable, match="lost the lock on shard customer/0"):
        async with lock_shard(ts, "customer", "0", "Slow", ttl=1) as lock:
            await ts.conn.release_lock(lock.key, lock.id)  # e.g. an operator freed it
            await asyncio.sleep(1)


async def test_topo_server_smoke_on_every_backend(topo_spec: str) -> None:
    ts = await TopoServer.open(topo_spec)
    try:
        await ts.add_cell("zone1")
        await ts.create_keyspace("commerce")
        await ts.create_shard("commerce", "0")
        with pytest.raises(InvalidArgument, match="overlaps"):
            await ts.create_shard("commerce", "-80")
        await ts.save_vschema("commerce", VSCHEMA)
        watch = ts.watch_srv_vschema("zone1")
        assert await next_item(watch) is None
        await ts.rebuild_srv_vschema()
        assert (await next_item(watch)).keyspaces == {"commerce": VSCHEMA}
        await watch.aclose()
        await ts.rebuild_srv_keyspace("commerce")
        assert [
            r.name for r in (await ts.get_srv_keyspace("zone1", "commerce")).partitions[TabletType.PRIMARY]
        ] == ["0"]
        await ts.create_tablet(make_tablet(100, shard="0", keyspace="commerce"))
        await ts.update_tablet_fields(TabletAlias("zone1", 100), lambda t: dataclasses.replace(t, port=16100))
        assert (await ts.get_tablet(TabletAlias("zone1", 100))).port == 16100
        async with lock_shard(ts, "commerce", "0", "Smoke", ttl=5):
            with pytest.raises(LockTimeout, match="Smoke"):
                async with lock_shard(ts, "commerce", "0", "Second", timeout=0.2):
                    pass
        assert await get_shard_lock(ts, "commerce", "0") is None
    finally:
        await ts.close()


async def test_one_watch_follows_every_srv_keyspace_of_a_cell(ts: TopoServer) -> None:
    await ts.create_shard("customer", "0")
    await ts.create_keyspace("commerce")
    await ts.create_shard("commerce", "0")
    watch = ts.watch_srv_keyspaces("zone1")
    try:
        assert await next_item(watch) == {}
        await ts.rebuild_srv_keyspace("customer")
        assert list(await next_item(watch)) == ["customer"]
        await ts.rebuild_srv_keyspace("commerce")
        both = await next_item(watch)
        assert sorted(both) == ["commerce", "customer"]
        assert [r.name for r in both["commerce"].partitions[TabletType.PRIMARY]] == ["0"]
        await ts.delete_keyspace("commerce", recursive=True)
        assert list(await next_item(watch)) == ["customer"]
    finally:
        await watch.aclose()
