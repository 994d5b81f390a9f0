"""A handler that relays each client connection to its own backend connection, responses passed through as
received: the reference use of the server framework with the client, and the yardstick of their overhead
(``benchmarks/mysql_relay.py``)."""

from __future__ import annotations

from typing import Any

from shardline.mysql.client import Connection, PreparedStatement, connect
from shardline.mysql.server import Handler, ServerConnection
from shardline.mysql.server_protocol import ServerStatement
from shardline.sqltypes import Field


class RelayHandler(Handler):
    """Opens a backend connection as the client's database at connect time and relays every command."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self._address = (host, port, user, password)
        self._backend: Connection | None = None
        self._statements: dict[str, PreparedStatement] = {}  # backend statements by SQL text

    @property
    def backend(self) -> Connection:
        assert self._backend is not None
        return self._backend

    async def on_connect(self, conn: ServerConnection) -> None:
        host, port, user, password = self._address
        self._backend = await connect(host, port, user, password, conn.database or None)

    async def on_query(self, conn: ServerConnection, sql: str) -> None:
        backend = self.backend
        try:
            conn.send_raw(await backend.query_raw(sql))
        finally:
            conn.status = backend.status

    async def on_init_db(self, conn: ServerConnection, database: str) -> None:
        await self.backend.init_db(database)
        conn.database = database

    async def on_prepare(self, conn: ServerConnection, sql: str) -> tuple[int, list[Field]]:
        statement = self._statements.get(sql)
        if statement is None:
            statement = self._statements[sql] = await self.backend.prepare(sql)
        return statement.param_count, statement.fields

    async def on_execute(self, conn: ServerConnection, statement: ServerStatement, params: list[Any]) -> None:
        backend = self.backend
        try:
            conn.send_raw(await backend.execute_raw(self._statements[statement.sql], params))
        finally:
            conn.status = backend.status

    async def on_close_statement(self, conn: ServerConnection, statement: ServerStatement) -> None:
        assert conn.protocol is not None
        if all(other.sql != statement.sql for other in conn.protocol.statements.values()):
            await self.backend.close_statement(self._statements.pop(statement.sql))

    async def on_reset_connection(self, conn: ServerConnection) -> None:
        await self.backend.reset_connection()
        self._statements.clear()
        conn.status = self.backend.status

    async def on_close(self, conn: ServerConnection) -> None:
        if self._backend is not None:
            await self._backend.close()
