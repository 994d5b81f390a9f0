"""The gate's fast path: point selects learned from the ordinary path and then answered from the socket
callbacks, with the same answers, errors and ordering as the ordinary path; and what it leaves alone."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pymysql
import pytest

from shardline.errors import ShardlineError
from shardline.gate.fastpath import PIPELINE_MAX_SERVICE, FastRoute
from shardline.gate.planner.shape import statement_shape
from shardline.gate.server import Gate
from shardline.gate.session import Target
from shardline.mysql.binary import build_execute, parse_binary_row
from shardline.mysql.client import connect
from shardline.mysql.client_protocol import ClientHandshake, ResponseScanner
from shardline.mysql.framing import PacketReader, frame, split_packets
from shardline.mysql.resultset import decode_responses
from shardline.mysqlctl.users import DBA
from tests.e2e.cluster import ClusterThread

IDS = range(97001, 97041)


def rows(conn: pymysql.connections.Connection, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def gate_of(cluster: ClusterThread) -> Gate:
    assert cluster.gate is not None
    return cluster.gate


def fast_count(cluster: ClusterThread) -> int:
    return gate_of(cluster).metrics.fast_path_queries


def lent(cluster: ClusterThread) -> int:
    """Backend connections the gate's pools have lent out."""
    return sum(pool.in_use for pool in gate_of(cluster).gateway._pools.values())


@pytest.fixture(scope="module")
def customers(e2e_cluster: ClusterThread) -> Iterator[None]:
    conn = e2e_cluster.connect("customer")
    try:
        rows(conn, f"DELETE FROM customer WHERE customer_id BETWEEN {IDS[0]} AND {IDS[-1]}")
        values = ", ".join(f"({i}, 'fp{i}', 'fp{i}@example.com', 1, 0, '2026-01-01')" for i in IDS)
        rows(conn, f"INSERT INTO customer (customer_id, name, email, tier, balance, created) VALUES {values}")
        yield
        rows(conn, f"DELETE FROM customer WHERE customer_id BETWEEN {IDS[0]} AND {IDS[-1]}")
    finally:
        conn.close()


def test_point_selects_are_learned_then_answered_on_the_fast_path(e2e_cluster: ClusterThread, customers):
    conn = e2e_cluster.connect("customer")
    try:
        before = fast_count(e2e_cluster)
        for i in IDS:  # each row lives on one shard only: a wrong shard would answer no row
            assert rows(conn, f"SELECT name FROM customer WHERE customer_id = {i}") == [(f"fp{i}",)]
        assert fast_count(e2e_cluster) - before >= len(IDS) - 1  # all but the first, which taught the shape
        before = fast_count(e2e_cluster)
        for i in IDS[:5]:
            assert rows(conn, f"SELECT customer_id FROM customer WHERE customer_id = {i} AND name = 'fp{i}'") \
                == [(i,)]
            assert rows(conn, f"SELECT customer_id FROM customer WHERE customer_id = {i} AND name = 'other'") == []
        assert rows(conn, "SELECT name FROM customer WHERE customer_id = 96999") == []
        assert fast_count(e2e_cluster) - before >= 9
    finally:
        conn.close()


