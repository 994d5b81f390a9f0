"""Live shards watched by a failover agent (with its HTTP port)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shardline.orc.agent import Orc
from shardline.orc.server import OrcServer
from tests.reparent.live_shard import LiveShard, live_shard


@dataclass
class Watched:
    shard: LiveShard
    orc: Orc
    server: OrcServer

    async def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.server.port}{path}"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            return await (response.json() if path.startswith("/debug") else response.text())

    async def recoveries(self, analysis: str) -> list[dict[str, Any]]:
        """The finished recoveries of that analysis, newest first, as /debug/status lists them."""
        records = (await self.get("/debug/status"))["recent_recoveries"]
        return [record for record in records if record["analysis"] == analysis]

    async def recovered(self, analysis: str) -> list[dict[str, Any]]:
        """``recoveries(analysis)`` once there is one: the repaired state can show before the agent has
        recorded the recovery as finished."""
        found: list[dict[str, Any]] = []

        async def finished() -> bool:
            found[:] = await self.recoveries(analysis)
            return bool(found)

        await eventually(finished, f"a finished {analysis} recovery")
        return found


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> float:
    """Waits until ``check()`` is true; returns how many seconds that took."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@asynccontextmanager
async def watched_shard(root: Path, **shard_options: Any) -> AsyncIterator[Watched]:
    """A live shard (see ``live_shard``) and an agent watching it, polling every 0.5 s."""
    async with live_shard(root, **shard_options) as shard:
        orc = Orc(shard.ts, cells=["zone1"], poll_interval=0.5, retry_interval=1.0)
        server = OrcServer(orc, "127.0.0.1", 0)
        await server.start()
        await orc.start()
        try:
            yield Watched(shard, orc, server)
        finally:
            await orc.stop()
            await server.stop()


@pytest.fixture
async def watched(tmp_path) -> AsyncIterator[Watched]:
    async with watched_shard(tmp_path, replicas=2) as value:
        yield value
