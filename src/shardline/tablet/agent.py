"""The tablet agent: owns one MariaDB instance, publishes the tablet in topo, tracks its health and carries out
the management RPCs (the server in ``tablet.server`` maps ``POST /rpc/<Method>`` onto the methods here).

MariaDB is administered with PyMySQL as root over the Unix socket, on a fresh connection in a worker thread per
operation. State-changing RPCs are serialized by one action lock, as Vitess's tablet manager does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pymysql

from shardline.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ShardlineError,
)
from shardline.mysqlctl.flavor import MariadbFlavor, ReplicationStatus
from shardline.mysqlctl.instance import tablet_instance
from shardline.mysqlctl.probe import ProbeConnection
from shardline.mysqlctl.query import driver_error, query, query_dicts
from shardline.mysqlctl.users import REPL
from shardline.reparent.durability import (
    SEMI_SYNC_TIMEOUT_MS,
    SEMI_SYNC_WAIT_POINT,
    SETTINGS_SQL,
    acknowledges,
    semi_sync_required,
)
from shardline.tablet import sidecar
from shardline.tablet.health import UNHEALTHY_LAG_SECONDS, Health, HealthBroadcast
from shardline.topo.locks import lock_shard
from shardline.topo.records import Shard, Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 1.0
REPAIR_LOCK_TIMEOUT = 1.0
INIT_TABLET_TYPES = (TabletType.REPLICA, TabletType.RDONLY, TabletType.SPARE, TabletType.DRAINED)
_READ_TYPES = (TabletType.REPLICA, TabletType.RDONLY)

R = TypeVar("R")
Conn = pymysql.connections.Connection


@dataclass(frozen=True)
class TabletConfig:
    """How a tablet agent is started: identity, target shard, initial type and where its MariaDB lives."""

    alias: TabletAlias
    keyspace: str
    shard: str
    tablet_type: TabletType
    mysql_port: int
    root: Path
    hostname: str = "127.0.0.1"
    keep_mysql: bool = False
    """Leave MariaDB running when the agent stops."""

    def __post_init__(self) -> None:
        if self.tablet_type not in INIT_TABLET_TYPES:
            allowed = ", ".join(t.value for t in INIT_TABLET_TYPES)
            raise InvalidArgument(
                f"a tablet cannot start as {self.tablet_type.value}: use one of {allowed} "
                "(a primary is chosen with InitShardPrimary)"
            )


class TabletAgent:
    """One tablet: its MariaDB, its topo record and its health. Call :meth:`start`, then :meth:`stop`."""

    def __init__(self, ts: TopoServer, config: TabletConfig) -> None:
        self.ts = ts
        self.config = config
        self.mysql = tablet_instance(config.root, config.alias.uid, config.mysql_port)
        self.flavor = MariadbFlavor()
        self.tablet: Tablet | None = None
        self.health = HealthBroadcast()
        self._durability_policy = "none"
        self._action_lock = asyncio.Lock()
        self._health_task: asyncio.Task[None] | None = None
        self._probes = ProbeConnection(self.mysql.dba_connect)

    @property
    def alias(self) -> TabletAlias:
        return self.config.alias

    # --- lifecycle ---

    async def start(self, port: int) -> None:
        """Starts MariaDB if needed, creates the databases, publishes the tablet record (agent HTTP ``port``),
        resumes its role in the shard, and starts the health loop."""
        await self._load_durability_policy()
        await self._check_not_moved()
        shard = await self._get_or_create_shard()
        await asyncio.to_thread(self._start_mysql)
        await self._dba(sidecar.create_databases, self.config.keyspace)
        is_primary = shard.primary_alias == self.alias
        tablet_type = TabletType.PRIMARY if is_primary else self.config.tablet_type
        await self._publish(port, shard, tablet_type, shard.primary_term_start_time if is_primary else None)
        if is_primary:
            await self._dba(self._make_writable_primary)
        else:
            await self._follow_shard_primary(shard)
        await self.refresh_health()
        self._health_task = asyncio.create_task(self._health_loop(), name=f"health {self.alias}")

    async def stop(self) -> None:
        """Stops the health loop and, unless configured to keep it, MariaDB."""
        if self._health_task is not None:
            self._health_task.cancel()
            await asyncio.gather(self._health_task, return_exceptions=True)
        await asyncio.to_thread(self._probes.close)
        if not self.config.keep_mysql:
            await asyncio.to_thread(self.mysql.stop)

    async def _check_not_moved(self) -> None:
        try:
            existing = await self.ts.get_tablet(self.alias)
        except NotFound:
            return
        if (existing.keyspace, existing.shard) != (self.config.keyspace, self.config.shard):
            raise FailedPrecondition(
                f"tablet {self.alias} belongs to {existing.keyspace}/{existing.shard}, "
                f"not {self.config.keyspace}/{self.config.shard}"
            )

    async def _get_or_create_shard(self) -> Shard:
        try:
            return await self.ts.get_shard(self.config.keyspace, self.config.shard)
        except NotFound:
            pass
        try:
            return await self.ts.create_shard(self.config.keyspace, self.config.shard)
        except AlreadyExists:
            return await self.ts.get_shard(self.config.keyspace, self.config.shard)

    def _start_mysql(self) -> None:
        """Initializes and starts MariaDB; one left running on another port is restarted on the configured one."""
        self.mysql.init()
        self.mysql.start()
        if self.mysql.execute("SELECT @@port")[0][0] != self.mysql.port:
            self.mysql.stop()
            self.mysql.start()

    async def _publish(self, port: int, shard: Shard, tablet_type: TabletType, term_start: float | None) -> None:
        record = Tablet(
            alias=self.alias,
            hostname=self.config.hostname,
            mysql_host=self.mysql.host,
            mysql_port=self.mysql.port,
            port=port,
            keyspace=self.config.keyspace,
            shard=self.config.shard,
            key_range=shard.key_range,
            type=tablet_type,
            db_name=self.config.keyspace,
            primary_term_start_time=term_start,
            mysql_socket=str(self.mysql.socket),
        )
        try:
            await self.ts.create_tablet(record)
        except AlreadyExists:
            await self.ts.update_tablet_fields(self.alias, lambda _: record)
        self.tablet = record

    async def _follow_shard_primary(self, shard: Shard) -> None:
        """As a non-primary: read-only, replicating from the shard's primary at its current address."""
        await self._dba(self._follow, await self._shard_primary(shard))

    async def _shard_primary(self, shard: Shard) -> Tablet | None:
        if shard.primary_alias is None or shard.primary_alias == self.alias:
            return None
        try:
            return await self.ts.get_tablet(shard.primary_alias)
        except NotFound:
            log.warning("shard primary %s has no tablet record; not replicating", shard.primary_alias)
            return None

    def _follow(self, conn: Conn, primary: Tablet | None) -> None:
        self.flavor.set_read_only(conn, True)
        self.flavor.enable_semi_sync_primary(conn, False)
        if primary is None:
            return
        status = self.flavor.replication_status(conn)
        # Stopped first: the IO thread reads the semi-sync setting only when it connects, and MariaDB may have
        # started (and connected) it before this runs.
        self.flavor.stop_replication(conn)
        if status is None or (status.source_host, status.source_port) != (primary.mysql_host, primary.mysql_port):
            self.flavor.set_replication_source(conn, primary.mysql_host, primary.mysql_port, REPL)
        self.flavor.enable_semi_sync_replica(conn, self._acknowledges())
        self.flavor.start_replication(conn)

    def _make_writable_primary(self, conn: Conn) -> None:
        required = semi_sync_required(self._durability_policy)
        self.flavor.enable_semi_sync_replica(conn, False)
        if required:
            query(
                conn,
                f"SET GLOBAL rpl_semi_sync_master_timeout = {SEMI_SYNC_TIMEOUT_MS}, "
                f"rpl_semi_sync_master_wait_point = '{SEMI_SYNC_WAIT_POINT}'",
            )
        self.flavor.enable_semi_sync_primary(conn, required)
        self.flavor.set_read_only(conn, False)

    async def _load_durability_policy(self) -> None:
        """Reads the keyspace's durability policy; the RPCs that set semi-sync re-read it, as
        SetKeyspaceDurabilityPolicy may have changed it since the agent started."""
        self._durability_policy = (await self.ts.get_keyspace(self.config.keyspace)).durability_policy

    def _acknowledges(self) -> bool:
        """Whether this tablet, as a replica, sends semi-sync acknowledgements (per the durability policy)."""
        current = self.tablet.type if self.tablet is not None else self.config.tablet_type
        as_replica = self.config.tablet_type if current == TabletType.PRIMARY else current
        return acknowledges(as_replica, self._durability_policy)

    # --- health ---

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            await self._repair_replication(await self.refresh_health())

    async def _repair_replication(self, status: ReplicationStatus[Any] | None) -> None:
        """A replica whose IO thread does not run, and whose source is not where the shard's primary is now,
        re-points at the primary. ``status`` is what the health probe just read; the check is made again under
        the shard lock, so it never races a reparent. Replication stopped on purpose towards the right address
        is left alone."""
        health = self.health.current
        if health is None or TabletType(health.tablet_type) not in _READ_TYPES or self._action_lock.locked():
            return
        try:
            if await self._moved_primary(status) is None:
                return
            action = f"repair replication of {self.alias}"
            async with (
                lock_shard(self.ts, self.config.keyspace, self.config.shard, action, timeout=REPAIR_LOCK_TIMEOUT),
                self._action_lock,
            ):
                primary = await self._moved_primary(await self._probe(self.flavor.replication_status))
                if primary is None:
                    return
                log.info("replicating from %s at its new address %s:%d", primary.alias, primary.mysql_host, primary.mysql_port)
                await self._dba(self._follow, primary)
        except ShardlineError as exc:
            log.warning("replication repair failed: %s", exc)
            return
        await self.refresh_health()

    async def _moved_primary(self, status: ReplicationStatus[Any] | None) -> Tablet | None:
        """The shard's primary, if ``status`` (this tablet's) has the IO thread stopped and the source elsewhere."""
        if status is None or status.io_running:
            return None
        primary = await self._shard_primary(await self.ts.get_shard(self.config.keyspace, self.config.shard))
        if primary is None or (primary.mysql_host, primary.mysql_port) == (status.source_host, status.source_port):
            return None
        return primary

    async def refresh_health(self) -> ReplicationStatus[Any] | None:
        """Probes MariaDB now and publishes the resulting health report; returns the replication status the
        probe read (None for a primary, which reads none, or when the probe failed)."""
        health, status = await self._check_health()
        self.health.publish(health)
        return status

    async def _check_health(self) -> tuple[Health, ReplicationStatus[Any] | None]:
        tablet_type = self.tablet.type if self.tablet else self.config.tablet_type
        try:
            read_only, status = await self._probe(self._read_health, tablet_type != TabletType.PRIMARY)
        except ShardlineError as exc:
            return self._health(tablet_type, False, None, f"mysql: {exc}"), None
        return self._health_of(tablet_type, read_only, status), status

    def _health_of(self, tablet_type: TabletType, read_only: bool, status: ReplicationStatus[Any] | None) -> Health:
        """The health report for what the probe read."""
        if tablet_type == TabletType.PRIMARY:
            return self._health(tablet_type, not read_only, None, "primary is read-only" if read_only else None)
        if tablet_type not in _READ_TYPES:
            return self._health(tablet_type, False, None, None)
        if status is None:
            return self._health(tablet_type, False, None, "replication is not configured")
        if not (status.io_running and status.sql_running):
            error = f"replication is not running (IO {status.io_running}, SQL {status.sql_running})"
            if status.last_error:
                error += f": {status.last_error}"
            return self._health(tablet_type, False, status.lag_seconds, error)
        lag = status.lag_seconds or 0
        if lag > UNHEALTHY_LAG_SECONDS:
            return self._health(tablet_type, False, lag, f"replication lag {lag}s is above {UNHEALTHY_LAG_SECONDS}s")
        return self._health(tablet_type, True, lag, None)

    def _read_health(self, conn: Conn, replicating: bool) -> tuple[bool, ReplicationStatus[Any] | None]:
        """``read_only``, and the replication status if ``replicating`` (a primary's health needs none)."""
        read_only = bool(query(conn, "SELECT @@GLOBAL.read_only")[0][0])
        return read_only, self.flavor.replication_status(conn) if replicating else None

    def _health(self, tablet_type: TabletType, serving: bool, lag: int | None, error: str | None) -> Health:
        term_start = self.tablet.primary_term_start_time if self.tablet else None
        return Health(
            alias=str(self.alias),
            keyspace=self.config.keyspace,
            shard=self.config.shard,
            tablet_type=tablet_type.value,
            serving=serving,
            replication_lag_seconds=lag,
            primary_term_start_time=term_start if tablet_type == TabletType.PRIMARY else None,
            last_error=error,
        )

    # --- helpers ---

    def _with_conn(self, fn: Callable[..., R], *args: Any) -> R:
        with self.mysql.dba_connect() as conn:
            return fn(conn, *args)

    async def _dba(self, fn: Callable[..., R], *args: Any) -> R:
        """Runs ``fn(conn, *args)`` on a fresh root connection in a worker thread."""
        return await asyncio.to_thread(self._with_conn, fn, *args)

    async def _probe(self, fn: Callable[..., R], *args: Any) -> R:
        """Runs ``fn(conn, *args)``, which only reads (no session state left behind), on the kept probe
        connection in a worker thread."""
        return await asyncio.to_thread(self._probes.run, fn, *args)

    async def _set_type(self, tablet_type: TabletType) -> None:
        term_start = time.time() if tablet_type == TabletType.PRIMARY else None
        if self.tablet is not None and self.tablet.type == tablet_type == TabletType.PRIMARY:
            term_start = self.tablet.primary_term_start_time
        self.tablet = await self.ts.update_tablet_fields(
            self.alias, lambda t: dataclasses.replace(t, type=tablet_type, primary_term_start_time=term_start)
        )

    async def _parent_address(self, parent: str) -> tuple[str, int]:
        parent_alias = TabletAlias.parse(parent)
        if parent_alias == self.alias:
            raise InvalidArgument(f"tablet {self.alias} cannot replicate from itself")
        tablet = await self.ts.get_tablet(parent_alias)
        return tablet.mysql_host, tablet.mysql_port

    # --- management RPCs ---

    async def set_read_only(self) -> None:
        async with self._action_lock:
            await self._dba(self.flavor.set_read_only, True)
        await self.refresh_health()

    async def set_read_write(self) -> None:
        async with self._action_lock:
            await self._dba(self.flavor.set_read_only, False)
        await self.refresh_health()

    async def change_type(self, tablet_type: str) -> None:
        """Changes the tablet type in topo (the MariaDB role is changed by the other RPCs)."""
        new_type = TabletType.parse(tablet_type)
        async with self._action_lock:
            await self._set_type(new_type)
        await self.refresh_health()

    async def start_replication(self) -> None:
        async with self._action_lock:
            await self._dba(self._start_replication)
        await self.refresh_health()

    def _start_replication(self, conn: Conn) -> None:
        if self.flavor.replication_status(conn) is None:
            raise FailedPrecondition(f"tablet {self.alias} has no replication source")
        self.flavor.start_replication(conn)

    async def stop_replication(self) -> None:
        async with self._action_lock:
            await self._dba(self.flavor.stop_replication)
        await self.refresh_health()

    async def set_replication_source(self, parent: str, force_start_replication: bool = True) -> None:
        """Points replication at the tablet ``parent`` (an alias, looked up in topo). Replication restarts if
        it was running or ``force_start_replication``."""
        host, port = await self._parent_address(parent)
        await self._load_durability_policy()
        async with self._action_lock:
            await self._dba(self._set_source, host, port, force_start_replication)
        await self.refresh_health()

    def _set_source(self, conn: Conn, host: str, port: int, force_start: bool) -> None:
        status = self.flavor.replication_status(conn)
        was_running = status is not None and status.io_running
        self.flavor.set_replication_source(conn, host, port, REPL)
        self.flavor.enable_semi_sync_replica(conn, self._acknowledges())
        if force_start or was_running:
            self.flavor.start_replication(conn)

    async def primary_position(self) -> str:
        return str(await self._dba(self.flavor.primary_position))

    async def wait_for_position(self, position: str, timeout: float = 30.0) -> None:
        """Waits until this tablet has applied ``position``; DeadlineExceeded after ``timeout`` seconds."""
        target = self.flavor.parse_position(position)
        if not await self._dba(self.flavor.wait_for_position, target, timeout):
            raise DeadlineExceeded(f"tablet {self.alias} did not reach position {position} within {timeout:g}s")

    async def replication_status(self) -> dict[str, Any] | None:
        """The replica's status (threads, source, lag, position, last error), or None if it has no source."""
        status = await self._probe(self.flavor.replication_status)
        if status is None:
            return None
        return dataclasses.asdict(status) | {"position": str(status.position)}

    async def full_status(self) -> dict[str, Any]:
        """What the failover agent and reparents read of this MariaDB, in one call (Vitess's FullStatus):
        ``read_only``, ``gtid_binlog_pos``, ``semi_sync`` (the values of ``durability.SETTINGS_SQL``, as text)
        and ``slave_status`` (SHOW SLAVE STATUS's source, thread, position and error columns, as text; null
        without a replication source)."""
        return await self._probe(_full_status)

    async def execute_fetch_as_dba(self, query: str, db_name: str = "", max_rows: int = 10000) -> dict[str, Any]:
        """Runs one statement as root; returns ``fields`` (names), ``rows`` (text values) and ``rows_affected``."""
        if max_rows < 0:
            raise InvalidArgument(f"invalid max_rows {max_rows}: must not be negative")
        return await self._dba(_execute_fetch, query, db_name, max_rows)

    async def reset_replication(self) -> None:
        """Forgets the replication source, the replica position and this server's binlogs (a fresh start)."""
        async with self._action_lock:
            await self._dba(self._reset_replication)
        await self.refresh_health()

    def _reset_replication(self, conn: Conn) -> None:
        self.flavor.stop_replication(conn)
        query(conn, "RESET MASTER")  # first: the replica position cannot be emptied while the binlog has GTIDs
        self.flavor.reset_replication(conn)

    async def init_primary(self) -> str:
        """Makes this tablet a writable primary: replication stopped and its source forgotten (binlog and
        positions kept), semi-sync per the keyspace's durability policy, type PRIMARY. Returns its position."""
        await self._load_durability_policy()
        async with self._action_lock:
            position = await self._dba(self._init_primary)
            await self._set_type(TabletType.PRIMARY)
        await self.refresh_health()
        return position

    def _init_primary(self, conn: Conn) -> str:
        self.flavor.stop_replication(conn)
        query(conn, "RESET SLAVE ALL")  # forgets the source only; the flavor's reset also clears the position
        self._make_writable_primary(conn)
        return str(self.flavor.primary_position(conn))

    async def init_replica(self, parent: str, replication_position: str) -> None:
        """Makes this tablet a read-only replica of ``parent``, resuming from ``replication_position``."""
        position = self.flavor.parse_position(replication_position)
        host, port = await self._parent_address(parent)
        await self._load_durability_policy()
        async with self._action_lock:
            await self._dba(self._init_replica, host, port, position)
            if self.tablet is not None and self.tablet.type == TabletType.PRIMARY:
                await self._set_type(self.config.tablet_type)
        await self.refresh_health()

    def _init_replica(self, conn: Conn, host: str, port: int, position: Any) -> None:
        self.flavor.stop_replication(conn)
        self.flavor.enable_semi_sync_primary(conn, False)
        self.flavor.set_read_only(conn, True)
        self.flavor.set_replica_position(conn, position)
        self.flavor.set_replication_source(conn, host, port, REPL)
        self.flavor.enable_semi_sync_replica(conn, self._acknowledges())
        self.flavor.start_replication(conn)

    async def populate_reparent_journal(
        self, time_created_ns: int, action_name: str, primary_alias: str, replication_position: str
    ) -> str:
        """Writes a reparent journal row and returns the position that includes it."""
        TabletAlias.parse(primary_alias)
        self.flavor.parse_position(replication_position)
        return await self._dba(self._populate_journal, time_created_ns, action_name, primary_alias, replication_position)

    def _populate_journal(self, conn: Conn, time_created_ns: int, action: str, primary: str, position: str) -> str:
        sidecar.write_reparent_journal(conn, time_created_ns, action, primary, position)
        return str(self.flavor.primary_position(conn))


