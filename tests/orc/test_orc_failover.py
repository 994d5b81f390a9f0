"""Kill -9 of a primary under a write load with semi-sync: the failover agent promotes a replica and no
acknowledged write is lost."""

from __future__ import annotations

import asyncio
import threading
import time

import pymysql
import pytest

from tests.orc.conftest import eventually, watched_shard
from tests.reparent.live_shard import alias


class Writer(threading.Thread):
    """Inserts rows into the primary one by one until told to stop or the primary dies; ``acked`` holds the
    ids whose INSERT returned OK."""

    def __init__(self, connect) -> None:
        super().__init__(daemon=True)
        self.connect = connect
        self.acked: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = self.connect()
        next_id = 0
        try:
            with conn.cursor() as cursor:
                while not self.stopping.is_set():
                    cursor.execute("INSERT INTO t (id, v) VALUES (%s, 'load')", (next_id,))
                    self.acked.append(next_id)
                    next_id += 1
        except pymysql.MySQLError:
            pass  # the primary died under us: this insert was not acknowledged


@pytest.mark.slow
async def test_killed_primary_is_replaced_without_losing_an_acknowledged_write(tmp_path):
    async with watched_shard(tmp_path, replicas=2, durability_policy="semi_sync") as watched:
        shard = watched.shard
        writer = Writer(lambda: shard.app_connect(100))
        writer.start()
        async def under_load() -> bool:
            return len(writer.acked) > 200

        await eventually(under_load, "200 writes acknowledged")
        killed_at = time.monotonic()
        await shard.kill_tablet(100)
        await asyncio.to_thread(writer.join, 10)
        assert not writer.is_alive()

        async def replaced() -> bool:
            return (await shard.shard_record()).primary_alias != alias(100)

        await eventually(replaced, "a new primary", timeout=10)
        failover_seconds = time.monotonic() - killed_at
        new_primary = await shard.primary_uid()
        other = ({101, 102} - {new_primary}).pop()

        assert set(writer.acked) <= await shard.ids(new_primary), "acknowledged writes lost"
        assert await shard.variable(new_primary, "read_only") == 0
        await shard.insert(new_primary, range(10**6, 10**6 + 5))  # semi-sync: needs the other replica's ack
        await shard.wait_for(other, set(writer.acked) | set(range(10**6, 10**6 + 5)))
        [record] = [r for r in await watched.recoveries("DeadPrimary") if r["result"] == "success"]
        assert record["recovery"] == "RecoverDeadPrimary" and record["tablet"] == str(alias(100))
        assert 'shardline_orc_recoveries_total{keyspace="ks",recovery="RecoverDeadPrimary",result="success",shard="0"} 1.0' in (
            await watched.get("/metrics")
        )
        assert failover_seconds < 10
        print(f"failover after {failover_seconds:.2f}s, {len(writer.acked)} acknowledged writes kept")
