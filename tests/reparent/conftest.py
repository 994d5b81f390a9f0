"""A fresh live shard per test: ks/0 with primary 100, replicas 101 and 102 and RDONLY 103."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.reparent.live_shard import LiveShard, live_shard


@pytest.fixture
async def shard(tmp_path) -> AsyncIterator[LiveShard]:
    async with live_shard(tmp_path, replicas=2, rdonly=1) as live:
        yield live
