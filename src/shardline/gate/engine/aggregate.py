"""Aggregate: GROUP BY and aggregate functions at the gate, over rows from several shards.

The output has the input's columns: each group yields one row where group-key columns keep their value,
aggregate columns hold the aggregate, and every other column keeps the group's first value. Groups come out
sorted by their key, as MariaDB's GROUP BY sorts. Inputs are either partial results (each shard aggregated
its rows: counts are summed, AVG is a SUM and a COUNT column) or raw rows (a join's output).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any, Final

from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.gate.engine.evalengine import Env, Expr
from shardline.gate.engine.numbers import (
    DIV_PRECISION_INCREMENT,
    EXACT_DIGITS,
    MAX_DECIMALS,
    format_double,
    format_number,
    to_number,
)
from shardline.gate.engine.ordering import TEXT_TYPES, row_key, value_key
from shardline.sqltypes import (
    BINARY_CHARSET,
    DECIMAL_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    UTF8MB4_GENERAL_CI,
    Field,
    FieldType,
    Result,
    Row,
)

_GROUP_CONCAT_LENGTH: Final = 16_777_216  # the column length MariaDB gives GROUP_CONCAT's result
GROUP_CONCAT_MAX_LEN: Final = 1_048_576  # MariaDB's default group_concat_max_len: where a merged one is cut
_NOT_NULL_FLAG: Final = 1
_NOT_FIXED_DECIMALS: Final = 31  # a DOUBLE column's decimals when it prints as many digits as it needs
_BINARY_FLAG: Final = 128
_NUM_FLAG: Final = 32768


class AggregateOp(StrEnum):
    """How one column combines the rows of a group."""

    COUNT_STAR = "count_star"  # raw rows: number of rows
    COUNT = "count"  # raw rows: number of non-NULL values
    SUM_COUNT = "sum_count"  # partial counts: their sum, 0 when there are none
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"  # raw rows: average of the non-NULL values
    AVG_PARTIAL = "avg_partial"  # partial SUM in the column, partial COUNT in ``extra``
    COUNT_DISTINCT = "count_distinct"
    SUM_DISTINCT = "sum_distinct"
    GROUP_CONCAT = "group_concat"  # partial GROUP_CONCATs joined with ``separator``
    GROUP_CONCAT_DISTINCT = "group_concat_distinct"  # raw values: the distinct ones in order, joined
    VAR_POP = "var_pop"  # partial COUNT in ``extra``, AVG in ``mean``, VAR_POP in ``variance``, merged
    VAR_SAMP = "var_samp"
    STDDEV_POP = "stddev_pop"
    STDDEV_SAMP = "stddev_samp"
    BIT_AND = "bit_and"  # partial BIT_AND / BIT_OR / BIT_XOR values (unsigned 64-bit) combined the same way
    BIT_OR = "bit_or"
    BIT_XOR = "bit_xor"


@dataclass(frozen=True, slots=True)
class AggregateColumn:
    """``op`` over ``column``; ``extra`` is the weight-string column (MIN/MAX/DISTINCT of text) or, for
    AVG_PARTIAL, the partial-count column; ``separator`` is GROUP_CONCAT's (a bind variable once normalized)
    and ``descending`` the order of GROUP_CONCAT(DISTINCT)'s values (ascending, as MariaDB gives them)."""

    op: AggregateOp
    column: int
    extra: int | None = None
    separator: Expr | None = None
    descending: bool = False  # GROUP_CONCAT(DISTINCT x ORDER BY x DESC)
    # VAR_POP and the like: the columns of each part's average and population variance, both computed in
    # DOUBLE and printed in full (the aggregate's own column only gives the decimals to print)
    mean: int | None = None
    variance: int | None = None

    def __str__(self) -> str:
        separator = f" SEPARATOR {self.separator}" if self.separator is not None else ""
        return f"{self.op.value}({self.column}" + (f"|{self.extra}" if self.extra is not None else "") + f"{separator})"


_COUNTS: Final = frozenset(
    {AggregateOp.COUNT_STAR, AggregateOp.COUNT, AggregateOp.SUM_COUNT, AggregateOp.COUNT_DISTINCT}
)


_SPREADS: Final = frozenset({AggregateOp.VAR_POP, AggregateOp.VAR_SAMP, AggregateOp.STDDEV_POP, AggregateOp.STDDEV_SAMP})
# Each bitwise aggregate's combination and its value over no rows, as MariaDB gives it.
_BITWISE: Final = {
    AggregateOp.BIT_AND: (operator.and_, (1 << 64) - 1),
    AggregateOp.BIT_OR: (operator.or_, 0),
    AggregateOp.BIT_XOR: (operator.xor, 0),
}


