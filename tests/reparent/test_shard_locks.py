"""Shard locks for operators and external tools: who holds a lock is visible, a lock ctld holds for a tool lasts
while the tool refreshes it, and a lock whose holder died expires."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from shardline.ctl.client import call_ctld
from shardline.ctl.context import CtlContext
from shardline.ctl.registry import COMMANDS
from shardline.ctl.server import CtldServer
from shardline.errors import DeadlineExceeded, FailedPrecondition, NotFound
from shardline.topo.contract import LockTimeout
from shardline.topo.locks import lock_shard

HOLD_LOCK_SCRIPT = """
import asyncio, sys
from shardline.topo.locks import lock_shard
from shardline.topo.server import TopoServer

async def main():
    ts = await TopoServer.open(sys.argv[1])
    async with lock_shard(ts, "ks", "0", "a process about to die", ttl=2.0):
        print("locked", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


class Ctl:
    """``shardline ctl`` against a ctld on a free port."""

    def __init__(self, port: int) -> None:
        self.server = f"127.0.0.1:{port}"

    async def __call__(self, name: str, *argv: str):
        command = COMMANDS[name]
        return await call_ctld(self.server, command, command.parse(list(argv)), timeout=30)


@pytest.fixture
async def topo_ctx(tmp_path) -> AsyncIterator[CtlContext]:
    async with CtlContext.open(f"embedded:{tmp_path / 'topo.db'}") as ctx:
        await ctx.ts.add_cell("zone1")
        await ctx.ts.create_keyspace("ks")
        await ctx.ts.create_shard("ks", "0")
        yield ctx


@pytest.fixture
async def ctl(topo_ctx) -> AsyncIterator[Ctl]:
    server = CtldServer(topo_ctx, "127.0.0.1", 0)
    await server.start()
    yield Ctl(server.port)
    await server.stop()


async def test_a_lock_held_by_a_killed_process_expires(topo_ctx, tmp_path, ctl):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_SCRIPT, f"embedded:{tmp_path / 'topo.db'}"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert await asyncio.to_thread(holder.stdout.readline) == "locked\n"
        info = await ctl("GetShardLock", "ks/0")
        assert (info["locked"], info["holder"]["pid"], info["action"]) == (True, holder.pid, "a process about to die")
        assert info["since"].endswith("+00:00") and f"pid {holder.pid}" in info["description"]
        with pytest.raises(LockTimeout, match=f"pid {holder.pid} for 'a process about to die'"):
            async with lock_shard(topo_ctx.ts, "ks", "0", "test", timeout=0.5):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        async with lock_shard(topo_ctx.ts, "ks", "0", "after the holder died", timeout=10):
            waited = time.monotonic() - killed
        assert waited < 2.0 + 1.0  # the ttl, and a little
    finally:
        holder.kill()
        holder.wait()


async def test_ctld_holds_a_lock_for_a_tool_as_long_as_the_tool_refreshes_it(topo_ctx, ctl):
    held = await ctl("LockShard", "ks/0", "--purpose", "failover drill", "--ttl", "1", "--client", "orchestrator")
    lock_id = held["lock_id"]
    info = await ctl("GetShardLock", "ks/0")
    assert (info["locked"], info["lock_id"]) == (True, lock_id)
    assert info["action"] == "failover drill (held by ctld for orchestrator)"
    with pytest.raises(LockTimeout, match="failover drill"):
        async with lock_shard(topo_ctx.ts, "ks", "0", "someone else", timeout=0.3):
            pass
    for _ in range(3):  # 1.8 s in all, well past the ttl: kept by the refreshes
        await asyncio.sleep(0.6)
        assert (await ctl("RefreshShardLock", "ks/0", "--lock-id", lock_id))["expires_in"] > 0.9
    assert (await ctl("GetShardLock", "ks/0"))["lock_id"] == lock_id
    await asyncio.sleep(1.5)  # no refresh: ctld lets it go
    assert (await ctl("GetShardLock", "ks/0"))["locked"] is False
    with pytest.raises(FailedPrecondition, match=f"lock {lock_id} is not held on shard ks/0"):
        await ctl("RefreshShardLock", "ks/0", "--lock-id", lock_id)


async def test_unlock_shard_releases_at_once_and_only_the_named_lock(topo_ctx, ctl):
    lock_id = (await ctl("LockShard", "ks/0", "--purpose", "maintenance"))["lock_id"]
    with pytest.raises(NotFound, match="lock not-the-id does not hold shard ks/0"):
        await ctl("UnlockShard", "ks/0", "--lock-id", "not-the-id")
    assert (await ctl("GetShardLock", "ks/0"))["locked"] is True
    await ctl("UnlockShard", "ks/0", "--lock-id", lock_id)
    assert (await ctl("GetShardLock", "ks/0")) == {"keyspace": "ks", "shard": "0", "locked": False}
    second = (await ctl("LockShard", "ks/0", "--purpose", "maintenance"))["lock_id"]
    with pytest.raises(DeadlineExceeded, match="shard ks/0 is locked by .* for 'maintenance"):
        await ctl("LockShard", "ks/0", "--purpose", "another", "--wait-timeout", "0.2")
    await ctl("UnlockShard", "ks/0", "--lock-id", second)
