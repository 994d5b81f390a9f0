"""Expressions the gate evaluates itself: routing values (from bind variables) and predicates over result rows
(HAVING at the gate), with MySQL's NULL semantics.

Values are Python values (None, int, Decimal, float, str, bytes); a row value is converted by the column's type.
Text compares under the column's collation only where the gate can do that exactly (binary collations, and
the ``*_general_ci`` collations for ASCII text); anything else raises Unsupported rather than guess.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from shardline.errors import Unsupported
from shardline.gate.engine.bindvars import from_row_value, value_of
from shardline.gate.engine.numbers import DIV_PRECISION_INCREMENT, EXACT_DIGITS, MAX_DECIMALS, to_number
from shardline.sqltypes import UTF8MB4_GENERAL_CI, Field, Row

_GENERAL_CI = frozenset({33, 45})  # utf8mb3/utf8mb4_general_ci: ASCII text compares as its upper case
_PAD_SPACE_BIN = frozenset({46, 83, 47, 65})  # utf8mb4_bin, utf8mb3_bin, latin1_bin, ascii_bin
_BINARY = 63


@dataclass(frozen=True, slots=True)
class Env:
    """What an expression reads: bind variables and, for row predicates, the current row and its fields."""

    bind_vars: dict[str, Any]
    row: Row | None = None
    fields: Sequence[Field] = ()


class Expr(ABC):
    """An expression node."""

    @abstractmethod
    def evaluate(self, env: Env) -> Any:
        """The value, None for SQL NULL; booleans come back as 1 / 0."""


@dataclass(frozen=True, slots=True)
class BindVar(Expr):
    """A bind variable's value (a list stays a list)."""

    name: str

    def evaluate(self, env: Env) -> Any:
        value = env.bind_vars[self.name]
        return [value_of(v) for v in value] if isinstance(value, list) else value_of(value)

    def __str__(self) -> str:
        return ":" + self.name


@dataclass(frozen=True, slots=True)
class Const(Expr):
    """A value fixed at planning time."""

    value: Any

    def evaluate(self, env: Env) -> Any:
        return self.value

    def __str__(self) -> str:
        return "NULL" if self.value is None else repr(self.value)


@dataclass(frozen=True, slots=True)
class Column(Expr):
    """The value at ``index`` of the current row."""

    index: int
    name: str = ""

    def evaluate(self, env: Env) -> Any:
        assert env.row is not None, "a column expression needs a row"
        return from_row_value(env.fields[self.index], env.row[self.index])

    def __str__(self) -> str:
        return f"[COLUMN {self.index}]" + (f" as {self.name}" if self.name else "")


@dataclass(frozen=True, slots=True)
class Negate(Expr):
    """Unary minus."""

    operand: Expr

    def evaluate(self, env: Env) -> Any:
        value = self.operand.evaluate(env)
        return None if value is None else -to_number(value)

    def __str__(self) -> str:
        return f"-{self.operand}"


@dataclass(frozen=True, slots=True)
class Arithmetic(Expr):
    """``left op right`` for + - * / with MySQL's result types: integers stay integers (except for /),
    decimals keep their scale (/ adds 4 digits, rounded half up), any double makes a double; NULL and
    division by zero give NULL."""

    op: str
    left: Expr
    right: Expr

    def evaluate(self, env: Env) -> Any:
        left, right = self.left.evaluate(env), self.right.evaluate(env)
        if left is None or right is None:
            return None
        a, b = to_number(left), to_number(right)
        if isinstance(a, float) or isinstance(b, float):
            a, b = float(a), float(b)
        with localcontext(prec=EXACT_DIGITS):
            if self.op == "+":
                return a + b
            if self.op == "-":
                return a - b
            if self.op == "*":
                return a * b
            if b == 0:
                return None
            if isinstance(a, float):
                return a / b
            scale = min(_scale(a) + DIV_PRECISION_INCREMENT, MAX_DECIMALS)
            return (Decimal(a) / Decimal(b)).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


