"""``shardline up`` / ``down`` / ``status`` as a user runs them: a whole local cluster in a temp root on free
ports, rows that survive ``down`` and ``up``, and a second ``up`` that changes nothing."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from shardline.cluster.layout import ClusterLayout
from shardline.cluster.procs import is_shardline_process, shardline_executable
from shardline.mysqlctl.users import APP
from tests.ports import HIGH, LOW

pytestmark = pytest.mark.slow


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_base(root: Path) -> int:
    """A port base whose every cluster port is free now and, like ``free_port``'s, below the ephemeral range,
    where an outgoing connection could take one before the cluster binds it (bases are multiples of 1000)."""
    for _ in range(50):
        base = random.randrange(LOW // 1000, HIGH // 1000) * 1000
        layout = ClusterLayout(root, 2, 1, base)
        ports = [layout.ctld_port, layout.gate_port, layout.gate_http_port]
        ports += [port for plan in layout.tablets for port in (plan.port, plan.mysql_port)]
        if max(ports) <= HIGH and all(_free(port) for port in ports):
            return base
    pytest.fail("no free port base found below the ephemeral port range")


def shardline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shardline_executable(), *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[ClusterLayout]:
    root = tmp_path_factory.mktemp("cluster")
    base = _free_port_base(root)
    started = time.monotonic()
    result = shardline("up", "--root", str(root), "--port-base", str(base))
    elapsed = time.monotonic() - started
    try:
        assert result.returncode == 0, result.stderr
        assert elapsed < 60, f"up took {elapsed:.1f}s"
        print(f"\nshardline up took {elapsed:.1f}s")
        yield ClusterLayout.load(root)
    finally:
        shardline("down", "--root", str(root))


def primary_connection(layout: ClusterLayout, uid: int) -> pymysql.Connection:
    plan = next(plan for plan in layout.tablets if plan.uid == uid)
    return pymysql.connect(
        host="127.0.0.1", port=plan.mysql_port, user=APP.user, password=APP.password, database=plan.keyspace,
        autocommit=True, read_timeout=30,  # a write that no semi-sync replica acknowledges would hang
    )  # fmt: skip


def query(conn: pymysql.Connection, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def ctl(layout: ClusterLayout, *args: str) -> object:
    result = shardline("ctl", "--server", f"127.0.0.1:{layout.ctld_port}", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_up_builds_the_sample_cluster(cluster):
    shards = ctl(cluster, "FindAllShardsInKeyspace", "customer")
    assert {name: shard["primary_alias"]["uid"] for name, shard in shards.items()} == {"-80": 200, "80-": 300}
    tablets = ctl(cluster, "GetTablets", "--keyspace", "commerce")
    assert [(t["alias"]["uid"], t["type"]) for t in tablets] == [(100, "PRIMARY"), (101, "REPLICA")]
    vschema = ctl(cluster, "GetVSchema", "customer")
    assert vschema["tables"]["corder"]["auto_increment"]["sequence"] == "commerce.corder_seq"
    srv = ctl(cluster, "GetSrvKeyspace", "zone1", "customer")
    assert [ref["name"] for ref in srv["partitions"]["PRIMARY"]] == ["-80", "80-"]
    with primary_connection(cluster, 100) as conn:
        assert query(conn, "SELECT next_id FROM customer_seq") == [(1,)]


def test_second_up_changes_nothing(cluster):
    pids_before = {path.name: path.read_text() for path in (cluster.root / "pids").iterdir()}
    result = shardline("up", "--root", str(cluster.root))
    assert result.returncode == 0, result.stderr
    assert "started:" not in result.stdout and "new primaries" not in result.stdout
    assert {path.name: path.read_text() for path in (cluster.root / "pids").iterdir()} == pids_before


def test_status_lists_every_process(cluster):
    result = shardline("status", "--root", str(cluster.root))
    assert result.returncode == 0
    running = [line for line in result.stdout.splitlines() if " pid " in line]
    expected = 2 * len(cluster.tablets) + 3  # tablets and their MariaDB, ctld, gate, failover agent
    assert len(running) == expected, result.stdout


def test_status_into_a_closed_pipe_ends_quietly(cluster):
    status = subprocess.Popen([shardline_executable(), "status", "--root", str(cluster.root)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert status.stdout is not None and status.stderr is not None
    status.stdout.close()  # as `shardline status | head -0` does, before the command writes
    err = status.stderr.read().decode()
    assert status.wait(timeout=120) == 141 and err == ""  # 128 + SIGPIPE, as a shell reports it; no traceback


def test_gate_routes_to_the_shards(cluster):
    with pymysql.connect(host="127.0.0.1", port=cluster.gate_port, user="root", database="customer") as conn:
        conn.autocommit(True)
        query(conn, "INSERT INTO customer (customer_id, email) VALUES (1, 'one@example.com'), (4, 'four@example.com')")
        assert query(conn, "SELECT customer_id, email FROM customer WHERE customer_id IN (1, 4) ORDER BY 1") == [
            (1, "one@example.com"),
            (4, "four@example.com"),
        ]
    # the gate's Unix socket reaches the same gate
    with pymysql.connect(unix_socket=str(cluster.gate_socket), user="root", database="customer") as conn:
        assert query(conn, "SELECT email FROM customer WHERE customer_id = 4") == [("four@example.com",)]
    # hash(1) and hash(4) fall in different shards
    with primary_connection(cluster, 200) as low, primary_connection(cluster, 300) as high:
        assert query(low, "SELECT customer_id FROM customer WHERE customer_id IN (1, 4)") == [(1,)]
        assert query(high, "SELECT customer_id FROM customer WHERE customer_id IN (1, 4)") == [(4,)]


def test_down_then_up_keeps_the_rows(cluster):
    with primary_connection(cluster, 300) as conn:
        query(conn, "CREATE TABLE IF NOT EXISTS survivor (id INT PRIMARY KEY, note VARCHAR(20))")
        query(conn, "INSERT INTO survivor VALUES (1, 'kept'), (2, 'also kept')")
    pids = [int(path.read_text()) for path in (cluster.root / "pids").iterdir()]
    result = shardline("down", "--root", str(cluster.root))
    assert result.returncode == 0, result.stderr
    # every agent stopped its own MariaDB on SIGTERM: down had no leftover mariadbd to stop
    assert result.stdout.startswith(f"stopped {len(pids)} processes"), result.stdout
    assert not any(is_shardline_process(pid) for pid in pids)
    assert not any((cluster.root / f"vt_{plan.uid:010d}" / "mariadbd.pid").exists() for plan in cluster.tablets)

    started = time.monotonic()
    result = shardline("up", "--root", str(cluster.root))
    assert result.returncode == 0, result.stderr
    print(f"\nshardline up (resume) took {time.monotonic() - started:.1f}s")
    assert "new primaries" not in result.stdout and "sample schema" not in result.stdout
    with primary_connection(cluster, 300) as conn:
        assert query(conn, "SELECT id, note FROM survivor ORDER BY id") == [(1, "kept"), (2, "also kept")]
        query(conn, "INSERT INTO survivor VALUES (3, 'after resume')")
    tablets = ctl(cluster, "GetTablets", "--keyspace", "customer", "--shard", "80-")
    assert [(t["alias"]["uid"], t["type"]) for t in tablets] == [(300, "PRIMARY"), (301, "REPLICA")]
    replica = next(plan for plan in cluster.tablets if plan.uid == 301)
    deadline = time.monotonic() + 15
    with pymysql.connect(
        host="127.0.0.1", port=replica.mysql_port, user=APP.user, password=APP.password, database="customer"
    ) as conn:
        while query(conn, "SELECT COUNT(*) FROM survivor") != [(3,)]:
            assert time.monotonic() < deadline, "the replica did not catch up after resume"
            time.sleep(0.1)
            conn.commit()


def test_ports_in_use_are_one_clear_error(cluster, tmp_path):
    result = shardline("up", "--root", str(tmp_path / "other"), "--port-base", str(cluster.port_base))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: port {cluster.tablets[0].port} (tablet zone1-100 agent) is already in use by another process; "
        "stop it or choose another --port-base"
    ]
    assert not (tmp_path / "other" / "cluster.json").exists()
