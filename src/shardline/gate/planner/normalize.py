"""The plan-cache key of a statement: its text with literals replaced by bind variables ``:v1, :v2, ...``.

Works on tokens only. Everything but the replaced literals is kept byte for byte, so rendering the bind values
(each keeps its original text) reproduces the client's statement exactly. Literals whose value is part of the
statement's shape stay in place: ORDER BY / GROUP BY positions, type parameters (``DECIMAL(10,2)``), aliases,
typed literals (``DATE '...'``), charset introducers, window frame offsets and lock wait times.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from shardline.gate.engine.bindvars import Literal
from shardline.gate.engine.sqltokens import tokenize
from shardline.gate.planner.parse import syntax_error
from shardline.gate.planner.shape import Shape, statement_shape

T = TokenType

_LITERALS = frozenset({T.NUMBER, T.STRING, T.NATIONAL_STRING, T.HEX_STRING, T.BIT_STRING})
_TYPE_WITH_PARAMS = frozenset(
    {
        T.DECIMAL, T.UDECIMAL, T.CHAR, T.NCHAR, T.VARCHAR, T.NVARCHAR, T.BINARY, T.VARBINARY, T.BIT,
        T.TINYINT, T.UTINYINT, T.SMALLINT, T.USMALLINT, T.MEDIUMINT, T.UMEDIUMINT, T.INT, T.UINT,
        T.BIGINT, T.UBIGINT, T.FLOAT, T.DOUBLE, T.UDOUBLE, T.DATETIME, T.TIME, T.TIMESTAMP,
        T.TIMESTAMPTZ, T.TIMESTAMPLTZ, T.TEXT, T.BLOB, T.YEAR,
    }
)  # fmt: skip
_TYPED_STRING_PREFIX = frozenset({T.DATE, T.DATETIME, T.TIME, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIMESTAMPLTZ})
# A string after these is an alias, a collation, a charset introducer, a JSON path or part of a concatenation.
_STRING_KEEP_AFTER = _TYPED_STRING_PREFIX | {
    T.ALIAS, T.INTRODUCER, T.COLLATE, T.VAR, T.IDENTIFIER, T.R_PAREN, T.STRING, T.NUMBER, T.ARROW, T.DARROW,
}  # fmt: skip
_POSITIONAL_LISTS = frozenset({T.ORDER_BY, T.GROUP_BY})
_LIST_ENDS = frozenset(
    {T.LIMIT, T.HAVING, T.WINDOW, T.UNION, T.EXCEPT, T.INTERSECT, T.FOR, T.LOCK, T.INTO, T.SEMICOLON, T.WITH}
)
_FRAME_WORDS = frozenset({"PRECEDING", "FOLLOWING"})
_MALFORMED = object()


def normalize(sql: str) -> tuple[str, dict[str, Literal]]:
    """Returns the statement with its literals replaced by ``:vN`` and the bind variables that restore them."""
    return _normalized(sql, _replaced_literals(sql))


class ShapeNormalizer:
    """``normalize`` without the tokenizer for statements of a known shape (``statement_shape``: one scan of
    the text). A shape is trusted once ``normalize`` has replaced exactly its masked literals, with the same
    values; statements of other shapes are normalized as usual. Holds up to ``capacity`` shapes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._shapes: dict[str, str | None] = {}  # shape -> its normalized text, or None: not trusted

    def normalize(self, sql: str, shaped: Shape | None = None) -> tuple[str, dict[str, Literal]]:
        """``normalize(sql)``; ``shaped``: ``statement_shape(sql)`` if the caller has it already."""
        shape, values, spans = shaped if shaped is not None else statement_shape(sql)
        normalized = self._shapes.get(shape)
        if normalized is not None:
            return normalized, shape_bind_vars(sql, values, spans)
        replaced = _replaced_literals(sql)
        normalized, bind_vars = _normalized(sql, replaced)
        if shape not in self._shapes:
            if len(self._shapes) >= self.capacity:
                self._shapes.pop(next(iter(self._shapes)))
            same = [(start, end) for start, end, _ in replaced] == spans and all(
                type(value) is type(mine) and value == mine for (_, _, value), mine in zip(replaced, values, strict=True))
            self._shapes[shape] = normalized if same else None
        return normalized, bind_vars


