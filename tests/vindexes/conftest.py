"""A test vcursor that runs lookup vindex statements on the shared MariaDB, and a fresh database per test."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.query import query
from shardline.mysqlctl.users import APP
from shardline.sqltypes import Result, from_python
from shardline.vindexes.base import CommitOrder

_BIND_VAR = re.compile(r"::(\w+)|:(\w+)")
_databases = itertools.count()


class MariaDBVCursor:
    """Plays the gate for lookup vindexes on one MariaDB.

    Like a gate session it keeps a transaction per commit order (``NORMAL``, ``PRE``, ``POST``, each on its own
    connection) and runs ``autocommit`` statements on a fourth; :meth:`commit` commits PRE, NORMAL, POST in
    that order. ``log`` records each statement with the transaction it ran in.
    """

    def __init__(self, instance: MysqlInstance) -> None:
        def connect(autocommit: bool) -> pymysql.connections.Connection:
            return pymysql.connect(
                host=instance.host,
                port=instance.port,
                user=APP.user,
                password=APP.password,
                autocommit=autocommit,
                charset="utf8mb4",
            )

        self._sessions = {order: connect(False) for order in CommitOrder}
        self._autocommit = connect(True)
        self.log: list[tuple[str, str]] = []

    async def execute(
        self,
        sql: str,
        bind_vars: dict[str, Any],
        *,
        autocommit: bool = False,
        commit_order: CommitOrder = CommitOrder.NORMAL,
    ) -> Result:
        conn = self._autocommit if autocommit else self._sessions[commit_order]
        self.log.append(("autocommit" if autocommit else commit_order.value, sql))
        return await self._run(conn, sql, bind_vars)

    async def execute_keyspace_id(
        self, keyspace: str, keyspace_id: bytes, sql: str, bind_vars: dict[str, Any]
    ) -> Result:
        self.log.append((f"keyspace_id {keyspace_id.hex()}", sql))
        return await self._run(self._sessions[CommitOrder.NORMAL], sql, bind_vars)

    async def commit(self) -> None:
        for order in (CommitOrder.PRE, CommitOrder.NORMAL, CommitOrder.POST):
            await asyncio.to_thread(self._sessions[order].commit)

    async def rollback(self) -> None:
        for conn in self._sessions.values():
            await asyncio.to_thread(conn.rollback)

    def close(self) -> None:
        for conn in [*self._sessions.values(), self._autocommit]:
            conn.close()

    async def _run(self, conn: pymysql.connections.Connection, sql: str, bind_vars: dict[str, Any]) -> Result:
        text = _BIND_VAR.sub(lambda match: _substitute(conn, bind_vars, match), sql)
        rows = await asyncio.to_thread(query, conn, text)
        return Result(rows=[tuple(from_python(value) for value in row) for row in rows])


def _substitute(conn: pymysql.connections.Connection, bind_vars: dict[str, Any], match: re.Match[str]) -> str:
    list_name, scalar_name = match.groups()
    if list_name:
        return "(" + ", ".join(_literal(conn, value) for value in bind_vars[list_name]) + ")"
    return _literal(conn, bind_vars[scalar_name])


def _literal(conn: pymysql.connections.Connection, value: Any) -> str:
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return conn.escape(value)


@pytest.fixture
def keyspace(mariadb: MysqlInstance) -> Iterator[str]:
    """A fresh database (named like a keyspace) for one test."""
    name = f"vindex_test_{next(_databases)}"
    mariadb.execute(f"CREATE DATABASE {name}")
    yield name
    mariadb.execute(f"DROP DATABASE {name}")


@pytest.fixture
def vcursor(mariadb: MysqlInstance, keyspace: str) -> Iterator[MariaDBVCursor]:
    """Closed (rolling back what is open) before the test's database is dropped."""
    cursor = MariaDBVCursor(mariadb)
    yield cursor
    cursor.close()
