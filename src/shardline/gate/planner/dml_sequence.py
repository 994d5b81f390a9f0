"""Planning ``SELECT NEXT n VALUES FROM seq`` and ``SELECT NEXT VALUE FROM seq`` (Vitess's sequence syntax, which
sqlglot does not parse): matched on the normalized text, where n is a literal or a bind variable."""

from __future__ import annotations

import re

from shardline.errors import InvalidArgument
from shardline.gate.engine.evalengine import BindVar, Const, Expr
from shardline.gate.engine.sequence import SequenceNext
from shardline.gate.planner.context import PlanContext

_NAME = r"(?:`(?:[^`]|``)+`|[A-Za-z0-9_$]+)"
_NEXT_VALUES = re.compile(
    rf"\s*select\s+next\s+(?:(?P<count>:[A-Za-z_]\w*|\d+)\s+values|value)\s+from\s+"
    rf"(?P<table>{_NAME}(?:\s*\.\s*{_NAME})?)\s*;?\s*",
    re.IGNORECASE,
)


def plan_next_values(ctx: PlanContext) -> SequenceNext | None:
    """The plan of a NEXT VALUES statement (``ctx.sql``), or None if the statement is not one."""
    match = _NEXT_VALUES.fullmatch(ctx.sql)
    if match is None:
        return None
    parts = [_unquote(part.strip()) for part in re.findall(rf"{_NAME}", match["table"])]
    keyspace, name = (parts[0], parts[1]) if len(parts) == 2 else (ctx.keyspace, parts[0])
    table = ctx.vschema.find_table(name, keyspace or None)
    if not table.is_sequence:
        raise InvalidArgument(f"NEXT VALUES needs a sequence table; {table.qualified_name} is not one")
    ctx.tables_used.setdefault(table.qualified_name, table)
    count = match["count"]
    value: Expr = Const(1) if count is None else BindVar(count[1:]) if count[0] == ":" else Const(int(count))
    return SequenceNext(table, value)


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name
