"""One root connection a tablet agent keeps open for its frequent read-only probes (its health check every
second, FullStatus for the failover agent): opening a connection per probe cost the agent ~0.6 ms of CPU and
MariaDB a new session each time, several times a second per tablet, all at the failover agent's poll."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pymysql

from shardline.errors import Unavailable

R = TypeVar("R")


class ProbeConnection:
    """Runs ``fn(conn, *args)`` on a kept connection, one caller at a time (callers are worker threads).

    Only for statements that leave no session state behind (reads of variables and status). A call that fails
    closes the connection; one that finds the kept connection broken (``Unavailable``: MariaDB restarted, the
    session was killed) is run once more on a new one, so a probe fails only when MariaDB cannot be reached."""

    def __init__(self, connect: Callable[[], pymysql.connections.Connection]) -> None:
        self._connect = connect
        self._conn: pymysql.connections.Connection | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., R], *args: Any) -> R:
        with self._lock:
            if self._conn is not None:
                try:
                    return self._call(fn, args)
                except Unavailable:
                    pass  # the kept connection broke since its last use: once more, on a new one
            return self._call(fn, args)

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _call(self, fn: Callable[..., R], args: tuple[Any, ...]) -> R:
        if self._conn is None:
            self._conn = self._connect()
        try:
            return fn(self._conn, *args)
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.open:
            conn.close()
