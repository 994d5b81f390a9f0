"""How MySQL names an unaliased select expression, for queries the gate regenerates: the expression's text as
the client wrote it, or a lone string literal's value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shardline.gate.engine.bindvars import Literal, encode_sql
from shardline.gate.engine.sqltemplate import SQLTemplate

MAX_NAME_LENGTH = 255  # MariaDB truncates longer expression names


@dataclass(frozen=True)
class ColumnName:
    """One of ``text`` (the expression's normalized text), ``literal`` (the bind variable of a lone literal) or
    ``alias`` (a name given with AS, for columns a regenerated query computes under another name)."""

    text: SQLTemplate | None = None
    literal: str = ""
    alias: str = ""

    def render(self, bind_vars: dict[str, Any]) -> str:
        if self.alias:
            return self.alias
        if self.literal:
            value = bind_vars[self.literal]
            if isinstance(value, Literal) and isinstance(value.value, str):
                return value.value[:MAX_NAME_LENGTH]
            return encode_sql(value)[:MAX_NAME_LENGTH]
        assert self.text is not None
        return self.text.render(bind_vars)[:MAX_NAME_LENGTH]

    def __str__(self) -> str:
        if self.alias:
            return self.alias
        return f":{self.literal}" if self.literal else self.text.text if self.text else ""