class Aggregate(RowOperator):
    """Groups on ``group_keys`` ((column, weight column) pairs; none: one group, always one output row)."""

    def __init__(
        self,
        input: Primitive,
        group_keys: tuple[tuple[int, int | None], ...],
        aggregates: tuple[AggregateColumn, ...],
    ) -> None:
        self.input = input
        self.group_keys = group_keys
        self.aggregates = aggregates

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        fields = result.fields
        groups: dict[tuple, list[Row]] = {}
        key_of = row_key(fields, self.group_keys)
        for row in result.rows:
            groups.setdefault(key_of(row), []).append(row)
        if not groups and not self.group_keys:
            groups[()] = []
        ordered = sorted(groups) if self.group_keys else list(groups)
        rows = [self._aggregate(fields, groups[key], bind_vars) for key in ordered]
        return Result(fields=self._output_fields(fields), rows=rows)

    def _aggregate(self, fields: list[Field], rows: list[Row], bind_vars: BindVars) -> Row:
        if not self.aggregates and rows:
            return rows[0]  # DISTINCT, or GROUP BY without aggregates: the group's first row
        out: list[bytes | None] = list(rows[0]) if rows else [None] * len(fields)
        for agg in self.aggregates:
            out[agg.column] = _compute(agg, fields, rows, bind_vars)
        return tuple(out)

    def _output_fields(self, fields: list[Field]) -> list[Field]:
        out = list(fields)
        for agg in self.aggregates:
            out[agg.column] = _output_field(agg, fields)
        return out

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "OperatorType": "Aggregate",
            "Variant": "Hash" if self.group_keys else "Scalar",  # groups by hash, emits them by group key
            "Aggregates": ", ".join(map(str, self.aggregates)),
        }
        if self.group_keys:
            out["GroupBy"] = ", ".join(f"({c}|{w})" if w is not None else str(c) for c, w in self.group_keys)
        return out


def _compute(agg: AggregateColumn, fields: list[Field], rows: list[Row], bind_vars: BindVars) -> bytes | None:
    op, column = agg.op, agg.column
    field_type = fields[column].type
    if op == AggregateOp.COUNT_STAR:
        return str(len(rows)).encode()
    values = [value for row in rows if (value := row[column]) is not None]
    if op == AggregateOp.COUNT:
        return str(len(values)).encode()
    if op == AggregateOp.GROUP_CONCAT or op == AggregateOp.GROUP_CONCAT_DISTINCT:
        assert agg.separator is not None
        if op == AggregateOp.GROUP_CONCAT_DISTINCT:
            values = _distinct_in_order(fields, rows, agg)
        separator = agg.separator.evaluate(Env(bind_vars))
        joined = (separator.encode() if isinstance(separator, str) else bytes(separator)).join(values)
        return joined[:GROUP_CONCAT_MAX_LEN] if values else None
    if op == AggregateOp.SUM_COUNT:
        return str(sum(int(v) for v in values)).encode()
    if op in _SPREADS:
        return _spread(agg, fields[column], rows)
    if op in _BITWISE:
        combine, combined = _BITWISE[op]
        for value in values:
            combined = combine(combined, int(value))
        return str(combined).encode()
    if op in (AggregateOp.COUNT_DISTINCT, AggregateOp.SUM_DISTINCT):
        distinct: dict[Any, bytes] = {}
        key = value_key(fields, column, agg.extra)
        for row in rows:
            value = row[column]
            if value is not None:
                distinct.setdefault(key(row), value)
        if op == AggregateOp.COUNT_DISTINCT:
            return str(len(distinct)).encode()
        values = list(distinct.values())
    if op in (AggregateOp.MIN, AggregateOp.MAX):
        candidates = [row for row in rows if row[column] is not None]
        if not candidates:
            return None
        key = value_key(fields, column, agg.extra)
        chosen = min(candidates, key=key) if op == AggregateOp.MIN else max(candidates, key=key)
        return chosen[column]
    if not values:
        return None
    total = sum_values(field_type, values)
    if op in (AggregateOp.SUM, AggregateOp.SUM_DISTINCT):
        return format_number(total)
    if op == AggregateOp.AVG:
        count = len(values)
    else:
        assert agg.extra is not None
        count = sum(int(row[agg.extra] or 0) for row in rows if row[column] is not None)
    return _average(total, count, fields[column])


