"""Pools of MySQL connections to one tablet's MariaDB, with session settings tracked per connection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shardline.errors import DeadlineExceeded, ShardlineError
from shardline.mysql.client import Connection, PreparedStatement, connect
from shardline.mysqlctl.users import Credentials


@dataclass(eq=False)
class PooledConnection:
    """A backend connection lent by a pool; ``settings_sql`` is the SET statement of the session variables
    it carries ('' for the server's defaults)."""

    connection: Connection
    pool: TabletPool
    settings_sql: str = ""
    prepared: dict[str, PreparedStatement] = field(default_factory=dict)  # SQL text -> backend statement

    def release(self) -> None:
        self.pool.put(self)


class TabletPool:
    """At most ``size`` connections to one MariaDB; idle ones are reused most-recently-used first."""

    def __init__(self, host: str, port: int, database: str, credentials: Credentials, *, size: int = 16,
                 wait_timeout: float = 10.0, connect_timeout: float = 5.0) -> None:
        self.host, self.port, self.database = host, port, database
        self.credentials = credentials
        self.size = size
        self.wait_timeout = wait_timeout
        self.connect_timeout = connect_timeout
        self._idle: list[PooledConnection] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False
        self.in_use = 0

    async def get(self, settings_sql: str = "") -> PooledConnection:
        """Lends a connection carrying the session variables that ``settings_sql`` sets."""
        if self._closed:
            raise ShardlineError(f"connection pool to {self.host}:{self.port} is closed")
        if self._slots.locked():  # only a full pool needs the (costly) timeout
            try:
                async with asyncio.timeout(self.wait_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise DeadlineExceeded(
                    f"timed out after {self.wait_timeout}s waiting for a connection to {self.host}:{self.port} "
                    f"(pool size {self.size})", code=1203, sqlstate="42000") from None
        else:
            await self._slots.acquire()
        self.in_use += 1
        try:
            conn = self._take_idle(settings_sql)
            if conn is None:
                conn = PooledConnection(await connect(
                    self.host, self.port, self.credentials.user, self.credentials.password, self.database,
                    connect_timeout=self.connect_timeout), self)
            if conn.settings_sql != settings_sql:
                await self._apply_settings(conn, settings_sql)
            return conn
        except BaseException:
            self.in_use -= 1
            self._slots.release()
            raise

    def _take_idle(self, settings_sql: str) -> PooledConnection | None:
        idle = self._idle
        for i in range(len(idle) - 1, -1, -1):
            if idle[i].settings_sql == settings_sql:
                return idle.pop(i)
        return idle.pop() if idle else None

    async def _apply_settings(self, conn: PooledConnection, settings_sql: str) -> None:
        if conn.settings_sql:
            # Back to server defaults first: settings of another session must not leak into this one.
            await conn.connection.reset_connection()
            await conn.connection.init_db(self.database)
            conn.prepared.clear()
            conn.settings_sql = ""
        if settings_sql:
            await conn.connection.query(settings_sql)
        conn.settings_sql = settings_sql

    def put(self, conn: PooledConnection) -> None:
        """Takes a connection back; a broken one, or one left inside a transaction, is closed instead."""
        self.in_use -= 1
        self._slots.release()
        if self._closed or conn.connection.closed or conn.connection.in_transaction:
            asyncio.get_running_loop().create_task(conn.connection.close())
            return
        self._idle.append(conn)

    async def close(self) -> None:
        """Closes idle connections; lent ones are closed when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(c.connection.close() for c in idle), return_exceptions=True)
