"""Value conversions shared by the functional vindexes, with MySQL's comparison semantics."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Final

from shardline.sqltypes import from_python

UINT64_MASK: Final = (1 << 64) - 1
_INT64_MIN: Final = -(1 << 63)
_NUMERIC_PREFIX: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def to_integer(value: Any) -> int | None:
    """The integer ``value`` equals when MySQL compares it with an integer column, or None if it equals none.

    A string counts as its leading number, as MySQL converts it (``' 12'``, ``'12abc'`` and ``'1.2e1'`` are 12,
    ``'abc'`` is 0); a fraction such as ``'1.5'`` or 1.5 equals no integer. NULL is None.
    """
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes | bytearray):
        value = value.decode("latin-1")
    if isinstance(value, str):
        match = _NUMERIC_PREFIX.match(value.lstrip(" \t\n\r\f\v"))
        value = Decimal(match.group()) if match else Decimal(0)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) > UINT64_MASK or value != value.to_integral_value():
            return None
        return int(value)
    return None


def to_uint64(value: Any, *, wrap_negative: bool) -> int | None:
    """``value`` as a uint64; negative int64 values wrap to their two's complement if ``wrap_negative``."""
    number = to_integer(value)
    if number is None or number > UINT64_MASK:
        return None
    if number < 0:
        if not wrap_negative or number < _INT64_MIN:
            return None
        return number & UINT64_MASK
    return number


def to_bytes(value: Any) -> bytes:
    """The value's text-protocol bytes, as Vitess hashes them; NULL is empty."""
    return from_python(value) or b""