def test_unsharded_keyspace_selects_take_the_fast_path(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("commerce")
    try:
        before = fast_count(e2e_cluster)
        for n in range(5):
            assert rows(conn, f"SELECT {n} + 1 FROM product LIMIT 1") in ([], [(n + 1,)])
        assert fast_count(e2e_cluster) - before >= 4
    finally:
        conn.close()


def test_prepared_point_selects_take_the_fast_path(e2e_cluster: ClusterThread, customers):
    async def scenario() -> None:
        conn = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            point = await conn.prepare("SELECT name, customer_id FROM customer WHERE customer_id = ?")
            for _ in range(3):  # the ordinary path prepares it on the backend connections it uses
                await conn.execute(point, [IDS[0]])
            before = fast_count(e2e_cluster)
            for i in IDS:
                assert (await conn.execute(point, [i])).rows == [(f"fp{i}".encode(), str(i).encode())]
            assert fast_count(e2e_cluster) - before >= len(IDS) // 2
            # An execution without parameter types (the client bound them before) still reaches a backend
            # connection that never saw them.
            payload = bytearray(build_execute(point.id, [IDS[7]]))
            flag = 1 + 9 + 1
            payload[flag] = 0
            del payload[flag + 1 : flag + 3]
            for _ in range(6):
                raw = await conn._request(bytes(payload))  # the client has no public call for this packet
                results, _ = decode_responses(split_packets(raw), parse_binary_row)
                assert results[0].rows == [(f"fp{IDS[7]}".encode(), str(IDS[7]).encode())]
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_scatter_reads_with_nothing_to_merge_take_the_fast_path(e2e_cluster: ClusterThread, customers):
    """Every shard's rows, text or binary, relayed one shard after the other; shard errors and transactions too."""
    expected = {(i, f"fp{i}") for i in IDS}  # on both shards
    sql = "SELECT customer_id, name FROM customer WHERE name LIKE {} AND tier = {}"
    conn = e2e_cluster.connect("customer")
    try:
        before = fast_count(e2e_cluster)
        for _ in range(4):  # the first teaches the shape
            assert set(rows(conn, sql.format("'fp%'", 1))) == expected
        assert rows(conn, sql.format("'nobody'", 1)) == []
        assert fast_count(e2e_cluster) - before >= 4
        with pytest.raises(pymysql.err.MySQLError) as info:  # the same shape, refused by both shards
            rows(conn, "SELECT customer_id, name FROM customer WHERE name REGEXP '(' AND tier = 1")
        assert info.value.args[0] == 1139
        rows(conn, "SELECT customer_id, name FROM customer WHERE name REGEXP 'fp' AND tier = 1")  # learned
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, "SELECT customer_id, name FROM customer WHERE name REGEXP '(' AND tier = 1")
        assert info.value.args[0] == 1139
        assert rows(conn, "SELECT 1") == [(1,)] and lent(e2e_cluster) == 0
        rows(conn, "BEGIN")  # inside a transaction every shard joins it: the ordinary path opens them
        before = fast_count(e2e_cluster)
        assert set(rows(conn, sql.format("'fp%'", 1))) == expected
        assert fast_count(e2e_cluster) == before
        # Once the transaction holds every shard, the statement runs on its connections: it sees its writes.
        rows(conn, f"UPDATE customer SET tier = 2 WHERE customer_id BETWEEN {IDS[0]} AND {IDS[-1]}")
        assert set(rows(conn, sql.format("'fp%'", 2))) == expected
        assert rows(conn, sql.format("'fp%'", 1)) == []
        assert fast_count(e2e_cluster) == before + 2
        other = e2e_cluster.connect("customer")
        try:
            assert set(rows(other, sql.format("'fp%'", 1))) == expected  # nobody else sees it before a commit
        finally:
            other.close()
        assert lent(e2e_cluster) == 2  # the transaction's two connections, nothing given back twice
        rows(conn, "ROLLBACK")
        assert set(rows(conn, sql.format("'fp%'", 1))) == expected
        assert lent(e2e_cluster) == 0
    finally:
        conn.close()

    async def prepared() -> None:
        client = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            statement = await client.prepare(sql.format("?", "?"))
            for _ in range(3):  # the ordinary path prepares it on the backend connections it uses
                await client.execute(statement, ["fp%", 1])
            before = fast_count(e2e_cluster)
            for _ in range(5):
                result = await client.execute(statement, ["fp%", 1])
                assert {(int(i), name.decode()) for i, name in result.rows} == expected
            assert fast_count(e2e_cluster) - before >= 3
        finally:
            await client.close()

    asyncio.run(prepared())



def _merged_cases(low: int, high: int) -> list[tuple[str, list[tuple]]]:
    """Scatter reads the gate must finish (merge, aggregate, DISTINCT, LIMIT) over customer_id in [low, high],
    each with the rows MySQL gives for the fixture's data."""
    ids = [i for i in IDS if low <= i <= high]
    where = f"WHERE customer_id BETWEEN {low} AND {high} AND name LIKE 'fp%'"
    by_name = sorted(ids, key=lambda i: f"fp{i}")
    return [
        (f"SELECT name FROM customer {where} ORDER BY name", [(f"fp{i}",) for i in by_name]),
        (f"SELECT customer_id, name FROM customer {where} ORDER BY name DESC LIMIT 3",
         [(i, f"fp{i}") for i in by_name[::-1][:3]]),
        (f"SELECT customer_id FROM customer {where} ORDER BY customer_id LIMIT 2, 4",
         [(i,) for i in ids[2:6]]),
        (f"SELECT SUM(customer_id), COUNT(*), MIN(name), MAX(customer_id) FROM customer {where}",
         [(sum(ids) if ids else None, len(ids), f"fp{by_name[0]}" if ids else None, max(ids, default=None))]),
        (f"SELECT DISTINCT tier FROM customer {where} ORDER BY tier", [(1,)] if ids else []),
        (f"SELECT tier, COUNT(*) AS n FROM customer {where} GROUP BY tier", [(1, len(ids))] if ids else []),
    ]


