"""Server-side prepared statements through the gate: metadata at prepare time, binary rows at execute time,
whether the gate relays one shard's rows or merges several; and sysbench (libmariadb) end to end."""

from __future__ import annotations

import asyncio
import re
import subprocess

from shardline.mysql.client import connect
from tests.e2e.cluster import ClusterThread


def test_prepared_statements_route_merge_and_write(e2e_cluster: ClusterThread):
    async def scenario() -> None:
        conn = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            await conn.query("DELETE FROM customer WHERE customer_id IN (901, 904)")
            insert = await conn.prepare(
                "INSERT INTO customer (customer_id, name, email, tier, balance, created) VALUES (?, ?, ?, ?, ?, ?)")
            assert insert.param_count == 6
            for customer_id, name in ((901, "Nine-O-One"), (904, "Nine-O-Four")):
                await conn.execute(insert, [customer_id, name, f"c{customer_id}@example.com", 3, "12.50",
                                            "2026-02-03"])
            point = await conn.prepare("SELECT name, balance, created FROM customer WHERE customer_id = ?")
            assert [f.name for f in point.fields] == ["name", "balance", "created"]
            result = await conn.execute(point, [904])  # one shard: the shard's binary rows are relayed
            assert result.rows == [(b"Nine-O-Four", b"12.50", b"2026-02-03")]
            merged = await conn.prepare(
                "SELECT COUNT(*), SUM(balance) FROM customer WHERE customer_id IN (?, ?) AND tier = ?")
            result = await conn.execute(merged, [901, 904, 3])  # two shards merged at the gate
            assert result.rows == [(b"2", b"25.00")]
            update = await conn.prepare("UPDATE customer SET tier = ? WHERE customer_id = ?")
            await conn.execute(update, [4, 901])
            assert (await conn.query("SELECT tier FROM customer WHERE customer_id = 901")).rows == [(b"4",)]
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_rows_of_several_shards_are_relayed_one_shard_after_the_other(e2e_cluster: ClusterThread):
    """A scatter read that needs no merging: each shard's rows, binary or text, reach the client as sent."""
    async def scenario() -> None:
        conn = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            await conn.query("DELETE FROM customer WHERE customer_id BETWEEN 921 AND 960")
            expected = set()
            for customer_id in range(921, 961):  # both shards
                email = None if customer_id % 7 == 0 else f"c{customer_id}@example.com"
                quoted = "NULL" if email is None else f"'{email}'"
                await conn.query(f"INSERT INTO customer (customer_id, name, email, tier, balance, created) VALUES "
                                 f"({customer_id}, 'n{customer_id}', {quoted}, 5, 1.25, '2026-03-04')")
                expected.add((str(customer_id).encode(), None if email is None else email.encode(), b"1.25"))
            sql = "SELECT customer_id, email, balance FROM customer WHERE customer_id BETWEEN {} AND {} AND tier = 5"
            statement = await conn.prepare(sql.format("?", "?"))
            binary = await conn.execute(statement, [921, 960])
            text = await conn.query(sql.format(921, 960))
            for result in (binary, text):
                assert [f.name for f in result.fields] == ["customer_id", "email", "balance"]
                assert len(result.rows) == 40 and set(result.rows) == expected
            none = await conn.execute(statement, [5000, 5001])
            assert none.rows == [] and [f.name for f in none.fields] == ["customer_id", "email", "balance"]
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_sysbench_point_selects_with_and_without_prepared_statements(e2e_cluster: ClusterThread):
    common = ["--mysql-host=127.0.0.1", f"--mysql-port={e2e_cluster.gate_port}", "--mysql-user=root",
              "--mysql-password=", "--mysql-db=commerce", "--tables=1", "--table-size=200"]
    prepare = subprocess.run(["sysbench", "oltp_point_select", *common, "prepare"], capture_output=True, text=True,
                             timeout=120)
    assert prepare.returncode == 0, prepare.stdout + prepare.stderr
    try:
        for mode in ("auto", "disable"):
            run = subprocess.run(["sysbench", "oltp_point_select", *common, "--threads=2", "--time=2",
                                  f"--db-ps-mode={mode}", "run"], capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stdout + run.stderr
            queries = int(re.search(r"queries:\s+(\d+)", run.stdout).group(1))
            errors = int(re.search(r"ignored errors:\s+(\d+)", run.stdout).group(1))
            assert queries > 100 and errors == 0, run.stdout
    finally:
        subprocess.run(["sysbench", "oltp_point_select", *common, "cleanup"], capture_output=True, timeout=60)


def test_prepared_named_locks_and_found_rows_keep_to_the_session(e2e_cluster: ClusterThread):
    async def scenario() -> None:
        holder = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        other = await connect("127.0.0.1", e2e_cluster.gate_port, "root", "", "customer")
        try:
            get_lock = await holder.prepare("SELECT GET_LOCK(?, 0)")
            release = await holder.prepare("SELECT RELEASE_LOCK(?)")
            for _ in range(5):
                assert (await holder.execute(get_lock, ["lk-prepared"])).rows == [(b"1",)]
                assert (await other.query("SELECT IS_FREE_LOCK('lk-prepared')")).rows == [(b"0",)]
                assert (await holder.execute(release, ["lk-prepared"])).rows == [(b"1",)]
            await holder.query("DELETE FROM corder WHERE order_id BETWEEN 9301 AND 9304")
            await holder.query("INSERT INTO corder (order_id, customer_id, qty) VALUES "
                               + ", ".join(f"({i}, {i}, 1)" for i in range(9301, 9305)))  # on both shards
            counted = await holder.prepare("SELECT SQL_CALC_FOUND_ROWS order_id FROM corder "
                                           "WHERE order_id BETWEEN ? AND 9304 ORDER BY order_id LIMIT 1")
            assert (await holder.execute(counted, [9301])).rows == [(b"9301",)]
            assert (await holder.query("SELECT FOUND_ROWS()")).rows == [(b"4",)]
            assert (await holder.query("SELECT ROW_COUNT()")).rows == [(b"-1",)]
        finally:
            await holder.query("DELETE FROM corder WHERE order_id BETWEEN 9301 AND 9304")
            await holder.close()
            await other.close()

    asyncio.run(scenario())
