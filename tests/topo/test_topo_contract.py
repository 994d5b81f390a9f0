"""The storage contract, run against every backend: the same behaviour whichever store is underneath."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from shardline.errors import InvalidArgument
from shardline.topo import (
    BadVersion,
    LockTimeout,
    NodeExists,
    NoNode,
    TopoConn,
    TopoUnavailable,
    WatchEvent,
    open_topo,
)

HOLDER_A = {"name": "a", "pid": 1}
HOLDER_B = {"name": "b", "pid": 2}


async def next_events(watch, count: int) -> list[WatchEvent]:
    return [await asyncio.wait_for(anext(watch), 5) for _ in range(count)]


async def test_create_twice_raises_node_exists_and_keeps_the_first_value(conn: TopoConn) -> None:
    version = await conn.create("a/key", b"one")
    with pytest.raises(NodeExists, match="a/key"):
        await conn.create("a/key", b"two")
    assert await conn.get("a/key") == (b"one", version)


async def test_get_missing_key_raises_no_node(conn: TopoConn) -> None:
    with pytest.raises(NoNode, match="nothing/here"):
        await conn.get("nothing/here")


async def test_update_is_compare_and_swap_on_the_version(conn: TopoConn) -> None:
    v1 = await conn.create("k", b"1")
    v2 = await conn.update("k", b"2", v1)
    assert v2 != v1
    with pytest.raises(BadVersion):
        await conn.update("k", b"stale", v1)
    assert await conn.get("k") == (b"2", v2)
    v3 = await conn.update("k", b"3", None)
    assert await conn.get("k") == (b"3", v3)
    with pytest.raises(NoNode):
        await conn.update("missing", b"x", v3)
    v4 = await conn.update("upserted", b"new", None)
    assert await conn.get("upserted") == (b"new", v4)


async def test_delete_is_compare_and_swap_on_the_version(conn: TopoConn) -> None:
    v1 = await conn.create("k", b"1")
    v2 = await conn.update("k", b"2", v1)
    with pytest.raises(BadVersion):
        await conn.delete("k", v1)
    assert (await conn.get("k"))[0] == b"2"
    await conn.delete("k", v2)
    with pytest.raises(NoNode):
        await conn.get("k")
    with pytest.raises(NoNode):
        await conn.delete("k")


async def test_list_returns_the_keys_under_a_prefix_sorted(conn: TopoConn) -> None:
    for key in ("a/2", "a/1", "a/x/3", "ab/1", "b/1"):
        await conn.create(key, key.encode())
    entries = await conn.list("a/")
    assert [entry.key for entry in entries] == ["a/1", "a/2", "a/x/3"]
    for entry in entries:
        assert await conn.get(entry.key) == (entry.value, entry.version)
    assert await conn.list("zzz/") == []


async def test_invalid_key_is_refused(conn: TopoConn) -> None:
    for key in ("", "/abs"):
        with pytest.raises(InvalidArgument):
            await conn.create(key, b"x")


async def test_watch_of_a_key_delivers_every_change_in_order_including_deletes(conn: TopoConn) -> None:
    v0 = await conn.create("w/key", b"v0")
    await conn.create("w/other", b"unrelated")
    async with await conn.watch("w/key") as watch:
        assert watch.current is not None and (watch.current.value, watch.current.version) == (b"v0", v0)
        v1 = await conn.update("w/key", b"v1", v0)
        await conn.update("w/other", b"ignored", None)
        v2 = await conn.update("w/key", b"v2", None)
        await conn.delete("w/key")
        v4 = await conn.create("w/key", b"again")
        events = await next_events(watch, 4)
    assert [(e.key, e.value) for e in events] == [
        ("w/key", b"v1"),
        ("w/key", b"v2"),
        ("w/key", None),
        ("w/key", b"again"),
    ]
    assert [events[0].version, events[1].version, events[3].version] == [v1, v2, v4]
    assert v2 < events[2].version < v4


async def test_watch_of_a_missing_key_starts_empty_and_sees_its_creation(conn: TopoConn) -> None:
    async with await conn.watch("later") as watch:
        assert watch.current is None
        version = await conn.create("later", b"here")
        assert await next_events(watch, 1) == [WatchEvent("later", b"here", version)]


async def test_watch_of_a_prefix_delivers_every_change_in_order(conn: TopoConn) -> None:
    await conn.create("p/a", b"a0")
    await conn.create("q/a", b"outside")
    async with await conn.watch_prefix("p/") as watch:
        assert [(e.key, e.value) for e in watch.current] == [("p/a", b"a0")]
        expected = []
        for i in range(20):
            key = f"p/{'ab'[i % 2]}"
            expected.append((key, f"{i}".encode()))
            await conn.update(key, f"{i}".encode(), None)
            await conn.update("q/a", b"noise", None)
        await conn.delete("p/a")
        expected.append(("p/a", None))
        events = await next_events(watch, len(expected))
    assert [(e.key, e.value) for e in events] == expected
    versions = [e.version for e in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


async def test_closing_a_watch_ends_a_waiting_reader_and_leaves_no_task(conn: TopoConn) -> None:
    before = len(asyncio.all_tasks())
    watch = await conn.watch_prefix("c/")
    reader = asyncio.create_task(anext(watch, "ended"))
    await asyncio.sleep(0.1)
    assert not reader.done()
    await watch.close()
    assert await asyncio.wait_for(reader, 2) == "ended"
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) == before


async def test_a_lock_excludes_a_second_holder_until_released(conn: TopoConn) -> None:
    lock = await conn.lock("locks/x", holder=HOLDER_A, ttl=5, timeout=1)
    assert lock.is_held()
    info = await conn.get_lock("locks/x")
    assert info is not None and (info.lock_id, info.holder) == (lock.id, HOLDER_A)
    started = time.monotonic()
    with pytest.raises(LockTimeout, match='"name": "a"') as failure:
        await conn.lock("locks/x", holder=HOLDER_B, ttl=5, timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 3
    assert failure.value.holder is not None and failure.value.holder.holder == HOLDER_A

    waiter = asyncio.create_task(conn.lock("locks/x", holder=HOLDER_B, ttl=5, timeout=10))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await lock.release()
    assert not lock.is_held()
    second = await asyncio.wait_for(waiter, 3)
    info = await conn.get_lock("locks/x")
    assert info is not None and (info.lock_id, info.holder) == (second.id, HOLDER_B)
    await second.release()
    assert await conn.get_lock("locks/x") is None


async def test_release_lock_by_id_frees_it_and_the_holder_notices(conn: TopoConn) -> None:
    lock = await conn.lock("locks/ext", holder=HOLDER_A, ttl=3, timeout=1)
    with pytest.raises(NoNode):
        await conn.release_lock("locks/ext", "not-the-id")
    assert await conn.get_lock("locks/ext") is not None
    await conn.release_lock("locks/ext", lock.id)
    assert await conn.get_lock("locks/ext") is None
    other = await conn.lock("locks/ext", holder=HOLDER_B, ttl=3, timeout=1)
    deadline = time.monotonic() + 4
    while lock.is_held() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not lock.is_held()
    await lock.release()  # a lost lock: no effect on the new holder
    info = await conn.get_lock("locks/ext")
    assert info is not None and info.lock_id == other.id
    await other.release()


HOLD_LOCK = """
import asyncio, os, sys
from shardline.topo import open_topo