def _scale(value: int | Decimal) -> int:
    exponent = value.as_tuple().exponent if isinstance(value, Decimal) else 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    """``left op right`` for op in = != < <= > >= and the NULL-safe ``<=>``."""

    op: str
    left: Expr
    right: Expr

    def evaluate(self, env: Env) -> Any:
        left, right = self.left.evaluate(env), self.right.evaluate(env)
        if self.op == "<=>":
            if left is None or right is None:
                return int(left is None and right is None)
            return int(compare_values(left, right, collation_of(env, self.left, self.right)) == 0)
        if left is None or right is None:
            return None
        collation = collation_of(env, self.left, self.right)
        return int(_COMPARISONS[self.op](compare_values(left, right, collation), 0))

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True, slots=True)
class Logical(Expr):
    """AND / OR over operands, with three-valued logic."""

    op: str
    operands: tuple[Expr, ...]

    def evaluate(self, env: Env) -> Any:
        unknown = False
        decisive = 0 if self.op == "AND" else 1
        for operand in self.operands:
            value = truth(operand.evaluate(env))
            if value is None:
                unknown = True
            elif value == decisive:
                return decisive
        return None if unknown else 1 - decisive

    def __str__(self) -> str:
        return "(" + f" {self.op} ".join(map(str, self.operands)) + ")"


@dataclass(frozen=True, slots=True)
class Not(Expr):
    """Logical NOT (NULL stays NULL)."""

    operand: Expr

    def evaluate(self, env: Env) -> Any:
        value = truth(self.operand.evaluate(env))
        return None if value is None else 1 - value

    def __str__(self) -> str:
        return f"NOT {self.operand}"


@dataclass(frozen=True, slots=True)
class IsNull(Expr):
    """``IS [NOT] NULL``."""

    operand: Expr
    negated: bool = False

    def evaluate(self, env: Env) -> Any:
        return int((self.operand.evaluate(env) is None) != self.negated)

    def __str__(self) -> str:
        return f"{self.operand} IS {'NOT ' if self.negated else ''}NULL"


@dataclass(frozen=True, slots=True)
class InList(Expr):
    """``[NOT] IN (...)``: NULL when no item matches and an item (or the operand) is NULL."""

    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False

    def evaluate(self, env: Env) -> Any:
        value = self.operand.evaluate(env)
        if value is None:
            return None
        unknown = False
        for item in self.items:
            for candidate in _flatten(item.evaluate(env)):
                if candidate is None:
                    unknown = True
                elif compare_values(value, candidate, collation_of(env, self.operand)) == 0:
                    return int(not self.negated)
        return None if unknown else int(self.negated)

    def __str__(self) -> str:
        return f"{self.operand} {'NOT ' if self.negated else ''}IN ({', '.join(map(str, self.items))})"


def collation_of(env: Env, *operands: Expr) -> int:
    """The collation id of the first column among the operands; the server default for literals."""
    for operand in operands:
        if isinstance(operand, Column):
            return env.fields[operand.index].charset
    return UTF8MB4_GENERAL_CI


def _flatten(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def truth(value: Any) -> int | None:
    """SQL truth of a value: None stays unknown, numbers are true when non-zero, text by its numeric prefix."""
    if value is None:
        return None
    return int(to_number(value) != 0)


def compare_values(left: Any, right: Any, collation: int) -> int:
    """-1, 0 or 1 as MySQL compares two non-NULL values: numerically if either is a number, else as text."""
    if isinstance(left, int | Decimal | float) or isinstance(right, int | Decimal | float):
        a, b = to_number(left), to_number(right)
    else:
        a, b = text_key(left, collation), text_key(right, collation)
    return (a > b) - (a < b)


def text_key(value: str | bytes, collation: int) -> str | bytes:
    """A key that orders and equates text as the collation does (only where the gate can do it exactly)."""
    if collation == _BINARY or collation in _PAD_SPACE_BIN:
        raw = value.encode() if isinstance(value, str) else value
        return raw if collation == _BINARY else raw.rstrip(b" ")
    text = value if isinstance(value, str) else value.decode("utf-8", "replace")
    if collation in _GENERAL_CI and text.isascii():
        return text.upper().rstrip(" ")
    raise Unsupported(
        f"comparing text under collation id {collation} at the gate is not supported; "
        "compare it inside a single-shard query instead"
    )
