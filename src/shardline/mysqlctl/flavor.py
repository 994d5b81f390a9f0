"""Everything that differs between GTID flavors (MariaDB here; MySQL 8 would be a sibling): the position type
and the replication SQL. Methods take a PyMySQL connection with root privileges and block; run them in a
worker thread from asyncio code."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import pymysql

from shardline.errors import InvalidArgument
from shardline.mysqlctl.query import query, query_dicts
from shardline.mysqlctl.users import Credentials

Connection = pymysql.connections.Connection
PositionT = TypeVar("PositionT")

_UINT32 = 2**32
_UINT64 = 2**64


@dataclass(frozen=True, order=True)
class MariadbGTID:
    """One MariaDB GTID, ``domain-server_id-sequence``."""

    domain: int
    server_id: int
    sequence: int

    @classmethod
    def parse(cls, text: str) -> MariadbGTID:
        parts = text.strip().split("-")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise InvalidArgument(f"invalid MariaDB GTID {text!r}: expected domain-server_id-sequence")
        domain, server_id, sequence = (int(part) for part in parts)
        if domain >= _UINT32 or server_id >= _UINT32 or sequence >= _UINT64:
            raise InvalidArgument(f"invalid MariaDB GTID {text!r}: number out of range")
        return cls(domain, server_id, sequence)

    def __str__(self) -> str:
        return f"{self.domain}-{self.server_id}-{self.sequence}"


@dataclass(frozen=True, init=False)
class MariadbGTIDSet:
    """A MariaDB replication position: at most one GTID per domain, e.g. ``0-100-12,1-200-3``."""

    gtids: tuple[MariadbGTID, ...] = ()

    def __init__(self, gtids: Iterable[MariadbGTID] = ()) -> None:
        ordered = tuple(sorted(gtids))
        domains = [gtid.domain for gtid in ordered]
        if len(set(domains)) != len(domains):
            raise InvalidArgument(
                f"invalid MariaDB GTID position: more than one GTID for a domain in {ordered}"
            )
        object.__setattr__(self, "gtids", ordered)

    @classmethod
    def parse(cls, text: str) -> MariadbGTIDSet:
        """Parses ``gtid_binlog_pos`` / ``gtid_slave_pos`` text; the empty string is the empty position."""
        return cls(MariadbGTID.parse(part) for part in text.split(",") if part.strip())

    def __str__(self) -> str:
        return ",".join(str(gtid) for gtid in self.gtids)

    def sequence(self, domain: int) -> int | None:
        """The sequence number reached in ``domain``, or None if the position has none there."""
        return next((gtid.sequence for gtid in self.gtids if gtid.domain == domain), None)

    def contains(self, other: MariadbGTIDSet) -> bool:
        """True if this position is at or past ``other`` in every domain of ``other``."""
        for gtid in other.gtids:
            reached = self.sequence(gtid.domain)
            if reached is None or reached < gtid.sequence:
                return False
        return True


@dataclass(frozen=True)
class ReplicationStatus(Generic[PositionT]):
    """A replica's view of its replication: threads, source, lag and applied position."""

    io_running: bool
    sql_running: bool
    source_host: str
    source_port: int
    lag_seconds: int | None
    position: PositionT
    last_error: str


class Flavor(ABC, Generic[PositionT]):
    """The replication SQL of one server flavor and its position type."""

    @abstractmethod
    def parse_position(self, text: str) -> PositionT:
        """The position written as text."""

    @abstractmethod
    def primary_position(self, conn: Connection) -> PositionT:
        """Everything this server has written to its binlog."""

    @abstractmethod
    def replication_status(self, conn: Connection) -> ReplicationStatus[PositionT] | None:
        """The replica's status, or None if no replication source is configured."""

    @abstractmethod
    def set_replication_source(
        self,
        conn: Connection,
        host: str,
        port: int,
        credentials: Credentials,
        *,
        heartbeat: float = 1.0,
        connect_retry: int = 1,
    ) -> None:
        """Stops replication and points it at ``host:port``, resuming from the replica's own position.
        Replication stays stopped until :meth:`start_replication`."""

    @abstractmethod
    def start_replication(self, conn: Connection) -> None:
        """Starts the IO and SQL threads."""

    @abstractmethod
    def stop_replication(self, conn: Connection) -> None:
        """Stops the IO and SQL threads (nothing to do if stopped)."""

    @abstractmethod
    def reset_replication(self, conn: Connection) -> None:
        """Stops replication and forgets the source and the replica position."""

    @abstractmethod
    def wait_for_position(self, conn: Connection, position: PositionT, timeout: float) -> bool:
        """Waits until the replica has applied ``position``; False if ``timeout`` seconds passed first."""

    @abstractmethod
    def set_read_only(self, conn: Connection, read_only: bool) -> None:
        """Makes the server refuse (or accept) writes from non-admin users."""

    @abstractmethod
    def enable_semi_sync_primary(self, conn: Connection, enabled: bool) -> None:
        """Makes commits wait for (or stop waiting for) a semi-sync replica's acknowledgement."""

    @abstractmethod
    def enable_semi_sync_replica(self, conn: Connection, enabled: bool) -> None:
        """Makes this replica acknowledge (or stop acknowledging) events to a semi-sync primary."""

    @abstractmethod
    def set_replica_position(self, conn: Connection, position: PositionT) -> None:
        """Sets where a restored or new replica resumes; replication must be stopped."""


