"""What kind of statement a text is, from its leading words: the executor's dispatch, without a parse.

Comments are skipped; the body of a versioned comment (``/*!40101 SET ... */``, ``/*M!100101 ... */``) counts
as code, as MySQL runs it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final


class StatementKind(StrEnum):
    """Statement types, named as Vitess's sqlparser names them."""

    SELECT = "SELECT"
    INSERT = "INSERT"
    REPLACE = "REPLACE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    DDL = "DDL"
    BEGIN = "BEGIN"
    COMMIT = "COMMIT"
    ROLLBACK = "ROLLBACK"
    SAVEPOINT = "SAVEPOINT"
    SAVEPOINT_ROLLBACK = "SAVEPOINT_ROLLBACK"
    RELEASE = "RELEASE"
    SET = "SET"
    SET_STATEMENT = "SET_STATEMENT"  # MariaDB's SET STATEMENT var = value FOR statement
    USE = "USE"
    SHOW = "SHOW"
    EXPLAIN = "EXPLAIN"
    VEXPLAIN = "VEXPLAIN"
    LOCK_TABLES = "LOCK_TABLES"
    HANDLER = "HANDLER"
    UNLOCK_TABLES = "UNLOCK_TABLES"
    FLUSH = "FLUSH"
    KILL = "KILL"
    CALL = "CALL"
    PREPARE = "PREPARE"
    EXECUTE = "EXECUTE"
    DEALLOCATE = "DEALLOCATE"
    XA = "XA"
    LOAD = "LOAD"
    DO = "DO"
    ADMIN = "ADMIN"
    COMMENT = "COMMENT"
    UNKNOWN = "UNKNOWN"

    @property
    def is_dml(self) -> bool:
        return self in (
            StatementKind.INSERT,
            StatementKind.REPLACE,
            StatementKind.UPDATE,
            StatementKind.DELETE,
        )


K = StatementKind
_BY_FIRST_WORD = {
    "SELECT": K.SELECT, "WITH": K.SELECT, "VALUES": K.SELECT,
    "INSERT": K.INSERT, "REPLACE": K.REPLACE, "UPDATE": K.UPDATE, "DELETE": K.DELETE,
    "CREATE": K.DDL, "ALTER": K.DDL, "DROP": K.DDL, "RENAME": K.DDL, "TRUNCATE": K.DDL,
    "BEGIN": K.BEGIN, "START": K.BEGIN, "COMMIT": K.COMMIT, "ROLLBACK": K.ROLLBACK,
    "SAVEPOINT": K.SAVEPOINT, "RELEASE": K.RELEASE,
    "SET": K.SET, "USE": K.USE, "SHOW": K.SHOW,
    "EXPLAIN": K.EXPLAIN, "DESCRIBE": K.EXPLAIN, "DESC": K.EXPLAIN, "VEXPLAIN": K.VEXPLAIN,
    "LOCK": K.LOCK_TABLES, "UNLOCK": K.UNLOCK_TABLES, "FLUSH": K.FLUSH, "KILL": K.KILL, "CALL": K.CALL,
    "PREPARE": K.PREPARE, "EXECUTE": K.EXECUTE, "DEALLOCATE": K.DEALLOCATE, "XA": K.XA, "LOAD": K.LOAD,
    "DO": K.DO, "HANDLER": K.HANDLER,
    "ANALYZE": K.ADMIN, "OPTIMIZE": K.ADMIN, "REPAIR": K.ADMIN, "CHECK": K.ADMIN, "CHECKSUM": K.ADMIN,
    "GRANT": K.ADMIN, "REVOKE": K.ADMIN, "STOP": K.ADMIN, "RESET": K.ADMIN, "CHANGE": K.ADMIN,
}  # fmt: skip

# Whitespace, comments, a versioned comment's opening (its body is code) or closing, and '(' before a SELECT.
_SKIP = re.compile(r"(?:\s+|/\*M?!\d*|\*/|/\*(?:[^*]|\*(?!/))*\*/|#[^\n]*|--(?:[ \t][^\n]*)?(?=\n|$)|\()+")
_WORD = re.compile(r"[A-Za-z_]+")


def leading_words(sql: str, count: int) -> list[str]:
    """The first ``count`` words of the statement, upper case, skipping comments."""
    words: list[str] = []
    pos = 0
    while len(words) < count:
        skipped = _SKIP.match(sql, pos)
        if skipped:
            pos = skipped.end()
        word = _WORD.match(sql, pos)
        if not word:
            break
        words.append(word.group().upper())
        pos = word.end()
    return words


def classify(sql: str) -> StatementKind:
    """The statement's kind; ``COMMENT`` for a text of comments only, ``UNKNOWN`` for anything unrecognised."""
    sql = unwrap_versioned_comments(sql)  # a later version's code is a comment: /*M!999999 ... */ SET ...
    words = leading_words(sql, 3)
    if not words:
        return K.UNKNOWN if _SKIP.sub("", sql).strip("; \t\r\n") else K.COMMENT
    kind = _BY_FIRST_WORD.get(words[0], K.UNKNOWN)
    if kind == K.ROLLBACK and "TO" in words[1:3]:
        return K.SAVEPOINT_ROLLBACK
    if kind == K.BEGIN and words[0] == "START" and words[1:2] != ["TRANSACTION"]:
        return K.ADMIN  # START SLAVE / START REPLICA
    if kind == K.SET and words[1:2] == ["STATEMENT"]:
        return K.SET_STATEMENT
    return kind


VERSION_ID: Final = 101100  # the MariaDB series the gate answers for (10.11), as versioned comments count it
_VERSIONED_COMMENT = re.compile(r"/\*M?!(\d{5,6})?(.*?)\*/", re.DOTALL)


def unwrap_versioned_comments(sql: str) -> str:
    """The statement with each versioned comment (``/*!40101 SET NAMES utf8 */``, ``/*M!100101 ... */``)
    replaced by its body, or dropped if its version is above ``VERSION_ID``: what MariaDB runs of it."""
    if "/*" not in sql:
        return sql

    def body(match: re.Match[str]) -> str:
        return f" {match.group(2)} " if int(match.group(1) or 0) <= VERSION_ID else " "

    return _VERSIONED_COMMENT.sub(body, sql).strip()

