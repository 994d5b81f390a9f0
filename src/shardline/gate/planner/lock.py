"""Planning statements that call named-lock functions (``engine.lock``)."""

from __future__ import annotations

import re
from typing import Final

from sqlglot import exp

from shardline.errors import MySQLError, Unsupported
from shardline.gate.engine.lock import Lock
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.vindexes.vschema import VSchema

_NAMES: Final = frozenset({"get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock"})
LOCK_FUNCTION: Final = re.compile(rf"(?i)\b(?:{'|'.join(sorted(_NAMES))})\s*\(")
_CLAUSES: Final = ("from_", "joins", "where", "group", "having", "order", "limit", "with_")
_ALONE: Final = ("named-lock functions (GET_LOCK, RELEASE_LOCK, RELEASE_ALL_LOCKS, IS_FREE_LOCK, IS_USED_LOCK) are "
                 "supported only on their own, in a SELECT without tables or other expressions "
                 "(SELECT GET_LOCK('name', 10)) or in DO")


def lock_keyspace(vschema: VSchema, keyspace: str | None) -> str:
    """The keyspace whose lock shard holds a session's named locks: its own, or with none selected the first
    by name (the same for every gate and session)."""
    if keyspace:
        return vschema.find_keyspace(keyspace).name
    if not vschema.keyspaces:
        raise MySQLError(1046, "3D000", "No database selected")
    return min(vschema.keyspaces)


def plan_lock(statement: exp.Expression, sql: str, vschema: VSchema, keyspace: str | None,
              shard: str | None) -> Lock:
    """The Lock primitive of a SELECT whose every item is a named-lock function; Unsupported for any other
    statement that calls one (its lock would stay on a pooled connection)."""
    if not isinstance(statement, exp.Select) or any(statement.args.get(arg) for arg in _CLAUSES) or any(
            node is not statement for node in statement.find_all(exp.Subquery, exp.Select)):
        raise Unsupported(_ALONE)
    calls = [item.this if isinstance(item, exp.Alias) else item for item in statement.expressions]
    if not calls or any(not isinstance(call, exp.Anonymous) or str(call.this).lower() not in _NAMES
                        for call in calls):
        raise Unsupported(_ALONE)
    acquires = any(str(call.this).lower() == "get_lock" for call in calls)
    return Lock(lock_keyspace(vschema, keyspace), SQLTemplate(sql), acquires=acquires, shard=shard or "")
