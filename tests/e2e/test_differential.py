"""Differential correctness of the gate: the sharded ``customer`` keyspace and one unsharded MariaDB database
hold the same generated data and must answer 1,000+ generated queries (filters, IN, ranges, joins, aggregates,
ORDER/LIMIT, subqueries, unions, DML followed by reads) alike; the gate may only refuse a query clearly."""

from __future__ import annotations

import time
from functools import partial

from tests.e2e.differential.compare import Outcome, execute, run_corpus
from tests.e2e.differential.corpus import corpus
from tests.e2e.differential.schema import data_statements, generate

SEED = 1
MIN_QUERIES = 1000
_OPTIONS = {"charset": "utf8mb4", "read_timeout": 60, "write_timeout": 60}


def test_gate_answers_like_an_unsharded_database(differential_cluster):
    gate = partial(differential_cluster.gate_connect, **_OPTIONS)
    reference = partial(differential_cluster.reference_connect, **_OPTIONS)
    data = generate(SEED)
    for connect in (reference, gate):
        with connect() as conn:
            loaded = [execute(conn, sql) for sql in data_statements(SEED)]
        assert [result.error for result in loaded if result.error] == []
        assert sum(result.affected for result in loaded) == len(data.customers + data.orders + data.products)

    started = time.monotonic()
    summary = run_corpus(corpus(SEED), gate, reference)
    report = f"{summary.format()}\nran in {time.monotonic() - started:.1f} s"
    print(report)
    assert summary.ran >= MIN_QUERIES, report
    assert not summary.of(Outcome.WRONG), report
