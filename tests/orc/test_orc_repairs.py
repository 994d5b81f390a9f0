"""The failover agent repairs what it detects, under the shard lock, and reports it."""

from __future__ import annotations

from shardline.topo.locks import lock_shard
from tests.orc.conftest import eventually, watched_shard
from tests.reparent.live_shard import KEYSPACE, SHARD, TABLE_SQL, alias


async def replication_running(shard, uid: int, source_uid: int = 100) -> bool:
    status = await shard.replication(uid)
    port = shard.servers[source_uid].agent.mysql.port
    return (status.get("Master_Port"), status.get("Slave_IO_Running"), status.get("Slave_SQL_Running")) == (
        port,
        "Yes",
        "Yes",
    )


async def test_stopped_replication_is_restarted(watched):
    shard = watched.shard
    await shard.sql(102, "STOP SLAVE")
    await eventually(lambda: replication_running(shard, 102), "102 replicating again")
    [record, *_] = await watched.recovered("ReplicationStopped")
    assert (record["recovery"], record["tablet"], record["result"]) == ("FixReplica", str(alias(102)), "success")
    metrics = await watched.get("/metrics")
    assert (
        'shardline_orc_recoveries_total{keyspace="ks",recovery="FixReplica",result="success",shard="0"}' in metrics
    )


async def test_a_replica_replicating_from_the_wrong_source_is_repointed(watched):
    shard = watched.shard
    await shard.sql(102, "STOP SLAVE")
    port = shard.servers[101].agent.mysql.port
    await shard.sql(102, f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}")
    await shard.sql(102, "START SLAVE")
    await eventually(lambda: replication_running(shard, 102, source_uid=100), "102 replicating from 100")
    assert (await watched.recovered("ConnectedToWrongPrimary"))[0]["result"] == "success"
    await shard.insert(100, range(0, 5))
    await shard.wait_for(102, set(range(5)))


async def test_a_read_only_primary_is_made_writable(watched):
    shard = watched.shard
    await shard.sql(100, "SET GLOBAL read_only = ON")

    async def writable() -> bool:
        return await shard.variable(100, "read_only") == 0

    await eventually(writable, "100 writable")
    assert (await watched.recovered("PrimaryIsReadOnly"))[0]["recovery"] == "FixPrimary"
    assert (await shard.shard_record()).primary_alias == alias(100)


async def test_a_replica_that_stopped_acknowledging_is_fixed(tmp_path):
    async with watched_shard(tmp_path, replicas=2, durability_policy="semi_sync") as watched:
        shard = watched.shard
        await shard.sql(101, "SET GLOBAL rpl_semi_sync_slave_enabled = OFF")

        async def acknowledging() -> bool:
            return await shard.variable(101, "rpl_semi_sync_slave_enabled") == 1

        await eventually(acknowledging, "101 acknowledging again")
        assert (await watched.recovered("ReplicaSemiSyncMustBeSet"))[0]["result"] == "success"


async def test_nothing_is_repaired_while_another_actor_holds_the_shard_lock(watched):
    shard = watched.shard
    async with lock_shard(shard.ts, KEYSPACE, SHARD, "an external failover tool"):
        await shard.sql(102, "STOP SLAVE")

        async def skipped() -> bool:
            return any(record["result"] == "skipped" for record in await watched.recoveries("ReplicationStopped"))

        await eventually(skipped, "a recovery skipped for the lock")
        assert not await replication_running(shard, 102)
    await eventually(lambda: replication_running(shard, 102), "102 replicating after the lock is released")


async def test_a_shard_without_a_primary_gets_one(tmp_path):
    async with watched_shard(tmp_path, replicas=1, init_primary=False) as watched:
        shard = watched.shard

        async def elected() -> bool:
            return any(record["result"] == "success" for record in await watched.recoveries("ClusterHasNoPrimary"))

        await eventually(elected, "a primary elected")
        primary = await shard.primary_uid()
        other = ({100, 101} - {primary}).pop()
        await shard.sql(primary, TABLE_SQL)
        await shard.insert(primary, range(0, 5))
        await shard.wait_for(other, set(range(5)))
