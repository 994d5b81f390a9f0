"""Planning-time values: which SQL expressions the gate can evaluate from bind variables alone."""

from __future__ import annotations

from decimal import Decimal

from sqlglot import exp

from shardline.gate.engine.evalengine import BindVar, Const, Expr, Negate


def bind_value(node: exp.Expression) -> Expr | None:
    """The gate-side expression for a literal, bind variable, NULL or their negation; None for anything else."""
    if isinstance(node, exp.Paren):
        return bind_value(node.this)
    if isinstance(node, exp.Placeholder) and node.name:
        return BindVar(node.name)
    if isinstance(node, exp.Null):
        return Const(None)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return Const(node.this)
        text = node.this
        if text.isdigit():
            return Const(int(text))
        try:
            return Const(float(text) if "e" in text.lower() else Decimal(text))
        except ArithmeticError:
            return None
    if isinstance(node, exp.Neg):
        inner = bind_value(node.this)
        return Negate(inner) if inner is not None else None
    return None
