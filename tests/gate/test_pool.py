"""Tablet connection pools: bounded, reused, and never leaking one session's settings into another."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from shardline.errors import DeadlineExceeded
from shardline.gate.pool import TabletPool
from shardline.mysqlctl.users import APP


@asynccontextmanager
async def _pool(db, host: str | None = None, port: int | None = None, **options) -> AsyncIterator[TabletPool]:
    """A pool to ``db``'s database pool_test (or to ``host``:``port``), closed at the end."""
    pool = TabletPool(host or db.host, port or db.port, "pool_test", APP, **options)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def pool_db(mariadb):
    mariadb.execute("CREATE DATABASE IF NOT EXISTS pool_test")
    return mariadb


async def test_connections_are_reused_and_bounded(pool_db):
    async with _pool(pool_db, size=2, wait_timeout=0.3) as pool:
        first = await pool.get()
        first_id = first.connection.connection_id
        first.release()
        again = await pool.get()
        assert again.connection.connection_id == first_id
        other = await pool.get()
        assert pool.in_use == 2
        with pytest.raises(DeadlineExceeded) as info:
            await pool.get()
        assert info.value.code == 1203
        other.release()
        again.release()
        assert pool.in_use == 0


async def test_session_settings_are_applied_and_reset(pool_db):
    async with _pool(pool_db, size=1) as pool:
        conn = await pool.get("SET @@session.sql_mode = 'ANSI', @marker = 7")
        result = await conn.connection.query("SELECT @@session.sql_mode, @marker, DATABASE()")
        assert result.rows[0][1:] == (b"7", b"pool_test")
        assert b"ANSI_QUOTES" in result.rows[0][0]
        conn.release()
        plain = await pool.get()
        assert plain.connection is conn.connection  # the same socket, reset for a session without settings
        result = await plain.connection.query("SELECT @@session.sql_mode, @marker, DATABASE()")
        assert b"ANSI_QUOTES" not in result.rows[0][0]
        assert result.rows[0][1:] == (None, b"pool_test")
        plain.release()


async def test_a_connection_returned_inside_a_transaction_is_not_reused(pool_db):
    async with _pool(pool_db, size=1) as pool:
        conn = await pool.get()
        await conn.connection.query("BEGIN")
        dirty_id = conn.connection.connection_id
        conn.release()
        await asyncio.sleep(0)
        fresh = await pool.get()
        assert fresh.connection.connection_id != dirty_id
        assert not fresh.connection.in_transaction
        fresh.release()


async def test_a_connection_returned_with_commands_unanswered_is_not_reused(pool_db):
    class Sink:
        def __init__(self) -> None:
            self.outcome: object = None

        def set_result(self, response: bytes) -> None:
            self.outcome = response

        def set_exception(self, exc: BaseException) -> None:
            self.outcome = exc

    async with _pool(pool_db, size=1) as pool:
        conn = await pool.get()
        begin, sleep = Sink(), Sink()
        conn.connection.submit(b"\x03BEGIN", begin)  # a client gone before its transaction's BEGIN was answered
        conn.connection.submit(b"\x03SELECT SLEEP(0.2)", sleep)
        busy_id = conn.connection.connection_id
        conn.release()
        fresh = await pool.get()
        assert fresh.connection.connection_id != busy_id
        assert not fresh.connection.in_transaction and fresh.connection.submitted == 0
        fresh.release()
        assert pool.in_use == 0


async def test_waiters_get_returned_connections_in_order(pool_db):
    async with _pool(pool_db, size=1, wait_timeout=5) as pool:
        held = await pool.get()
        served: list[str] = []

        async def wait(name: str) -> None:
            conn = await pool.get()
            served.append(name)
            await asyncio.sleep(0.01)
            conn.release()

        waiters = [asyncio.create_task(wait(name)) for name in ("first", "second", "third")]
        await asyncio.sleep(0.05)
        assert served == [] and pool.in_use == 1
        held.release()
        await asyncio.gather(*waiters)
        assert served == ["first", "second", "third"]
        assert pool.in_use == 0