async def main():
    conn = await open_topo(sys.argv[1])
    lock = await conn.lock("locks/crash", holder={"pid": os.getpid()}, ttl=float(sys.argv[2]), timeout=5)
    print(lock.id, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_lock_outlives_its_ttl_while_held_and_expires_after_the_holder_is_killed(
    topo_spec: str,
) -> None:
    ttl = 2.0
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, topo_spec, str(ttl), stdout=asyncio.subprocess.PIPE
    )
    conn = await open_topo(topo_spec)
    try:
        lock_id = (await asyncio.wait_for(child.stdout.readline(), 15)).decode().strip()
        await asyncio.sleep(ttl * 1.5)  # the child's keepalive renews the lease
        info = await conn.get_lock("locks/crash")
        assert info is not None and info.lock_id == lock_id and info.holder == {"pid": child.pid}
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
        killed = time.monotonic()
        lock = await conn.lock("locks/crash", holder=HOLDER_A, ttl=ttl, timeout=ttl + 5)
        assert time.monotonic() - killed <= ttl + 1.5
        await lock.release()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await conn.close()


async def test_unreachable_etcd_raises_topo_unavailable_quickly(closed_port: int) -> None:
    conn = await open_topo(f"etcd:127.0.0.1:{closed_port}")
    try:
        for operation in (conn.get("k"), conn.list("p/"), conn.lock("l", holder={}, ttl=5, timeout=30)):
            started = time.monotonic()
            with pytest.raises(TopoUnavailable, match="127.0.0.1"):
                await operation
            assert time.monotonic() - started < 5
    finally:
        await conn.close()


async def test_embedded_topo_at_an_unusable_path_is_unavailable(tmp_path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(TopoUnavailable, match="cannot open embedded topo"):
        await open_topo(f"embedded:{tmp_path}/file/topo.db")


@pytest.mark.parametrize(
    "spec",
    ["", "embedded:", "zk:127.0.0.1:2181", "etcd:", "etcd:127.0.0.1", "etcd:host:99999", "etcd:a:1,:2"],
)
async def test_open_topo_refuses_a_bad_spec(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="topo spec"):
        await open_topo(spec)