def _plain(value: object) -> object:
    return int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, float) else value


def test_scatter_reads_the_gate_merges_take_the_fast_path(e2e_cluster: ClusterThread, customers):
    """ORDER BY, LIMIT, aggregates and DISTINCT over every shard: merged in the socket callback as the ordinary
    path merges them, with the same rows and column names; shard errors and transactions too."""
    conn = e2e_cluster.connect("customer")
    try:
        for sql, expected in _merged_cases(IDS[0], IDS[-1]):
            with conn.cursor() as cursor:  # the first teaches the shape on the ordinary path
                cursor.execute(sql)
                assert [tuple(map(_plain, r)) for r in cursor.fetchall()] == expected, sql
                names = [d[0] for d in cursor.description]
            before = fast_count(e2e_cluster)
            for low, high in ((IDS[0], IDS[-1]), (IDS[3], IDS[20]), (IDS[10], IDS[10]), (1, 2)):
                variant, want = next((s, e) for s, e in _merged_cases(low, high) if s.split(" FROM")[0] ==
                                     sql.split(" FROM")[0] and s.split("ORDER BY")[1:] == sql.split("ORDER BY")[1:]
                                     and s.split("LIMIT")[1:] == sql.split("LIMIT")[1:])
                with conn.cursor() as cursor:
                    cursor.execute(variant)
                    assert [tuple(map(_plain, r)) for r in cursor.fetchall()] == want, variant
                    assert [d[0] for d in cursor.description] == names
            assert fast_count(e2e_cluster) - before == 4, sql
        shaped = "SELECT name FROM customer WHERE name REGEXP '{}' AND tier = 1 ORDER BY name"
        assert rows(conn, shaped.format("^fp970[01]")) == [(f"fp{i}",) for i in sorted(IDS)[:19] if i < 97020]
        before = fast_count(e2e_cluster)
        with pytest.raises(pymysql.err.MySQLError) as info:  # learned shape, refused by the shards
            rows(conn, shaped.format("("))
        assert info.value.args[0] == 1139 and fast_count(e2e_cluster) == before + 1
        assert lent(e2e_cluster) == 0
        rows(conn, "BEGIN")
        rows(conn, f"UPDATE customer SET tier = 2 WHERE customer_id BETWEEN {IDS[0]} AND {IDS[4]}")  # both shards
        before = fast_count(e2e_cluster)
        assert rows(conn, f"SELECT DISTINCT tier FROM customer WHERE customer_id BETWEEN {IDS[0]} AND {IDS[-1]}"
                          " AND name LIKE 'fp%' ORDER BY tier") == [(1,), (2,)]  # its own writes
        assert fast_count(e2e_cluster) == before + 1 and lent(e2e_cluster) == 2
        rows(conn, "ROLLBACK")
        assert lent(e2e_cluster) == 0
    finally:
        conn.close()


def test_prepared_scatter_reads_the_gate_merges_take_the_fast_path(e2e_cluster: ClusterThread, customers):
    """Binary rows of merged reads, parameters in the route's query and LIMIT; a bad LIMIT is refused."""

    async def scenario() -> None:
        client = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            statement = await client.prepare("SELECT customer_id, name FROM customer WHERE customer_id BETWEEN ? AND ?"
                                             " AND name LIKE 'fp%' ORDER BY name DESC LIMIT ?")
            total = await client.prepare("SELECT SUM(customer_id), COUNT(*) FROM customer WHERE customer_id "
                                         "BETWEEN ? AND ?")
            await client.execute(statement, [IDS[0], IDS[-1], 3])  # teaches it
            await client.execute(total, [IDS[0], IDS[-1]])
            before = fast_count(e2e_cluster)
            for low, high, count in ((IDS[0], IDS[-1], 5), (IDS[5], IDS[9], 10), (1, 2, 3)):
                ids = sorted((i for i in IDS if low <= i <= high), key=lambda i: f"fp{i}", reverse=True)
                result = await client.execute(statement, [low, high, count])
                assert result.rows == [(str(i).encode(), f"fp{i}".encode()) for i in ids[:count]]
                result = await client.execute(total, [low, high])
                assert result.rows == [(str(sum(ids)).encode() if ids else None, str(len(ids)).encode())]
            assert fast_count(e2e_cluster) - before == 6
            with pytest.raises(ShardlineError) as info:  # a bad LIMIT: the ordinary path gives its error
                await client.execute(statement, [IDS[0], IDS[-1], -1])
            assert info.value.code == 1210
        finally:
            await client.close()

    asyncio.run(scenario())

