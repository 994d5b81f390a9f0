"""What is wrong with a shard, from one snapshot of its Shard record and its tablets' MariaDB state. The
analyses and recoveries carry VTOrc's names."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shardline.errors import ShardlineError
from shardline.reparent import durability
from shardline.reparent.replication import TabletStatus, tablet_statuses
from shardline.reparent.shard import ShardInfo, load_shard_info
from shardline.tablet.client import TabletManagerClient
from shardline.topo.records import Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer

REPLICA_TYPES = (TabletType.REPLICA, TabletType.RDONLY)


class Recovery(enum.StrEnum):
    ELECT_NEW_PRIMARY = "ElectNewPrimary"
    RECOVER_DEAD_PRIMARY = "RecoverDeadPrimary"
    FIX_PRIMARY = "FixPrimary"
    FIX_REPLICA = "FixReplica"


class Analysis(enum.StrEnum):
    CLUSTER_HAS_NO_PRIMARY = "ClusterHasNoPrimary"
    DEAD_PRIMARY = "DeadPrimary"
    UNREACHABLE_PRIMARY = "UnreachablePrimary"
    PRIMARY_IS_READ_ONLY = "PrimaryIsReadOnly"
    PRIMARY_SEMI_SYNC_MUST_BE_SET = "PrimarySemiSyncMustBeSet"
    PRIMARY_SEMI_SYNC_MUST_NOT_BE_SET = "PrimarySemiSyncMustNotBeSet"
    NOT_CONNECTED_TO_PRIMARY = "NotConnectedToPrimary"
    CONNECTED_TO_WRONG_PRIMARY = "ConnectedToWrongPrimary"
    REPLICATION_STOPPED = "ReplicationStopped"
    REPLICA_IS_WRITABLE = "ReplicaIsWritable"
    REPLICA_SEMI_SYNC_MUST_BE_SET = "ReplicaSemiSyncMustBeSet"
    REPLICA_SEMI_SYNC_MUST_NOT_BE_SET = "ReplicaSemiSyncMustNotBeSet"

    @property
    def recovery(self) -> Recovery | None:
        """The recovery that repairs it; None for a problem that is only reported."""
        return RECOVERIES[self]


RECOVERIES: dict[Analysis, Recovery | None] = {
    Analysis.CLUSTER_HAS_NO_PRIMARY: Recovery.ELECT_NEW_PRIMARY,
    Analysis.DEAD_PRIMARY: Recovery.RECOVER_DEAD_PRIMARY,
    Analysis.UNREACHABLE_PRIMARY: None,  # the replicas still hear from it: failing over would split the shard
    Analysis.PRIMARY_IS_READ_ONLY: Recovery.FIX_PRIMARY,
    Analysis.PRIMARY_SEMI_SYNC_MUST_BE_SET: Recovery.FIX_PRIMARY,
    Analysis.PRIMARY_SEMI_SYNC_MUST_NOT_BE_SET: Recovery.FIX_PRIMARY,
    Analysis.NOT_CONNECTED_TO_PRIMARY: Recovery.FIX_REPLICA,
    Analysis.CONNECTED_TO_WRONG_PRIMARY: Recovery.FIX_REPLICA,
    Analysis.REPLICATION_STOPPED: Recovery.FIX_REPLICA,
    Analysis.REPLICA_IS_WRITABLE: Recovery.FIX_REPLICA,
    Analysis.REPLICA_SEMI_SYNC_MUST_BE_SET: Recovery.FIX_REPLICA,
    Analysis.REPLICA_SEMI_SYNC_MUST_NOT_BE_SET: Recovery.FIX_REPLICA,
}


@dataclass(frozen=True)
class Problem:
    """One analysis of one shard, about one tablet (None: about the shard)."""

    analysis: Analysis
    keyspace: str
    shard: str
    tablet: TabletAlias | None
    detail: str

    @property
    def key(self) -> tuple[Analysis, str, str, TabletAlias | None]:
        """Identifies the problem across snapshots (the detail may change)."""
        return (self.analysis, self.keyspace, self.shard, self.tablet)

    def to_json(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis.value,
            "recovery": self.analysis.recovery.value if self.analysis.recovery else None,
            "keyspace": self.keyspace,
            "shard": self.shard,
            "tablet": str(self.tablet) if self.tablet else None,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ShardState:
    """A snapshot of one shard: topo's view and every tablet's MariaDB state (or why it did not answer)."""

    info: ShardInfo
    statuses: dict[TabletAlias, TabletStatus]
    failures: dict[TabletAlias, ShardlineError]


async def shard_state(
    ts: TopoServer, tmc: TabletManagerClient, keyspace: str, shard: str, tablets: Iterable[Tablet] | None = None
) -> ShardState:
    """The shard's records and its tablets' MariaDB state (``tablets``: as ``load_shard_info`` takes them)."""
    info = await load_shard_info(ts, keyspace, shard, tablets)
    statuses, failures = await tablet_statuses(tmc, info.tablets.values())
    return ShardState(info, statuses, failures)


def analyze(state: ShardState) -> list[Problem]:
    """The shard's problems: a missing or dead primary alone (nothing else can be repaired before it),
    otherwise the primary's problems, then each replica's."""
    info = state.info

    def problem(analysis: Analysis, tablet: TabletAlias | None, detail: str) -> Problem:
        return Problem(analysis, info.keyspace, info.shard, tablet, detail)

    replicas = [
        state.statuses[tablet.alias]
        for tablet in info.tablets.values()
        if tablet.type in REPLICA_TYPES and tablet.alias in state.statuses
    ]
    if info.primary_alias is None:
        if any(status.tablet.type == TabletType.REPLICA for status in replicas):
            return [problem(Analysis.CLUSTER_HAS_NO_PRIMARY, None, f"shard {info.name} has no primary")]
        return []
    primary = info.primary
    primary_status = state.statuses.get(info.primary_alias)
    if primary is None or primary_status is None:
        why = str(state.failures[info.primary_alias]) if primary is not None else "its tablet record is gone"
        connected = [status.alias for status in replicas if _connected_to(status, primary)]
        if replicas and not connected:
            return [problem(Analysis.DEAD_PRIMARY, info.primary_alias, f"{why}; no replica is connected to it")]
        still = ", ".join(str(alias) for alias in connected) or "no replica answers"
        return [problem(Analysis.UNREACHABLE_PRIMARY, info.primary_alias, f"{why}; still connected: {still}")]

    problems = _primary_problems(primary_status, info.durability_policy)
    for status in replicas:
        problems.extend(_replica_problems(status, primary, info.durability_policy))
    return [problem(analysis, alias, detail) for analysis, alias, detail in problems]


def _connected_to(status: TabletStatus, primary: Tablet | None) -> bool:
    replication = status.replication
    return primary is not None and replication is not None and replication.io_running and replication.replicates_from(primary)


Finding = tuple[Analysis, TabletAlias, str]


def _primary_problems(status: TabletStatus, policy: str) -> list[Finding]:
    found = []
    if status.read_only:
        found.append((Analysis.PRIMARY_IS_READ_ONLY, status.alias, "the primary is read-only"))
    if not status.semi_sync.primary_ok(policy):
        analysis = (
            Analysis.PRIMARY_SEMI_SYNC_MUST_BE_SET
            if durability.semi_sync_required(policy)
            else Analysis.PRIMARY_SEMI_SYNC_MUST_NOT_BE_SET
        )
        found.append((analysis, status.alias, f"durability policy {policy}, settings {status.semi_sync}"))
    return found


def _replica_problems(status: TabletStatus, primary: Tablet, policy: str) -> list[Finding]:
    found = []
    replication = status.replication
    if replication is None:
        found.append((Analysis.NOT_CONNECTED_TO_PRIMARY, status.alias, "no replication source configured"))
    elif not replication.replicates_from(primary):
        source = f"{replication.source_host}:{replication.source_port}"
        found.append((Analysis.CONNECTED_TO_WRONG_PRIMARY, status.alias, f"replicates from {source}, not {primary.alias}"))
    elif not replication.running:
        detail = f"IO thread {replication.io_state}, SQL thread {'Yes' if replication.sql_running else 'No'}"
        if replication.last_error:
            detail += f": {replication.last_error}"
        found.append((Analysis.REPLICATION_STOPPED, status.alias, detail))
    elif not status.semi_sync.replica_ok(status.tablet.type, policy):
        analysis = (
            Analysis.REPLICA_SEMI_SYNC_MUST_BE_SET
            if durability.acknowledges(status.tablet.type, policy)
            else Analysis.REPLICA_SEMI_SYNC_MUST_NOT_BE_SET
        )
        found.append((analysis, status.alias, f"durability policy {policy}, settings {status.semi_sync}"))
    if not status.read_only:
        found.append((Analysis.REPLICA_IS_WRITABLE, status.alias, "a replica accepts writes"))
    return found
