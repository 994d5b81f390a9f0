"""build_plan: a normalized statement and the VSchema in, a cached and explainable plan out."""

from __future__ import annotations

import re

from sqlglot import exp

from shardline.errors import MySQLError, Unsupported
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.found_rows import SQLCalcFoundRows
from shardline.gate.engine.route import Route
from shardline.gate.engine.routing import RouteVariant, Routing
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.planner.astutil import generate
from shardline.gate.planner.classify import StatementKind, classify
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.cte import inline_ctes
from shardline.gate.planner.dml import plan_dml, plan_replace
from shardline.gate.planner.dml_sequence import plan_next_values
from shardline.gate.planner.lock import LOCK_FUNCTION, plan_lock
from shardline.gate.planner.parse import parse, too_deep
from shardline.gate.planner.plan import Plan
from shardline.gate.planner.select import plan_query
from shardline.vindexes.vschema import VSchema

# SQL_CALC_FOUND_ROWS as the statement's first modifier (MariaDB refuses it anywhere but the outer SELECT)
_CALC_FOUND_ROWS = re.compile(r"(?i)(\s*SELECT\s+(?:(?:ALL|DISTINCT|DISTINCTROW|HIGH_PRIORITY|STRAIGHT_JOIN|"
                              r"SQL_\w+_RESULT|SQL_(?:NO_)?CACHE)\s+)*)SQL_CALC_FOUND_ROWS\b")
_LIST_BIND = re.compile(r"(?<![:\w])::([A-Za-z_]\w*)")


def build_plan(
    normalized_sql: str, vschema: VSchema, *, keyspace: str | None = None, shard: str | None = None
) -> Plan:
    """Plans a normalized statement (see :func:`normalize`) for a session whose target is ``keyspace`` (and
    ``shard`` for ``USE ks:shard``, where every statement goes to that shard as written).

    Raises Unsupported (1235) for what cannot be planned correctly, MySQL's 1064 for a syntax error.
    """
    kind = classify(normalized_sql)
    if LOCK_FUNCTION.search(normalized_sql):
        return Plan(kind, normalized_sql, plan_lock(parse(normalized_sql), normalized_sql, vschema, keyspace, shard))
    if shard:
        if not keyspace:
            raise Unsupported("a shard target needs a keyspace")
        route = Route(
            Routing(RouteVariant.BY_DESTINATION, vschema.find_keyspace(keyspace).name, shard=shard),
            SQLTemplate(normalized_sql),
            passthrough=True,
        )
        return Plan(kind, normalized_sql, route)
    if kind != StatementKind.SELECT and not kind.is_dml:
        raise Unsupported(f"{kind.value} statements are not planned by the query planner")
    if kind == StatementKind.SELECT and _CALC_FOUND_ROWS.match(normalized_sql):
        return _plan_calc_found_rows(normalized_sql, vschema, keyspace, shard)
    parse_text, list_binds = _list_binds_as_scalars(normalized_sql)
    if kind in (StatementKind.REPLACE, StatementKind.SELECT):  # REPLACE and NEXT VALUES: sqlglot cannot parse
        early = PlanContext(vschema, keyspace, normalized_sql, frozenset(list_binds))
        special = plan_replace(early) if kind == StatementKind.REPLACE else plan_next_values(early)
        if special is not None:
            return Plan(kind, normalized_sql, special, tuple(early.tables_used))
    try:
        statement = parse(parse_text)
    except MySQLError:
        if keyspace and not vschema.find_keyspace(keyspace).sharded:
            return _unsharded_passthrough(kind, normalized_sql, keyspace)
        raise
    ctx = PlanContext(vschema, keyspace, normalized_sql, frozenset(list_binds))
    try:
        if kind.is_dml:
            root = plan_dml(statement, ctx)
        else:
            root = _unsharded_route(statement, ctx) or _plan_select(statement, ctx, list_binds)
    except RecursionError:
        if keyspace and not vschema.find_keyspace(keyspace).sharded:
            return _unsharded_passthrough(kind, normalized_sql, keyspace)
        raise too_deep() from None
    return Plan(kind, normalized_sql, root, tuple(ctx.tables_used))