def _execute_fetch(conn: Conn, sql: str, db_name: str, max_rows: int) -> dict[str, Any]:
    conn.decoders = {}  # values as the text protocol sends them: str, or bytes for binary columns
    try:
        if db_name:
            conn.select_db(db_name)
        with conn.cursor() as cursor:
            cursor.execute(sql)
            if cursor.description is None:
                return {"fields": [], "rows": [], "rows_affected": cursor.rowcount}
            rows = cursor.fetchmany(max_rows + 1)
    except pymysql.MySQLError as exc:
        raise driver_error(exc) from exc
    if len(rows) > max_rows:
        raise InvalidArgument(f"query returned more than max_rows={max_rows} rows")
    return {
        "fields": [column[0] for column in cursor.description],
        "rows": [[_text(value) for value in row] for row in rows],
        "rows_affected": 0,
    }


_FULL_STATUS_SQL = f"SELECT @@GLOBAL.read_only, @@GLOBAL.gtid_binlog_pos, {SETTINGS_SQL}"
_SLAVE_STATUS_COLUMNS = (
    "Master_Host", "Master_Port", "Slave_IO_Running", "Slave_SQL_Running", "Gtid_IO_Pos", "Last_IO_Error",
    "Last_SQL_Error",
)  # fmt: skip


def _full_status(conn: Conn) -> dict[str, Any]:
    read_only, binlog_position, *semi_sync = (_text(value) for value in query(conn, _FULL_STATUS_SQL)[0])
    slave = query_dicts(conn, "SHOW SLAVE STATUS")
    return {
        "read_only": read_only == "1",
        "gtid_binlog_pos": binlog_position or "",
        "semi_sync": semi_sync,
        "slave_status": {column: _text(slave[0][column]) for column in _SLAVE_STATUS_COLUMNS} if slave else None,
    }


def _text(value: object) -> str | None:
    """A value as the text protocol would send it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