def test_transactions_targets_and_settings_keep_their_meaning(e2e_cluster: ClusterThread, customers):
    conn = e2e_cluster.connect("customer")
    try:
        sql = f"SELECT name FROM customer WHERE customer_id = {IDS[1]}"
        rows(conn, sql)
        rows(conn, "BEGIN")
        rows(conn, f"UPDATE customer SET name = 'changed' WHERE customer_id = {IDS[1]}")
        before = fast_count(e2e_cluster)
        assert rows(conn, sql) == [("changed",)]  # on the transaction's connection: it sees its own write
        assert fast_count(e2e_cluster) == before + 1
        other = e2e_cluster.connect("customer")
        try:
            assert rows(other, sql) == [(f"fp{IDS[1]}",)]  # nobody else sees it before the commit
        finally:
            other.close()
        rows(conn, "ROLLBACK")
        assert rows(conn, sql) == [(f"fp{IDS[1]}",)]
        rows(conn, "SET autocommit = 0")
        before = fast_count(e2e_cluster)
        rows(conn, sql)  # opens the transaction on the shard: the ordinary path
        rows(conn, f"UPDATE customer SET name = 'again' WHERE customer_id = {IDS[1]}")
        assert rows(conn, sql) == [("again",)]  # then on the transaction's connection
        assert fast_count(e2e_cluster) == before + 1
        rows(conn, "ROLLBACK")
        assert rows(conn, sql) == [(f"fp{IDS[1]}",)]
        rows(conn, "SET autocommit = 1")
        rows(conn, "SET SESSION sql_mode = 'PIPES_AS_CONCAT'")
        for _ in range(3):  # each answer must see the session's sql_mode, whichever path it takes
            assert rows(conn, f"SELECT 'a' || name FROM customer WHERE customer_id = {IDS[2]}") \
                == [(f"afp{IDS[2]}",)]
        shard = rows(conn, f"SELECT name FROM customer WHERE customer_id = {IDS[3]}")
        rows(conn, "USE `customer:-80`")
        before = fast_count(e2e_cluster)
        on_shard = rows(conn, f"SELECT name FROM customer WHERE customer_id = {IDS[3]}")
        assert on_shard in ([], shard)  # a shard target reads that shard, found or not
        assert fast_count(e2e_cluster) == before
    finally:
        conn.close()


def _ids_by_shard(cluster: ClusterThread) -> dict[str, list[int]]:
    """IDS grouped by the customer shard that holds their rows."""
    conn = cluster.connect("customer")
    try:
        found: dict[str, list[int]] = {}
        for shard in ("-80", "80-"):
            rows(conn, f"USE `customer:{shard}`")
            found[shard] = [i for (i,) in rows(
                conn, f"SELECT customer_id FROM customer WHERE customer_id BETWEEN {IDS[0]} AND {IDS[-1]}")]
        return found
    finally:
        conn.close()


