"""What the fast path hands the ordinary path: the shape of the very statement it declined, never another's."""

from __future__ import annotations

from typing import Any, cast

from shardline.gate.fastpath import FastPath, FastQuery
from shardline.gate.metrics import GateMetrics
from shardline.gate.planner import normalize
from shardline.gate.planner.normalize import ShapeNormalizer
from shardline.gate.planner.shape import statement_shape
from shardline.gate.querylog import QueryLog
from shardline.gate.tablet_gateway import TabletGateway
from shardline.mysql.server import MySQLServer, ServerConnection
from shardline.mysql.users import UserStore


def test_take_shape_gives_the_declined_statements_shape_once_and_only_for_it() -> None:
    # a connection that never connected (the compiled FastQuery checks its arguments' types)
    server = MySQLServer(lambda conn: cast(Any, None), users=UserStore({}))
    fast = FastPath(cast(Any, None), TabletGateway(), GateMetrics(), QueryLog())
    query = FastQuery(fast, ServerConnection(server, 1))
    sql = "SELECT c FROM t WHERE id BETWEEN 5 AND 104"
    query.shaped = (sql, statement_shape(sql))
    assert query.take_shape("SELECT c FROM t WHERE id BETWEEN 6 AND 105") is None  # another statement
    query.shaped = (sql, statement_shape(sql))
    assert query.take_shape(sql) == statement_shape(sql)
    assert query.take_shape(sql) is None  # once


def test_a_shape_handed_over_normalizes_like_the_text() -> None:
    normalizer = ShapeNormalizer(capacity=10)
    for sql in ("SELECT c FROM t WHERE id BETWEEN 5 AND 104", "SELECT c FROM t WHERE id BETWEEN 7 AND 106",
                "SELECT a FROM t WHERE b = 'x' ORDER BY 1"):
        assert normalizer.normalize(sql, statement_shape(sql)) == normalize(sql)
