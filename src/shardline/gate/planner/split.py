"""Splits a COM_QUERY text of several statements (CLIENT_MULTI_STATEMENTS) at its top-level semicolons."""

from __future__ import annotations

import re

from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from shardline.gate.engine.sqltokens import tokenize

# A stored program's body holds semicolons of its own: MariaDB reads the whole text as one statement.
_COMPOUND = re.compile(r"\b(?:PROCEDURE|FUNCTION|TRIGGER|EVENT)\b|\bBEGIN\s+NOT\s+ATOMIC\b", re.IGNORECASE)


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql``, without empty ones (``SELECT 1;`` is one); ``[sql]`` when it does not
    tokenize or defines a stored program."""
    if _COMPOUND.search(sql):
        return [sql]
    try:
        tokens = tokenize(sql)
    except TokenError:
        return [sql]
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(sql[start:token.start])
            start = token.end + 1
    pieces.append(sql[start:])
    return [piece.strip() for piece in pieces if piece.strip()] or [sql]
