"""The gate's own client connections as SQL sees them: ``SHOW [FULL] PROCESSLIST`` and ``KILL``.

Both cover the connections of the asking user to this gate process (with several workers, ids are unique
across them, but each worker sees only its own). A statement on the fast path (a point query, over in well
under a millisecond) is not seen by either."""

from __future__ import annotations

import re
import time
from typing import Final

from shardline.errors import MySQLError, Unsupported
from shardline.gate.pool import PooledConnection
from shardline.mysql.server import ServerConnection
from shardline.sqltypes import Field, FieldType, Result

_KILL: Final = re.compile(r"\s*KILL\s+(?:(?:HARD|SOFT)\s+)?(?:(CONNECTION|QUERY)\s+(?:ID\s+)?)?(\d+)\s*;?\s*$",
                          re.IGNORECASE)
_PROCESSLIST: Final = re.compile(r"\s*SHOW\s+(FULL\s+)?PROCESSLIST\s*;?\s*$", re.IGNORECASE)
_COLUMNS: Final = (("Id", FieldType.LONGLONG), ("User", FieldType.VAR_STRING), ("Host", FieldType.VAR_STRING),
                   ("db", FieldType.VAR_STRING), ("Command", FieldType.VAR_STRING), ("Time", FieldType.LONG),
                   ("State", FieldType.VAR_STRING), ("Info", FieldType.VAR_STRING))
_INFO_SHOWN: Final = 100  # characters of the statement without FULL, as MariaDB shows


async def kill(conn: ServerConnection, sql: str) -> Result:
    """``KILL [CONNECTION] id`` ends the connection (its transaction is rolled back, as when its client goes);
    ``KILL QUERY id`` interrupts the statement it runs on the ordinary path: each backend query it has running
    gets MariaDB's KILL QUERY, and the client MariaDB's 1317."""
    match = _KILL.match(sql)
    if match is None:
        raise Unsupported("this KILL statement is not supported; KILL <connection id> is")
    target_id = int(match.group(2))
    target = conn.server.connections.get(target_id)
    if target is None:
        raise MySQLError(1094, "HY000", f"Unknown thread id: {target_id} (KILL reaches the connections of the gate "
                         "worker process it runs in)")
    if target.user != conn.user:
        raise MySQLError(1095, "HY000", f"You are not owner of thread {target_id}")
    if (match.group(1) or "").upper() == "QUERY":
        session = getattr(target.handler, "session", None)
        if session is not None:
            await _kill_queries(session.running)
        return Result()
    target.close()
    return Result()


async def _kill_queries(running: set[PooledConnection]) -> None:
    for pooled in list(running):
        killer = await pooled.pool.get()
        try:
            if pooled in running:  # still on the same statement: its connection has not been lent again
                await killer.connection.query(f"KILL QUERY {pooled.connection.connection_id}")
        finally:
            killer.release()


def processlist_request(sql: str) -> bool | None:
    """For ``SHOW [FULL] PROCESSLIST``, whether FULL was asked; None for any other statement."""
    match = _PROCESSLIST.match(sql)
    return None if match is None else bool(match.group(1))


def processlist(conn: ServerConnection, full: bool) -> Result:
    """The user's connections to this gate process: the statement each runs on the gate's ordinary path
    (a fast-path statement, over in well under a millisecond, shows as Sleep)."""
    now = time.monotonic()
    rows: list[tuple[bytes | None, ...]] = []
    for connection_id, other in sorted(conn.server.connections.items()):
        handler = other.handler
        if other.user != conn.user or handler is None:
            continue
        statement: str | None = getattr(handler, "statement", None)
        since: float = getattr(handler, "since", now)
        session = getattr(handler, "session", None)
        database = str(session.target) if session is not None and session.target.keyspace else None
        host = f"{other.peer[0]}:{other.peer[1]}" if other.peer else "localhost"
        info = statement if statement is None or full else statement[:_INFO_SHOWN]
        rows.append(tuple(None if value is None else str(value).encode() for value in (
            connection_id, other.user, host, database, "Query" if statement else "Sleep", int(now - since), "",
            info)))
    return Result(fields=[Field(name, kind) for name, kind in _COLUMNS], rows=rows)
