"""EmergencyReparentShard promotes the replica that received the most once the primary is dead: every
acknowledged write survives, and the other tablets follow the new primary."""

from __future__ import annotations

import pytest

from shardline.errors import FailedPrecondition
from shardline.reparent.emergency import emergency_reparent_shard
from shardline.topo.records import TabletType
from tests.reparent.live_shard import KEYSPACE, SHARD, alias, live_shard


async def emergency_reparent(shard, **options):
    return await emergency_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, **options)


async def test_the_replica_that_received_the_most_is_promoted_and_the_others_catch_up(shard):
    await shard.insert(100, range(0, 10))
    await shard.wait_for(102, set(range(10)))
    await shard.sql(102, "STOP SLAVE IO_THREAD")  # 102 (and RDONLY 103 below) miss the next rows
    await shard.sql(103, "STOP SLAVE IO_THREAD")
    await shard.insert(100, range(10, 30))
    await shard.wait_for(101, set(range(30)))
    shard.kill_mysql(100)
    before = await shard.shard_record()

    result = await emergency_reparent(shard)

    assert (result.old_primary, result.new_primary) == (alias(100), alias(101))
    assert result.warnings[0].startswith("old primary zone1-0000000100 does not answer")
    record = await shard.shard_record()
    assert record.primary_alias == alias(101)
    assert record.primary_term_start_time > before.primary_term_start_time
    assert (await shard.tablet(101)).type == TabletType.PRIMARY
    assert await shard.variable(101, "read_only") == 0
    await shard.insert(101, range(30, 40))
    for uid in (102, 103):
        await shard.wait_replicating(uid, 101)
        await shard.wait_for(uid, set(range(40)))
    journal = await shard.sql(102, "SELECT action_name FROM _vt.reparent_journal ORDER BY time_created_ns")
    assert journal[-1] == (b"EmergencyReparentShard",)


async def test_a_replica_first_takes_what_only_an_rdonly_tablet_received(shard):
    await shard.sql(101, "STOP SLAVE IO_THREAD")
    await shard.sql(102, "STOP SLAVE IO_THREAD")
    await shard.insert(100, range(0, 25))
    await shard.wait_for(103, set(range(25)))
    shard.kill_mysql(100)

    result = await emergency_reparent(shard)

    assert result.new_primary in (alias(101), alias(102))
    assert await shard.ids(result.new_primary.uid) == set(range(25))
    assert (await shard.tablet(103)).type == TabletType.RDONLY


async def test_a_primary_that_still_answers_is_fenced_and_follows_the_new_one(shard):
    await shard.insert(100, range(0, 10))

    result = await emergency_reparent(shard, new_primary=alias(102))

    assert result.new_primary == alias(102) and result.warnings == []
    assert await shard.variable(100, "read_only") == 1
    assert (await shard.tablet(100)).type == TabletType.REPLICA
    await shard.insert(102, range(10, 20))
    for uid in (100, 101, 103):
        await shard.wait_replicating(uid, 102)
        await shard.wait_for(uid, set(range(20)))


async def test_semi_sync_acknowledged_writes_survive_the_loss_of_the_primary(tmp_path):
    async with live_shard(tmp_path, replicas=2, durability_policy="semi_sync") as shard:
        assert await shard.variable(100, "rpl_semi_sync_master_enabled") == 1
        await shard.insert(100, range(0, 200))  # each insert returned: acknowledged by 101 or 102
        shard.kill_mysql(100)

        result = await emergency_reparent(shard)

        new_primary = result.new_primary.uid
        assert await shard.ids(new_primary) == set(range(200))
        assert await shard.variable(new_primary, "rpl_semi_sync_master_enabled") == 1
        other = ({101, 102} - {new_primary}).pop()
        await shard.insert(new_primary, range(200, 210))  # needs the other replica's acknowledgement
        await shard.wait_for(other, set(range(210)))
        assert await shard.variable(other, "rpl_semi_sync_slave_enabled") == 1


async def test_semi_sync_refuses_a_new_primary_that_no_replica_could_acknowledge(tmp_path):
    async with live_shard(tmp_path, replicas=1, durability_policy="semi_sync") as shard:
        await shard.insert(100, range(0, 5))
        shard.kill_mysql(100)
        before = await shard.shard_record()
        with pytest.raises(FailedPrecondition, match="needs another reachable REPLICA to acknowledge its writes"):
            await emergency_reparent(shard)
        assert await shard.shard_record() == before
        assert (await shard.replication(101))["Slave_IO_Running"] in ("Yes", "Connecting")
