"""Differential correctness of the gate: the sharded ``customer`` keyspace and one unsharded MariaDB database
hold the same generated data and must answer 1,000+ generated queries (filters, IN, ranges, joins, aggregates,
ORDER/LIMIT, subqueries, unions, DML followed by reads) alike; the gate may only refuse a query clearly.

CI uses seed 1; ``SHARDLINE_DIFFERENTIAL_SEED=N`` draws another data set and corpus (run this file alone: the
data is loaded once per cluster)."""

from __future__ import annotations

import os
import time
from functools import partial

import pymysql

from tests.e2e.differential.compare import Outcome, execute, run_corpus
from tests.e2e.differential.corpus import corpus
from tests.e2e.differential.schema import REFERENCE_TABLES, ROUTED_TABLES, data_statements, generate

SEED = int(os.environ.get("SHARDLINE_DIFFERENTIAL_SEED", "1"))
KEYSPACE = "customer"
MIN_QUERIES = 1000
_OPTIONS = {"charset": "utf8mb4", "read_timeout": 60, "write_timeout": 60}


def load(conn: pymysql.connections.Connection, statements: list[str]) -> int:
    """Runs the INSERTs, failing on any error; the number of rows they inserted."""
    inserted = 0
    for sql in statements:
        result = execute(conn, sql)
        assert result.error is None, (sql[:120], result.error)
        inserted += result.affected
    return inserted


def test_gate_answers_like_an_unsharded_database(differential_cluster):
    gate = partial(differential_cluster.gate_connect, **_OPTIONS)
    reference = partial(differential_cluster.reference_connect, **_OPTIONS)
    data = generate(SEED)
    tables = ["customer", "corder", "product", "customer_email_idx"]
    with reference() as conn:
        for table in tables:  # whatever tests before this one left in the shared cluster's tables
            execute(conn, f"DELETE FROM {table}")
        assert load(conn, data_statements(SEED)) == len(data.products + data.customers + data.orders)
    with gate() as conn:
        # The gate will not write a reference table of a sharded keyspace: each shard gets its copy directly.
        shards = execute(conn, f"SHOW VITESS_SHARDS LIKE '{KEYSPACE}/%'").rows
        assert len(shards) > 1, shards
        for (name,) in shards:
            conn.select_db(name.replace("/", ":"))
            for table in tables:
                assert execute(conn, f"DELETE FROM {table}").error is None
            assert load(conn, data_statements(SEED, REFERENCE_TABLES)) == len(data.products)
        conn.select_db(KEYSPACE)
        assert load(conn, data_statements(SEED, ROUTED_TABLES)) == len(data.customers + data.orders)

    started = time.monotonic()
    summary = run_corpus(corpus(SEED), gate, reference)
    report = f"{summary.format()}\nran in {time.monotonic() - started:.1f} s"
    print(report)
    assert summary.ran >= MIN_QUERIES, report
    assert not summary.of(Outcome.WRONG), report
