"""The comparator and the corpus, on plain MariaDB: two equal databases agree on every query, an altered copy
is caught, and each comparison rule decides as specified."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pymysql
import pytest

from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import APP
from shardline.vindexes.vschema import VSchema

from .compare import Outcome, classify, execute, run_corpus
from .corpus import corpus
from .query import Query, Script
from .schema import SCHEMA, VSCHEMA, data_statements

SEED = 1
_databases = itertools.count()

Connect = Callable[[], pymysql.connections.Connection]


@pytest.fixture(scope="module")
def server(mariadb_factory: Callable[[str], MysqlInstance]) -> MysqlInstance:
    return mariadb_factory("differential")


@pytest.fixture
def make_database(server: MysqlInstance) -> Callable[..., Connect]:
    """``make_database(*extra)``: a new database with SCHEMA, the SEED data and ``extra`` statements."""

    def make(*extra: str) -> Connect:
        name = f"differential_{next(_databases)}"
        server.execute(f"DROP DATABASE IF EXISTS {name}")
        server.execute(f"CREATE DATABASE {name}")

        def connect() -> pymysql.connections.Connection:
            return pymysql.connect(
                host=server.host,
                port=server.port,
                user=APP.user,
                password=APP.password,
                database=name,
                autocommit=True,
                charset="utf8mb4",
            )

        with connect() as conn:
            for sql in [*SCHEMA, *data_statements(SEED), *extra]:
                assert execute(conn, sql).error is None, sql
        return connect

    return make


def test_vschema_shards_by_customer_id_with_an_owned_email_lookup():
    keyspace = VSchema.from_json({"customer": VSCHEMA}).keyspaces["customer"]
    customer, corder = keyspace.tables["customer"], keyspace.tables["corder"]
    assert customer.primary_vindex.column == corder.primary_vindex.column == "customer_id"
    assert customer.primary_vindex.vindex is corder.primary_vindex.vindex
    assert [(cv.column, cv.vindex.type_name) for cv in customer.owned_vindexes] == [
        ("email", "consistent_lookup_unique")
    ]
    assert keyspace.tables["product"].is_reference


def test_corpus_is_deterministic_and_large():
    scripts = corpus(SEED)
    queries = [query for script in scripts for query in script.queries]
    assert len(queries) >= 1000
    assert [s.queries for s in scripts] == [s.queries for s in corpus(SEED)]
    assert [s.queries for s in scripts] != [s.queries for s in corpus(SEED + 1)]
    assert data_statements(SEED) == data_statements(SEED) != data_statements(SEED + 1)


def test_equal_databases_agree_on_every_query(make_database):
    summary = run_corpus(corpus(SEED), make_database(), make_database())
    assert summary.counts[Outcome.SAME] == len(summary.verdicts) >= 1000, summary.format()
    # The corpus is valid SQL (only the deliberate errors fail) and most reads find rows.
    for verdict in summary.verdicts:
        error = verdict.reference.error
        assert (error[0] if error else 0) == verdict.query.expected_error, (verdict.query, error)
    reads = [v.reference for v in summary.verdicts if v.reference.columns]
    assert sum(1 for read in reads if read.rows) > 0.75 * len(reads)


def test_an_altered_copy_is_caught(make_database):
    altered = make_database(
        "UPDATE customer SET balance = balance + 0.01 WHERE balance IS NOT NULL ORDER BY customer_id LIMIT 1",
        "DELETE FROM corder ORDER BY order_id LIMIT 1",
        "UPDATE customer SET name = 'Alice' WHERE name = 'alice' ORDER BY customer_id LIMIT 1",
    )
    summary = run_corpus(corpus(SEED), altered, make_database())
    wrong = summary.of(Outcome.WRONG)
    assert len(wrong) > 20, summary.format()
    assert len({v.query.template for v in wrong}) >= 10, summary.format()


def run_pair(conn: pymysql.connections.Connection, gate_sql: str, reference_sql: str, **flags) -> Outcome:
    query = Query(reference_sql, **flags)
    return classify(query, execute(conn, gate_sql), execute(conn, reference_sql))[0]


def test_comparison_rules(make_database):
    with make_database()() as conn:
        ascending = "SELECT customer_id FROM customer ORDER BY customer_id"
        descending = ascending + " DESC"
        assert run_pair(conn, descending, ascending) is Outcome.SAME
        assert run_pair(conn, descending, ascending, ordered=True) is Outcome.WRONG
        assert run_pair(conn, ascending + " LIMIT 299", ascending) is Outcome.WRONG

        avg = "SELECT AVG(balance) AS a FROM customer"
        nudged = "SELECT AVG(balance) + 0.000001 AS a FROM customer"
        assert run_pair(conn, nudged, avg) is Outcome.WRONG
        assert run_pair(conn, nudged, avg, approx=True) is Outcome.SAME
        assert (
            run_pair(conn, "SELECT AVG(balance) + 0.001 AS a FROM customer", avg, approx=True)
            is Outcome.WRONG
        )

        assert run_pair(conn, "SELECT 'Alice' AS n", "SELECT 'alice' AS n") is Outcome.WRONG
        assert run_pair(conn, "SELECT 'Alice' AS n", "SELECT 'alice' AS n", casefold=True) is Outcome.SAME
        assert run_pair(conn, "SELECT 1 AS a", "SELECT 1 AS b") is Outcome.WRONG
        assert run_pair(conn, "SELECT '1' AS a", "SELECT 1 AS a") is Outcome.WRONG
        assert run_pair(conn, "SELECT 2 AS a", "SELECT 2.00 AS a") is Outcome.SAME

        # MariaDB's own "doesn't yet support" (1235) is a clear refusal; other errors are wrong.
        refused = "SELECT 1 FROM customer WHERE customer_id IN (SELECT customer_id FROM corder LIMIT 1)"
        assert execute(conn, refused).error[0] == 1235
        assert run_pair(conn, refused, "SELECT 1") is Outcome.UNSUPPORTED
        assert run_pair(conn, "SELECT nope FROM customer", "SELECT 1") is Outcome.WRONG
        assert run_pair(conn, "SELECT 1", "SELECT nope FROM customer") is Outcome.WRONG
        assert run_pair(conn, "SELECT nope FROM customer", "SELECT nope FROM corder") is Outcome.SAME
        assert run_pair(conn, "SELECT nope FROM customer", "SELECT * FROM no_such_table") is Outcome.WRONG

        # Rows affected: the second statement of a pair runs after the first.
        there, back = (
            "UPDATE customer SET tier = 7 WHERE tier = 1",
            "UPDATE customer SET tier = 1 WHERE tier = 7",
        )
        assert run_pair(conn, there, back) is Outcome.SAME
        assert run_pair(conn, there, there) is Outcome.WRONG


def test_script_stops_after_a_write_that_differs(make_database):
    altered = make_database("DELETE FROM customer WHERE tier = 3")
    steps: Sequence[Query] = (
        Query("UPDATE customer SET tier = 4 WHERE tier = 3"),
        Query("SELECT COUNT(*) FROM customer"),
    )
    summary = run_corpus([Script("t", steps), Script("u", (Query("SELECT 1"),))], altered, make_database())
    assert [v.outcome for v in summary.verdicts] == [Outcome.WRONG, Outcome.SKIPPED, Outcome.SAME]
    assert summary.ran == 2