async def test_a_cancelled_waiter_does_not_take_a_slot(pool_db):
    async with _pool(pool_db, size=1, wait_timeout=5) as pool:
        held = await pool.get()
        waiter = asyncio.create_task(pool.get())
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        held.release()
        assert pool.in_use == 0
        again = await asyncio.wait_for(pool.get(), 1)
        again.release()


async def test_try_idle_lends_only_an_idle_connection_with_the_same_settings(pool_db):
    async with _pool(pool_db, size=2) as pool:
        assert pool.try_idle() is None  # nothing opened yet: that needs waiting
        plain = await pool.get()
        tuned = await pool.get("SET @marker = 1")
        plain_id, tuned_id = plain.connection.connection_id, tuned.connection.connection_id
        assert pool.try_idle() is None  # the pool is full
        plain.release()
        tuned.release()
        assert pool.try_idle("SET @marker = 2") is None
        lent = pool.try_idle("SET @marker = 1")
        assert lent is not None and lent.connection.connection_id == tuned_id
        assert pool.in_use == 1
        other = pool.try_idle()
        assert other is not None and other.connection.connection_id == plain_id
        assert pool.try_idle() is None and pool.in_use == 2
        lent.release()
        other.release()
        assert pool.in_use == 0


async def test_a_socket_that_refuses_falls_back_to_tcp(pool_db, tmp_path):
    async with _pool(pool_db, size=1, unix_socket=str(tmp_path / "gone.sock")) as pool:
        conn = await pool.get()
        result = await conn.connection.query("SELECT DATABASE()")
        assert result.rows == [(b"pool_test",)]
        assert pool.unix_socket == ""
        conn.release()


async def test_the_unix_socket_is_used_when_given(pool_db):
    async with _pool(pool_db, "127.0.0.1", 9, size=1, unix_socket=str(pool_db.socket)) as pool:
        conn = await pool.get()  # port 9 would refuse: only the socket can answer
        result = await conn.connection.query("SELECT DATABASE()")
        assert result.rows == [(b"pool_test",)]
        conn.release()


async def test_pipelined_lends_share_a_connection_up_to_the_depth(pool_db):
    async with _pool(pool_db, size=2) as pool:
        for conn in [await pool.get(), await pool.get()]:
            conn.release()  # two idle connections
        first = [pool.try_pipelined("", 3) for _ in range(3)]
        assert all(c is first[0] for c in first) and first[0].shared == 3
        fourth = pool.try_pipelined("", 3)
        assert fourth is not None and fourth is not first[0]  # the first one is full: the other idle one
        assert pool.try_pipelined("SET @x = 1", 3) is None  # no connection with those settings
        assert pool.in_use == 2
        for conn in first[:2]:
            conn.release()
        assert pool.in_use == 2 and first[0].shared == 1  # still lent for one command
        again = pool.try_pipelined("", 3)
        assert again is first[0] and again.shared == 2
        again.release()
        first[2].release()
        fourth.release()
        assert pool.in_use == 0 and first[0].shared == 0
        exclusive = await pool.get()
        assert exclusive.shared == 0
        exclusive.release()


async def test_idle_connections_the_server_closed_are_dropped_not_lent(pool_db):
    async with _pool(pool_db, size=2) as pool:
        first, second = await pool.get(), await pool.get()
        dead_id = first.connection.connection_id
        first.release()
        second.release()  # idle, most recently used: second, then first
        pool_db.execute(f"KILL {second.connection.connection_id}")
        for _ in range(100):
            if second.connection.closed:
                break
            await asyncio.sleep(0.01)
        assert second.connection.closed
        lent = pool.try_idle()
        assert lent is not None and lent.connection.connection_id == dead_id  # the live one, not the killed one
        lent.release()
        pool_db.execute(f"KILL {dead_id}")
        for _ in range(100):
            if lent.connection.closed:
                break
            await asyncio.sleep(0.01)
        assert pool.try_idle() is None
        fresh = await pool.get()
        assert (await fresh.connection.query("SELECT 1")).rows == [(b"1",)]
        fresh.release()
