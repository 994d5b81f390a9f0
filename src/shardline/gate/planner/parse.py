"""Parsing a statement into sqlglot's tree (MySQL dialect), with MySQL's syntax error on failure."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from shardline.errors import MySQLError

ER_PARSE_ERROR = 1064


def syntax_error(detail: str) -> MySQLError:
    """MySQL's error 1064 for a statement that does not parse."""
    return MySQLError(ER_PARSE_ERROR, "42000", f"You have an error in your SQL syntax: {detail}")


def parse(sql: str) -> exp.Expression:
    """Parses one statement; raises error 1064 if it does not parse or is several statements."""
    try:
        statements = sqlglot.parse(sql, read="mysql")
    except (ParseError, TokenError) as e:
        raise syntax_error(str(e).splitlines()[0]) from None
    except RecursionError:
        raise too_deep() from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise syntax_error("expected exactly one statement")
    return _without_dual(statements[0])


def too_deep() -> MySQLError:
    """The error for a statement nested deeper than the gate's parser and planner recurse."""
    return MySQLError(1235, "42000", "This statement nests too deeply for the gate's SQL parser; write it "
                      "flatter (e.g. IN (...) instead of a long chain of ORs)")


def _without_dual(statement: exp.Expression) -> exp.Expression:
    """``SELECT 1 FROM DUAL`` is ``SELECT 1``: DUAL names no table."""
    for select in statement.find_all(exp.Select):
        source = select.args.get("from_")
        table = source.this if source is not None else None
        if (isinstance(table, exp.Table) and not table.db and not select.args.get("joins")
                and isinstance(table.this, exp.Identifier) and not table.this.quoted
                and table.name.lower() == "dual"):
            select.set("from_", None)
    return statement
