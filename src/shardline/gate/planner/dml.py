"""Planning DML: INSERT and REPLACE (see :mod:`dml_insert`), UPDATE and DELETE.

An UPDATE or DELETE of one table routes like a SELECT of it (vindex equality or IN, else scatter) and sends the
client's statement to those shards. Changing a primary vindex column, LIMIT on several shards, and joins or
subqueries on a sharded keyspace are refused. When the table owns lookup vindexes, the plan also reads the
touched rows first so that the engine can keep the lookup rows in step.
"""

from __future__ import annotations

import re

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.dml import DML, LookupChange, OwnedVindexUpkeep
from shardline.gate.engine.routing import RouteVariant, Routing
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.planner.astutil import QUERY_TYPES, conjuncts, generate
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.dml_insert import plan_insert
from shardline.gate.planner.parse import parse
from shardline.gate.planner.routes import TableSource, candidate_for
from shardline.vindexes.base import LookupVindex
from shardline.vindexes.vschema import ColumnVindex, Table

_LEADING_INSERT = re.compile(r"^(\s*)INSERT\b", re.IGNORECASE)
_LEADING_REPLACE = re.compile(
    r"^((?:\s+|/\*.*?\*/|#[^\n]*\n|--\s[^\n]*\n)*)replace\b", re.IGNORECASE | re.DOTALL
)


def plan_dml(statement: exp.Expression, ctx: PlanContext, *, replace: bool = False) -> Primitive:
    """The primitive of a parsed INSERT, UPDATE or DELETE statement (``replace``: a REPLACE parsed as an
    INSERT)."""
    on_source = _on_reference_source(statement, ctx, replace)
    if on_source is not None:
        return on_source
    if replace and isinstance(statement, exp.Insert):
        return plan_insert(statement, ctx, replace=True)
    if isinstance(statement, exp.Insert):
        return plan_insert(statement, ctx)
    if isinstance(statement, exp.Update):
        return _plan_update_or_delete(statement, ctx, "Update")
    if isinstance(statement, exp.Delete):
        return _plan_update_or_delete(statement, ctx, "Delete")
    raise Unsupported(f"not a DML statement: {generate(statement)[:80]}")


def plan_replace(ctx: PlanContext) -> Primitive:
    """The primitive of a REPLACE statement (``ctx.sql``), which sqlglot cannot parse: planned as the INSERT
    it resembles."""
    insert = parse(_LEADING_REPLACE.sub(r"\1INSERT", ctx.sql, count=1))
    if not isinstance(insert, exp.Insert):
        raise Unsupported("this REPLACE statement is not supported")
    return plan_dml(insert, ctx, replace=True)


def _on_reference_source(statement: exp.Expression, ctx: PlanContext, replace: bool) -> Primitive | None:
    """A write to a reference table of a sharded keyspace whose VSchema names its ``source`` runs on the source
    table, as Vitess routes it (the copies follow by replication); None for any other statement."""
    target = _target_table(statement)
    if target is None:
        return None
    table = ctx.find_table(target)
    if not table.is_reference or not table.source or not ctx.keyspace_of(table).sharded:
        return None
    source_keyspace, _, source_name = table.source.partition(".")
    rewritten = statement.copy()
    written = _target_table(rewritten)
    assert written is not None
    for column in rewritten.find_all(exp.Column):  # columns qualified by the table's name follow it
        if column.table == written.name and (not column.db or column.db == written.db):
            column.set("table", exp.to_identifier(source_name))
            column.set("db", exp.to_identifier(source_keyspace) if column.db else None)
    written.set("this", exp.to_identifier(source_name))
    written.set("db", exp.to_identifier(source_keyspace))
    sql = generate(rewritten)
    if replace:
        sql = _LEADING_INSERT.sub(r"\1REPLACE", sql, count=1)
    on_source = PlanContext(ctx.vschema, ctx.keyspace, sql, ctx.list_binds)
    primitive = plan_dml(rewritten, on_source, replace=replace)
    ctx.tables_used.update(on_source.tables_used)
    return primitive


def _target_table(statement: exp.Expression) -> exp.Table | None:
    """The table an INSERT, UPDATE or DELETE writes (None for a multi-table one, planned elsewhere)."""
    target = statement.this
    if isinstance(statement, exp.Insert) and isinstance(target, exp.Schema):
        target = target.this
    if isinstance(statement, exp.Update | exp.Delete) and _is_multi_table(statement):
        return None
    return target if isinstance(target, exp.Table) else None


def _plan_update_or_delete(stmt: exp.Update | exp.Delete, ctx: PlanContext, operator: str) -> DML:
    target = stmt.this
    if not isinstance(target, exp.Table):
        raise Unsupported(f"{operator.upper()} of {generate(target)} is not supported")
    query = SQLTemplate(ctx.sql)
    if _is_multi_table(stmt) or any(isinstance(node, QUERY_TYPES) for node in stmt.walk()):
        return _plan_complex(stmt, ctx, operator, query)
    table = ctx.find_table(target)
    keyspace = ctx.keyspace_of(table)
    if not keyspace.sharded:
        return DML(operator, Routing(RouteVariant.UNSHARDED, keyspace.name), query, table)
    if table.is_reference:  # one with a source was planned on it (_on_reference_source)
        raise Unsupported(f"{operator.upper()} of reference table {table.qualified_name} of a sharded keyspace, "
                          "which names no source to write instead")
    where = stmt.args.get("where")
    candidate = candidate_for(
        TableSource(target.alias_or_name, table, target), conjuncts(where.this if where else None), ctx
    )
    limited = stmt.args.get("limit") is not None
    if limited and not candidate.single_shard:
        raise Unsupported(f"multi shard {operator.upper()} with LIMIT")
    upkeep = None
    if isinstance(stmt, exp.Delete) and table.owned_vindexes:
        upkeep = _upkeep(stmt, table, table.owned_vindexes, {})
    elif isinstance(stmt, exp.Update):
        assignments = _assignments(stmt)
        changed = _changed_vindexes(stmt, table, [name for name, _ in assignments], limited)
        if changed:
            upkeep = _upkeep(stmt, table, changed, dict(assignments))
    return DML(operator, candidate.routing(), query, table, upkeep=upkeep)


