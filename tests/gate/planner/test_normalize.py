"""The normalizer: literals become bind variables that render back to the client's exact text; literals that
shape the statement stay."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shardline.errors import MySQLError
from shardline.gate.engine.bindvars import Literal
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.planner import normalize
from shardline.gate.planner.normalize import ShapeNormalizer

ROUND_TRIP = [
    "SELECT * FROM customer WHERE customer_id = 5",
    "select name  ,  tier+1 from customer where name = 'O\\'Hara' and tier in (1,2, 3) limit 10, 5",
    "SELECT 0xFF, x'41', b'101', N'naïve', 1.50, -3, 2.5e-3, 'a''b', \"dq\" FROM dual",
    "INSERT INTO t (a, b) VALUES (1, 'x'), (2, NULL)",
    "UPDATE t SET a = a + 1 WHERE id = 7 /* keep this comment */ LIMIT 1",
    "SELECT CAST(a AS DECIMAL(10,2)), DATE '2024-01-31' FROM t GROUP BY 1 ORDER BY 2 DESC",
]


@pytest.mark.parametrize("sql", ROUND_TRIP)
def test_rendering_the_bind_variables_gives_back_the_original_text(sql: str):
    normalized, bind_vars = normalize(sql)
    assert SQLTemplate(normalized).render(bind_vars) == sql


def test_literals_become_numbered_bind_variables_with_their_values():
    normalized, bind_vars = normalize("SELECT * FROM t WHERE a = 12 AND b = 'x' AND c IN (1.5, 2e1, x'ff')")
    assert normalized == "SELECT * FROM t WHERE a = :v1 AND b = :v2 AND c IN (:v3, :v4, :v5)"
    assert [bind_vars[f"v{i}"].value for i in range(1, 6)] == [12, "x", Decimal("1.5"), 20.0, b"\xff"]
    assert bind_vars["v2"] == Literal("'x'", "x")


def test_statements_differing_only_in_literals_share_one_normalized_text():
    first, _ = normalize("SELECT name FROM customer WHERE customer_id = 1 LIMIT 10")
    second, _ = normalize("SELECT name FROM customer WHERE customer_id = 12345 LIMIT 3")
    assert first == second


def test_string_escapes_are_decoded_in_the_value_and_kept_in_the_text():
    _, bind_vars = normalize(r"SELECT 'it\'s', 'a\nb', 'c''d', '50\%'")
    assert [v.value for v in bind_vars.values()] == ["it's", "a\nb", "c'd", "50\\%"]
    assert [v.sql for v in bind_vars.values()] == [r"'it\'s'", r"'a\nb'", "'c''d'", r"'50\%'"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a, b FROM t ORDER BY 2, 1",  # positions
        "SELECT a, COUNT(*) FROM t GROUP BY 1",
        "SELECT CAST(a AS DECIMAL(10, 2)), CONVERT(b, CHAR(3)) FROM t",  # type parameters
        "SELECT a AS 'alias', b 'other' FROM t",  # aliases
        "SELECT DATE '2020-01-01', TIMESTAMP '2020-01-01 00:00:00', _utf8mb4'x' FROM t",  # typed, introducers
        "SELECT 'a' 'b' FROM t",  # adjacent strings concatenate
        "SELECT SUM(a) OVER (ORDER BY b ROWS 1 PRECEDING) FROM t",  # window frame
        "SELECT * FROM t FOR UPDATE WAIT 5",
        "SELECT .5 FROM t",
        "SELECT a COLLATE 'utf8mb4_bin' FROM t",
    ],
)
def test_literals_that_shape_the_statement_stay_in_place(sql: str):
    assert normalize(sql) == (sql, {})


def test_a_position_inside_an_expression_of_order_by_is_a_value():
    normalized, bind_vars = normalize("SELECT a FROM t ORDER BY FIELD(a, 3, 4), 1")
    assert normalized == "SELECT a FROM t ORDER BY FIELD(a, :v1, :v2), 1"
    assert [v.value for v in bind_vars.values()] == [3, 4]


def test_order_by_of_a_subquery_keeps_its_positions_but_not_the_outer_values():
    normalized, _ = normalize("SELECT (SELECT a FROM t ORDER BY 1 LIMIT 1), 7 FROM u WHERE x = 2")
    assert normalized == "SELECT (SELECT a FROM t ORDER BY 1 LIMIT :v1), :v2 FROM u WHERE x = :v3"


def test_existing_placeholders_are_left_alone():
    assert normalize("SELECT * FROM t WHERE a = :name AND b IN ::list AND c = ?") == (
        "SELECT * FROM t WHERE a = :name AND b IN ::list AND c = ?",
        {},
    )


def test_an_unterminated_string_is_a_syntax_error():
    with pytest.raises(MySQLError) as caught:
        normalize("SELECT 'abc FROM t")
    assert caught.value.code == 1064


SAME_SHAPE = [  # statements differing only in literals the shape masks
    ("SELECT c FROM sbtest1 WHERE id BETWEEN 5 AND 104", "SELECT c FROM sbtest1 WHERE id BETWEEN 77 AND 176"),
    ("SELECT * FROM t WHERE a = 'x' AND b = 1.50", "SELECT * FROM t WHERE a = 'yz' AND b = 22.1"),
    ("SELECT a, b FROM t WHERE c = 3 ORDER BY 2, 1", "SELECT a, b FROM t WHERE c = 4 ORDER BY 1, 2"),  # positions
    ("SELECT CAST(a AS DECIMAL(10, 2)) FROM t WHERE b = 9", "SELECT CAST(a AS DECIMAL(12, 4)) FROM t WHERE b = 8"),
    ("SELECT a AS 'alias' FROM t WHERE b = 'v'", "SELECT a AS 'other' FROM t WHERE b = 'w'"),
    ("SELECT * FROM t FOR UPDATE WAIT 5", "SELECT * FROM t FOR UPDATE WAIT 6"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", "INSERT INTO t (a, b) VALUES (3, 'p'), (4, 'q')"),
]


@pytest.mark.parametrize("first, second", SAME_SHAPE)
def test_the_shape_normalizer_gives_what_normalize_gives(first: str, second: str):
    normalizer = ShapeNormalizer(capacity=100)
    for sql in (first, second, first, second):  # learned on the first, then answered by shape where trusted
        assert normalizer.normalize(sql) == normalize(sql), sql


def test_the_shape_normalizer_keeps_at_most_its_capacity():
    normalizer = ShapeNormalizer(capacity=2)
    for table in ("a", "b", "c"):
        normalizer.normalize(f"SELECT * FROM {table} WHERE id = 1")
    assert len(normalizer._shapes) == 2
    with pytest.raises(MySQLError):
        normalizer.normalize("SELECT 'unterminated")
