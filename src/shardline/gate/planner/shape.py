"""A statement's shape: its text with the plain literals masked, found by one regular expression (no tokenizer).

The gate's fast path keys its cache by shape (see ``shardline.gate.fastpath``). Only literals whose extent and
value are unambiguous are masked: integers, decimals, and single-quoted strings without escapes, each masked by
a marker of its kind. Everything else (quoted identifiers, other strings, comments, numbers that touch a name)
stays as written, so two statements share a shape only if they differ in those literals alone. Whether the
planner's ``normalize`` replaces exactly the same literals is checked once per shape, before the shape is used.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

# Every branch that opens a quote or a comment runs to its end or, unterminated, to the end of the text, so
# that a statement made of openers is scanned once (a branch failing at each opener would make it quadratic).
_LITERAL = re.compile(
    r"""
    (?=[`"/\#\-'0-9])  # only where one of the branches can start: twice as fast
    (?:(?P<kept>`[^`]*(?:`|\Z)|"(?:[^"\\]|\\.)*(?:"|\\?\Z)|/\*.*?(?:\*/|\Z)|\#[^\n]*|--\s[^\n]*)
    |(?<![\w$@'])(?P<string>'[^'\\]*')(?!')
    |(?<![\w$@.])(?P<number>\d+(?:\.\d+)?)(?![\w$.])
    |(?P<other_string>'(?:[^'\\]|\\.|'')*(?:'|\\?\Z)))
    """,
    re.VERBOSE | re.DOTALL,
)
_STRING_MARK = "\0s"
_INT_MARK = "\0i"
_DECIMAL_MARK = "\0d"


Shape = tuple[str, list[Any], list[tuple[int, int]]]


def statement_shape(sql: str) -> Shape:
    """The shape of ``sql``, the masked literals' values (int, Decimal or str) and their ``(start, end)``."""
    parts: list[str] = []
    values: list[Any] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _LITERAL.finditer(sql):
        kind = match.lastgroup
        if kind == "number":
            text = match.group(kind)
            if "." in text:
                values.append(Decimal(text))
                mark = _DECIMAL_MARK
            else:
                values.append(int(text))
                mark = _INT_MARK
        elif kind == "string":
            values.append(match.group(kind)[1:-1])
            mark = _STRING_MARK
        else:
            continue
        start, end = match.span()
        parts.append(sql[pos:start])
        parts.append(mark)
        spans.append((start, end))
        pos = end
    if not parts:
        return sql, values, spans
    parts.append(sql[pos:])
    return "".join(parts), values, spans
