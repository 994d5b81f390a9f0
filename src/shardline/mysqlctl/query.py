"""Runs one statement on a PyMySQL connection, turning driver errors into shardline errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql
import pymysql.cursors

from shardline.errors import MySQLError, Unavailable

# Client-side codes meaning the server could not be reached or the connection broke.
_CONNECTION_ERRORS = frozenset({2002, 2003, 2006, 2013})


def query(conn: pymysql.connections.Connection, sql: str, args: Sequence[Any] | None = None) -> list[tuple]:
    """Executes ``sql`` (``%s`` placeholders filled from ``args``) and returns all rows."""
    return _run(conn.cursor(), sql, args)


def query_dicts(
    conn: pymysql.connections.Connection, sql: str, args: Sequence[Any] | None = None
) -> list[dict[str, Any]]:
    """Like :func:`query`, with each row as a dict keyed by column name."""
    return _run(conn.cursor(pymysql.cursors.DictCursor), sql, args)


def _run(cursor: pymysql.cursors.Cursor, sql: str, args: Sequence[Any] | None) -> list[Any]:
    try:
        with cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    except pymysql.MySQLError as exc:
        raise driver_error(exc) from exc


def driver_error(exc: pymysql.MySQLError) -> MySQLError | Unavailable:
    """The shardline error for a PyMySQL error."""
    if len(exc.args) >= 2 and isinstance(exc.args[0], int):
        code, message = exc.args[0], str(exc.args[1])
    else:
        code, message = 1105, str(exc)
    if code in _CONNECTION_ERRORS:
        return Unavailable(f"MySQL connection failed: {message}")
    return MySQLError(code, "HY000", message)
