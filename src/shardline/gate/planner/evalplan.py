"""Translating SQL into a gate-side expression: HAVING, and arithmetic over aggregated values."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.evalengine import (
    Arithmetic,
    Column,
    Compare,
    Expr,
    InList,
    IsNull,
    Logical,
    Negate,
    Not,
)
from shardline.gate.planner.astutil import generate
from shardline.gate.planner.values import bind_value

_COMPARISONS = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
                exp.NullSafeEQ: "<=>"}  # fmt: skip

_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}

Resolver = Callable[[exp.Expression], int | None]


def to_eval(node: exp.Expression, resolve: Resolver) -> Expr:
    """The expression over result columns; ``resolve`` maps a sub-expression to its column (or None)."""
    column = resolve(node)
    if column is not None:
        return Column(column)
    value = bind_value(node)
    if value is not None:
        return value
    if isinstance(node, exp.Paren):
        return to_eval(node.this, resolve)
    op = _COMPARISONS.get(type(node))
    if op is not None:
        return Compare(op, to_eval(node.this, resolve), to_eval(node.expression, resolve))
    op = _ARITHMETIC.get(type(node))
    if op is not None:
        return Arithmetic(op, to_eval(node.this, resolve), to_eval(node.expression, resolve))
    if isinstance(node, exp.Neg):
        return Negate(to_eval(node.this, resolve))
    if isinstance(node, exp.And | exp.Or):
        name = "AND" if isinstance(node, exp.And) else "OR"
        return Logical(name, (to_eval(node.this, resolve), to_eval(node.expression, resolve)))
    if isinstance(node, exp.Not):
        inner = node.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return IsNull(to_eval(inner.this, resolve), negated=True)
        if isinstance(inner, exp.In) and not inner.args.get("query"):
            return InList(
                to_eval(inner.this, resolve), tuple(to_eval(i, resolve) for i in inner.expressions), True
            )
        return Not(to_eval(inner, resolve))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return IsNull(to_eval(node.this, resolve))
    if isinstance(node, exp.In) and not node.args.get("query"):
        return InList(to_eval(node.this, resolve), tuple(to_eval(i, resolve) for i in node.expressions))
    if isinstance(node, exp.Between):
        operand = to_eval(node.this, resolve)
        return Logical("AND", (Compare(">=", operand, to_eval(node.args["low"], resolve)),
                               Compare("<=", operand, to_eval(node.args["high"], resolve))))  # fmt: skip
    raise Unsupported(f"cannot evaluate '{generate(node)[:200]}' at the gate (after combining shard results)")
