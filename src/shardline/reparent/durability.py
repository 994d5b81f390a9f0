"""Durability policies: what a keyspace's policy asks of the semi-synchronous replication settings of its
primaries and replicas, checked and applied through the tablets' DBA RPC.

MariaDB's built-in semi-sync is used. Under ``semi_sync`` a primary's commit returns only after one replica
acknowledged it (``AFTER_SYNC``: no client sees the commit before that), and the primary never falls back to
asynchronous replication (``rpl_semi_sync_master_timeout`` is decades, not MariaDB's 10 s). Only REPLICA
tablets acknowledge, so an acknowledged write is always on a tablet that may be promoted. ``cross_cell`` acts
as ``semi_sync``: MariaDB cannot choose which replica acknowledges.
"""

from __future__ import annotations

from dataclasses import dataclass

from shardline.errors import InvalidArgument
from shardline.tablet.client import TabletManagerClient
from shardline.topo.records import DURABILITY_POLICIES, Tablet, TabletType

SEMI_SYNC_POLICIES = ("semi_sync", "cross_cell")
SEMI_SYNC_TIMEOUT_MS = 10**12
"""How long a semi-sync primary waits for an acknowledgement: about 31 years, i.e. it never gives up."""
SEMI_SYNC_WAIT_POINT = "AFTER_SYNC"

SETTINGS_SQL = (
    "@@GLOBAL.rpl_semi_sync_master_enabled, @@GLOBAL.rpl_semi_sync_slave_enabled, "
    "@@GLOBAL.rpl_semi_sync_master_timeout, @@GLOBAL.rpl_semi_sync_master_wait_point"
)
"""The select-list that :meth:`SemiSyncSettings.from_row` reads."""


def check_policy(policy: str) -> str:
    if policy not in DURABILITY_POLICIES:
        raise InvalidArgument(
            f"invalid durability policy {policy!r}: expected one of {', '.join(DURABILITY_POLICIES)}"
        )
    return policy


def semi_sync_required(policy: str) -> bool:
    return policy in SEMI_SYNC_POLICIES


def acknowledges(tablet_type: TabletType, policy: str) -> bool:
    """Whether a replica of this type sends semi-sync acknowledgements under ``policy``."""
    return semi_sync_required(policy) and tablet_type == TabletType.REPLICA


@dataclass(frozen=True)
class SemiSyncSettings:
    """A tablet's semi-sync variables."""

    primary_enabled: bool
    replica_enabled: bool
    timeout_ms: int
    wait_point: str

    @classmethod
    def from_row(cls, row: list[str | None]) -> SemiSyncSettings:
        """Reads the values of :data:`SETTINGS_SQL` as the DBA RPC returns them (text)."""
        primary, replica, timeout, wait_point = row
        return cls(primary == "1", replica == "1", int(timeout or 0), wait_point or "")

    def primary_ok(self, policy: str) -> bool:
        """True if a primary with these settings honours ``policy``."""
        if not semi_sync_required(policy):
            return not self.primary_enabled
        return (
            self.primary_enabled
            and self.timeout_ms >= SEMI_SYNC_TIMEOUT_MS
            and self.wait_point == SEMI_SYNC_WAIT_POINT
        )

    def replica_ok(self, tablet_type: TabletType, policy: str) -> bool:
        """True if a replica of ``tablet_type`` with these settings honours ``policy``."""
        return not self.primary_enabled and self.replica_enabled == acknowledges(tablet_type, policy)


def _on_off(enabled: bool) -> str:
    return "ON" if enabled else "OFF"


async def prepare_primary(tmc: TabletManagerClient, tablet: Tablet) -> None:
    """Sets the semi-sync timeout and wait point on a tablet about to be promoted. They take effect only once
    semi-sync is enabled on it, so no commit can ever wait with MariaDB's 10 s fallback."""
    await tmc.execute_fetch_as_dba(
        tablet,
        f"SET GLOBAL rpl_semi_sync_master_timeout = {SEMI_SYNC_TIMEOUT_MS}, "
        f"rpl_semi_sync_master_wait_point = '{SEMI_SYNC_WAIT_POINT}'",
    )


async def apply_primary(tmc: TabletManagerClient, tablet: Tablet, policy: str) -> None:
    """Makes a primary's semi-sync settings follow ``policy``."""
    required = semi_sync_required(policy)
    if required:
        await prepare_primary(tmc, tablet)
    await tmc.execute_fetch_as_dba(
        tablet,
        f"SET GLOBAL rpl_semi_sync_slave_enabled = OFF, rpl_semi_sync_master_enabled = {_on_off(required)}",
    )


async def apply_replica(tmc: TabletManagerClient, tablet: Tablet, policy: str, *, restart_io: bool) -> None:
    """Makes a replica's semi-sync settings follow ``policy``; ``restart_io`` reconnects a running IO thread,
    which reads the setting only when it connects."""
    ack = acknowledges(tablet.type, policy)
    await tmc.execute_fetch_as_dba(
        tablet, f"SET GLOBAL rpl_semi_sync_master_enabled = OFF, rpl_semi_sync_slave_enabled = {_on_off(ack)}"
    )
    if restart_io:
        await tmc.execute_fetch_as_dba(tablet, "STOP SLAVE IO_THREAD")
        await tmc.execute_fetch_as_dba(tablet, "START SLAVE IO_THREAD")


async def read_settings(tmc: TabletManagerClient, tablet: Tablet) -> SemiSyncSettings:
    result = await tmc.execute_fetch_as_dba(tablet, f"SELECT {SETTINGS_SQL}")
    return SemiSyncSettings.from_row(result["rows"][0])


async def ensure_replica(tmc: TabletManagerClient, tablet: Tablet, policy: str) -> None:
    """Applies ``policy`` to a replicating tablet unless its settings honour it already: reconnecting its IO
    thread is a last resort, as a transaction it received asynchronously is never acknowledged afterwards."""
    if not (await read_settings(tmc, tablet)).replica_ok(tablet.type, policy):
        await apply_replica(tmc, tablet, policy, restart_io=True)
