"""Reparents that cannot be done safely are refused with a clear error before anything changes: topo keeps
its primary, the primary stays writable and replication keeps working."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from shardline.errors import FailedPrecondition, InvalidArgument, Unavailable
from shardline.reparent.emergency import emergency_reparent_shard
from shardline.reparent.planned import planned_reparent_shard
from shardline.topo.contract import LockTimeout
from shardline.topo.locks import lock_shard
from shardline.topo.records import TabletType
from tests.reparent.live_shard import KEYSPACE, SHARD, alias

REPARENTS = (planned_reparent_shard, emergency_reparent_shard)


async def assert_unchanged(shard, before, replicas=(101, 102, 103)) -> None:
    """The Shard record is as it was, 100 is still the writable primary, and its writes reach the replicas."""
    assert await shard.shard_record() == before
    assert (await shard.tablet(100)).type == TabletType.PRIMARY
    assert await shard.variable(100, "read_only") == 0
    rows = set(range(1000, 1005))
    await shard.insert(100, range(1000, 1005))
    for uid in replicas:
        await shard.wait_for(uid, rows)


async def test_a_tablet_of_another_shard_is_refused(shard):
    await shard.ts.create_keyspace("other")
    await shard.ts.create_shard("other", "0")
    foreign = dataclasses.replace(await shard.tablet(101), alias=alias(900), keyspace="other")
    await shard.ts.create_tablet(foreign)
    before = await shard.shard_record()
    for reparent in REPARENTS:
        with pytest.raises(InvalidArgument, match="tablet zone1-0000000900 belongs to shard other/0, not ks/0"):
            await reparent(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(900))
    await assert_unchanged(shard, before)


async def test_a_tablet_that_is_not_a_replica_is_refused(shard):
    before = await shard.shard_record()
    for reparent in REPARENTS:
        with pytest.raises(FailedPrecondition, match="zone1-0000000103 is a RDONLY tablet; only a REPLICA"):
            await reparent(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(103))
    await assert_unchanged(shard, before)


async def test_an_unreachable_tablet_is_refused(shard):
    await shard.kill_tablet(102)
    before = await shard.shard_record()
    with pytest.raises(Unavailable, match="cannot reach tablet zone1-0000000102"):
        await planned_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(102))
    await assert_unchanged(shard, before, replicas=(101, 103))


async def test_a_reparent_waits_for_the_lock_and_gives_up_naming_its_holder(shard):
    before = await shard.shard_record()
    async with lock_shard(shard.ts, KEYSPACE, SHARD, "a maintenance script"):
        for reparent in REPARENTS:
            with pytest.raises(LockTimeout, match="shard ks/0 is locked by .* for 'a maintenance script'"):
                await reparent(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(101), lock_timeout=0.3)
    await assert_unchanged(shard, before)


async def race(shard, lock_timeout: float) -> list:
    return await asyncio.gather(
        *(
            planned_reparent_shard(
                shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(uid), lock_timeout=lock_timeout
            )
            for uid in (101, 102)
        ),
        return_exceptions=True,
    )


async def assert_replicating_from_primary(shard, rows: range) -> None:
    primary = await shard.primary_uid()
    await shard.insert(primary, rows)
    for uid in {100, 101, 102, 103} - {primary}:
        await shard.wait_replicating(uid, primary)
        await shard.wait_for(uid, set(rows))


async def test_of_two_racing_reparents_one_fails_cleanly_when_it_cannot_wait(shard):
    outcomes = await race(shard, lock_timeout=0)
    winners = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], LockTimeout)
    assert "for 'PlannedReparentShard(zone1-" in str(losers[0])
    assert await shard.primary_uid() == winners[0].new_primary.uid
    await assert_replicating_from_primary(shard, range(0, 10))


async def test_of_two_racing_reparents_the_second_waits_and_starts_from_the_first_ones_result(shard):
    first, second = sorted(await race(shard, lock_timeout=30), key=lambda result: result.old_primary != alias(100))
    assert first.old_primary == alias(100)
    assert second.old_primary == first.new_primary  # it ran after the first one, never alongside it
    assert await shard.primary_uid() == second.new_primary.uid
    await assert_replicating_from_primary(shard, range(0, 10))


async def test_emergency_reparent_refuses_a_named_replica_that_is_behind(shard):
    await shard.sql(102, "STOP SLAVE IO_THREAD")  # 102 misses what follows
    await shard.insert(100, range(0, 10))
    await shard.wait_for(101, set(range(10)))
    shard.kill_mysql(100)
    before = await shard.shard_record()
    with pytest.raises(FailedPrecondition, match="tablet zone1-0000000102 is behind: .* zone1-0000000101 has 0-100-"):
        await emergency_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(102))
    assert await shard.shard_record() == before
    assert (await shard.replication(101))["Slave_IO_Running"] in ("Yes", "Connecting")  # restarted, retrying


async def test_emergency_reparent_without_a_reachable_replica_is_refused(shard):
    for uid in (101, 102, 103):
        await shard.kill_tablet(uid)
    shard.kill_mysql(100)
    before = await shard.shard_record()
    with pytest.raises(Unavailable, match="no replica of shard ks/0 can be reached, so none can be promoted"):
        await emergency_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD)
    assert await shard.shard_record() == before
