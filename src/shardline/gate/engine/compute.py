"""Compute: fills columns with expressions evaluated on each row (arithmetic over aggregated values)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from shardline.gate.engine.base import BindVars, Primitive, RowOperator
from shardline.gate.engine.evalengine import Env, Expr
from shardline.gate.engine.numbers import format_number
from shardline.sqltypes import BINARY_CHARSET, Field, FieldType, Result

_BINARY_FLAG = 128
_NUM_FLAG = 32768


class Compute(RowOperator):
    """``columns``: (column, expression) pairs; each column's value becomes the expression's value on the row."""

    def __init__(self, input: Primitive, columns: tuple[tuple[int, Expr], ...]) -> None:
        self.input = input
        self.columns = columns

    def finish(self, result: Result, bind_vars: BindVars) -> Result:
        fields = result.fields
        computed: list[list[Any]] = [[] for _ in self.columns]
        rows = []
        for row in result.rows:
            env = Env(bind_vars, row, fields)
            values = list(row)
            for (column, expr), seen in zip(self.columns, computed, strict=True):
                value = expr.evaluate(env)
                seen.append(value)
                values[column] = None if value is None else format_number(value)
            rows.append(tuple(values))
        out = list(fields)
        for (column, _), seen in zip(self.columns, computed, strict=True):
            out[column] = _field_for(fields[column], next((v for v in seen if v is not None), None))
        return Result(fields=out, rows=rows)

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Compute", "Columns": {str(c): str(e) for c, e in self.columns}}


def _field_for(field: Field, sample: Any) -> Field:
    """The column definition of computed values: BIGINT, DECIMAL with the values' scale, or DOUBLE."""
    flags = _BINARY_FLAG | _NUM_FLAG
    if isinstance(sample, float):
        return replace(field, type=FieldType.DOUBLE, charset=BINARY_CHARSET, decimals=31, flags=flags)
    if isinstance(sample, Decimal):
        exponent = sample.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return replace(
            field, type=FieldType.NEWDECIMAL, charset=BINARY_CHARSET, decimals=decimals, flags=flags
        )
    return replace(field, type=FieldType.LONGLONG, charset=BINARY_CHARSET, decimals=0, flags=flags)
