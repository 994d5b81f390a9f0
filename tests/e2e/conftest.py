"""The end-to-end cluster shared by the gate's e2e tests: keyspace ``commerce`` (unsharded, a primary and a
replica) and ``customer`` (shards -80 and 80-) with the differential test's schema, behind one gate."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
import pytest

from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import APP
from tests.e2e.cluster import ClusterThread, KeyspaceSpec
from tests.e2e.differential.schema import SCHEMA, VSCHEMA

COMMERCE_SCHEMA = [
    "CREATE TABLE product (sku VARCHAR(32) PRIMARY KEY, description VARCHAR(128), price DECIMAL(10,2))",
    "CREATE TABLE customer_seq (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'",
    "INSERT INTO customer_seq (id, next_id, cache) VALUES (0, 1, 100)",
]
COMMERCE_VSCHEMA = {"sharded": False, "tables": {"product": {}, "customer_seq": {"type": "sequence"}}}


@pytest.fixture(scope="session")
def e2e_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterThread]:
    cluster = ClusterThread(tmp_path_factory.mktemp("e2e-cluster"), [
        KeyspaceSpec("commerce", ["0"], replicas=1, schema=COMMERCE_SCHEMA, vschema=COMMERCE_VSCHEMA),
        KeyspaceSpec("customer", ["-80", "80-"], schema=SCHEMA, vschema=VSCHEMA),
    ])
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class DifferentialCluster:
    """The gate on the sharded ``customer`` keyspace and a plain MariaDB database with the same schema."""

    cluster: ClusterThread
    reference: MysqlInstance

    def gate_connect(self, **kwargs: Any) -> pymysql.connections.Connection:
        return self.cluster.connect("customer", **kwargs)

    def reference_connect(self, **kwargs: Any) -> pymysql.connections.Connection:
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("ssl_disabled", True)
        return pymysql.connect(host=self.reference.host, port=self.reference.port, user=APP.user,
                               password=APP.password, database="reference", **kwargs)


@pytest.fixture(scope="session")
def differential_cluster(e2e_cluster: ClusterThread,
                         mariadb_factory: Callable[[str], MysqlInstance]) -> DifferentialCluster:
    reference = mariadb_factory("differential-reference")
    reference.execute("DROP DATABASE IF EXISTS reference")
    reference.execute("CREATE DATABASE reference")
    conn = reference.dba_connect()
    try:
        conn.select_db("reference")
        with conn.cursor() as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)
    finally:
        conn.close()
    return DifferentialCluster(e2e_cluster, reference)


@pytest.fixture(autouse=True)
def no_connection_left_lent(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the shared cluster, every backend connection the gate lent is back in its pool once
    the test's clients are gone (their sessions end asynchronously): a leak fails the test that caused it."""
    yield
    if "e2e_cluster" not in request.fixturenames:
        return
    cluster: ClusterThread = request.getfixturevalue("e2e_cluster")
    if cluster.gate is None:
        return
    gateway = cluster.gate.gateway
    deadline = time.monotonic() + 5
    while (lent := sum(pool.in_use for pool in list(gateway._pools.values()))) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lent == 0, f"{lent} backend connection(s) still lent after the test"
