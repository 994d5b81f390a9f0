"""SHOW statements, information_schema queries and other statements the gate answers from its own state or
sends to one shard of the right keyspace."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import TYPE_CHECKING

from shardline.errors import MySQLError, NotFound
from shardline.gate.planner.classify import leading_words
from shardline.gate.session import Target
from shardline.sqltypes import Field, FieldType, Result
from shardline.vindexes.base import LookupVindex, Vindex

if TYPE_CHECKING:
    from shardline.gate.executor import Executor
    from shardline.gate.session import Session

_IDENT = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_FROM_DB = re.compile(rf"\b(?:FROM|IN)\s+({_IDENT})(?:\s*\.\s*({_IDENT}))?", re.IGNORECASE)
_SHOW_TABLE_TARGET = re.compile(rf"\b(?:TABLE|TRIGGER|VIEW)\s+({_IDENT})(?:\s*\.\s*({_IDENT}))?", re.IGNORECASE)
_LIKE = re.compile(r"\bLIKE\s+'((?:[^'\\]|\\.)*)'", re.IGNORECASE)
_DDL_TARGET = re.compile(
    rf"\b(?:TABLE|INDEX\s+{_IDENT}\s+ON|VIEW|TRUNCATE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?({_IDENT})\s*\.\s*({_IDENT})",
    re.IGNORECASE,
)
_VINDEXES_OF = re.compile(rf"\bVINDEXES\s+(?:ON|FROM)\s+({_IDENT})(?:\s*\.\s*({_IDENT}))?", re.IGNORECASE)
_DESCRIBE_TARGET = re.compile(rf"\b(?:DESCRIBE|DESC|EXPLAIN)\s+({_IDENT})(?:\s*\.\s*({_IDENT}))?", re.IGNORECASE)
# table_schema = 'ks', and routine_schema, constraint_schema, schema_name, ... of other information_schema tables
_TABLE_SCHEMA_FILTER = re.compile(r"\b(?:\w+_)?SCHEMA(?:_NAME)?\s*=\s*'([^']*)'", re.IGNORECASE)

# SHOW forms that describe one table or the tables of a database: they go to a shard of that keyspace.
_TABLE_SHOWS = frozenset({"TABLES", "COLUMNS", "FIELDS", "CREATE", "INDEX", "INDEXES", "KEYS", "TABLE",
                          "TRIGGERS"})
_DATABASE_SHOWS = frozenset({"TABLES", "TABLE", "TRIGGERS"})  # FROM names the database: SHOW TABLES FROM ks
_SHOW_CREATE_DATABASE = re.compile(rf"\bCREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?({_IDENT})",
                                   re.IGNORECASE)


def _unquote(ident: str) -> str:
    return ident[1:-1].replace("``", "`") if ident.startswith("`") else ident


def _text_result(column: str, values: list[str]) -> Result:
    return Result(fields=[Field(column, FieldType.VAR_STRING)], rows=[(v.encode(),) for v in values])


def _like(values: list[str], sql: str) -> list[str]:
    match = _LIKE.search(sql)
    if not match:
        return values
    pattern = re.escape(match.group(1)).replace("%", ".*").replace("_", ".")
    pattern = pattern.replace(r"\.\*", ".*")
    regex = re.compile(f"^{pattern}$", re.IGNORECASE | re.DOTALL)
    return [v for v in values if regex.match(v)]


async def execute_show(executor: Executor, session: Session, sql: str) -> Result:
    """Answers a SHOW statement."""
    words = _show_words(sql)
    what = words[0] if words else ""
    serving = executor.serving
    if what in ("DATABASES", "SCHEMAS"):
        return _text_result("Database", _like(sorted(serving.keyspace_names()) + ["information_schema"], sql))
    if what in ("KEYSPACES", "VITESS_KEYSPACES"):
        return _text_result("Database", _like(sorted(serving.keyspace_names()), sql))
    if what == "VITESS_SHARDS":
        names = [f"{ks}/{shard.name}" for ks in sorted(serving.keyspace_names())
                 for shard in serving.shards(ks, "primary")]
        return _text_result("Shards", _like(names, sql))
    if what == "VITESS_TABLETS":
        return _tablets_result(executor)
    if what == "VITESS_TARGET":
        return _text_result("Target", [str(session.target)])
    if what == "VSCHEMA":
        return _vschema_result(executor, session, sql, words)
    if what in _TABLE_SHOWS:
        keyspace = _show_keyspace(executor, session, sql, words)
        return await run_on_keyspace(executor, session, keyspace, sql)
    return await run_on_any_shard(executor, session, sql)


def _tablets_result(executor: Executor) -> Result:
    columns = ["Cell", "Keyspace", "Shard", "TabletType", "State", "Alias", "Hostname", "PrimaryTermStartTime"]
    rows: list[tuple[bytes | None, ...]] = []
    for view in executor.serving.tablets():
        tablet = view.tablet
        state = "SERVING" if view.serving else "NOT_SERVING"
        term = view.primary_term_start_time
        rows.append(tuple(str(v).encode() for v in (
            tablet.alias.cell, tablet.keyspace, tablet.shard, tablet.type.value.upper(), state,
            str(tablet.alias), tablet.hostname, "" if term is None else _iso(term))))
    rows.sort()
    return Result(fields=[Field(c, FieldType.VAR_STRING) for c in columns], rows=rows)


def _vschema_result(executor: Executor, session: Session, sql: str, words: list[str]) -> Result:
    """``SHOW VSCHEMA TABLES`` (the session keyspace's) and ``SHOW VSCHEMA VINDEXES [ON|FROM [ks.]table]``."""
    vschema = executor.serving.vschema
    if words[1:2] == ["TABLES"]:
        if not session.target.keyspace:
            raise MySQLError(1046, "3D000", "No database selected")
        keyspace = vschema.find_keyspace(session.target.keyspace)
        return _text_result("Tables", sorted([*keyspace.tables, "dual"]))
    if words[1:2] != ["VINDEXES"]:
        raise MySQLError(1064, "42000", "SHOW VSCHEMA takes TABLES or VINDEXES")
    columns = ["Keyspace", "Name", "Type", "Params", "Owner"]
    rows: list[tuple[str, ...]] = []
    table_match = _VINDEXES_OF.search(sql)
    if table_match:
        keyspace_name = _unquote(table_match.group(1)) if table_match.group(2) else session.target.keyspace
        name = _unquote(table_match.group(2) or table_match.group(1))
        table = vschema.find_table(name, keyspace_name or None)
        columns[0] = "Columns"
        for cv in table.column_vindexes:
            rows.append((", ".join(cv.columns), cv.name, *_vindex_description(cv.vindex)))
    else:
        names = [session.target.keyspace] if session.target.keyspace else sorted(vschema.keyspaces)
        for keyspace_name in names:
            keyspace = vschema.find_keyspace(keyspace_name)
            for vindex_name, vindex in sorted(keyspace.vindexes.items()):
                rows.append((keyspace.name, vindex_name, *_vindex_description(vindex)))
    return Result(fields=[Field(c, FieldType.VAR_STRING) for c in columns],
                  rows=[tuple(v.encode() for v in row) for row in rows])


def _vindex_description(vindex: Vindex) -> tuple[str, str, str]:
    """Type, params (``k=v; ...``) and owner of a vindex, as SHOW VSCHEMA VINDEXES lists them."""
    params = "; ".join(f"{key}={value}" for key, value in sorted(vindex.params.items()))
    return vindex.type_name, params, vindex.owner if isinstance(vindex, LookupVindex) else ""


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show_words(sql: str) -> list[str]:
    """The words after SHOW that say what it shows, without FULL (SHOW FULL COLUMNS ...), upper case."""
    words = leading_words(sql, 4)[1:]
    return words[1:] if words[:1] == ["FULL"] else words


def _show_keyspace(executor: Executor, session: Session, sql: str, words: list[str]) -> str:
    """The keyspace a table-describing SHOW is about: ``FROM ks``, ``ks.table``, the table's keyspace, or
    the database of SHOW CREATE DATABASE."""
    if words[:2] in (["CREATE", "DATABASE"], ["CREATE", "SCHEMA"]):
        database = _SHOW_CREATE_DATABASE.search(sql)
        if database:
            return _unquote(database.group(1))
    match = _FROM_DB.search(sql)
    table = ""
    if match:
        first, second = _unquote(match.group(1)), match.group(2)
        if second:  # FROM ks.table
            return first
        if words[0] in _DATABASE_SHOWS:
            return first  # SHOW TABLES FROM ks, SHOW TABLE STATUS FROM ks
        # SHOW COLUMNS FROM table [FROM ks]
        later = _FROM_DB.search(sql, match.end())
        if later:
            return _unquote(later.group(1))
        table = first
    else:
        target = _SHOW_TABLE_TARGET.search(sql)
        if target:
            if target.group(2):
                return _unquote(target.group(1))
            table = _unquote(target.group(1))
    return _table_keyspace(executor, session, table)


def _table_keyspace(executor: Executor, session: Session, table: str) -> str:
    """The keyspace of an unqualified table name (the session's if the VSchema does not know it)."""
    if table:
        try:
            return executor.serving.vschema.find_table(table, session.target.keyspace or None).keyspace
        except NotFound:
            pass
    if session.target.keyspace:
        return session.target.keyspace
    raise MySQLError(1046, "3D000", "No database selected")


async def run_describe(executor: Executor, session: Session, sql: str) -> Result:
    """``DESCRIBE [ks.]table [column]``: on a shard of the table's keyspace."""
    match = _DESCRIBE_TARGET.search(sql)
    if match is None:
        return await run_on_any_shard(executor, session, sql)
    if match.group(2):
        keyspace = _unquote(match.group(1))
    else:
        keyspace = _table_keyspace(executor, session, _unquote(match.group(1)))
    return await run_on_keyspace(executor, session, keyspace, sql)


async def run_on_keyspace(executor: Executor, session: Session, keyspace: str, sql: str) -> Result:
    """Runs a statement on the first serving shard of a keyspace (the session's shard target if it has one)."""
    executor.serving.vschema.find_keyspace(keyspace)
    tablet_type = session.target.tablet_type
    shards = executor.serving.shards(keyspace, tablet_type)
    if session.target.shard and keyspace == session.target.keyspace:
        shards = [s for s in shards if s.name == session.target.shard] or shards
    if not shards:
        raise NotFound(f"no serving shard for keyspace '{keyspace}'", code=1105)
    on_keyspace = dataclasses.replace(session, target=Target(keyspace, tablet_type, session.target.shard))
    (result,) = await executor.scatter.execute(on_keyspace, [(shards[0], sql)])
    return result


async def run_on_any_shard(executor: Executor, session: Session, sql: str) -> Result:
    """Runs a statement whose answer does not depend on the shard (variables, collations, EXPLAIN...)."""
    keyspace = session.target.keyspace
    if not keyspace or keyspace.lower() == "information_schema":
        names = sorted(executor.serving.keyspace_names())
        if not names:
            raise NotFound("no keyspace is serving", code=1105)
        keyspace = names[0]
    return await run_on_keyspace(executor, session, keyspace, sql)


async def run_information_schema(executor: Executor, session: Session, sql: str) -> Result:
    """An information_schema query, on a shard of the keyspace it is about: its ``table_schema = 'ks'``
    filter, else the session's, else any."""
    match = _TABLE_SCHEMA_FILTER.search(sql)
    if match and match.group(1) in executor.serving.keyspace_names():
        return await run_on_keyspace(executor, session, match.group(1), sql)
    return await run_on_any_shard(executor, session, sql)


def ddl_keyspace(sql: str) -> str:
    """The keyspace a DDL statement names by qualifying its table (``CREATE TABLE ks.t``), or ''."""
    match = _DDL_TARGET.search(sql)
    return _unquote(match.group(1)) if match else ""
