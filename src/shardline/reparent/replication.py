"""What a tablet's MariaDB says about its role, read with the FullStatus RPC: read-only or not, its positions,
its semi-sync settings and its replication (source, threads, and what the IO thread has received)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from shardline.errors import ShardlineError
from shardline.mysqlctl.flavor import MariadbGTID, MariadbGTIDSet
from shardline.reparent.durability import SemiSyncSettings
from shardline.tablet.client import TabletManagerClient
from shardline.topo.records import Tablet, TabletAlias


def union(positions: Iterable[MariadbGTIDSet]) -> MariadbGTIDSet:
    """The position that contains all of ``positions``: the furthest GTID of each domain."""
    furthest: dict[int, MariadbGTID] = {}
    for position in positions:
        for gtid in position.gtids:
            if gtid.domain not in furthest or furthest[gtid.domain].sequence < gtid.sequence:
                furthest[gtid.domain] = gtid
    return MariadbGTIDSet(furthest.values())


@dataclass(frozen=True)
class Replication:
    """The replica side of a tablet, from SHOW SLAVE STATUS."""

    source_host: str
    source_port: int
    io_state: str
    """Slave_IO_Running: ``Yes``, ``Connecting`` (the source does not answer) or ``No``."""
    sql_running: bool
    received: MariadbGTIDSet
    """Gtid_IO_Pos: the last transaction the IO thread received whole (applied or still in the relay log)."""
    last_error: str

    @property
    def io_running(self) -> bool:
        return self.io_state == "Yes"

    @property
    def running(self) -> bool:
        return self.io_running and self.sql_running

    def replicates_from(self, tablet: Tablet) -> bool:
        return (self.source_host, self.source_port) == (tablet.mysql_host, tablet.mysql_port)


@dataclass(frozen=True)
class TabletStatus:
    """One tablet's MariaDB state at one moment."""

    tablet: Tablet
    read_only: bool
    binlog_position: MariadbGTIDSet
    """gtid_binlog_pos: everything in this server's binlog (with log_slave_updates, replicated writes too)."""
    semi_sync: SemiSyncSettings
    replication: Replication | None
    """None when no replication source is configured."""

    @property
    def alias(self) -> TabletAlias:
        return self.tablet.alias

    @property
    def position(self) -> MariadbGTIDSet:
        """Everything this tablet has, or will have once its relay log is applied."""
        if self.replication is None:
            return self.binlog_position
        return union((self.binlog_position, self.replication.received))


async def tablet_status(tmc: TabletManagerClient, tablet: Tablet, *, stop_io_thread: bool = False) -> TabletStatus:
    """Reads the tablet's state (its FullStatus), after stopping its replication IO thread if asked (so that
    its positions stay put while its SQL thread applies what it received); Unavailable if its agent or MariaDB
    does not answer."""
    if stop_io_thread:
        await tmc.execute_fetch_as_dba(tablet, "STOP SLAVE IO_THREAD")
    status = await tmc.full_status(tablet)
    replication = None
    row = status["slave_status"]
    if row is not None:
        errors = [row[column] for column in ("Last_IO_Error", "Last_SQL_Error") if row[column]]
        replication = Replication(
            source_host=row["Master_Host"] or "",
            source_port=int(row["Master_Port"] or 0),
            io_state=row["Slave_IO_Running"] or "No",
            sql_running=row["Slave_SQL_Running"] == "Yes",
            received=MariadbGTIDSet.parse(row["Gtid_IO_Pos"] or ""),
            last_error="; ".join(errors),
        )
    return TabletStatus(
        tablet=tablet,
        read_only=status["read_only"],
        binlog_position=MariadbGTIDSet.parse(status["gtid_binlog_pos"]),
        semi_sync=SemiSyncSettings.from_row(status["semi_sync"]),
        replication=replication,
    )


async def tablet_statuses(
    tmc: TabletManagerClient, tablets: Iterable[Tablet], *, stop_io_thread: bool = False
) -> tuple[dict[TabletAlias, TabletStatus], dict[TabletAlias, ShardlineError]]:
    """The status of every tablet that answers, and the error of every one that does not."""
    tablets = list(tablets)
    results = await asyncio.gather(
        *(tablet_status(tmc, tablet, stop_io_thread=stop_io_thread) for tablet in tablets), return_exceptions=True
    )
    statuses: dict[TabletAlias, TabletStatus] = {}
    failures: dict[TabletAlias, ShardlineError] = {}
    for tablet, result in zip(tablets, results, strict=True):
        if isinstance(result, ShardlineError):
            failures[tablet.alias] = result
        elif isinstance(result, BaseException):
            raise result
        else:
            statuses[tablet.alias] = result
    return statuses, failures


def most_advanced(
    statuses: Sequence[TabletStatus], key: Callable[[TabletStatus], MariadbGTIDSet] = lambda s: s.position
) -> list[TabletStatus]:
    """The statuses whose position (``key``) contains every other's (several when equal), in their order."""
    return [s for s in statuses if all(key(s).contains(key(other)) for other in statuses)]
