"""sqlglot's MySQL tokenizer, built once (building one costs as much as tokenizing a short statement)."""

from __future__ import annotations

from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

_DIALECT = Dialect.get_or_raise("mysql")
_TOKENIZER = _DIALECT.tokenizer_class(dialect=_DIALECT)


def tokenize(sql: str) -> list[Token]:
    """The statement's tokens; raises sqlglot's TokenError for text that does not tokenize.

    sqlglot reads ``REPLACE ...`` as an opaque command (the rest as one string); such a statement is tokenized
    as the INSERT it resembles. "INSERT " is as long as "REPLACE", so token offsets still point into ``sql``.
    """
    tokens = _TOKENIZER.tokenize(sql)
    if tokens and tokens[0].token_type == TokenType.REPLACE:
        start = tokens[0].start
        tokens = _TOKENIZER.tokenize(sql[:start] + "INSERT " + sql[start + len("REPLACE") :])
    return tokens
