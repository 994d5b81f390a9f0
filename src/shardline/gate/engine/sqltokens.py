"""sqlglot's MySQL tokenizer, built once (building one costs as much as tokenizing a short statement)."""

from __future__ import annotations

from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token

_DIALECT = Dialect.get_or_raise("mysql")
_TOKENIZER = _DIALECT.tokenizer_class(dialect=_DIALECT)


def tokenize(sql: str) -> list[Token]:
    """The statement's tokens; raises sqlglot's TokenError for text that does not tokenize."""
    return _TOKENIZER.tokenize(sql)
