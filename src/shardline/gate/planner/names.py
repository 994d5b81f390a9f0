"""Result column names of a regenerated query: MySQL names an unaliased expression after its text as written,
which sqlglot's regenerated text does not keep (spacing, case, literal forms). The select list's item texts
are found in the normalized statement by tokens."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType as T

from shardline.gate.engine.columnname import ColumnName
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.engine.sqltokens import tokenize

_LIST_ENDS = frozenset(
    {T.FROM, T.WHERE, T.GROUP_BY, T.HAVING, T.ORDER_BY, T.LIMIT, T.UNION, T.EXCEPT, T.INTERSECT, T.INTO,
     T.FOR, T.LOCK, T.WINDOW, T.SEMICOLON}
)  # fmt: skip
_MODIFIERS = frozenset(
    {"DISTINCT", "ALL", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_SMALL_RESULT", "SQL_BIG_RESULT",
     "SQL_BUFFER_RESULT", "SQL_NO_CACHE", "SQL_CACHE", "SQL_CALC_FOUND_ROWS"}
)  # fmt: skip


def select_item_texts(sql: str) -> list[str]:
    """The texts of the first SELECT's items, in order (a leading WITH clause and the leading parentheses of a
    UNION branch skipped)."""
    tokens = tokenize(sql)
    i = 0
    if tokens and tokens[0].token_type == T.WITH:  # to the query after the last CTE's closing parenthesis
        depth, i = 0, 1
        while i < len(tokens):
            kind = tokens[i].token_type
            if depth == 0 and kind in (T.SELECT, T.L_PAREN) and tokens[i - 1].token_type == T.R_PAREN:
                break
            depth += 1 if kind == T.L_PAREN else -1 if kind == T.R_PAREN else 0
            i += 1
    while i < len(tokens) and tokens[i].token_type == T.L_PAREN:
        i += 1
    if i >= len(tokens) or tokens[i].token_type != T.SELECT:
        return []
    i += 1
    while i < len(tokens) and tokens[i].text.upper() in _MODIFIERS:
        i += 1
    texts: list[str] = []
    depth = 0
    start = tokens[i].start if i < len(tokens) else len(sql)
    end = start
    for tok in tokens[i:]:
        kind = tok.token_type
        if depth == 0 and (kind in _LIST_ENDS or kind == T.R_PAREN):
            break
        if kind == T.L_PAREN:
            depth += 1
        elif kind == T.R_PAREN:
            depth -= 1
        elif kind == T.COMMA and depth == 0:
            texts.append(sql[start:end])
            start = -1
            continue
        if start == -1:
            start = tok.start
        end = tok.end + 1
    if start != -1:
        texts.append(sql[start:end])
    return texts


def column_names(select: exp.Select, sql: str) -> tuple[ColumnName | None, ...]:
    """Per select item of the statement's first SELECT, the name to give its column (None: the shard's name,
    already right for aliases, columns and ``*``). Empty if the texts cannot be matched to the items."""
    texts = select_item_texts(sql)
    items = select.expressions
    if len(texts) != len(items):
        return ()
    names: list[ColumnName | None] = []
    for item, text in zip(items, texts, strict=True):
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
            break  # later items' positions depend on the table's width
        if isinstance(item, exp.Alias | exp.Column):
            names.append(None)
        elif isinstance(item, exp.Placeholder) and item.name:
            names.append(ColumnName(literal=item.name))
        else:
            names.append(ColumnName(text=SQLTemplate(text)))
    return tuple(names) if any(n is not None for n in names) else ()
