"""Session state that lives on one MariaDB connection, through the gate: named locks (GET_LOCK and friends, on the
session's lock connection) and temporary tables (on its reserved connection), as Vitess keeps them."""

from __future__ import annotations

import json
import threading
import time

import pymysql
import pytest

from tests.e2e.cluster import ClusterThread


def rows(conn: pymysql.connections.Connection, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def one(conn: pymysql.connections.Connection, sql: str):
    [(value,)] = rows(conn, sql)
    return value


def close_open(*conns: pymysql.connections.Connection) -> None:
    for conn in conns:
        if conn.open:
            conn.close()


def _shard_mysql(cluster: ClusterThread, shard: str):
    """The customer shard's MariaDB (its only tablet, the primary)."""
    [server] = [s for s in cluster.tablets.values()
                if (s.agent.config.keyspace, s.agent.config.shard) == ("customer", shard)]
    return server.agent.mysql


@pytest.mark.parametrize("keyspace", ["customer", "commerce"])
def test_a_named_lock_stays_with_its_session_until_released_or_disconnected(e2e_cluster: ClusterThread,
                                                                             keyspace: str):
    holder, other = e2e_cluster.connect(keyspace), e2e_cluster.connect(keyspace)
    try:
        # Many rounds: each statement would otherwise take whichever pooled connection is idle (and the fast
        # path would learn the statement after the first).
        for _ in range(20):
            assert one(holder, "SELECT GET_LOCK('lk-session', 0)") == 1
            assert one(other, "SELECT GET_LOCK('lk-session', 0)") == 0
            assert one(other, "SELECT IS_FREE_LOCK('lk-session')") == 0
            assert one(other, "SELECT RELEASE_LOCK('lk-session')") == 0  # held by someone else
            assert one(holder, "SELECT RELEASE_LOCK('lk-session')") == 1
            assert one(other, "SELECT IS_FREE_LOCK('lk-session')") == 1
        assert rows(holder, "SELECT GET_LOCK('lk-a', 0) AS a, GET_LOCK('lk-b', 0)") == [(1, 1)]
        assert one(holder, "SELECT RELEASE_ALL_LOCKS()") == 2
        assert rows(holder, "DO GET_LOCK('lk-session', 0)") == []
        assert one(other, "SELECT IS_FREE_LOCK('lk-session')") == 0
        holder.close()  # the session ends: its lock connection closes, and the lock is free
        assert one(other, "SELECT GET_LOCK('lk-session', 5)") == 1
        rows(other, "DO RELEASE_LOCK('lk-session')")
        assert one(other, "SELECT IS_FREE_LOCK('lk-session')") == 1
    finally:
        close_open(holder, other)


def test_lock_functions_mixed_with_anything_else_are_refused(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        for statement in ("SELECT GET_LOCK('lk-mixed', 0), 1",
                          "SELECT GET_LOCK('lk-mixed', 0) FROM customer",
                          "SELECT customer_id FROM customer WHERE IS_FREE_LOCK('lk-mixed')",
                          "SELECT GET_LOCK((SELECT 'lk-mixed'), 0)",
                          "UPDATE customer SET name = 'x' WHERE customer_id = 1 AND GET_LOCK('lk-mixed', 0)"):
            with pytest.raises(pymysql.err.MySQLError) as info:
                rows(conn, statement)
            assert info.value.args[0] == 1235, statement
            assert "named-lock functions" in info.value.args[1]
        assert one(conn, "SELECT IS_FREE_LOCK('lk-mixed')") == 1  # nothing was taken on the way
        conn.select_db("commerce")
        with pytest.raises(pymysql.err.MySQLError) as info:  # an unsharded keyspace's pass-through too
            rows(conn, "SELECT sku, GET_LOCK('lk-mixed', 0) FROM product")
        assert info.value.args[0] == 1235
    finally:
        conn.close()


def test_the_plan_and_the_lock_shard(e2e_cluster: ClusterThread):
    conn, direct = e2e_cluster.connect("customer"), None
    try:
        [(text,)] = rows(conn, "VEXPLAIN SELECT GET_LOCK('lk-plan', 0)")
        plan = json.loads(text)["Instructions"]
        assert plan["OperatorType"] == "Lock" and plan["TargetDestination"] == "KeyspaceID(00)"
        assert one(conn, "SELECT GET_LOCK('lk-plan', 0)") == 1
        # The lock lives on the shard holding keyspace id 00 (-80), as the same name does for every session.
        direct = _shard_mysql(e2e_cluster, "-80").dba_connect()
        assert one(direct, "SELECT IS_FREE_LOCK('lk-plan')") == 0
        conn.select_db("customer:80-")  # a shard target takes its locks on that shard
        assert one(conn, "SELECT GET_LOCK('lk-plan', 0)") == 1
        assert one(conn, "SELECT IS_USED_LOCK('lk-plan')") is not None
    finally:
        conn.close()
        if direct is not None:
            direct.close()


def test_a_lost_lock_connection_is_reported_once(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    mysql = _shard_mysql(e2e_cluster, "-80")
    try:
        assert one(conn, "SELECT GET_LOCK('lk-lost', 0)") == 1
        backend = one(conn, "SELECT IS_USED_LOCK('lk-lost')")  # the lock connection's thread id
        mysql.execute(f"KILL {backend}")
        time.sleep(0.3)  # the gate sees the connection end
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, "SELECT RELEASE_LOCK('lk-lost')")
        assert info.value.args[0] == 1105 and "were lost" in info.value.args[1]
        assert one(conn, "SELECT GET_LOCK('lk-lost', 0)") == 1  # the next one starts afresh
        assert one(conn, "SELECT RELEASE_LOCK('lk-lost')") == 1
    finally:
        conn.close()


def test_kill_query_interrupts_a_lock_wait(e2e_cluster: ClusterThread):
    holder, victim, admin = (e2e_cluster.connect("customer") for _ in range(3))
    try:
        assert one(holder, "SELECT GET_LOCK('lk-kill', 0)") == 1
        outcome: list = []

        def wait_for_the_lock() -> None:
            started = time.monotonic()
            try:
                outcome.append(rows(victim, "SELECT GET_LOCK('lk-kill', 30)"))
            except pymysql.err.MySQLError as exc:
                outcome.append(exc)
            outcome.append(time.monotonic() - started)

        waiter = threading.Thread(target=wait_for_the_lock)
        waiter.start()
        time.sleep(0.5)
        rows(admin, f"KILL QUERY {victim.thread_id()}")
        waiter.join(10)
        answer, seconds = outcome
        assert seconds < 5, answer  # not the 30 s wait
        assert answer in ([(None,)],) or getattr(answer, "args", (0,))[0] == 1317
        assert one(holder, "SELECT RELEASE_LOCK('lk-kill')") == 1
    finally:
        for conn in (holder, victim, admin):
            conn.close()


def test_temporary_tables_live_on_the_sessions_reserved_connection(e2e_cluster: ClusterThread):
    owner, other = e2e_cluster.connect("commerce"), e2e_cluster.connect("commerce")
    try:
        rows(owner, "CREATE TEMPORARY TABLE tmp_cart (sku VARCHAR(32) PRIMARY KEY, qty INT)")
        rows(owner, "INSERT INTO tmp_cart VALUES ('a', 1), ('b', 2)")
        for _ in range(20):  # pooled connections (and the fast path) would lose it between statements
            assert rows(owner, "SELECT qty FROM tmp_cart WHERE sku = 'b'") == [(2,)]
        rows(owner, "BEGIN")
        rows(owner, "UPDATE tmp_cart SET qty = 5 WHERE sku = 'a'")
        rows(owner, "INSERT INTO product (sku, description, price) VALUES ('tmp-1', 'x', 1)")
        rows(owner, "ROLLBACK")
        assert rows(owner, "SELECT sku, qty FROM tmp_cart ORDER BY sku") == [("a", 1), ("b", 2)]
        assert rows(owner, "SELECT COUNT(*) FROM product WHERE sku = 'tmp-1'") == [(0,)]
        # No other session sees it, on any pooled connection.
        for _ in range(10):
            with pytest.raises(pymysql.err.MySQLError) as info:
                rows(other, "SELECT * FROM tmp_cart")
            assert info.value.args[0] == 1146
        rows(owner, "DROP TEMPORARY TABLE tmp_cart")
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(owner, "SELECT * FROM tmp_cart")
        assert info.value.args[0] == 1146
        rows(owner, "CREATE TEMPORARY TABLE tmp_cart (n INT)")
        owner.close()  # the session's end drops it with its connection
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(other, "SELECT * FROM tmp_cart")
        assert info.value.args[0] == 1146
    finally:
        close_open(owner, other)


def test_temporary_tables_are_refused_where_they_cannot_work(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, "CREATE TEMPORARY TABLE tmp_x (n INT)")
        assert info.value.args[0] == 1235 and "unsharded" in info.value.args[1]
        conn.select_db("commerce")
        rows(conn, "BEGIN")
        rows(conn, "SELECT COUNT(*) FROM product")
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, "CREATE TEMPORARY TABLE tmp_x (n INT)")
        assert info.value.args[0] == 1235 and "before BEGIN" in info.value.args[1]
        rows(conn, "ROLLBACK")
        assert rows(conn, "SELECT 1") == [(1,)]
    finally:
        conn.close()