def shape_bind_vars(sql: str, values: list[Any], spans: list[tuple[int, int]]) -> dict[str, Literal]:
    """The bind variables ``normalize`` gives a statement of a trusted shape (``statement_shape``'s values and
    spans), without normalizing it."""
    return {f"v{i}": Literal(sql[start:end], value)
            for i, ((start, end), value) in enumerate(zip(spans, values, strict=True), 1)}


def _normalized(sql: str, replaced: list[tuple[int, int, Any]]) -> tuple[str, dict[str, Literal]]:
    out: list[str] = []
    bind_vars: dict[str, Literal] = {}
    pos = 0
    for start, end, value in replaced:
        name = f"v{len(bind_vars) + 1}"
        bind_vars[name] = Literal(sql[start:end], value)
        out.append(sql[pos:start])
        out.append(":" + name)
        pos = end
    out.append(sql[pos:])
    return "".join(out), bind_vars


def literal_spans(sql: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of the literals ``normalize`` replaces, in order."""
    return [(start, end) for start, end, _ in _replaced_literals(sql)]


def _replaced_literals(sql: str) -> list[tuple[int, int, Any]]:
    """Start, end and value of each literal that becomes a bind variable."""
    try:
        tokens = tokenize(sql)
    except TokenError as e:
        raise syntax_error(str(e)) from None
    found: list[tuple[int, int, Any]] = []
    depth = 0
    type_param_depths: list[int] = []  # depths of open ``TYPE(`` parentheses
    positional_depths: list[int] = []  # depths of open ORDER BY / GROUP BY lists
    prev: Token | None = None
    for i, tok in enumerate(tokens):
        kind = tok.token_type
        if kind == T.L_PAREN:
            depth += 1
            if prev is not None and prev.token_type in _TYPE_WITH_PARAMS:
                type_param_depths.append(depth)
        elif kind == T.R_PAREN:
            if type_param_depths and type_param_depths[-1] == depth:
                type_param_depths.pop()
            depth -= 1
            while positional_depths and positional_depths[-1] > depth:
                positional_depths.pop()
        elif kind in _POSITIONAL_LISTS:
            if not positional_depths or positional_depths[-1] != depth:
                positional_depths.append(depth)
        elif kind in _LIST_ENDS and positional_depths and positional_depths[-1] == depth:
            positional_depths.pop()
        elif kind in _LITERALS:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            in_positional = bool(positional_depths) and positional_depths[-1] == depth
            value = _literal_value(tok)
            if value is not _MALFORMED and _replaceable(
                tok, prev, nxt, in_positional, bool(type_param_depths)
            ):
                found.append((tok.start, tok.end + 1, value))
        prev = tok
    return found


def _replaceable(
    tok: Token, prev: Token | None, nxt: Token | None, in_positional: bool, in_type_params: bool
) -> bool:
    prev_kind = prev.token_type if prev is not None else None
    if tok.token_type in (T.STRING, T.NATIONAL_STRING):
        return prev_kind not in _STRING_KEEP_AFTER and (nxt is None or nxt.token_type != T.STRING)
    if tok.token_type != T.NUMBER:
        return True
    if in_type_params:
        return False
    if prev is not None and (prev_kind == T.DOT or prev.text.upper() == "WAIT"):
        return False
    if nxt is not None and (nxt.token_type == T.DOT or nxt.text.upper() in _FRAME_WORDS):
        return False
    return not (in_positional and prev_kind in (T.COMMA, T.ORDER_BY, T.GROUP_BY))


def _literal_value(tok: Token) -> Any:
    """The literal's value, or _MALFORMED for text MySQL would not read as this literal (left in place)."""
    text = tok.text
    kind = tok.token_type
    try:
        if kind == T.NUMBER:
            if text.isdigit():
                return int(text)
            if "e" in text or "E" in text:
                return float(text)
            return Decimal(text)
        if kind == T.HEX_STRING:
            return bytes.fromhex(text if len(text) % 2 == 0 else "0" + text)
        if kind == T.BIT_STRING:
            return int(text or "0", 2)
    except (ValueError, ArithmeticError):
        return _MALFORMED
    return text
