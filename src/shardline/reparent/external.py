"""TabletExternallyReparented: an external tool (Orchestrator, a script, a DBA) made a tablet the primary by
itself; record that in topo, under the shard lock the tool holds through ctld or one taken here."""

from __future__ import annotations

from shardline.errors import FailedPrecondition, ShardlineError
from shardline.reparent.lock import shard_locked
from shardline.reparent.promotion import ReparentResult, record_primary
from shardline.reparent.replication import tablet_status
from shardline.reparent.shard import load_shard_info
from shardline.tablet.client import TabletManagerClient
from shardline.topo.contract import Lock
from shardline.topo.locks import DEFAULT_LOCK_TIMEOUT
from shardline.topo.records import TabletAlias, TabletType
from shardline.topo.server import TopoServer

ACTION = "TabletExternallyReparented"


async def tablet_externally_reparented(
    ts: TopoServer,
    tmc: TabletManagerClient,
    alias: TabletAlias,
    *,
    lock: Lock | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> ReparentResult:
    """Records ``alias`` as its shard's primary once its MariaDB is writable and replicates from nobody: the
    tablet becomes PRIMARY with a new term, the Shard record names it, the old primary (if it answers) becomes
    a REPLICA."""
    tablet = await ts.get_tablet(alias)
    keyspace, shard = tablet.keyspace, tablet.shard
    async with shard_locked(ts, keyspace, shard, f"{ACTION}({alias})", lock=lock, timeout=lock_timeout) as held:
        info = await load_shard_info(ts, keyspace, shard)
        status = await tablet_status(tmc, tablet)
        result = ReparentResult(ACTION, keyspace, shard, info.primary_alias, alias, str(status.binlog_position))
        if info.primary_alias == alias:
            result.warnings.append("already the primary")
            return result
        if status.read_only:
            raise FailedPrecondition(f"tablet {alias} is read-only: make it writable before recording it as the primary")
        replication = status.replication
        if replication is not None and (replication.io_running or replication.sql_running):
            raise FailedPrecondition(
                f"tablet {alias} still replicates from {replication.source_host}:{replication.source_port}: "
                "stop and reset its replication first"
            )
        await tmc.change_type(tablet, TabletType.PRIMARY)
        await record_primary(ts, held, info, alias)
        old = info.primary
        if old is not None:
            try:
                await tmc.change_type(old, TabletType.REPLICA)
            except ShardlineError as exc:
                result.warnings.append(f"old primary {old.alias} is still typed PRIMARY: {exc}")
        return result
