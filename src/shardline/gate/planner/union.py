"""UNION [ALL]: one route when all branches run on the same shard (or, for a UNION ALL of plain SELECTs, on
every shard); otherwise each branch is planned alone and the gate concatenates, removes duplicates (UNION),
sorts and limits."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.concatenate import Concatenate
from shardline.gate.engine.distinct import Distinct
from shardline.gate.engine.limit import Limit
from shardline.gate.engine.memory_sort import MemorySort
from shardline.gate.engine.ordering import OrderKey
from shardline.gate.engine.projection import Projection
from shardline.gate.planner.astutil import generate, has_aggregation, query_branches, unalias
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.fromclause import query_route
from shardline.gate.planner.names import column_names
from shardline.gate.planner.routebuild import make_route
from shardline.gate.planner.values import bind_value

PlanBranch = Callable[..., Primitive]


def plan_union(
    query: exp.SetOperation, ctx: PlanContext, *, text: str | None, plan_branch: PlanBranch
) -> Primitive:
    """A UNION (EXCEPT and INTERSECT only on one shard); ``plan_branch`` plans a branch alone."""
    candidate = query_route(query, ctx, [])
    if not isinstance(query, exp.Union) and (candidate is None or not candidate.single_shard):
        raise Unsupported(f"{query.key.upper()} is supported only when all its queries run on one shard")
    if candidate is not None and (candidate.single_shard or _complete_per_shard(query)):
        route = make_route(candidate, query, ctx, text)
        names = column_names(ctx.name_select, ctx.sql) if text is None and ctx.name_select is not None else ()
        return Projection(route, names=names) if names else route
    return _plan_at_gate(query, ctx, plan_branch)


def _complete_per_shard(query: exp.Expression) -> bool:
    """A UNION ALL of SELECTs whose rows each shard produces completely: the shards' results just add up."""
    if isinstance(query, exp.Union):
        if query.args.get("distinct") or query.args.get("order") or query.args.get("limit"):
            return False
        return _complete_per_shard(query.left) and _complete_per_shard(query.right)
    if isinstance(query, exp.Subquery):
        return _complete_per_shard(query.this)
    if not isinstance(query, exp.Select):
        return False
    blocking = ("distinct", "order", "limit", "offset")
    return not has_aggregation(query) and not any(query.args.get(k) for k in blocking)


def _plan_at_gate(query: exp.Union, ctx: PlanContext, plan_branch: PlanBranch) -> Primitive:
    branches = query_branches(query)
    first = branches[0]
    names = column_names(first, ctx.sql) if first is ctx.name_select else ()
    ctx.name_select = None  # the union names the columns, after dropping its helper columns
    width = len(first.expressions)
    has_star = any(isinstance(unalias(item), exp.Star) for b in branches for item in b.expressions)
    needs_weights = not has_star and (_has_distinct(query) or bool(query.args.get("order")))
    if needs_weights:
        for branch in branches:
            if len(branch.expressions) != width:
                raise Unsupported("the SELECTs of a UNION must return the same number of columns")
            for item in list(branch.expressions):
                branch.append("expressions", exp.WeightString(this=unalias(item).copy()))
    compared = _has_distinct(query) or bool(query.args.get("order"))
    primitive = _plan_node(query, ctx, plan_branch, width if needs_weights else None, compared)
    order = query.args.get("order")
    if order is not None:
        keys = []
        for ordered in order.expressions:
            column = _union_column(ordered.this, first)
            keys.append(
                OrderKey(column, width + column if needs_weights else None, bool(ordered.args.get("desc")))
            )
        primitive = MemorySort(primitive, tuple(keys))
    limit = query.args.get("limit")
    if limit is not None:
        count = bind_value(limit.expression)
        offset = query.args.get("offset")
        skip = bind_value(offset.expression) if offset is not None else None
        if count is None or (offset is not None and skip is None):
            raise Unsupported("LIMIT of a UNION across shards needs number literals")
        primitive = Limit(primitive, count, skip)
    helpers = width if needs_weights else 0
    return Projection(primitive, helpers, names) if helpers or names else primitive


def _has_distinct(query: exp.Expression) -> bool:
    return isinstance(query, exp.Union) and (
        bool(query.args.get("distinct")) or _has_distinct(query.left) or _has_distinct(query.right)
    )


def _plan_node(
    query: exp.Expression, ctx: PlanContext, plan_branch: PlanBranch, width: int | None, compared: bool
) -> Primitive:
    if isinstance(query, exp.Subquery):
        return _plan_node(query.this, ctx, plan_branch, width, compared)
    if not isinstance(query, exp.Union):
        return plan_branch(query, ctx)
    left = _plan_node(query.left, ctx, plan_branch, width, compared)
    right = _plan_node(query.right, ctx, plan_branch, width, compared)
    primitive: Primitive = Concatenate([left, right], compared=compared)
    if query.args.get("distinct"):
        columns = tuple((i, width + i if width is not None else None) for i in range(width or 0))
        primitive = Distinct(primitive, columns if width is not None else None)
    return primitive


def _union_column(node: exp.Expression, first: exp.Select) -> int:
    """The result column an ORDER BY item of a UNION names: a position, or a column name of the first SELECT."""
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return int(node.this) - 1
    if isinstance(node, exp.Column) and not node.table:
        for i, item in enumerate(first.expressions):
            if item.alias_or_name.lower() == node.name.lower():
                return i
    raise Unsupported(f"ORDER BY '{generate(node)[:200]}' of a UNION must name a result column")
