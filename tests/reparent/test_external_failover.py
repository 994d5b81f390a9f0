"""An external failover tool follows the protocol of docs/failover.md through ctld: lock the shard, check the
Shard record, switch MariaDB itself, record the change with TabletExternallyReparented, unlock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shardline.ctl.server import CtldServer
from shardline.errors import DeadlineExceeded, FailedPrecondition
from shardline.mysqlctl.users import REPL
from shardline.topo.records import TabletType
from tests.reparent.live_shard import alias
from tests.reparent.test_shard_locks import Ctl


@pytest.fixture
async def ctl(shard) -> AsyncIterator[Ctl]:
    server = CtldServer(shard.ctx, "127.0.0.1", 0)
    await server.start()
    yield Ctl(server.port)
    await server.stop()


async def point_at(shard, uid: int, source_uid: int) -> None:
    port = shard.servers[source_uid].agent.mysql.port
    await shard.sql(uid, "STOP SLAVE")
    await shard.sql(
        uid,
        f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, MASTER_USER='{REPL.user}', "
        f"MASTER_PASSWORD='{REPL.password}', MASTER_USE_GTID=slave_pos",
    )
    await shard.sql(uid, "START SLAVE")


async def test_an_external_tool_switches_the_primary_under_its_lock(shard, ctl):
    await shard.insert(100, range(0, 10))
    lock_id = (await ctl("LockShard", "ks/0", "--purpose", "switch to 101", "--client", "orchestrator"))["lock_id"]
    assert (await ctl("GetShard", "ks/0"))["primary_alias"] == {"cell": "zone1", "uid": 100}
    with pytest.raises(DeadlineExceeded, match="switch to 101"):  # nobody else reparents meanwhile
        await ctl("PlannedReparentShard", "ks/0", "--new-primary", "zone1-102", "--lock-timeout", "0.3")

    # the tool's own switch, straight on MariaDB
    await shard.sql(100, "SET GLOBAL read_only = ON")
    position = (await shard.sql(100, "SELECT @@GLOBAL.gtid_binlog_pos"))[0][0]
    assert (await shard.sql(101, f"SELECT MASTER_GTID_WAIT('{position}', 10)"))[0][0] == 0
    await shard.sql(101, "STOP SLAVE")
    await shard.sql(101, "RESET SLAVE ALL")
    with pytest.raises(FailedPrecondition, match="tablet zone1-0000000101 is read-only"):
        await ctl("TabletExternallyReparented", "zone1-101", "--lock-id", lock_id)
    await shard.sql(101, "SET GLOBAL read_only = OFF")
    await shard.sql(100, "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos")
    for uid in (100, 102, 103):
        await point_at(shard, uid, 101)

    result = await ctl("TabletExternallyReparented", "zone1-101", "--lock-id", lock_id)
    await ctl("UnlockShard", "ks/0", "--lock-id", lock_id)

    assert (result["old_primary"], result["new_primary"], result["warnings"]) == (str(alias(100)), str(alias(101)), [])
    record = await shard.shard_record()
    assert record.primary_alias == alias(101)
    assert record.primary_term_start_time == (await shard.tablet(101)).primary_term_start_time
    assert (await shard.tablet(101)).type == TabletType.PRIMARY
    assert (await shard.tablet(100)).type == TabletType.REPLICA
    await shard.insert(101, range(10, 20))
    for uid in (100, 102, 103):
        await shard.wait_for(uid, set(range(20)))
    assert (await ctl("GetShardLock", "ks/0"))["locked"] is False


async def test_a_reparent_can_run_under_a_lock_taken_with_lock_shard(shard, ctl):
    lock_id = (await ctl("LockShard", "ks/0", "--purpose", "planned maintenance"))["lock_id"]
    result = await ctl("PlannedReparentShard", "ks/0", "--new-primary", "zone1-102", "--lock-id", lock_id)
    assert result["new_primary"] == str(alias(102))
    assert (await ctl("GetShardLock", "ks/0"))["lock_id"] == lock_id  # still the tool's until it unlocks
    await ctl("UnlockShard", "ks/0", "--lock-id", lock_id)
