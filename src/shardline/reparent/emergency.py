"""EmergencyReparentShard: the primary is dead (or must be abandoned); promote the replica that has the most.

Under the shard lock: the old primary is fenced (made read-only) if it still answers; every reachable tablet
stops its replication IO thread, so that positions stay put, and reports what it received; the candidate is a
REPLICA that has everything any reachable tablet received (with a semi-sync policy that includes every
acknowledged write). It applies its relay log, is promoted, and the others follow it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from shardline.errors import FailedPrecondition, InvalidArgument, ShardlineError, Unavailable
from shardline.mysqlctl.flavor import MariadbGTIDSet
from shardline.reparent import durability
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

ACTION = "EmergencyReparentShard"
DEFAULT_WAIT_REPLICAS_TIMEOUT = 30.0
FENCE_TIMEOUT = 5.0
"""How long the old primary gets to answer before it is taken for dead."""


async def emergency_reparent_shard(
    ts: TopoServer,
    tmc: TabletManagerClient,
    keyspace: str,
    shard: str,
    *,
    new_primary: TabletAlias | None = None,
    wait_replicas_timeout: float = DEFAULT_WAIT_REPLICAS_TIMEOUT,
    lock: Lock | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    action: str = ACTION,
) -> ReparentResult:
    """Promotes ``new_primary`` (refused if any reachable tablet received more) or, by default, the most
    advanced REPLICA. A refusal restarts the IO threads it stopped. Also elects the first primary of a shard
    that has none (``action`` names the caller's reason in the lock and the reparent journal)."""
    if wait_replicas_timeout <= 0:
        raise InvalidArgument(f"{ACTION}: wait_replicas_timeout must be positive, got {wait_replicas_timeout}")
    lock_action = f"{action}({new_primary or 'most advanced replica'})"
    async with shard_locked(ts, keyspace, shard, lock_action, lock=lock, timeout=lock_timeout) as held:
        info = await load_shard_info(ts, keyspace, shard)
        requested = await promotable_tablet(ts, info, new_primary) if new_primary is not None else None
        old = info.primary
        fenced = await _fence(old) if old is not None else None
        statuses, failures = await tablet_statuses(tmc, info.others(info.primary_alias), stop_io_thread=True)
        try:
            candidate = _choose_candidate(info, statuses, failures, requested)
            _check_durability(info, candidate, statuses)
            await _catch_up(tmc, candidate, list(statuses.values()), wait_replicas_timeout)
        except ShardlineError:
            await _restart_io_threads(tmc, statuses.values())
            raise

        followers = [Follower.of(status) for status in statuses.values() if status is not candidate]
        if old is not None and fenced is not None:
            followers.append(Follower(old, fenced))
        result = await promote_and_reparent(ts, tmc, held, info, candidate.tablet, followers, action)
        if old is not None and fenced is None:
            result.warnings.append(
                f"old primary {old.alias} does not answer: it follows the new primary when its agent restarts"
            )
        result.warnings.extend(f"tablet {alias} not reparented: {error}" for alias, error in failures.items())
        return result


async def _fence(primary: Tablet) -> MariadbGTIDSet | None:
    """Makes the old primary read-only if it still answers, so that it cannot take writes the new primary
    will not have; its final position, or None if it is unreachable."""
    try:
        async with TabletManagerClient(timeout=FENCE_TIMEOUT) as quick:
            await quick.set_read_only(primary)
            return MariadbGTIDSet.parse(await quick.primary_position(primary))
    except ShardlineError as exc:
        log.info("old primary %s does not answer: %s", primary.alias, exc)
        return None


def _choose_candidate(
    info: ShardInfo,
    statuses: dict[TabletAlias, TabletStatus],
    failures: dict[TabletAlias, ShardlineError],
    requested: Tablet | None,
) -> TabletStatus:
    if not statuses:
        unreachable = "; ".join(f"{alias}: {error}" for alias, error in failures.items()) or "it has no other tablet"
        raise Unavailable(f"no replica of shard {info.name} can be reached, so none can be promoted ({unreachable})")
    if requested is not None:
        if requested.alias not in statuses:
            raise Unavailable(f"cannot reach tablet {requested.alias}: {failures[requested.alias]}")
        candidate = statuses[requested.alias]
        ahead = [status for status in statuses.values() if not candidate.position.contains(status.position)]
        if ahead:
            raise FailedPrecondition(
                f"tablet {requested.alias} is behind: it has {candidate.position or 'nothing'}, but "
                + ", ".join(f"{status.alias} has {status.position}" for status in ahead)
            )
        return candidate
    replicas = [status for status in statuses.values() if status.tablet.type == TabletType.REPLICA]
    if not replicas:
        raise FailedPrecondition(f"shard {info.name} has no reachable REPLICA to promote")
    old_cell = info.primary_alias.cell if info.primary_alias is not None else None
    best = most_advanced(replicas)
    if not best:
        raise FailedPrecondition(f"the replicas of shard {info.name} have diverged: name the new primary")
    return next((status for status in best if status.alias.cell == old_cell), best[0])


def _check_durability(info: ShardInfo, candidate: TabletStatus, statuses: dict[TabletAlias, TabletStatus]) -> None:
    if not durability.semi_sync_required(info.durability_policy):
        return
    if not any(
        status.tablet.type == TabletType.REPLICA for status in statuses.values() if status is not candidate
    ):
        raise FailedPrecondition(
            f"keyspace {info.keyspace} has durability policy {info.durability_policy}: a new primary needs "
            f"another reachable REPLICA to acknowledge its writes, and {info.name} has none besides "
            f"{candidate.alias} (SetKeyspaceDurabilityPolicy none to promote it anyway)"
        )


async def _catch_up(
    tmc: TabletManagerClient, candidate: TabletStatus, statuses: list[TabletStatus], timeout: float
) -> None:
    """Lets the candidate apply its relay log; if another tablet (one that may not be promoted) received more,
    the candidate first replicates that from it."""
    leader = next(iter(most_advanced(statuses)), candidate)
    if not candidate.position.contains(leader.position):
        log.info("%s catches up from %s before its promotion", candidate.alias, leader.alias)
        await tmc.set_replication_source(candidate.tablet, leader.alias)
        await tmc.wait_for_position(candidate.tablet, str(leader.position), timeout)
    elif candidate.replication is not None:
        await tmc.wait_for_position(candidate.tablet, str(candidate.replication.received), timeout)


async def _restart_io_threads(tmc: TabletManagerClient, statuses: Iterable[TabletStatus]) -> None:
    """Best effort: resumes the replication this reparent stopped before it gave up."""
    replicas = [status.tablet for status in statuses if status.replication is not None]
    await asyncio.gather(
        *(tmc.execute_fetch_as_dba(tablet, "START SLAVE IO_THREAD") for tablet in replicas), return_exceptions=True
    )
