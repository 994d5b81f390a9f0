"""Gate-side comparisons agree with MariaDB's, or refuse: text under the column's collation, numbers
numerically, NULL in three-valued logic."""

from __future__ import annotations

import itertools

import pytest

from shardline.errors import Unsupported
from shardline.gate.engine.bindvars import Literal, quote_string
from shardline.gate.engine.evalengine import (
    BindVar,
    Compare,
    Const,
    Env,
    InList,
    IsNull,
    Logical,
    Not,
    compare_values,
)
from shardline.gate.engine.ordering import OrderKey, sort_rows
from tests.gate.conftest import ShardedEnv

TEXTS = ["a", "A", "a ", "b", "B", "ab", "a-b", "a_b", "Z", "z", "_", "[", "10", "9", ""]
COLLATIONS = {45: "utf8mb4_general_ci", 46: "utf8mb4_bin", 63: "binary"}


@pytest.mark.parametrize("collation", sorted(COLLATIONS))
async def test_text_comparison_matches_the_server(sharded_env: ShardedEnv, collation: int):
    pairs = list(itertools.product(TEXTS, repeat=2))
    name = COLLATIONS[collation]
    cast = "CAST({} AS BINARY)" if collation == 63 else f"CONVERT({{}} USING utf8mb4) COLLATE {name}"
    columns = ", ".join(
        f"STRCMP({cast.format(quote_string(a))}, {cast.format(quote_string(b))})" for a, b in pairs
    )
    server = (await sharded_env.reference_query(f"SELECT {columns}")).rows[0]
    ours = [compare_values(a.encode(), b.encode(), collation) for a, b in pairs]
    assert ours == [int(v) for v in server]


def test_text_the_gate_cannot_compare_exactly_is_refused():
    with pytest.raises(Unsupported):
        compare_values("é".encode(), b"e", 45)
    with pytest.raises(Unsupported):
        compare_values(b"a", b"b", 224)  # utf8mb4_unicode_ci


async def test_predicates_follow_three_valued_logic_like_the_server(sharded_env: ShardedEnv):
    values = [None, 0, 1, 2]
    cases = []
    for a, b in itertools.product(values, repeat=2):
        left, right = Const(a), Const(b)
        cases += [
            (f"{_sql(a)} < {_sql(b)}", Compare("<", left, right)),
            (f"{_sql(a)} <=> {_sql(b)}", Compare("<=>", left, right)),
            (f"{_sql(a)} AND {_sql(b)}", Logical("AND", (left, right))),
            (f"{_sql(a)} OR {_sql(b)}", Logical("OR", (left, right))),
            (f"NOT {_sql(a)}", Not(left)),
            (f"{_sql(a)} IS NOT NULL", IsNull(left, negated=True)),
            (f"{_sql(a)} IN ({_sql(b)}, 2)", InList(left, (right, Const(2)))),
            (f"{_sql(a)} NOT IN ({_sql(b)}, 2)", InList(left, (right, Const(2)), negated=True)),
        ]
    server = (await sharded_env.reference_query("SELECT " + ", ".join(sql for sql, _ in cases))).rows[0]
    env = Env({})
    ours = [expr.evaluate(env) for _, expr in cases]
    assert ours == [None if v is None else int(v) for v in server]


def test_bind_variables_hold_literals_or_lists():
    env = Env({"one": Literal("'x'", "x"), "many": [Literal("1", 1), 2]})
    assert BindVar("one").evaluate(env) == "x"
    assert BindVar("many").evaluate(env) == [1, 2]


def _sql(value: object) -> str:
    return "NULL" if value is None else str(value)


async def test_enum_columns_are_not_ordered_at_the_gate(sharded_env: ShardedEnv):
    await sharded_env.reference_query("CREATE TABLE IF NOT EXISTS enum_probe (e ENUM('z', 'a'))")
    await sharded_env.reference_query("DELETE FROM enum_probe")
    await sharded_env.reference_query("INSERT INTO enum_probe VALUES ('a'), ('z')")
    result = await sharded_env.reference_query("SELECT e FROM enum_probe ORDER BY e")
    assert result.rows == [(b"z",), (b"a",)]  # by member position, not by text
    with pytest.raises(Unsupported):
        sort_rows(result.rows, result.fields, [OrderKey(0)])
    await sharded_env.reference_query("DROP TABLE enum_probe")