def test_begin_commit_and_a_transactions_first_read_take_the_fast_path(e2e_cluster: ClusterThread, customers):
    in_trans = pymysql.constants.SERVER_STATUS.SERVER_STATUS_IN_TRANS
    conn, other = e2e_cluster.connect("customer"), e2e_cluster.connect("customer")
    sql = f"SELECT name FROM customer WHERE customer_id = {IDS[4]}"
    try:
        rows(conn, sql)  # teaches the shape
        idle = lent(e2e_cluster)
        before = fast_count(e2e_cluster)
        rows(conn, "BEGIN")
        assert conn.server_status & in_trans
        assert rows(conn, sql) == [(f"fp{IDS[4]}",)]  # opens the transaction on the shard: its snapshot
        rows(other, f"UPDATE customer SET name = 'after' WHERE customer_id = {IDS[4]}")
        assert rows(conn, sql) == [(f"fp{IDS[4]}",)]  # repeatable read: the same transaction on the shard
        assert lent(e2e_cluster) == idle + 1  # the transaction holds one connection
        rows(conn, "commit ;")
        assert not conn.server_status & in_trans
        assert fast_count(e2e_cluster) - before == 4
        assert lent(e2e_cluster) == idle
        assert rows(conn, sql) == [("after",)]
        rows(conn, "START TRANSACTION")
        rows(conn, "ROLLBACK")  # nothing reached a shard: it ends at the gate
        assert fast_count(e2e_cluster) - before == 7 and not conn.server_status & in_trans
    finally:
        rows(other, f"UPDATE customer SET name = 'fp{IDS[4]}' WHERE customer_id = {IDS[4]}")
        conn.close()
        other.close()


def test_prepared_begin_and_commit_take_the_fast_path(e2e_cluster: ClusterThread, customers):
    async def scenario() -> None:
        conn = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            begin, commit = await conn.prepare("BEGIN"), await conn.prepare("COMMIT")
            point = await conn.prepare("SELECT name FROM customer WHERE customer_id = ?")
            for _ in range(3):
                await conn.execute(point, [IDS[5]])
            before = fast_count(e2e_cluster)
            await conn.execute(begin)
            assert conn.in_transaction
            assert (await conn.execute(point, [IDS[5]])).rows == [(f"fp{IDS[5]}".encode(),)]
            await conn.execute(commit)
            assert not conn.in_transaction
            assert fast_count(e2e_cluster) - before == 3
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_transactions_over_two_shards_keep_their_rules_on_the_fast_path(e2e_cluster: ClusterThread, customers):
    by_shard = _ids_by_shard(e2e_cluster)
    low, high = by_shard["-80"][0], by_shard["80-"][0]
    conn = e2e_cluster.connect("customer")
    try:
        rows(conn, f"SELECT name FROM customer WHERE customer_id = {low}")
        idle = lent(e2e_cluster)
        rows(conn, "BEGIN")
        assert rows(conn, f"SELECT name FROM customer WHERE customer_id = {low}") == [(f"fp{low}",)]
        assert rows(conn, f"SELECT name FROM customer WHERE customer_id = {high}") == [(f"fp{high}",)]
        assert lent(e2e_cluster) == idle + 2
        before = fast_count(e2e_cluster)
        rows(conn, "COMMIT")  # two shards, committed one after the other
        assert lent(e2e_cluster) == idle and fast_count(e2e_cluster) == before + 1
        rows(conn, "BEGIN")
        rows(conn, f"UPDATE customer SET tier = 3 WHERE customer_id IN ({low}, {high})")
        before = fast_count(e2e_cluster)
        rows(conn, "ROLLBACK")  # on both shards at once
        assert fast_count(e2e_cluster) == before + 1 and lent(e2e_cluster) == idle
        assert rows(conn, f"SELECT tier FROM customer WHERE customer_id IN ({low}, {high})") == [(1,), (1,)]
        rows(conn, "SET transaction_mode = 'single'")
        rows(conn, "BEGIN")
        rows(conn, f"SELECT name FROM customer WHERE customer_id = {low}")
        with pytest.raises(pymysql.err.MySQLError, match="multi-db transaction attempted"):
            rows(conn, f"SELECT name FROM customer WHERE customer_id = {high}")
        rows(conn, "ROLLBACK")
        assert lent(e2e_cluster) == idle
    finally:
        conn.close()



