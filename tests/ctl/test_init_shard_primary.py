"""InitShardPrimary makes one tablet the writable primary and really replicates to the others."""

from __future__ import annotations

import asyncio

import pytest

from shardline.ctl.reparent import init_shard_primary
from shardline.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from shardline.topo.records import Tablet, TabletAlias, TabletType


async def test_records_the_primary_and_types(live):
    ts = live.ctx.ts
    for shard, (primary_uid, replica_uid) in live.shards.items():
        record = await ts.get_shard(live.name, shard)
        primary = await ts.get_tablet(TabletAlias("zone1", primary_uid))
        assert record.primary_alias == primary.alias
        assert record.primary_term_start_time == primary.primary_term_start_time is not None
        assert primary.type == TabletType.PRIMARY
        assert (await ts.get_tablet(TabletAlias("zone1", replica_uid))).type == TabletType.REPLICA
    srv = await ts.get_srv_keyspace("zone1", live.name)
    assert [ref.name for ref in srv.partitions[TabletType.PRIMARY]] == ["-80", "80-"]


async def test_primary_is_writable_and_replica_is_read_only(live):
    assert live.server(200).agent.mysql.execute("SELECT @@read_only") == [(0,)]
    assert live.server(201).agent.mysql.execute("SELECT @@read_only") == [(1,)]


async def test_writes_on_the_primary_reach_the_replica(live):
    primary, replica = live.server(300).agent, live.server(301).agent
    primary.mysql.execute(f"CREATE TABLE {live.name}.repl_check (id INT PRIMARY KEY, note VARCHAR(20))")
    primary.mysql.execute(f"INSERT INTO {live.name}.repl_check VALUES (1, 'one'), (2, 'two')")
    position = await primary.primary_position()
    await replica.wait_for_position(position, timeout=10)
    rows = replica.mysql.execute(f"SELECT id, note FROM {live.name}.repl_check ORDER BY id")
    assert rows == [(1, "one"), (2, "two")]


async def test_replicas_have_the_reparent_journal_row(live):
    rows = live.server(201).agent.mysql.execute("SELECT action_name, primary_alias FROM _vt.reparent_journal")
    assert rows == [(b"InitShardPrimary", b"zone1-0000000200")]


async def test_healthy_primary_and_replica_serve(live):
    async def wait_serving(uid: int) -> None:
        agent = live.server(uid).agent
        while not agent.health.current.serving:
            await agent.health.next(2)

    await asyncio.wait_for(asyncio.gather(wait_serving(200), wait_serving(201)), timeout=10)
    assert live.server(200).agent.health.current.primary_term_start_time is not None
    assert live.server(201).agent.health.current.replication_lag_seconds == 0


async def test_refuses_a_shard_with_a_primary_unless_forced(live):
    before = await live.ctx.ts.get_shard(live.name, "-80")
    with pytest.raises(FailedPrecondition, match="already has primary zone1-0000000200; use --force"):
        await init_shard_primary(live.ctx, f"{live.name}/-80", "zone1-201")
    assert await live.ctx.ts.get_shard(live.name, "-80") == before
    assert (await live.ctx.ts.get_tablet(TabletAlias("zone1", 201))).type == TabletType.REPLICA


async def test_bad_input(ctx):
    with pytest.raises(InvalidArgument, match="expected e.g. 'customer/-80'"):
        await init_shard_primary(ctx, "nokeyspace", "zone1-1")
    with pytest.raises(NotFound, match="shard ks/0 does not exist"):
        await init_shard_primary(ctx, "ks/0", "zone1-1")
    await ctx.ts.create_keyspace("ks")
    await ctx.ts.create_shard("ks", "0")
    with pytest.raises(InvalidArgument, match="tablet zone1-0000000007 is not in shard ks/0"):
        await init_shard_primary(ctx, "ks/0", "zone1-7")
    assert (await ctx.ts.get_shard("ks", "0")).primary_alias is None


async def test_unreachable_tablet_changes_nothing(ctx):
    await ctx.ts.create_keyspace("ks")
    shard = await ctx.ts.create_shard("ks", "0")
    alias = TabletAlias("zone1", 50)
    down = Tablet(alias, "127.0.0.1", "127.0.0.1", 9, 9, "ks", "0", shard.key_range, TabletType.REPLICA, "ks")
    await ctx.ts.create_tablet(down)
    with pytest.raises(Unavailable, match="tablet zone1-0000000050: cannot reach"):
        await init_shard_primary(ctx, "ks/0", "zone1-50")
    assert (await ctx.ts.get_shard("ks", "0")).primary_alias is None
    assert await ctx.ts.get_tablet(alias) == down
