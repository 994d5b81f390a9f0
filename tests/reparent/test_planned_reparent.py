"""PlannedReparentShard hands a healthy primary's role to a replica: no acknowledged write is lost, the old
primary follows the new one, and topo and the reparent journal record the change."""

from __future__ import annotations

from shardline.reparent.planned import planned_reparent_shard
from shardline.topo.records import TabletType
from tests.reparent.live_shard import KEYSPACE, SHARD, alias


async def test_named_replica_takes_over_and_the_old_primary_follows_it(shard):
    await shard.insert(100, range(0, 50))
    before = await shard.shard_record()

    result = await planned_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(102))

    assert (result.old_primary, result.new_primary, result.warnings) == (alias(100), alias(102), [])
    record = await shard.shard_record()
    assert record.primary_alias == alias(102)
    assert record.primary_term_start_time > before.primary_term_start_time
    new_primary, old_primary = await shard.tablet(102), await shard.tablet(100)
    assert new_primary.type == TabletType.PRIMARY
    assert new_primary.primary_term_start_time == record.primary_term_start_time
    assert old_primary.type == TabletType.REPLICA
    assert (await shard.tablet(103)).type == TabletType.RDONLY
    assert await shard.variable(102, "read_only") == 0
    assert await shard.variable(100, "read_only") == 1
    assert await shard.replication(102) == {}  # no replica state left on the new primary
    for uid in (100, 101, 103):
        await shard.wait_replicating(uid, 102)

    await shard.insert(102, range(50, 60))
    for uid in (100, 101, 103):
        await shard.wait_for(uid, set(range(60)))
    journal = await shard.sql(101, "SELECT action_name, primary_alias FROM _vt.reparent_journal ORDER BY time_created_ns")
    assert journal[-1] == (b"PlannedReparentShard", str(alias(102)).encode())


async def test_without_a_name_the_most_caught_up_healthy_replica_is_chosen(shard):
    # 101 applies events an hour late: running, but behind; 103 is RDONLY, never a candidate
    await shard.sql(101, "STOP SLAVE")
    await shard.sql(101, "CHANGE MASTER TO MASTER_DELAY = 3600")
    await shard.sql(101, "START SLAVE")
    await shard.insert(100, range(0, 20))

    result = await planned_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD)

    assert result.new_primary == alias(102)
    assert (await shard.shard_record()).primary_alias == alias(102)
    assert await shard.ids(102) == set(range(20))


async def test_reparenting_to_the_current_primary_changes_nothing(shard):
    before = await shard.shard_record()
    result = await planned_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(100))
    assert result.warnings == ["already the primary"]
    assert await shard.shard_record() == before
    assert await shard.variable(100, "read_only") == 0
