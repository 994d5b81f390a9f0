"""What the fast path hands the ordinary path: the shape of the very statement it declined, never another's."""

from __future__ import annotations

from typing import Any, cast

from shardline.gate.fastpath import FastQuery
from shardline.gate.planner import normalize
from shardline.gate.planner.normalize import ShapeNormalizer
from shardline.gate.planner.shape import statement_shape


def test_take_shape_gives_the_declined_statements_shape_once_and_only_for_it() -> None:
    query = FastQuery(cast(Any, None), cast(Any, None))
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
