"""Splits a ``SET`` statement into its assignments, by tokens, without a full parse (sqlglot regenerates some
MariaDB SET forms wrongly, so the gate keeps each assignment's original text)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from shardline.errors import InvalidArgument


class Scope(StrEnum):
    SESSION = "session"
    GLOBAL = "global"
    USER = "user"  # @name


@dataclass(frozen=True, slots=True)
class Assignment:
    """One item of a SET list. ``name`` is lower case; NAMES / CHARACTER SET / TRANSACTION (for the next
    transaction) get pseudo names."""

    scope: Scope
    name: str
    value: str  # the value's original text ('' for NAMES/TRANSACTION, whose text is in ``text``)
    text: str  # the whole item as the client wrote it, ready to replay after ``SET ``


def _top_level(text: str, wanted: str) -> Iterator[int]:
    """Positions of the characters in ``wanted`` that stand outside quotes, backticks and parentheses."""
    depth = 0
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in wanted and depth == 0:
            yield i
        i += 1
    if quote or depth:
        raise InvalidArgument("syntax error in SET: unbalanced quotes or parentheses", code=1064, sqlstate="42000")


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Splits on a separator outside quotes, backticks and parentheses."""
    parts: list[str] = []
    start = 0
    for i in _top_level(text, separator):
        parts.append(text[start:i].strip())
        start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_set(sql: str) -> list[Assignment]:
    """Parses ``SET a = 1, @@session.b = 'x', NAMES utf8mb4, @u := 3, TRANSACTION ISOLATION LEVEL ...``."""
    body = sql.strip().rstrip(";").strip()
    if body[:3].upper() != "SET":
        raise InvalidArgument("not a SET statement", code=1064, sqlstate="42000")
    transaction = _TRANSACTION.match(body, 3)
    if transaction:
        return _transaction_items(transaction.group(1), body[transaction.end():])
    items = split_top_level(body[3:])
    if not items or not items[0]:
        raise InvalidArgument("syntax error in SET: nothing to set", code=1064, sqlstate="42000")
    return [_parse_item(item) for item in items]


_TRANSACTION = re.compile(r"\s+(?:(GLOBAL|SESSION|LOCAL)\s+)?TRANSACTION\s+", re.IGNORECASE)
_ISOLATION_LEVELS = {"READ UNCOMMITTED": "READ-UNCOMMITTED", "READ COMMITTED": "READ-COMMITTED",
                     "REPEATABLE READ": "REPEATABLE-READ", "SERIALIZABLE": "SERIALIZABLE"}


def _transaction_items(scope_word: str | None, characteristics: str) -> list[Assignment]:
    """``SET [GLOBAL|SESSION] TRANSACTION ISOLATION LEVEL ..., READ ONLY``, as the variables it sets
    (``tx_isolation``, ``tx_read_only``), which combine with other assignments in one SET. Without a scope
    it is for the next transaction only: one item named "next transaction"."""
    if scope_word is None:
        return [Assignment(Scope.SESSION, "next transaction", characteristics, f"TRANSACTION {characteristics}")]
    scope = Scope.GLOBAL if scope_word.upper() == "GLOBAL" else Scope.SESSION
    items = []
    for part in split_top_level(characteristics):
        words = " ".join(part.upper().split())
        level = _ISOLATION_LEVELS.get(words.removeprefix("ISOLATION LEVEL "))
        if words.startswith("ISOLATION LEVEL ") and level:
            name, value = "tx_isolation", f"'{level}'"
        elif words in ("READ ONLY", "READ WRITE"):
            name, value = "tx_read_only", "1" if words == "READ ONLY" else "0"
        else:
            raise InvalidArgument(f"syntax error in SET TRANSACTION near '{part[:40]}'", code=1064,
                                  sqlstate="42000")
        items.append(Assignment(scope, name, value, f"@@{scope.value}.{name} = {value}"))
    return items


def _parse_item(item: str) -> Assignment:
    words = item.split(None, 1)
    head = words[0].upper() if words else ""
    if head == "NAMES":
        return Assignment(Scope.SESSION, "names", words[1].strip() if len(words) > 1 else "", item)
    if head == "CHARACTER" and item.upper().split()[1:2] == ["SET"]:
        return Assignment(Scope.SESSION, "character set", item.split(None, 2)[2].strip(), item)
    name_part, value = _split_assignment(item)
    scope, name = _scope_and_name(name_part)
    prefix = {Scope.USER: "@", Scope.SESSION: "@@session.", Scope.GLOBAL: "@@global."}[scope]
    return Assignment(scope, name, value, f"{prefix}{name} = {value}")


def _split_assignment(item: str) -> tuple[str, str]:
    for i in _top_level(item, "="):
        name = item[:i].rstrip().removesuffix(":").rstrip()
        return name, item[i + 1 :].strip()
    raise InvalidArgument(f"syntax error in SET near '{item[:40]}'", code=1064, sqlstate="42000")


def _scope_and_name(name_part: str) -> tuple[Scope, str]:
    text = name_part.strip()
    lowered = text.lower()
    if lowered.startswith("@@"):
        rest = lowered[2:]
        for prefix, scope in (("global.", Scope.GLOBAL), ("session.", Scope.SESSION), ("local.", Scope.SESSION)):
            if rest.startswith(prefix):
                return scope, _unquote(rest[len(prefix):])
        return Scope.SESSION, _unquote(rest)
    if lowered.startswith("@"):
        return Scope.USER, _unquote(text[1:])
    words = text.split()
    if len(words) == 2 and words[0].lower() in ("global", "session", "local"):
        scope = Scope.GLOBAL if words[0].lower() == "global" else Scope.SESSION
        return scope, _unquote(words[1].lower())
    if len(words) != 1:
        raise InvalidArgument(f"syntax error in SET near '{text[:40]}'", code=1064, sqlstate="42000")
    return Scope.SESSION, _unquote(lowered)


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == "`" else name
