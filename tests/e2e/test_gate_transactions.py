"""Transactions through the gate: one shard, several shards in single and multi mode, disconnects."""

from __future__ import annotations

import threading
import time

import pymysql
import pytest

from tests.e2e.cluster import ClusterThread

# customer_id 1 hashes to shard -80 and 4 to 80- (Vitess's hash vindex: 166b40b4..., d2fd8867...).
LOW, HIGH = 1, 4


def run(conn: pymysql.connections.Connection, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


@pytest.fixture
def conn(e2e_cluster: ClusterThread):
    connection = e2e_cluster.connect("customer")
    run(connection, f"DELETE FROM customer WHERE customer_id IN ({LOW}, {HIGH}, 1001, 1004)")
    yield connection
    connection.close()
    with e2e_cluster.connect("customer") as cleanup:  # other files' tests count the customer rows
        run(cleanup, f"DELETE FROM customer WHERE customer_id IN ({LOW}, {HIGH}, 1001, 1004)")


def insert(conn, customer_id: int, name: str) -> None:
    run(conn, f"INSERT INTO customer (customer_id, name, email, tier, balance, created) VALUES "
              f"({customer_id}, '{name}', '{name}@example.com', 1, 0, '2026-01-01')")


def names(conn, *ids: int) -> set[str]:
    return {r[0] for r in run(conn, f"SELECT name FROM customer WHERE customer_id IN ({', '.join(map(str, ids))})")}


def test_rollback_undoes_writes_on_every_shard(conn):
    run(conn, "BEGIN")
    insert(conn, LOW, "low")
    insert(conn, HIGH, "high")
    assert names(conn, LOW, HIGH) == {"low", "high"}  # visible inside the transaction
    run(conn, "ROLLBACK")
    assert names(conn, LOW, HIGH) == set()


def test_multi_mode_commits_every_shard(conn):
    run(conn, "BEGIN")
    insert(conn, LOW, "low")
    insert(conn, HIGH, "high")
    run(conn, "COMMIT")
    assert names(conn, LOW, HIGH) == {"low", "high"}


def test_single_mode_refuses_a_second_shard(conn):
    run(conn, "SET transaction_mode = 'single'")
    run(conn, "BEGIN")
    insert(conn, LOW, "low")
    with pytest.raises(pymysql.err.MySQLError) as info:
        insert(conn, HIGH, "high")
    assert "multi-db transaction attempted" in info.value.args[1]
    run(conn, "ROLLBACK")
    assert names(conn, LOW, HIGH) == set()


def test_single_mode_refuses_a_first_statement_on_two_shards(conn):
    insert(conn, LOW, "low")
    insert(conn, HIGH, "high")
    run(conn, "SET transaction_mode = 'single'")
    run(conn, "BEGIN")
    with pytest.raises(pymysql.err.MySQLError) as info:  # a scatter read: both shards at once
        run(conn, f"SELECT name FROM customer WHERE customer_id BETWEEN {LOW} AND {HIGH}")
    assert "multi-db transaction attempted" in info.value.args[1]
    run(conn, "ROLLBACK")
    run(conn, "SET transaction_mode = 'multi'")
    run(conn, "BEGIN")
    assert {r[0] for r in run(conn, f"SELECT name FROM customer WHERE customer_id BETWEEN {LOW} AND {HIGH}")} \
        == {"low", "high"}
    run(conn, "COMMIT")


def test_single_mode_refuses_an_autocommit_write_to_two_shards_and_changes_nothing(conn):
    insert(conn, LOW, "low")
    insert(conn, HIGH, "high")
    run(conn, "SET transaction_mode = 'single'")
    with pytest.raises(pymysql.err.MySQLError) as info:  # it would run in a two-shard transaction of its own
        run(conn, f"UPDATE customer SET name = 'both' WHERE customer_id BETWEEN {LOW} AND {HIGH}")
    assert "multi-db transaction attempted" in info.value.args[1]
    assert names(conn, LOW, HIGH) == {"low", "high"}
    run(conn, f"UPDATE customer SET name = 'one' WHERE customer_id = {LOW}")  # one shard is fine
    assert names(conn, LOW, HIGH) == {"one", "high"}


def test_autocommit_off_opens_transactions_implicitly(conn, e2e_cluster: ClusterThread):
    run(conn, "SET autocommit = 0")
    insert(conn, LOW, "implicit")
    other = e2e_cluster.connect("customer")
    try:
        assert names(other, LOW) == set()  # not committed yet
        run(conn, "COMMIT")
        assert names(other, LOW) == {"implicit"}
    finally:
        other.close()


def test_a_client_that_disconnects_mid_transaction_is_rolled_back(e2e_cluster: ClusterThread, conn):
    leaving = e2e_cluster.connect("customer")
    run(leaving, "BEGIN")
    insert(leaving, 1001, "gone")
    leaving.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # the row lock must be released too: an update of the same row would otherwise wait
        run(conn, "SET innodb_lock_wait_timeout = 2")
        if names(conn, 1001) == set():
            insert(conn, 1001, "after")
            break
        time.sleep(0.1)
    assert names(conn, 1001) == {"after"}


def _shard_mysql(cluster: ClusterThread, shard: str):
    """The customer shard's MariaDB (its only tablet, the primary)."""
    [server] = [s for s in cluster.tablets.values() if (s.agent.config.keyspace, s.agent.config.shard) == ("customer", shard)]
    return server.agent.mysql


def test_a_transaction_that_lost_a_shard_connection_commits_nowhere(e2e_cluster: ClusterThread, conn):
    run(conn, "BEGIN")
    insert(conn, LOW, "low")  # -80 first: the commit order would commit it before 80- is found gone
    insert(conn, HIGH, "high")
    # The shard connection's id (CONNECTION_ID() is the gate's): pseudo_thread_id starts as the thread id.
    [(backend,)] = run(conn, f"SELECT @@pseudo_thread_id FROM customer WHERE customer_id = {HIGH}")
    _shard_mysql(e2e_cluster, "80-").execute(f"KILL {backend}")
    time.sleep(0.5)  # the gate sees the connection end
    with pytest.raises(pymysql.err.MySQLError) as info:
        run(conn, "COMMIT")
    assert "lost its part on customer/80- (its connection closed) and was rolled back on every shard" in info.value.args[1]
    assert names(conn, LOW, HIGH) == set()
    insert(conn, LOW, "next")  # the session goes on
    assert names(conn, LOW) == {"next"}


def test_a_statement_that_costs_a_shard_connection_rolls_the_transaction_back(conn):
    run(conn, "SET autocommit = 0")  # PyMySQL's default: every statement is in a transaction
    insert(conn, LOW, "low")
    insert(conn, HIGH, "high")
    [(limit,)] = run(conn, "SELECT @@max_allowed_packet")
    conn.max_allowed_packet = 4 * limit
    with pytest.raises(pymysql.err.MySQLError) as info:  # MariaDB answers 1153 and closes the connection
        run(conn, f"SELECT name FROM customer WHERE customer_id = {HIGH} AND name <> '{'x' * (limit + 1024)}'")
    assert info.value.args[0] == 1153 and "rolled back on every shard" in info.value.args[1], info.value.args
    assert names(conn, LOW, HIGH) == set()
    run(conn, "COMMIT")


@pytest.mark.parametrize("locking, fast", [
    ("UPDATE customer SET tier = 3 WHERE customer_id = {id}", False),
    ("SELECT name FROM customer WHERE customer_id = {id} FOR UPDATE", True),  # learned: the fast path runs it
])
def test_a_deadlock_on_one_shard_rolls_the_transaction_back_on_every_shard(e2e_cluster: ClusterThread, conn,
                                                                           locking: str, fast: bool):
    # 1, 2 and 3 hash to -80, 4 to 80-. The victim holds a row on 80- and one on -80; the other transaction
    # holds two rows on -80, so InnoDB picks the victim (fewer rows changed) when both wait for each other.
    run(conn, "DELETE FROM customer WHERE customer_id IN (2, 3)")
    for customer_id in (1, 2, 3, 4):
        insert(conn, customer_id, f"before{customer_id}")
    victim, other = conn, e2e_cluster.connect("customer")
    try:
        run(victim, "BEGIN")
        run(victim, locking.format(id=HIGH))  # its part on 80- (and a statement of the shape, learned)
        run(victim, locking.format(id=2))
        run(other, "BEGIN")
        run(other, "UPDATE customer SET name = 'other' WHERE customer_id IN (1, 3)")
        waiting = threading.Thread(target=run, args=(other, "UPDATE customer SET name = 'other' WHERE customer_id = 2"))
        waiting.start()
        time.sleep(0.3)  # the other transaction now waits for the victim's row 2
        assert e2e_cluster.gate is not None
        fast_before = e2e_cluster.gate.metrics.fast_path_queries
        with pytest.raises(pymysql.err.MySQLError) as info:
            run(victim, locking.format(id=1))
        assert info.value.args[0] == 1213, info.value.args
        assert (e2e_cluster.gate.metrics.fast_path_queries > fast_before) == fast
        if fast:  # the fast path passed MariaDB's answer on as it came; the next statement ends the rest
            with pytest.raises(pymysql.err.MySQLError) as info:
                run(victim, "COMMIT")
            assert info.value.args[0] == 1213, info.value.args
        assert "(a deadlock rolled it back) and was rolled back on every shard" in info.value.args[1], info.value.args
        waiting.join(10)
        run(other, "COMMIT")
        run(victim, "COMMIT")  # no transaction is open any more
        assert names(victim, 1, 2, 3) == {"other"}
        assert run(victim, f"SELECT tier FROM customer WHERE customer_id = {HIGH}") == [(1,)]  # nothing committed
    finally:
        other.close()
        run(conn, "DELETE FROM customer WHERE customer_id IN (2, 3)")


def test_concurrent_branches_opening_one_shard_share_its_transaction(e2e_cluster: ClusterThread, conn):
    """A UNION's branches run concurrently; two that open the transaction on the same shard must end up on one
    connection, not leave the other one lent out (and open) after COMMIT."""
    from tests.e2e.test_gate_fastpath import lent

    run(conn, "BEGIN")
    both = f"SELECT name FROM customer WHERE customer_id = {LOW} UNION ALL SELECT @@sql_mode"  # one shard, maybe twice
    for _ in range(5):
        run(conn, both)
        run(conn, f"SELECT name FROM customer WHERE customer_id = {LOW} UNION ALL "
                  f"SELECT name FROM customer WHERE customer_id = {LOW}")
    run(conn, "COMMIT")
    time.sleep(0.1)
    assert lent(e2e_cluster) == 0
