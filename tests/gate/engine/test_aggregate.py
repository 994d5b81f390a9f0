"""Aggregation at the gate prints its numbers as MariaDB does: doubles, exact decimal sums, AVG's scale."""

from __future__ import annotations

from typing import Any

import pytest

from shardline.gate.engine.aggregate import Aggregate, AggregateColumn, AggregateOp, format_double
from shardline.gate.engine.base import Primitive
from shardline.sqltypes import Result
from tests.gate.conftest import ShardedEnv

DOUBLES = [
    "0e0", "1e-16", "1e-15", "1.5e-15", "1.234567e-10", "-2.5e-10", "1.2345678901234567e-5", "0.0001",
    "1/3e0", "0.1e0+0.2e0", "100e0", "9.999e14", "1e14", "1e15", "1.5e15", "1234567890123456e0",
    "12345678901234.567e0", "-1e20", "5e-324", "1.7976931348623157e308",
]  # fmt: skip


async def test_doubles_print_like_the_server(sharded_env: ShardedEnv):
    result = await sharded_env.reference_query("SELECT " + ", ".join(f"CAST({v} AS DOUBLE)" for v in DOUBLES))
    assert [format_double(float(text)) for text in result.rows[0]] == list(result.rows[0])


class Fetched(Primitive):
    """Results fetched from the server beforehand, as the shards' partial aggregates."""

    def __init__(self, results: list[Result]) -> None:
        self.results = results

    async def execute(self, vcursor: Any, bind_vars: dict[str, Any]) -> Result:
        return Result(self.results[0].fields, [row for r in self.results for row in r.rows])

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Fetched"}


@pytest.mark.parametrize(
    ("column_type", "parts"),
    [
        ("DECIMAL(10,2)", [["1.25", "2.50"], ["NULL", "7.01"]]),
        ("DECIMAL(65,9)", [["99999999999999999999999999999999.123456789", "0.000000001"], ["-5", "1"]]),
        ("SIGNED", [["1", "2"], ["2"]]),
        ("DOUBLE", [["0.5", "0.25"], ["1.5e10", "-3"]]),
        ("DECIMAL(5,0)", [["NULL"], []]),
    ],
)
async def test_partial_sums_and_averages_combine_like_one_server(
    sharded_env: ShardedEnv, column_type: str, parts: list[list[str]]
):
    def table(values: list[str]) -> str:
        rows = " UNION ALL ".join(f"SELECT CAST({v} AS {column_type}) AS v" for v in values or ["NULL"])
        return f"({rows}) AS t" + ("" if values else " WHERE 1 = 0")

    partials = [
        await sharded_env.reference_query(f"SELECT SUM(v), SUM(v), COUNT(v), COUNT(v) FROM {table(part)}")
        for part in parts
    ]
    aggregate = Aggregate(
        Fetched(partials),
        (),
        (
            AggregateColumn(AggregateOp.SUM, 0),
            AggregateColumn(AggregateOp.AVG_PARTIAL, 1, 3),
            AggregateColumn(AggregateOp.SUM_COUNT, 2),
        ),
    )
    combined = await aggregate.execute(None, {})
    whole = await sharded_env.reference_query(
        f"SELECT SUM(v), AVG(v), COUNT(v) FROM {table([v for part in parts for v in part])}"
    )
    assert [row[:3] for row in combined.rows] == whole.rows
    assert [f.decimals for f in combined.fields[:2]] == [f.decimals for f in whole.fields[:2]]


@pytest.mark.parametrize("parts", [[["5", "12"], ["3"]], [["7"], []], [[], []]])
async def test_partial_bitwise_aggregates_combine_like_one_server(sharded_env: ShardedEnv, parts: list[list[str]]):
    def table(values: list[str]) -> str:
        rows = " UNION ALL ".join(f"SELECT {v} AS v" for v in values or ["NULL"])
        return f"({rows}) AS t" + ("" if values else " WHERE 1 = 0")

    partials = [await sharded_env.reference_query(f"SELECT BIT_AND(v), BIT_OR(v), BIT_XOR(v) FROM {table(part)}")
                for part in parts]
    ops = (AggregateOp.BIT_AND, AggregateOp.BIT_OR, AggregateOp.BIT_XOR)
    aggregate = Aggregate(Fetched(partials), (), tuple(AggregateColumn(op, i) for i, op in enumerate(ops)))
    whole = await sharded_env.reference_query(
        f"SELECT BIT_AND(v), BIT_OR(v), BIT_XOR(v) FROM {table([v for part in parts for v in part])}")
    assert (await aggregate.execute(None, {})).rows == whole.rows


@pytest.mark.parametrize("parts", [[["1.5", "2.25", "9"], ["-4", "1e6"]], [["7"], []], [["3"], ["3"]], [[], []],
                                   [["12345678.1234", "-98765432.5678"], ["0.0001", "33333333.3333", "1e7"]],
                                   [["0.0001", "0.0002"], ["0.0003"]]])
async def test_partial_variances_combine_like_one_server(sharded_env: ShardedEnv, parts: list[list[str]]):
    def table(values: list[str]) -> str:
        rows = " UNION ALL ".join(f"SELECT CAST({v} AS DECIMAL(12,4)) AS v" for v in values or ["NULL"])
        return f"({rows}) AS t" + ("" if values else " WHERE 1 = 0")

    wanted = "VAR_POP(v), VAR_SAMP(v), STDDEV_POP(v), STDDEV_SAMP(v)"
    partials = [await sharded_env.reference_query(
        f"SELECT {wanted}, COUNT(v), AVG(v + 0e0), VAR_POP(v + 0e0) FROM {table(part)}") for part in parts]
    ops = (AggregateOp.VAR_POP, AggregateOp.VAR_SAMP, AggregateOp.STDDEV_POP, AggregateOp.STDDEV_SAMP)
    aggregate = Aggregate(Fetched(partials), (), tuple(
        AggregateColumn(op, i, 4, mean=5, variance=6) for i, op in enumerate(ops)))
    whole = await sharded_env.reference_query(f"SELECT {wanted} FROM {table([v for part in parts for v in part])}")
    [combined] = [row[:4] for row in (await aggregate.execute(None, {})).rows]
    [server] = whole.rows
    for mine, theirs in zip(combined, server, strict=True):  # the same decimals; the double's last bits may differ
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert len(mine.split(b".")[1]) == len(theirs.split(b".")[1]) == 8
            assert float(mine) == pytest.approx(float(theirs), rel=1e-12)
    if len(parts[0]) == 3:  # a plain case prints exactly alike
        assert combined == server
