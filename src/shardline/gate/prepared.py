"""Client prepared statements: the ``?`` placeholders of a statement become bind variables ``:p1, :p2...``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from shardline.gate.engine.bindvars import Literal
from shardline.gate.engine.sqltokens import tokenize
from shardline.gate.planner import normalize
from shardline.gate.planner.classify import StatementKind, classify
from shardline.gate.planner.parse import syntax_error

PLANNED_KINDS = frozenset({StatementKind.SELECT, StatementKind.INSERT, StatementKind.REPLACE, StatementKind.UPDATE,
                           StatementKind.DELETE})


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    """A statement prepared by a client: its text, its kind, its text with named placeholders, and (for
    planned statements) that text normalized once, with the literals it took out."""

    sql: str
    kind: StatementKind
    parameterized: str
    param_count: int
    normalized: str = ""
    literals: dict[str, Literal] = field(default_factory=dict)

    def bind_vars(self, params: list[object]) -> dict[str, object]:
        return {f"p{i}": value for i, value in enumerate(params, 1)}


def prepare_query(sql: str) -> PreparedQuery:
    """Names the ``?`` placeholders of ``sql`` (``:p1``, ``:p2``...) in their order of appearance."""
    try:
        tokens = tokenize(sql)
    except TokenError as exc:
        raise syntax_error(str(exc)) from None
    out: list[str] = []
    pos = 0
    count = 0
    for token in tokens:
        if token.token_type == TokenType.PLACEHOLDER and token.text == "?":
            count += 1
            out.append(sql[pos:token.start])
            out.append(f":p{count}")
            pos = token.end + 1
    out.append(sql[pos:])
    parameterized = "".join(out)
    kind = classify(sql)
    if kind in PLANNED_KINDS:
        normalized, literals = normalize(parameterized)
        return PreparedQuery(sql, kind, parameterized, count, normalized, literals)
    return PreparedQuery(sql, kind, parameterized, count)
