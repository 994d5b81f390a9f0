"""SQL text with bind-variable slots, split once at plan time so that rendering is a string join."""

from __future__ import annotations

from typing import Any

from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from shardline.errors import InvalidArgument
from shardline.gate.engine.bindvars import encode_sql
from shardline.gate.engine.sqltokens import tokenize

_NAME_TOKENS = frozenset({TokenType.VAR, TokenType.IDENTIFIER})


class SQLTemplate:
    """``:name`` renders a value (a list as ``a, b``); ``::name`` renders a list in parentheses ``(a, b)``."""

    __slots__ = ("text", "_parts", "_slots")

    def __init__(self, text: str) -> None:
        self.text = text
        parts: list[str] = []
        slots: list[tuple[str, bool]] = []
        try:
            tokens = tokenize(text)
        except TokenError as e:
            raise InvalidArgument(f"cannot tokenize query template: {e}") from None
        pos = 0
        for prev, tok in zip(tokens, tokens[1:], strict=False):
            if prev.token_type in (TokenType.COLON, TokenType.DCOLON) and tok.token_type in _NAME_TOKENS:
                if prev.end + 1 != tok.start:
                    continue
                parts.append(text[pos : prev.start])
                slots.append((tok.text, prev.token_type == TokenType.DCOLON))
                pos = tok.end + 1
        parts.append(text[pos:])
        self._parts = tuple(parts)
        self._slots = tuple(slots)

    @classmethod
    def values_row(cls, names: list[str]) -> SQLTemplate:
        """``(:a, :b, ...)``, built without tokenizing: a VALUES tuple of bind variables."""
        template = cls.__new__(cls)
        template.text = "(" + ", ".join(f":{name}" for name in names) + ")"
        template._parts = ("(", *([", "] * (len(names) - 1)), ")")
        template._slots = tuple((name, False) for name in names)
        return template

    @property
    def bind_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._slots)

    def render(self, bind_vars: dict[str, Any]) -> str:
        """The SQL text with every slot replaced by its bind value's SQL text."""
        if not self._slots:
            return self.text
        out = [self._parts[0]]
        for (name, parenthesized), part in zip(self._slots, self._parts[1:], strict=True):
            try:
                value = bind_vars[name]
            except KeyError:
                raise InvalidArgument(f"missing bind variable :{name}") from None
            text = encode_sql(value)
            out.append(f"({text})" if parenthesized else text)
            out.append(part)
        return "".join(out)

    def __repr__(self) -> str:
        return f"SQLTemplate({self.text!r})"
