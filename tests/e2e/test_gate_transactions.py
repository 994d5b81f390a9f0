"""Transactions through the gate: one shard, several shards in single and multi mode, disconnects."""

from __future__ import annotations

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
