"""Recoveries. Each takes the shard's lock, analyzes a fresh snapshot, and acts only if the problem is still
there: a reparent or an operator may have fixed it meanwhile."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shardline.errors import InvalidArgument, ShardlineError
from shardline.orc.analysis import Analysis, Problem, Recovery, ShardState, analyze, shard_state
from shardline.reparent import durability
from shardline.reparent.emergency import emergency_reparent_shard
from shardline.reparent.promotion import Follower, follow
from shardline.tablet.client import TabletManagerClient
from shardline.topo.contract import Lock, LockTimeout
from shardline.topo.locks import lock_shard
from shardline.topo.server import TopoServer

SUCCESS, FAILURE, RESOLVED, SKIPPED = "success", "failure", "resolved", "skipped"
"""Results: repaired; the repair failed; gone before the repair; not tried (another actor holds the lock)."""


@dataclass(frozen=True)
class RecoveryRecord:
    problem: Problem
    result: str
    detail: str
    started: float
    """Unix time."""
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return self.problem.to_json() | {
            "result": self.result,
            "result_detail": self.detail,
            "started": self.started,
            "seconds": round(self.seconds, 3),
        }


async def run_recovery(
    ts: TopoServer,
    probe: TabletManagerClient,
    tmc: TabletManagerClient,
    problem: Problem,
    *,
    lock_timeout: float,
    wait_replicas_timeout: float,
) -> RecoveryRecord:
    """Runs the problem's recovery under the shard lock; ``probe`` reads tablet state (short timeouts), ``tmc``
    changes it."""
    recovery = problem.analysis.recovery
    if recovery is None:
        raise InvalidArgument(f"{problem.analysis.value} is reported only; it has no recovery")
    started, clock = time.time(), time.monotonic()

    def record(result: str, detail: str) -> RecoveryRecord:
        return RecoveryRecord(problem, result, detail, started, time.monotonic() - clock)

    target = str(problem.tablet) if problem.tablet else f"{problem.keyspace}/{problem.shard}"
    action = f"orc {recovery.value} for {problem.analysis.value} on {target}"
    try:
        async with lock_shard(ts, problem.keyspace, problem.shard, action, timeout=lock_timeout) as lock:
            state = await shard_state(ts, probe, problem.keyspace, problem.shard)
            if problem.key not in {current.key for current in analyze(state)}:
                return record(RESOLVED, "gone by the time the shard was locked")
            detail = await _repair(ts, tmc, lock, state, problem, recovery, wait_replicas_timeout)
    except LockTimeout as exc:
        return record(SKIPPED, str(exc))
    except ShardlineError as exc:
        return record(FAILURE, str(exc))
    return record(SUCCESS, detail)


async def _repair(
    ts: TopoServer,
    tmc: TabletManagerClient,
    lock: Lock,
    state: ShardState,
    problem: Problem,
    recovery: Recovery,
    wait_replicas_timeout: float,
) -> str:
    info = state.info
    if recovery in (Recovery.RECOVER_DEAD_PRIMARY, Recovery.ELECT_NEW_PRIMARY):
        result = await emergency_reparent_shard(
            ts,
            tmc,
            info.keyspace,
            info.shard,
            wait_replicas_timeout=wait_replicas_timeout,
            lock=lock,
            action=recovery.value,
        )
        return "; ".join([f"promoted {result.new_primary} at {result.position}", *result.warnings])

    assert info.primary_alias is not None and problem.tablet is not None  # the analysis found a live primary
    primary = state.statuses[info.primary_alias]
    status = state.statuses[problem.tablet]
    policy = info.durability_policy
    match problem.analysis:
        case Analysis.PRIMARY_IS_READ_ONLY:
            await tmc.set_read_write(status.tablet)
            return "made the primary writable"
        case Analysis.PRIMARY_SEMI_SYNC_MUST_BE_SET | Analysis.PRIMARY_SEMI_SYNC_MUST_NOT_BE_SET:
            await durability.apply_primary(tmc, status.tablet, policy)
            return f"semi-sync of the primary set for policy {policy}"
        case Analysis.REPLICA_SEMI_SYNC_MUST_BE_SET | Analysis.REPLICA_SEMI_SYNC_MUST_NOT_BE_SET:
            await durability.apply_replica(tmc, status.tablet, policy, restart_io=True)
            return f"semi-sync of the replica set for policy {policy}"
        case Analysis.REPLICA_IS_WRITABLE:
            await tmc.set_read_only(status.tablet)
            return "made the replica read-only"
        case Analysis.REPLICATION_STOPPED:
            await tmc.start_replication(status.tablet)
            return "restarted replication"
        case _:
            await follow(ts, tmc, info, primary.tablet, primary.binlog_position, Follower.of(status))
            return f"replicates from {primary.alias}"
