"""A statement's shape: its text with the plain literals masked, found by one left-to-right scan (no tokenizer).

The gate's fast path keys its cache by shape (see ``shardline.gate.fastpath``). Only literals whose extent and
value are unambiguous are masked: integers, decimals, and single-quoted strings without escapes, each masked by
a marker of its kind. Everything else (quoted identifiers, other strings, comments, numbers that touch a name)
stays as written, so two statements share a shape only if they differ in those literals alone. Whether the
planner's ``normalize`` replaces exactly the same literals is checked once per shape, before the shape is used.

The scan reads characters by code point in the compiled module: a point select shapes in about 0.3 µs, where
the regular expression it replaced took 3–4 µs (tests/gate/planner/test_shape.py keeps that expression and
checks that both agree). Every quote and comment runs to its end or, unterminated, to the end of the text, so
the scan is linear in the text's length.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

_STRING_MARK: Final = "\0s"
_INT_MARK: Final = "\0i"
_DECIMAL_MARK: Final = "\0d"
# code points; Final, so that the compiled module compares with constants instead of looking names up
_QUOTE: Final = 39
_BACKSLASH: Final = 92
_DOT: Final = 46
_DOLLAR: Final = 36
_AT: Final = 64


Shape = tuple[str, list[Any], list[tuple[int, int]]]


def statement_shape(sql: str) -> Shape:
    """The shape of ``sql``, the masked literals' values (int, Decimal or str) and their ``(start, end)``."""
    parts: list[str] = []
    values: list[Any] = []
    spans: list[tuple[int, int]] = []
    pos = 0  # the end of the last masked literal
    i = 0
    n = len(sql)
    while i < n:
        c = ord(sql[i])
        if c == _QUOTE:
            end = _plain_string_end(sql, i, n)
            if end < 0:
                i = _string_end(sql, i, n)  # escapes, doubled quotes, a name before it: kept as written
                continue
            values.append(sql[i + 1:end - 1])
            mark = _STRING_MARK
        elif 48 <= c <= 57:
            end, decimal = _number_end(sql, i, n)
            if end < 0:
                i += 1
                continue
            text = sql[i:end]
            if decimal:
                values.append(Decimal(text))
                mark = _DECIMAL_MARK
            else:
                values.append(int(text))
                mark = _INT_MARK
        elif c == 96 or c == 34 or c == 47 or c == 35 or c == 45:  # ` " / # -
            end = _kept_end(sql, i, n, c)
            i = end if end > i else i + 1
            continue
        else:
            i += 1
            continue
        parts.append(sql[pos:i])
        parts.append(mark)
        spans.append((i, end))
        pos = i = end
    if not parts:
        return sql, values, spans
    parts.append(sql[pos:])
    return "".join(parts), values, spans


def _plain_string_end(sql: str, i: int, n: int) -> int:
    """The end of the plain string literal (no backslash, no doubled quote, not right after a name, ``$``,
    ``@`` or quote) opening at ``i``; -1 if it is not one."""
    if i > 0:
        before = ord(sql[i - 1])
        if before == _QUOTE or before == _DOLLAR or before == _AT or _is_word(sql, i - 1, before):
            return -1
    j = i + 1
    while j < n:
        c = ord(sql[j])
        if c == _QUOTE:
            return -1 if j + 1 < n and ord(sql[j + 1]) == _QUOTE else j + 1
        if c == _BACKSLASH:
            return -1
        j += 1
    return -1


def _string_end(sql: str, i: int, n: int) -> int:
    """The end of the quoted text opening at ``i`` (``'`` or ``"``), with backslash escapes (and, for ``'``,
    doubled quotes); the end of the text if it is unterminated."""
    quote = ord(sql[i])
    j = i + 1
    while j < n:
        c = ord(sql[j])
        if c == _BACKSLASH:
            j += 2
        elif c == quote:
            if quote == _QUOTE and j + 1 < n and ord(sql[j + 1]) == _QUOTE:
                j += 2
            else:
                return j + 1
        else:
            j += 1
    return n


def _number_end(sql: str, i: int, n: int) -> tuple[int, bool]:
    """The end of the integer or decimal (``12``, ``1.50``) at ``i`` and whether it is a decimal; end -1 if the
    digits touch a name, ``$``, ``@`` or ``.`` (``t1``, ``t.5``, ``5x``, ``1e5``, ``5.5.5``)."""
    if i > 0:
        before = ord(sql[i - 1])
        if before == _DOT or before == _DOLLAR or before == _AT or _is_word(sql, i - 1, before):
            return -1, False
    j = _digits_end(sql, i, n)
    decimal = False
    if j + 1 < n and ord(sql[j]) == _DOT and _is_digit(sql, j + 1, ord(sql[j + 1])):
        j = _digits_end(sql, j + 1, n)
        decimal = True
    if j < n:
        after = ord(sql[j])
        if after == _DOT or after == _DOLLAR or _is_word(sql, j, after):
            return -1, False
    return j, decimal


def _digits_end(sql: str, i: int, n: int) -> int:
    while i < n and _is_digit(sql, i, ord(sql[i])):
        i += 1
    return i


def _kept_end(sql: str, i: int, n: int, c: int) -> int:
    """The end of the quoted identifier, double-quoted string or comment opening at ``i`` with ``c`` (one of
    `` ` " / # - ``); ``i`` if none does."""
    if c == 96:  # `
        close = sql.find("`", i + 1)
        return n if close < 0 else close + 1
    if c == 34:  # "
        return _string_end(sql, i, n)
    if c == 47:  # /
        if i + 1 < n and ord(sql[i + 1]) == 42:  # /*
            close = sql.find("*/", i + 2)
            return n if close < 0 else close + 2
        return i
    if c == 35:  # #
        return _line_end(sql, i + 1, n)
    if i + 2 < n and ord(sql[i + 1]) == 45 and _is_space(sql, i + 2, ord(sql[i + 2])):  # -- and a space
        return _line_end(sql, i + 3, n)
    return i


def _line_end(sql: str, i: int, n: int) -> int:
    newline = sql.find("\n", i)
    return n if newline < 0 else newline


# Character classes as Python's regular expressions define \w, \d and \s for text: ASCII by code, the rest
# by the str predicates those classes are built on.
def _is_word(sql: str, i: int, c: int) -> bool:
    if c < 128:
        return 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95
    return sql[i].isalnum()


def _is_digit(sql: str, i: int, c: int) -> bool:
    if c < 128:
        return 48 <= c <= 57
    return sql[i].isdecimal()


def _is_space(sql: str, i: int, c: int) -> bool:
    if c < 128:
        return c == 32 or 9 <= c <= 13 or 28 <= c <= 31
    return sql[i].isspace()