def _plan_calc_found_rows(sql: str, vschema: VSchema, keyspace: str | None, shard: str | None) -> Plan:
    """``SELECT SQL_CALC_FOUND_ROWS ...``: the statement without the modifier, and a COUNT(*) of its rows
    without ORDER BY and LIMIT (of the query as a derived table where it groups, aggregates or is DISTINCT)."""
    limit_sql = _CALC_FOUND_ROWS.sub(r"\1", sql, count=1)
    query = parse(limit_sql)
    if not isinstance(query, exp.Select):
        raise Unsupported("SQL_CALC_FOUND_ROWS is supported only in the SELECT of a whole statement (not a UNION)")
    query.set("order", None)
    query.set("limit", None)
    query.set("offset", None)
    count_star = exp.Count(this=exp.Star())
    if query.args.get("group") or query.args.get("having") or query.args.get("distinct") or any(
            item.find(exp.AggFunc, exp.Window) for item in query.expressions):
        counted: exp.Expression = exp.select(count_star).from_(query.subquery("__found_rows"))
    else:
        counted = query.select(count_star, append=False)
    limit_plan = build_plan(limit_sql, vschema, keyspace=keyspace, shard=shard)
    count_plan = build_plan(generate(counted), vschema, keyspace=keyspace, shard=shard)
    return Plan(StatementKind.SELECT, sql, SQLCalcFoundRows(limit_plan.root, count_plan.root),
                tuple(dict.fromkeys(limit_plan.tables + count_plan.tables)))


def _plan_select(statement: exp.Expression, ctx: PlanContext, list_binds: set[str]) -> Primitive:
    statement = inline_ctes(statement)
    ctx.name_select = _first_select(statement)
    return plan_query(statement, ctx, text=ctx.sql if not list_binds else None)


def _unsharded_route(statement: exp.Expression, ctx: PlanContext) -> Route | None:
    """A query whose tables all live in one unsharded keyspace goes there as written, whatever it contains."""
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    nodes = [t for t in statement.find_all(exp.Table) if not isinstance(t.this, exp.Func | exp.Parameter)]
    tables = [ctx.find_table(t) for t in nodes if t.db or t.name not in ctes]
    keyspaces = {table.keyspace for table in tables}
    if len(keyspaces) != 1:
        return None
    keyspace = ctx.vschema.find_keyspace(keyspaces.pop())
    if keyspace.sharded:
        return None
    return Route(Routing(RouteVariant.UNSHARDED, keyspace.name), SQLTemplate(ctx.sql), passthrough=True,
                 table=", ".join(dict.fromkeys(t.qualified_name for t in tables)))  # fmt: skip


def _list_binds_as_scalars(sql: str) -> tuple[str, set[str]]:
    """``IN ::name`` (a list bind variable, as nested queries use) becomes ``IN (:name)`` for the parser."""
    names = set(_LIST_BIND.findall(sql))
    return (_LIST_BIND.sub(r"(:\1)", sql), names) if names else (sql, names)


def _first_select(statement: exp.Expression) -> exp.Select | None:
    node = statement
    while isinstance(node, exp.SetOperation | exp.Subquery):
        node = node.left if isinstance(node, exp.SetOperation) else node.this
    return node if isinstance(node, exp.Select) else None


def _unsharded_passthrough(kind: StatementKind, sql: str, keyspace: str) -> Plan:
    """A statement sqlglot cannot parse, for an unsharded keyspace: MariaDB gets it as written."""
    route = Route(Routing(RouteVariant.UNSHARDED, keyspace), SQLTemplate(sql), passthrough=True)
    return Plan(kind, sql, route, ())
