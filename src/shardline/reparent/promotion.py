"""The second half of every reparent, once the new primary has every acknowledged write: promote it, record
it in topo, point the other tablets at it and write the reparent journal."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shardline.errors import FailedPrecondition, ShardlineError
from shardline.mysqlctl.flavor import MariadbGTIDSet
from shardline.reparent import durability
from shardline.reparent.lock import check_locked
from shardline.reparent.replication import TabletStatus
from shardline.reparent.shard import ShardInfo
from shardline.tablet.client import TabletManagerClient
from shardline.topo.contract import Lock
from shardline.topo.records import Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)


@dataclass
class ReparentResult:
    """What a reparent did; ``warnings`` name the tablets it could not point at the new primary."""

    action: str
    keyspace: str
    shard: str
    old_primary: TabletAlias | None
    new_primary: TabletAlias
    position: str
    """The new primary's position when it was promoted."""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "keyspace": self.keyspace,
            "shard": self.shard,
            "old_primary": str(self.old_primary) if self.old_primary else None,
            "new_primary": str(self.new_primary),
            "position": self.position,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Follower:
    """A tablet to put under the new primary. A tablet that replicated keeps its replica position
    (``resume_at`` None); a former primary, or a tablet that never replicated, resumes after its own binlog."""

    tablet: Tablet
    resume_at: MariadbGTIDSet | None

    @classmethod
    def of(cls, status: TabletStatus) -> Follower:
        replicated = status.replication is not None and status.tablet.type != TabletType.PRIMARY
        return cls(status.tablet, None if replicated else status.binlog_position)


async def promote_and_reparent(
    ts: TopoServer,
    tmc: TabletManagerClient,
    lock: Lock,
    info: ShardInfo,
    candidate: Tablet,
    followers: list[Follower],
    action: str,
) -> ReparentResult:
    """Promotes ``candidate`` (replication reset, read-write, semi-sync per the durability policy, type PRIMARY
    with a new term), records it as the shard's primary, points ``followers`` at it and writes the reparent
    journal. Past the promotion nothing is undone: a follower that fails becomes a warning."""
    check_locked(lock, info.keyspace, info.shard)
    await durability.prepare_primary(tmc, candidate)
    position = await tmc.init_primary(candidate)
    await durability.apply_primary(tmc, candidate, info.durability_policy)
    await record_primary(ts, lock, info, candidate.alias)
    log.info("%s: %s is the primary of %s at %s", action, candidate.alias, info.name, position)

    new_position = MariadbGTIDSet.parse(position)
    outcomes = await asyncio.gather(
        *(follow(ts, tmc, info, candidate, new_position, follower) for follower in followers),
        return_exceptions=True,
    )
    result = ReparentResult(action, info.keyspace, info.shard, info.primary_alias, candidate.alias, position)
    for follower, outcome in zip(followers, outcomes, strict=True):
        if isinstance(outcome, ShardlineError):
            result.warnings.append(f"tablet {follower.tablet.alias} does not replicate from the new primary: {outcome}")
        elif isinstance(outcome, BaseException):
            raise outcome
    try:
        await tmc.populate_reparent_journal(candidate, time.time_ns(), action, candidate.alias, position)
    except ShardlineError as exc:
        result.warnings.append(f"cannot write the reparent journal on {candidate.alias}: {exc}")
    for warning in result.warnings:
        log.warning("%s on %s: %s", action, info.name, warning)
    return result


async def record_primary(ts: TopoServer, lock: Lock, info: ShardInfo, alias: TabletAlias) -> None:
    """Writes ``alias`` and its term start into the Shard record (the lock must still be held) and rebuilds
    the keyspace's serving graph."""
    check_locked(lock, info.keyspace, info.shard)
    term_start = (await ts.get_tablet(alias)).primary_term_start_time
    await ts.update_shard_fields(
        info.keyspace,
        info.shard,
        lambda shard: dataclasses.replace(shard, primary_alias=alias, primary_term_start_time=term_start),
    )
    try:
        await ts.rebuild_srv_keyspace(info.keyspace)
    except FailedPrecondition as exc:  # other shards of the keyspace are not there yet
        log.info("serving graph of %s not rebuilt: %s", info.keyspace, exc)


async def follow(
    ts: TopoServer,
    tmc: TabletManagerClient,
    info: ShardInfo,
    primary: Tablet,
    primary_position: MariadbGTIDSet,
    follower: Follower,
) -> None:
    """Points ``follower`` at ``primary`` (whose position is ``primary_position``) with the semi-sync settings
    of the durability policy; refused for a tablet that has transactions the primary lacks."""
    if follower.resume_at is None:
        await tmc.set_replication_source(follower.tablet, primary.alias)
    elif primary_position.contains(follower.resume_at):
        await tmc.init_replica(follower.tablet, primary.alias, str(follower.resume_at))
    else:
        raise FailedPrecondition(
            f"its binlog has transactions the new primary lacks ({follower.resume_at} is not within "
            f"{primary_position}); rebuild it from a backup"
        )
    tablet = await ts.get_tablet(follower.tablet.alias)  # init_replica may have changed its type
    await durability.ensure_replica(tmc, tablet, info.durability_policy)
