"""A keyspace's durability policy: under semi_sync the primary's commits wait for a REPLICA's acknowledgement
and never fall back to asynchronous replication; under none they do not wait."""

from __future__ import annotations

import asyncio

from shardline.reparent.durability import SEMI_SYNC_TIMEOUT_MS
from shardline.reparent.keyspace_policy import set_keyspace_durability_policy
from tests.reparent.live_shard import KEYSPACE


async def wait_status(shard, name: str, value: str) -> None:
    async with asyncio.timeout(10):
        while (await shard.sql(100, f"SHOW STATUS LIKE '{name}'"))[0][1] != value:
            await asyncio.sleep(0.05)


async def set_policy(shard, policy: str) -> None:
    record, warnings = await set_keyspace_durability_policy(shard.ts, shard.ctx.tmc, KEYSPACE, policy)
    assert (record.durability_policy, warnings) == (policy, [])
    assert (await shard.ts.get_keyspace(KEYSPACE)).durability_policy == policy


async def test_semi_sync_makes_commits_wait_for_a_replica_and_none_does_not(shard):
    await set_policy(shard, "semi_sync")
    assert await shard.variable(100, "rpl_semi_sync_master_enabled") == 1
    assert await shard.variable(100, "rpl_semi_sync_master_timeout") == SEMI_SYNC_TIMEOUT_MS
    assert await shard.variable(100, "rpl_semi_sync_master_wait_point") == "AFTER_SYNC"
    acks = {uid: await shard.variable(uid, "rpl_semi_sync_slave_enabled") for uid in (101, 102, 103)}
    assert acks == {101: 1, 102: 1, 103: 0}  # RDONLY tablets never acknowledge
    await wait_status(shard, "Rpl_semi_sync_master_clients", "2")  # the IO threads reconnect as semi-sync

    for uid in (101, 102):
        await shard.sql(uid, "STOP SLAVE IO_THREAD")
    insert = asyncio.create_task(shard.insert(100, range(0, 1)))
    await asyncio.sleep(2)
    assert not insert.done()  # waits for an acknowledgement that cannot come
    await shard.sql(101, "START SLAVE IO_THREAD")
    await asyncio.wait_for(insert, 10)
    await wait_status(shard, "Rpl_semi_sync_master_status", "ON")  # never switched to asynchronous
    await shard.sql(102, "START SLAVE IO_THREAD")

    await set_policy(shard, "none")
    assert [await shard.variable(uid, "rpl_semi_sync_master_enabled") for uid in (100, 101, 102)] == [0, 0, 0]
    assert [await shard.variable(uid, "rpl_semi_sync_slave_enabled") for uid in (101, 102, 103)] == [0, 0, 0]
    for uid in (101, 102):
        await shard.sql(uid, "STOP SLAVE IO_THREAD")
    await asyncio.wait_for(shard.insert(100, range(1, 2)), 2)
