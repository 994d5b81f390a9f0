"""Numbers as MySQL reads them from text and prints them, and the precision rules of its arithmetic."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

DIV_PRECISION_INCREMENT = 4  # MySQL's default: division and AVG add 4 decimal digits
MAX_DECIMALS = 30
EXACT_DIGITS = 200  # a decimal context this precise keeps DECIMAL(65) arithmetic exact
_NUMERIC_PREFIX = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def to_number(value: Any) -> int | Decimal | float:
    """A number as MySQL reads one from text: its leading numeric part (0 if none)."""
    if isinstance(value, int | Decimal | float):
        return value
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    match = _NUMERIC_PREFIX.match(text.lstrip())
    return Decimal(match.group()) if match else 0


def format_number(value: int | Decimal | float) -> bytes:
    """A number in the text form MySQL prints for it."""
    if isinstance(value, float):
        return format_double(value)
    return format(value, "f").encode() if isinstance(value, Decimal) else str(value).encode()


def format_double(value: float) -> bytes:
    """A double as MariaDB prints it: the shortest digits that read back as the same double, in fixed notation
    for decimal exponents -15 to 14 and as ``1.5e15`` / ``1e-16`` beyond."""
    if value == 0:
        return b"0"
    shortest = Decimal(repr(value))
    sign, digits, exponent = shortest.as_tuple()
    assert isinstance(exponent, int), "a finite double"
    while len(digits) > 1 and digits[-1] == 0:  # repr's "1e+16" and "100.0" carry no extra digits
        digits, exponent = digits[:-1], exponent + 1
    scientific = len(digits) + exponent - 1
    if -15 <= scientific <= 14:
        text = format(Decimal((sign, digits, exponent)), "f")
    else:
        rest = "".join(map(str, digits[1:]))
        text = ("-" if sign else "") + str(digits[0]) + (f".{rest}" if rest else "") + f"e{scientific}"
    return text.encode()