def _spread(agg: AggregateColumn, field: Field, rows: list[Row]) -> bytes | None:
    """VAR_POP, VAR_SAMP, STDDEV_POP or STDDEV_SAMP from each part's count, average and population variance,
    combined pairwise (Chan, Golub and LeVeque's update: numerically stable, as MariaDB's own running one),
    printed with the decimals MariaDB gives the column (its argument's and 4 more) if it fixes them. The
    parts' order of combination differs from MariaDB's row order, so the last bits of the double may too."""
    assert agg.extra is not None and agg.mean is not None and agg.variance is not None
    count, mean, squares = 0, 0.0, 0.0  # squares: the sum of squared deviations from the mean
    for row in rows:
        variance, part_count = row[agg.variance], int(row[agg.extra] or 0)
        if variance is None or not part_count:
            continue
        part_mean = float(to_number(row[agg.mean] or b"0"))
        total = count + part_count
        delta = part_mean - mean
        mean += delta * part_count / total
        squares += float(variance) * part_count + delta * delta * count * part_count / total
        count = total
    sample = agg.op in (AggregateOp.VAR_SAMP, AggregateOp.STDDEV_SAMP)
    divisor = count - 1 if sample else count
    if divisor <= 0:
        return None
    value = squares / divisor
    if agg.op in (AggregateOp.STDDEV_POP, AggregateOp.STDDEV_SAMP):
        value = math.sqrt(value)
    if field.decimals >= _NOT_FIXED_DECIMALS:
        return format_double(value)
    # MariaDB prints the double's shortest round-trip digits, rounded to the decimals, then zeros
    return format(Decimal(repr(value)).quantize(Decimal(1).scaleb(-field.decimals), rounding=ROUND_HALF_UP),
                  "f").encode()


def _distinct_in_order(fields: list[Field], rows: list[Row], agg: AggregateColumn) -> list[bytes]:
    """The column's distinct non-NULL values (the first of equal ones), in the column's order."""
    key = value_key(fields, agg.column, agg.extra)
    distinct: dict[Any, bytes] = {}
    for row in rows:
        value = row[agg.column]
        if value is not None:
            distinct.setdefault(key(row), value)
    return [distinct[k] for k in sorted(distinct, reverse=agg.descending)]


def sum_values(field_type: int, values: list[bytes]) -> Any:
    """The sum of text-protocol values: exact for integers and decimals, a double otherwise (as MySQL sums
    floating point and text)."""
    if field_type in INTEGER_TYPES:
        return sum(int(v) for v in values)
    if field_type in DECIMAL_TYPES:
        with localcontext(prec=EXACT_DIGITS):
            return sum((Decimal(v.decode()) for v in values), Decimal(0))
    return sum(float(to_number(v)) for v in values)


def _average(total: Any, count: int, field: Field) -> bytes | None:
    if count == 0:
        return None
    if isinstance(total, float):
        return format_double(total / count)
    scale = min(field.decimals + DIV_PRECISION_INCREMENT, MAX_DECIMALS)
    with localcontext(prec=EXACT_DIGITS):
        quotient = (Decimal(total) / Decimal(count)).quantize(
            Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP
        )
    return str(quotient).encode()


def _output_field(agg: AggregateColumn, fields: list[Field]) -> Field:
    field = fields[agg.column]
    if agg.op == AggregateOp.GROUP_CONCAT_DISTINCT:  # a text, as MariaDB types GROUP_CONCAT's
        return replace(field, type=FieldType.BLOB,
                       charset=field.charset if field.type in TEXT_TYPES else UTF8MB4_GENERAL_CI,
                       column_length=_GROUP_CONCAT_LENGTH, decimals=0, flags=0)
    if agg.op in _COUNTS:
        return replace(
            field,
            type=FieldType.LONGLONG,
            charset=BINARY_CHARSET,
            column_length=21,
            decimals=0,
            flags=_BINARY_FLAG | _NUM_FLAG | (field.flags & _NOT_NULL_FLAG),
        )
    if agg.op in (AggregateOp.AVG, AggregateOp.AVG_PARTIAL):
        if field.type in FLOAT_TYPES:
            return replace(field, type=FieldType.DOUBLE, decimals=31, flags=field.flags & ~_NOT_NULL_FLAG)
        decimals = min(field.decimals + DIV_PRECISION_INCREMENT, MAX_DECIMALS)
        return replace(
            field,
            type=FieldType.NEWDECIMAL,
            decimals=decimals,
            charset=BINARY_CHARSET,
            flags=(field.flags & ~_NOT_NULL_FLAG) | _BINARY_FLAG | _NUM_FLAG,
        )
    if (
        agg.op == AggregateOp.SUM_DISTINCT
        and field.type not in FLOAT_TYPES
        and field.type not in DECIMAL_TYPES
    ):
        return replace(
            field, type=FieldType.NEWDECIMAL, charset=BINARY_CHARSET, flags=_BINARY_FLAG | _NUM_FLAG
        )
    return field