def test_a_commit_that_fails_on_its_second_shard_names_the_shard_committed(e2e_cluster: ClusterThread, customers):
    """COMMIT shard after shard: the first commits, the second refuses (its MariaDB turned read-only), so its
    part is rolled back and the client is told which shard did commit."""
    by_shard = _ids_by_shard(e2e_cluster)
    low, high = by_shard["-80"][0], by_shard["80-"][0]
    conn = e2e_cluster.connect("customer")
    dba = _primary_dba(e2e_cluster, "80-")
    try:
        rows(conn, f"UPDATE customer SET tier = 1 WHERE customer_id IN ({low}, {high})")
        rows(conn, "BEGIN")
        rows(conn, f"UPDATE customer SET tier = 4 WHERE customer_id = {low}")  # -80 joins first
        rows(conn, f"UPDATE customer SET tier = 4 WHERE customer_id = {high}")
        rows(dba, "SET GLOBAL read_only = 1")  # a COMMIT with changes now fails with 1290
        before = fast_count(e2e_cluster)
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, "COMMIT")
        assert "multi-shard commit failed part-way: committed on customer/-80" in info.value.args[1]
        assert info.value.args[0] == 1290
        assert fast_count(e2e_cluster) == before + 1
        rows(dba, "SET GLOBAL read_only = 0")
        assert rows(conn, f"SELECT customer_id, tier FROM customer WHERE customer_id IN ({low}, {high}) "
                          "ORDER BY customer_id") == sorted([(low, 4), (high, 1)])
        assert lent(e2e_cluster) == 0
    finally:
        rows(dba, "SET GLOBAL read_only = 0")
        dba.close()
        rows(conn, f"UPDATE customer SET tier = 1 WHERE customer_id IN ({low}, {high})")
        conn.close()


def _primary_dba(cluster: ClusterThread, shard: str) -> pymysql.connections.Connection:
    """A DBA connection to the customer shard's primary MariaDB."""
    gate = gate_of(cluster)
    alias = next(str(v.tablet.alias) for v in gate.serving.tablets()
                 if v.tablet.keyspace == "customer" and v.tablet.shard == shard and v.tablet_type == "primary")
    pool = next(p for (key, _, _), p in gate.gateway._pools.items() if key == alias)
    return pymysql.connect(unix_socket=pool.unix_socket, user=DBA.user, password=DBA.password, autocommit=True)

def test_an_error_on_the_fast_path_is_the_shards_error(e2e_cluster: ClusterThread, customers):
    conn = e2e_cluster.connect("customer")
    try:
        template = "SELECT name REGEXP '{pattern}' FROM customer WHERE customer_id = {id}"
        assert rows(conn, template.format(pattern="^fp", id=IDS[4])) == [(1,)]
        before = fast_count(e2e_cluster)
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, template.format(pattern="(", id=IDS[5]))
        assert info.value.args[0] == 1139  # MariaDB's regex error, as the shard answered it
        assert fast_count(e2e_cluster) == before + 1
        assert rows(conn, template.format(pattern="^fp", id=IDS[5])) == [(1,)]  # the connection goes on
    finally:
        conn.close()


def test_a_client_gone_during_a_fast_query_gives_its_connection_back(e2e_cluster: ClusterThread, customers):
    conn = e2e_cluster.connect("customer")
    template = f"SELECT SLEEP({{seconds}}) FROM customer WHERE customer_id = {IDS[6]}"
    rows(conn, template.format(seconds="0.01"))  # learn the shape
    before = fast_count(e2e_cluster)
    conn._execute_command(3, template.format(seconds="0.5"))  # sent, answer never read
    time.sleep(0.1)
    conn._force_close()
    busy = lent(e2e_cluster)
    assert busy >= 1
    deadline = time.monotonic() + 5
    while lent(e2e_cluster) >= busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lent(e2e_cluster) < busy
    assert fast_count(e2e_cluster) == before + 1
    other = e2e_cluster.connect("customer")
    try:
        assert rows(other, template.format(seconds="0")) == [(0,)]
    finally:
        other.close()


def test_a_client_gone_mid_transaction_on_the_fast_path_has_it_rolled_back(e2e_cluster: ClusterThread, customers):
    conn, other = e2e_cluster.connect("customer"), e2e_cluster.connect("customer")
    template = f"SELECT SLEEP({{seconds}}) FROM customer WHERE customer_id = {IDS[8]}"
    try:
        rows(conn, template.format(seconds="0.01"))  # learn the shape
        idle = lent(e2e_cluster)
        rows(conn, "BEGIN")
        rows(conn, f"UPDATE customer SET name = 'uncommitted' WHERE customer_id = {IDS[8]}")
        conn._execute_command(3, template.format(seconds="0.5"))  # on the transaction's connection, never read
        time.sleep(0.1)
        conn._force_close()
        deadline = time.monotonic() + 5
        while lent(e2e_cluster) > idle and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lent(e2e_cluster) == idle  # the busy connection was closed, not kept nor lent again
        assert rows(other, f"SELECT name FROM customer WHERE customer_id = {IDS[8]}") == [(f"fp{IDS[8]}",)]
        rows(other, f"UPDATE customer SET name = 'fp{IDS[8]}' WHERE customer_id = {IDS[8]}")  # no lock left
    finally:
        other.close()