def _on_off(enabled: bool) -> str:
    return "ON" if enabled else "OFF"


class MariadbFlavor(Flavor[MariadbGTIDSet]):
    """MariaDB GTID replication (``MASTER_USE_GTID=slave_pos``, built-in semi-sync)."""

    def parse_position(self, text: str) -> MariadbGTIDSet:
        return MariadbGTIDSet.parse(text)

    def primary_position(self, conn: Connection) -> MariadbGTIDSet:
        return MariadbGTIDSet.parse(query(conn, "SELECT @@GLOBAL.gtid_binlog_pos")[0][0])

    def replication_status(self, conn: Connection) -> ReplicationStatus[MariadbGTIDSet] | None:
        rows = query_dicts(conn, "SHOW SLAVE STATUS")
        if not rows:
            return None
        row = rows[0]
        errors = [row[column] for column in ("Last_IO_Error", "Last_SQL_Error") if row[column]]
        return ReplicationStatus(
            io_running=row["Slave_IO_Running"] == "Yes",
            sql_running=row["Slave_SQL_Running"] == "Yes",
            source_host=row["Master_Host"],
            source_port=int(row["Master_Port"]),
            lag_seconds=None if row["Seconds_Behind_Master"] is None else int(row["Seconds_Behind_Master"]),
            position=MariadbGTIDSet.parse(query(conn, "SELECT @@GLOBAL.gtid_slave_pos")[0][0]),
            last_error="; ".join(errors),
        )

    def set_replication_source(
        self,
        conn: Connection,
        host: str,
        port: int,
        credentials: Credentials,
        *,
        heartbeat: float = 1.0,
        connect_retry: int = 1,
    ) -> None:
        if not host:
            raise InvalidArgument("replication source host must not be empty")
        if not 0 < port < 65536:
            raise InvalidArgument(f"invalid replication source port {port}: must be 1..65535")
        if not 0.001 <= heartbeat <= 4294967:
            raise InvalidArgument(f"invalid heartbeat {heartbeat}: must be 0.001..4294967 seconds")
        if connect_retry < 1:
            raise InvalidArgument(f"invalid connect_retry {connect_retry}: must be at least 1 second")
        self.stop_replication(conn)
        query(
            conn,
            "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, MASTER_PASSWORD=%s, "
            "MASTER_USE_GTID=slave_pos, MASTER_HEARTBEAT_PERIOD=%s, MASTER_CONNECT_RETRY=%s",
            (host, port, credentials.user, credentials.password, float(heartbeat), connect_retry),
        )

    def start_replication(self, conn: Connection) -> None:
        query(conn, "START SLAVE")

    def stop_replication(self, conn: Connection) -> None:
        query(conn, "STOP SLAVE")

    def reset_replication(self, conn: Connection) -> None:
        self.stop_replication(conn)
        query(conn, "RESET SLAVE ALL")
        query(conn, "SET GLOBAL gtid_slave_pos = ''")

    def wait_for_position(self, conn: Connection, position: MariadbGTIDSet, timeout: float) -> bool:
        if timeout < 0:
            raise InvalidArgument(f"invalid timeout {timeout}: must not be negative")
        return query(conn, "SELECT MASTER_GTID_WAIT(%s, %s)", (str(position), timeout))[0][0] == 0

    def set_read_only(self, conn: Connection, read_only: bool) -> None:
        query(conn, f"SET GLOBAL read_only = {_on_off(read_only)}")

    def enable_semi_sync_primary(self, conn: Connection, enabled: bool) -> None:
        query(conn, f"SET GLOBAL rpl_semi_sync_master_enabled = {_on_off(enabled)}")

    def enable_semi_sync_replica(self, conn: Connection, enabled: bool) -> None:
        query(conn, f"SET GLOBAL rpl_semi_sync_slave_enabled = {_on_off(enabled)}")
        status = self.replication_status(conn)
        if status is not None and status.io_running:  # the IO thread reads the setting when it connects
            query(conn, "STOP SLAVE IO_THREAD")
            query(conn, "START SLAVE IO_THREAD")

    def set_replica_position(self, conn: Connection, position: MariadbGTIDSet) -> None:
        query(conn, "SET GLOBAL gtid_slave_pos = %s", (str(position),))
