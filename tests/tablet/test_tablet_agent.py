"""The tablet agent publishes itself in topo, streams its health and answers management RPCs."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from shardline.ctl.context import CtlContext
from shardline.ctl.reparent import init_shard_primary
from shardline.errors import FailedPrecondition, InvalidArgument, MySQLError, NotFound
from shardline.tablet.agent import TabletAgent, TabletConfig
from shardline.tablet.client import TabletManagerClient, stream_health
from shardline.tablet.health import Health
from shardline.topo.records import Tablet, TabletAlias, TabletType
from tests.ports import free_port

KEYSPACE = "ks"



async def first_health(tablet: Tablet) -> Health:
    async with aclosing(stream_health(tablet)) as stream:
        return await asyncio.wait_for(anext(stream), timeout=5)


async def test_publishes_its_record_and_creates_its_databases(topo, start_tablet):
    server = await start_tablet(100)
    tablet = await topo.get_tablet(TabletAlias("zone1", 100))
    assert (tablet.keyspace, tablet.shard, tablet.type) == (KEYSPACE, "0", TabletType.REPLICA)
    assert (tablet.hostname, tablet.port) == ("127.0.0.1", server.port)
    assert tablet.mysql_port == server.agent.mysql.port
    assert tablet.db_name == KEYSPACE
    databases = {row[0] for row in server.agent.mysql.execute("SHOW DATABASES")}
    assert {KEYSPACE, "_vt"} <= databases
    assert server.agent.mysql.execute("SHOW TABLES FROM _vt LIKE 'reparent_journal'") == [("reparent_journal",)]


async def test_health_stream_reports_at_once_and_on_change(topo, start_tablet):
    server = await start_tablet(100)
    tablet = await topo.get_tablet(TabletAlias("zone1", 100))
    async with TabletManagerClient() as tmc:
        stream = stream_health(tablet)
        health = await anext(stream)
        assert (health.alias, health.tablet_type, health.serving) == ("zone1-0000000100", "REPLICA", False)
        assert health.last_error == "replication is not configured"
        await tmc.change_type(tablet, TabletType.SPARE)
        health = await asyncio.wait_for(anext(stream), timeout=5)
        assert (health.tablet_type, health.serving, health.last_error) == ("SPARE", False, None)
        assert (await topo.get_tablet(tablet.alias)).type == TabletType.SPARE
        await stream.aclose()
    # two subscribers at once get the same current report
    reports = await asyncio.gather(first_health(tablet), first_health(tablet))
    assert reports[0] == reports[1] == server.agent.health.current


async def test_restarted_on_new_ports_is_found_at_its_new_address(topo, start_tablet):
    first = await start_tablet(100)
    first.agent.mysql.execute(f"CREATE TABLE {KEYSPACE}.kept (id INT PRIMARY KEY)")
    first.agent.mysql.execute(f"INSERT INTO {KEYSPACE}.kept VALUES (7)")
    await first.stop()
    new_port, new_mysql_port = free_port(), free_port()
    second = await start_tablet(100, port=new_port, mysql_port=new_mysql_port)
    tablet = await topo.get_tablet(TabletAlias("zone1", 100))
    assert (tablet.port, tablet.mysql_port) == (new_port, new_mysql_port)
    assert second.agent.mysql.execute("SELECT @@port") == [(new_mysql_port,)]
    health = await first_health(tablet)
    assert health.alias == "zone1-0000000100"
    async with TabletManagerClient() as tmc:
        result = await tmc.execute_fetch_as_dba(tablet, "SELECT id FROM kept", db_name=KEYSPACE)
    assert result["rows"] == [["7"]]


async def test_mysql_kept_running_on_another_port_is_moved(topo, start_tablet):
    first = await start_tablet(100, keep_mysql=True)
    await first.stop()
    assert first.agent.mysql.status().running
    new_mysql_port = free_port()
    second = await start_tablet(100, mysql_port=new_mysql_port)
    assert second.agent.mysql.execute("SELECT @@port") == [(new_mysql_port,)]
    assert (await topo.get_tablet(TabletAlias("zone1", 100))).mysql_port == new_mysql_port


async def test_rpc_errors_carry_their_kind(topo, start_tablet):
    await start_tablet(100)
    tablet = await topo.get_tablet(TabletAlias("zone1", 100))
    async with TabletManagerClient() as tmc:
        with pytest.raises(NotFound, match="unknown tablet manager method 'Explode'"):
            await tmc.call(tablet, "Explode")
        with pytest.raises(InvalidArgument, match="'tablet_type' must be str"):
            await tmc.call(tablet, "ChangeType", tablet_type=5)
        with pytest.raises(InvalidArgument, match="unknown arguments"):
            await tmc.call(tablet, "PrimaryPosition", bogus=1)
        with pytest.raises(InvalidArgument, match="missing 1 required"):
            await tmc.call(tablet, "WaitForPosition")
        with pytest.raises(InvalidArgument, match="invalid tablet type"):
            await tmc.call(tablet, "ChangeType", tablet_type="LEADER")
        with pytest.raises(MySQLError) as raised:
            await tmc.execute_fetch_as_dba(tablet, "SELECT * FROM no_such_table", db_name=KEYSPACE)
        assert raised.value.code == 1146
        with pytest.raises(FailedPrecondition, match="has no replication source"):
            await tmc.start_replication(tablet)
        with pytest.raises(NotFound, match="zone1-0000000999 does not exist"):
            await tmc.set_replication_source(tablet, TabletAlias("zone1", 999))


async def test_cannot_start_as_primary_or_in_an_unknown_keyspace(topo, tmp_path):
    with pytest.raises(InvalidArgument, match="InitShardPrimary"):
        TabletConfig(TabletAlias("zone1", 1), KEYSPACE, "0", TabletType.PRIMARY, free_port(), tmp_path)
    config = TabletConfig(TabletAlias("zone1", 1), "nope", "0", TabletType.REPLICA, free_port(), tmp_path)
    with pytest.raises(NotFound, match="keyspace 'nope' does not exist"):
        await TabletAgent(topo, config).start(free_port())
    assert await topo.get_tablets("zone1") == []


async def test_stopping_the_agent_ends_open_health_streams(topo, start_tablet):
    server = await start_tablet(100)
    tablet = await topo.get_tablet(TabletAlias("zone1", 100))
    async with aclosing(stream_health(tablet)) as stream:
        await anext(stream)
        await asyncio.wait_for(server.stop(), timeout=15)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), timeout=5)
    assert not server.agent.mysql.status().running


async def test_replica_follows_its_primary_to_a_new_address(topo, start_tablet):
    primary = await start_tablet(100)
    replica = await start_tablet(101)
    async with TabletManagerClient() as tmc:
        await init_shard_primary(CtlContext(topo, tmc), f"{KEYSPACE}/0", "zone1-100")
    await primary.stop()
    moved = await start_tablet(100, mysql_port=free_port())
    assert moved.agent.tablet.type == TabletType.PRIMARY
    moved.agent.mysql.execute(f"CREATE TABLE {KEYSPACE}.after_move (id INT PRIMARY KEY)")
    position = await moved.agent.primary_position()
    await replica.agent.wait_for_position(position, timeout=15)
    status = await replica.agent.replication_status()
    assert (status["source_port"], status["io_running"]) == (moved.agent.mysql.port, True)
    assert replica.agent.mysql.execute(f"SHOW TABLES FROM {KEYSPACE} LIKE 'after_move'") == [("after_move",)]


async def test_full_status_reads_role_positions_and_replication_in_one_call(topo, start_tablet):
    primary = await start_tablet(100)
    replica = await start_tablet(101)
    async with TabletManagerClient() as tmc:
        await init_shard_primary(CtlContext(topo, tmc), f"{KEYSPACE}/0", "zone1-100")
        position = await primary.agent.primary_position()
        await replica.agent.wait_for_position(position, timeout=15)
        of_primary = await tmc.full_status(await topo.get_tablet(TabletAlias("zone1", 100)))
        of_replica = await tmc.full_status(await topo.get_tablet(TabletAlias("zone1", 101)))
    assert (of_primary["read_only"], of_primary["gtid_binlog_pos"], of_primary["slave_status"]) == (False, position, None)
    assert of_replica["read_only"] is True
    slave = of_replica["slave_status"]
    assert (slave["Master_Port"], slave["Slave_IO_Running"], slave["Slave_SQL_Running"], slave["Gtid_IO_Pos"]) == (
        str(primary.agent.mysql.port), "Yes", "Yes", position)
    assert of_primary["semi_sync"][0] in ("0", "1") and len(of_primary["semi_sync"]) == 4


async def test_forced_init_shard_primary_moves_the_primary(topo, start_tablet):
    old = await start_tablet(100)
    new = await start_tablet(101)
    async with TabletManagerClient() as tmc:
        ctx = CtlContext(topo, tmc)
        await init_shard_primary(ctx, f"{KEYSPACE}/0", "zone1-100")
        shard = await init_shard_primary(ctx, f"{KEYSPACE}/0", "zone1-101", force=True)
    assert shard["primary_alias"] == {"cell": "zone1", "uid": 101}
    assert (old.agent.tablet.type, new.agent.tablet.type) == (TabletType.REPLICA, TabletType.PRIMARY)
    new.agent.mysql.execute(f"CREATE TABLE {KEYSPACE}.under_new (id INT PRIMARY KEY)")
    await old.agent.wait_for_position(await new.agent.primary_position(), timeout=10)
    assert old.agent.mysql.execute("SELECT @@read_only") == [(1,)]
    assert old.agent.mysql.execute(f"SHOW TABLES FROM {KEYSPACE} LIKE 'under_new'") == [("under_new",)]