def _raw_session(port: int, database: str) -> socket.socket:
    """A socket past the MySQL handshake (user root, no password)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = PacketReader()
    handshake = ClientHandshake("root", "", database)
    while not handshake.done:
        for seq, payload in reader.feed(sock.recv(65536)):
            reply = handshake.receive(payload)
            if reply is not None:
                sock.sendall(frame(reply, seq + 1)[0])
    return sock


def _read_response(sock: socket.socket, buffer: bytearray) -> bytes:
    scanner = ResponseScanner()
    scanner.start()
    while True:
        end = scanner.scan(buffer, 0)
        if scanner.done:
            response = bytes(buffer[:end])
            del buffer[:end]
            return response
        scanner.start()
        buffer += sock.recv(65536)


def test_pipelined_commands_are_answered_in_order(e2e_cluster: ClusterThread, customers):
    sock = _raw_session(e2e_cluster.gate_port, "customer")
    try:
        statements = [f"SELECT name FROM customer WHERE customer_id = {i}" for i in IDS[10:14]]
        statements.insert(2, "SELECT 'ordinary path'")
        for _ in range(2):  # the second round has every point select's shape learned
            sock.sendall(b"".join(frame(b"\x03" + sql.encode(), 0)[0] for sql in statements))
            buffer = bytearray()
            answers = []
            for _ in statements:
                results, _ = decode_responses(split_packets(_read_response(sock, buffer)))
                answers.append(results[0].rows)
            assert answers == [[(b"fp97011",)], [(b"fp97012",)], [(b"ordinary path",)], [(b"fp97013",)],
                               [(b"fp97014",)]]
    finally:
        sock.close()


def test_more_pipelined_commands_than_the_queue_holds_are_all_answered(e2e_cluster: ClusterThread, customers):
    sock = _raw_session(e2e_cluster.gate_port, "customer")
    try:
        ids = [IDS[n % len(IDS)] for n in range(150)]  # reading pauses past 64 queued commands, then resumes
        for _ in range(3):  # the first round teaches the shape; the others run on the fast path
            sock.sendall(b"".join(frame(b"\x03" + f"SELECT name FROM customer WHERE customer_id = {i}".encode(), 0)[0]
                                  for i in ids))
            buffer = bytearray()
            for i in ids:
                results, _ = decode_responses(split_packets(_read_response(sock, buffer)))
                assert results[0].rows == [(f"fp{i}".encode(),)]
    finally:
        sock.close()


def test_many_pipelined_transaction_statements_answered_at_once_are_all_answered(e2e_cluster: ClusterThread):
    sock = _raw_session(e2e_cluster.gate_port, "customer")
    try:
        before = fast_count(e2e_cluster)
        statements = [b"BEGIN", b"COMMIT"] * 400  # answered inside the socket callback, one after the other
        sock.sendall(b"".join(frame(b"\x03" + sql, 0)[0] for sql in statements))
        buffer = bytearray()
        for _ in statements:
            assert _read_response(sock, buffer)[4] == 0x00  # an OK each, in order
        assert fast_count(e2e_cluster) - before == len(statements)
        sock.sendall(frame(b"\x03SELECT 'still served'", 0)[0])
        results, _ = decode_responses(split_packets(_read_response(sock, buffer)))
        assert results[0].rows == [(b"still served",)]
    finally:
        sock.close()


def test_backend_connections_use_the_local_unix_socket(e2e_cluster: ClusterThread, customers):
    conn = e2e_cluster.connect("customer")
    try:
        rows(conn, f"SELECT name FROM customer WHERE customer_id = {IDS[0]}")
    finally:
        conn.close()
    pools = list(gate_of(e2e_cluster).gateway._pools.values())
    assert pools and all(pool.unix_socket.endswith("mysql.sock") for pool in pools)


def test_concurrent_clients_share_pipelined_connections_and_get_their_own_rows(e2e_cluster: ClusterThread,
                                                                                 customers):
    failures: list[str] = []

    def client(offset: int) -> None:
        conn = e2e_cluster.connect("customer")
        try:
            for n in range(120):
                i = IDS[(offset + n * 7) % len(IDS)]
                got = rows(conn, f"SELECT name FROM customer WHERE customer_id = {i}")
                if got != [(f"fp{i}",)]:
                    failures.append(f"{i}: {got}")
        finally:
            conn.close()

    before = fast_count(e2e_cluster)
    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert fast_count(e2e_cluster) - before > 8 * 100
    assert lent(e2e_cluster) == 0


def test_a_statement_that_may_wait_is_not_pipelined(e2e_cluster: ClusterThread, customers):
    sleeper, other = e2e_cluster.connect("customer"), e2e_cluster.connect("customer")
    try:
        template = f"SELECT SLEEP({{seconds}}) FROM customer WHERE customer_id = {IDS[8]}"
        rows(sleeper, template.format(seconds="0.01"))
        point = f"SELECT name FROM customer WHERE customer_id = {IDS[9]}"
        rows(other, point)
        sleeper._execute_command(3, template.format(seconds="0.6"))  # sent; its answer is read below
        time.sleep(0.05)
        started = time.monotonic()
        for _ in range(5):
            assert rows(other, point) == [(f"fp{IDS[9]}",)]
        assert time.monotonic() - started < 0.4  # not queued behind the sleep on its backend connection
        assert sleeper._read_query_result() == 1
    finally:
        sleeper.close()
        other.close()


def test_a_slow_statement_is_not_pipelined_while_it_is_slow(e2e_cluster: ClusterThread):
    template = "SELECT LENGTH(SHA2(REPEAT('ab', {n}), 256))"  # some milliseconds of MariaDB's CPU at 3,000,000
    conn = e2e_cluster.connect("commerce")
    try:
        for _ in range(25):
            assert rows(conn, template.format(n=3000000)) == [(64,)]
        route = gate_of(e2e_cluster).executor.fast.routes[
            ("q", statement_shape(template.format(n=1))[0], Target("commerce"))]
        assert isinstance(route, FastRoute)
        assert route.service > PIPELINE_MAX_SERVICE and not route.pipelined
        deadline = time.monotonic() + 30
        while not route.pipelined and time.monotonic() < deadline:  # the same shape, fast again: the average
            for _ in range(50):  # falls (a stolen spell of the machine can make it take more statements)
                assert rows(conn, template.format(n=3)) == [(64,)]
        assert route.pipelined and route.service <= PIPELINE_MAX_SERVICE
    finally:
        conn.close()


def test_replica_reads_take_the_fast_path_to_a_replica(e2e_cluster: ClusterThread):
    primary = e2e_cluster.connect("commerce")
    replica = e2e_cluster.connect("commerce@replica")
    try:
        rows(primary, "DELETE FROM product WHERE sku = 'fp-replica'")
        rows(primary, "INSERT INTO product (sku, description, price) VALUES ('fp-replica', 'on both', 1.50)")
        sql = "SELECT description FROM product WHERE sku = 'fp-replica'"
        deadline = time.monotonic() + 15
        while True:  # the replica reports healthy and replication catches up
            try:
                if rows(replica, sql) == [("on both",)]:
                    break
            except pymysql.err.OperationalError as exc:
                assert exc.args[0] == 1105  # no healthy replica yet
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = fast_count(e2e_cluster)
        for _ in range(5):
            assert rows(replica, sql) == [("on both",)]
        assert fast_count(e2e_cluster) - before == 5
        assert rows(replica, "SELECT @@read_only FROM product WHERE sku = 'fp-replica'") == [(1,)]  # a replica
        assert rows(primary, "SELECT @@read_only FROM product WHERE sku = 'fp-replica'") == [(0,)]
    finally:
        rows(primary, "DELETE FROM product WHERE sku = 'fp-replica'")
        primary.close()
        replica.close()


def test_a_shape_whose_literals_shape_the_plan_is_not_learned(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("commerce")
    try:
        before = fast_count(e2e_cluster)
        for column in (1, 2, 1, 2):  # ORDER BY 1 stays in the plan, while the shape would mask it
            rows(conn, f"SELECT sku, price FROM product ORDER BY {column}")
        assert fast_count(e2e_cluster) == before
    finally:
        conn.close()
