"""Connects the MySQL server framework to the executor: one handler per client connection."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from shardline.errors import MySQLError, ShardlineError
from shardline.gate.connections import kill, processlist, processlist_request
from shardline.gate.fastpath import FastQuery
from shardline.gate.planner.split import split_statements
from shardline.gate.prepared import prepare_query
from shardline.gate.session import Session
from shardline.mysql.constants import Capability, Command
from shardline.mysql.framing import split_packets
from shardline.mysql.resultset import decode_responses
from shardline.mysql.server import Handler, ServerConnection
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.executor import Executor
    from shardline.gate.planner.shape import Shape
    from shardline.gate.prepared import PreparedQuery
    from shardline.mysql.server_protocol import CommandPacket, ServerStatement
    from shardline.sqltypes import Field


MAX_STATEMENTS: Final = 1024  # prepared forms kept per connection
_QUERY: Final = int(Command.QUERY)
_STMT_EXECUTE: Final = int(Command.STMT_EXECUTE)


class GateHandler(Handler):
    """A client connection's session, driven by its MySQL commands."""

    def __init__(self, executor: Executor, conn: ServerConnection, transaction_mode: str) -> None:
        self.executor = executor
        self.session = Session(conn.connection_id, conn.user)
        self.session.transaction_mode = type(self.session.transaction_mode)(transaction_mode)
        self.statements: dict[str, PreparedQuery] = {}  # SQL text -> its prepared form
        self._fast_query = FastQuery(executor.fast, conn)
        self.statement: str | None = None  # the statement running on the ordinary path (SHOW PROCESSLIST)
        self.since = time.monotonic()  # when it started, or the last one ended

    def fast_path(self, conn: ServerConnection, command: CommandPacket) -> bool:
        kind = command.kind
        if kind == _QUERY:
            return self.executor.fast.run_query(self.session, command.body, self._fast_query)
        if kind != _STMT_EXECUTE:
            return False
        assert conn.protocol is not None
        body = command.body
        statement = conn.protocol.statements.get(int.from_bytes(body[:4], "little"))
        if (statement is None or statement.long_data or statement.long_data_error is not None or len(body) < 9
                or body[4]):  # body[4]: cursor flags
            return False
        try:
            params = conn.protocol.bind(statement, body)
        except ShardlineError:
            return False  # the ordinary path decodes it again and answers the error
        return self.executor.fast.run_prepared(self.session, statement, body, params, self._fast_query)

    async def on_connect(self, conn: ServerConnection) -> None:
        if conn.database:
            self.executor.use(self.session, conn.database)
        self._sync_status(conn)

    async def on_query(self, conn: ServerConnection, sql: str) -> None:
        if ";" in sql:
            statements = split_statements(sql)
            if len(statements) > 1:
                await self._run_statements(conn, statements)
                return
        try:
            outcome = await self._execute(conn, sql, self._fast_query.take_shape(sql))
        finally:
            self._sync_status(conn)
        if isinstance(outcome, bytes):
            conn.send_raw(outcome)
        else:
            conn.send_result(outcome)

    async def _execute(self, conn: ServerConnection, sql: str, shape: Shape | None = None) -> Result | bytes:
        self.statement, self.since = sql, time.monotonic()
        try:
            head = sql.lstrip()[:4].upper()
            if head == "KILL":
                return await kill(conn, sql)
            if head == "SHOW":
                full = processlist_request(sql)
                if full is not None:
                    return processlist(conn, full)
            return await self.executor.execute(self.session, sql, shape)
        finally:
            self.statement, self.since = None, time.monotonic()

    async def _run_statements(self, conn: ServerConnection, statements: list[str]) -> None:
        """Several statements in one COM_QUERY: a result each, all but the last flagged MORE_RESULTS_EXISTS;
        the first that fails ends the response with its error, as MariaDB does."""
        if not conn.capabilities & Capability.MULTI_STATEMENTS:
            raise MySQLError(1064, "42000", "You have an error in your SQL syntax: several statements in one "
                             "query need the client's CLIENT_MULTI_STATEMENTS flag")
        last = len(statements) - 1
        for i, statement in enumerate(statements):
            try:
                outcome = await self._execute(conn, statement)
            finally:
                self._sync_status(conn)
            if isinstance(outcome, bytes):
                if i == last:
                    conn.send_raw(outcome)
                    return
                for result in decode_responses(split_packets(outcome))[0]:
                    conn.send_result(result, more=True)
            else:
                conn.send_result(outcome, more=i < last)

    async def on_init_db(self, conn: ServerConnection, database: str) -> None:
        self.executor.use(self.session, database)
        conn.database = database

    async def on_field_list(self, conn: ServerConnection, table: str, wildcard: str) -> None:
        quoted = table.replace("`", "``")
        try:
            result = await self.executor.execute(self.session, f"SELECT * FROM `{quoted}` WHERE 1 != 1 LIMIT 0")
        except ShardlineError:
            result = Result()  # the mysql CLI asks for every table's fields; one it cannot see has none
        conn.send_fields(result.fields if isinstance(result, Result) else [])

    async def on_prepare(self, conn: ServerConnection, sql: str) -> tuple[int, list[Field]]:
        query, fields = await self.executor.prepare(self.session, sql)
        if len(self.statements) >= MAX_STATEMENTS:
            self.statements.pop(next(iter(self.statements)))
        self.statements[sql] = query
        return query.param_count, fields

    async def on_execute(self, conn: ServerConnection, statement: ServerStatement, params: list[Any]) -> None:
        query = self.statements.get(statement.sql) or prepare_query(statement.sql)
        try:
            outcome = await self.executor.execute_prepared(self.session, query, params)
        finally:
            self._sync_status(conn)
        if isinstance(outcome, bytes):
            conn.send_raw(outcome)
        else:
            conn.send_result(outcome, binary=True)

    async def on_reset_connection(self, conn: ServerConnection) -> None:
        await self.executor.scatter.rollback(self.session)
        self.executor.scatter.end_session(self.session)
        self.statements.clear()
        fresh = Session(conn.connection_id, conn.user, transaction_mode=self.session.transaction_mode)
        fresh.target = self.session.target
        self.session = fresh
        self._sync_status(conn)

    async def on_close(self, conn: ServerConnection) -> None:
        await self.executor.scatter.rollback(self.session)  # a client gone mid-transaction is rolled back
        self.executor.scatter.end_session(self.session)

    def _sync_status(self, conn: ServerConnection) -> None:
        conn.in_transaction = self.session.in_transaction
        conn.autocommit = self.session.autocommit
