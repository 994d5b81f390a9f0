"""Tablet connection pools: bounded, reused, and never leaking one session's settings into another."""

import asyncio

import pytest

from shardline.errors import DeadlineExceeded
from shardline.gate.pool import TabletPool
from shardline.mysqlctl.users import APP


@pytest.fixture(scope="module")
def pool_db(mariadb):
    mariadb.execute("CREATE DATABASE IF NOT EXISTS pool_test")
    return mariadb


async def test_connections_are_reused_and_bounded(pool_db):
    pool = TabletPool(pool_db.host, pool_db.port, "pool_test", APP, size=2, wait_timeout=0.3)
    try:
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
    finally:
        await pool.close()


async def test_session_settings_are_applied_and_reset(pool_db):
    pool = TabletPool(pool_db.host, pool_db.port, "pool_test", APP, size=1)
    try:
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
    finally:
        await pool.close()


async def test_a_connection_returned_inside_a_transaction_is_not_reused(pool_db):
    pool = TabletPool(pool_db.host, pool_db.port, "pool_test", APP, size=1)
    try:
        conn = await pool.get()
        await conn.connection.query("BEGIN")
        dirty_id = conn.connection.connection_id
        conn.release()
        await asyncio.sleep(0)
        fresh = await pool.get()
        assert fresh.connection.connection_id != dirty_id
        assert not fresh.connection.in_transaction
        fresh.release()
    finally:
        await pool.close()
