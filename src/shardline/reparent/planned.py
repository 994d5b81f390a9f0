"""PlannedReparentShard: a healthy primary hands the shard over to a replica without losing a write.

Under the shard lock: the candidate first catches up with the live primary (so that the pause is short);
then the primary turns read-only, which is the moment writes stop being acknowledged; the candidate catches up
with the primary's final position and is promoted; the old primary becomes its replica. If the candidate does
not catch up in time the primary turns writable again and nothing changed.
"""

from __future__ import annotations

import copy
import logging

from shardline.errors import FailedPrecondition, InvalidArgument, ShardlineError, Unavailable
from shardline.mysqlctl.flavor import MariadbGTIDSet
from shardline.reparent.lock import shard_locked
from shardline.reparent.promotion import Follower, ReparentResult, promote_and_reparent
from shardline.reparent.replication import TabletStatus, most_advanced, tablet_statuses
from shardline.reparent.shard import ShardInfo, load_shard_info, promotable_tablet
from shardline.tablet.client import TabletManagerClient
from shardline.topo.contract import Lock
from shardline.topo.locks import DEFAULT_LOCK_TIMEOUT
from shardline.topo.records import Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)

ACTION = "PlannedReparentShard"
DEFAULT_WAIT_REPLICAS_TIMEOUT = 30.0


async def planned_reparent_shard(
    ts: TopoServer,
    tmc: TabletManagerClient,
    keyspace: str,
    shard: str,
    *,
    new_primary: TabletAlias | None = None,
    wait_replicas_timeout: float = DEFAULT_WAIT_REPLICAS_TIMEOUT,
    lock: Lock | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> ReparentResult:
    """Makes ``new_primary`` (default: the most caught-up healthy REPLICA, preferring the primary's cell) the
    shard's primary. Every check happens before the primary is touched; a failure after its demotion but
    before the promotion makes it writable again."""
    if wait_replicas_timeout <= 0:
        raise InvalidArgument(f"{ACTION}: wait_replicas_timeout must be positive, got {wait_replicas_timeout}")
    action = f"{ACTION}({new_primary or 'most caught-up replica'})"
    async with shard_locked(ts, keyspace, shard, action, lock=lock, timeout=lock_timeout) as held:
        info = await load_shard_info(ts, keyspace, shard)
        primary = info.primary
        if primary is None:
            raise FailedPrecondition(
                f"shard {info.name} has no primary to hand over: use InitShardPrimary or EmergencyReparentShard"
            )
        if new_primary == primary.alias:
            return ReparentResult(ACTION, keyspace, shard, primary.alias, primary.alias, "", ["already the primary"])
        requested = await promotable_tablet(ts, info, new_primary) if new_primary is not None else None
        statuses, failures = await tablet_statuses(tmc, info.tablets.values())
        if primary.alias not in statuses:
            raise Unavailable(
                f"cannot reach primary {primary.alias} of {info.name} ({failures[primary.alias]}): "
                "use EmergencyReparentShard"
            )
        candidate = _choose_candidate(info, primary, statuses, failures, requested)

        start = await tmc.primary_position(primary)
        await _wait_caught_up(tmc, candidate, start, wait_replicas_timeout)
        log.info("%s: demoting %s of %s", ACTION, primary.alias, info.name)
        await tmc.set_read_only(primary)
        try:
            final = await tmc.primary_position(primary)
            await _wait_caught_up(tmc, candidate, final, wait_replicas_timeout)
        except ShardlineError as exc:
            await _undo_demotion(tmc, primary, exc)
            raise

        followers = [
            Follower(primary, MariadbGTIDSet.parse(final)),
            *(
                Follower.of(status)
                for alias, status in statuses.items()
                if alias not in (primary.alias, candidate.alias)
            ),
        ]
        result = await promote_and_reparent(ts, tmc, held, info, candidate, followers, ACTION)
        result.warnings.extend(f"tablet {alias} not reparented: {error}" for alias, error in failures.items())
        return result


def _choose_candidate(
    info: ShardInfo,
    primary: Tablet,
    statuses: dict[TabletAlias, TabletStatus],
    failures: dict[TabletAlias, ShardlineError],
    requested: Tablet | None,
) -> Tablet:
    """The requested tablet if it can take over; otherwise the most caught-up REPLICA replicating from the
    primary, in the primary's cell if there is one there."""
    if requested is not None:
        if requested.alias in failures:
            raise Unavailable(f"cannot reach tablet {requested.alias}: {failures[requested.alias]}")
        replication = statuses[requested.alias].replication
        if replication is None or not replication.replicates_from(primary):
            source = f"{replication.source_host}:{replication.source_port}" if replication else "nowhere"
            raise FailedPrecondition(
                f"tablet {requested.alias} replicates from {source}, not from primary {primary.alias} at "
                f"{primary.mysql_host}:{primary.mysql_port}, so it cannot catch up"
            )
        return requested
    healthy = [
        status
        for status in statuses.values()
        if status.tablet.type == TabletType.REPLICA
        and status.replication is not None
        and status.replication.running
        and status.replication.replicates_from(primary)
    ]
    same_cell = [status for status in healthy if status.alias.cell == primary.alias.cell]
    best = most_advanced(same_cell or healthy, key=lambda status: status.binlog_position)  # applied, not received
    if not best:
        if healthy:
            raise FailedPrecondition(f"the replicas of {info.name} have diverged: name the new primary")
        raise FailedPrecondition(f"shard {info.name} has no healthy REPLICA replicating from {primary.alias}")
    return best[0].tablet


async def _wait_caught_up(tmc: TabletManagerClient, candidate: Tablet, position: str, timeout: float) -> None:
    try:
        await tmc.wait_for_position(candidate, position, timeout)
    except ShardlineError as exc:
        error = copy.copy(exc)
        error.message = f"candidate {candidate.alias} did not catch up with the primary: {exc}"
        raise error from exc


async def _undo_demotion(tmc: TabletManagerClient, primary: Tablet, cause: ShardlineError) -> None:
    try:
        await tmc.set_read_write(primary)
    except ShardlineError as exc:
        cause.message += f"; and primary {primary.alias} could not be made writable again: {exc}"
    else:
        cause.message += f"; primary {primary.alias} is writable again"