def _is_multi_table(stmt: exp.Update | exp.Delete) -> bool:
    return bool(stmt.this.args.get("joins") or stmt.args.get("using") or stmt.args.get("tables"))


def _plan_complex(stmt: exp.Update | exp.Delete, ctx: PlanContext, operator: str, query: SQLTemplate) -> DML:
    """Joins or subqueries: only an unsharded keyspace can run them, and only with all their tables in it."""
    targets = stmt.args.get("tables") or []  # DELETE's target list names tables of its FROM clause
    nodes = [node for node in stmt.find_all(exp.Table) if not any(node is t for t in targets)]
    tables = [ctx.find_table(node) for node in nodes]
    keyspaces = {table.keyspace for table in tables}
    sharded = [t.qualified_name for t in tables if ctx.keyspace_of(t).sharded]
    if sharded or len(keyspaces) != 1:
        names = ", ".join(sorted({t.qualified_name for t in tables}))
        raise Unsupported(
            f"{operator.upper()} with joins or subqueries is supported only within one unsharded keyspace "
            f"(tables: {names})"
        )
    return DML(operator, Routing(RouteVariant.UNSHARDED, tables[0].keyspace), query, tables[0])


def _assignments(stmt: exp.Update) -> list[tuple[str, exp.Expression]]:
    """The SET list: (lower-case column name, new value expression)."""
    out = []
    for assignment in stmt.expressions:
        column = assignment.this if isinstance(assignment, exp.EQ) else None
        if not isinstance(column, exp.Column):
            raise Unsupported(f"UPDATE assignment {generate(assignment)} is not supported")
        out.append((column.name.lower(), assignment.expression))
    return out


def _changed_vindexes(stmt: exp.Update, table: Table, names: list[str], limited: bool) -> list[ColumnVindex]:
    """The owned lookup vindexes whose columns the UPDATE sets (``names``); refuses changes shardline cannot
    follow."""
    changed = []
    for position, cv in enumerate(table.column_vindexes):
        set_columns = [column for column in cv.columns if column.lower() in names]
        if not set_columns:
            continue
        if any(names.count(column.lower()) > 1 for column in set_columns):
            raise Unsupported(f"column has duplicate set values: '{set_columns[0]}'")
        if position == 0:
            raise Unsupported(
                f"you cannot UPDATE primary vindex columns; invalid update on vindex: {cv.name}"
            )
        if not isinstance(cv.vindex, LookupVindex):
            raise Unsupported(f"you can only UPDATE lookup vindexes; invalid update on vindex: {cv.name}")
        if not cv.owned:
            raise Unsupported(
                f"you can only UPDATE owned lookup vindexes; invalid update on vindex: {cv.name}"
            )
        if limited and not stmt.args.get("order"):
            raise Unsupported(
                f"you need to provide the ORDER BY clause when using LIMIT; invalid update on vindex: {cv.name}"
            )
        changed.append(cv)
    return changed


def _upkeep(
    stmt: exp.Update | exp.Delete,
    table: Table,
    vindexes: list[ColumnVindex],
    assignments: dict[str, exp.Expression],
) -> OwnedVindexUpkeep:
    """``SELECT primary column, vindex columns[, new values, column <=> new value] ... FOR UPDATE``."""
    primary = table.primary_vindex
    assert primary is not None
    items: list[exp.Expression] = [exp.column(primary.column, quoted=True)]
    positions: dict[str, int] = {primary.column.lower(): 0}

    def position_of(column: str) -> int:
        if column.lower() not in positions:
            positions[column.lower()] = len(items)
            items.append(exp.column(column, quoted=True))
        return positions[column.lower()]

    changes = []
    for cv in vindexes:
        old = tuple(position_of(column) for column in cv.columns)
        new: list[int] = []
        same: list[int] = []
        for column, old_position in zip(cv.columns, old, strict=True):
            value = assignments.get(column.lower())
            if value is None:
                new.append(old_position)
                continue
            new.append(len(items))
            items.append(value.copy())
            same.append(len(items))
            items.append(exp.NullSafeEQ(this=exp.column(column, quoted=True), expression=value.copy()))
        changes.append(LookupChange(cv, old, tuple(new) if assignments else (), tuple(same)))
    select = exp.select(*items).from_(stmt.this.copy())
    for clause in ("where", "order", "limit"):
        if stmt.args.get(clause) is not None:
            select.set(clause, stmt.args[clause].copy())
    select.set("locks", [exp.Lock(update=True)])
    return OwnedVindexUpkeep(SQLTemplate(generate(select)), primary, tuple(changes))
