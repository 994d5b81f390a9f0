"""Planning a SELECT (or a UNION): one route when the whole query's rows meet on the same shards, with the
gate finishing multi-shard work (ordering, limits, aggregation); subqueries that cannot run inside the route
pulled out; joins across routes done at the gate."""

from __future__ import annotations

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.projection import Projection
from shardline.gate.engine.subquery import PulloutKind, UncorrelatedSubquery
from shardline.gate.planner.astutil import direct_subqueries, generate
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.fromclause import FromClause, analyze_from, is_correlated, merge_subquery
from shardline.gate.planner.join import plan_join
from shardline.gate.planner.names import column_names
from shardline.gate.planner.routebuild import make_route
from shardline.gate.planner.routes import RouteCandidate, TableSource
from shardline.gate.planner.scatter import plan_multi_shard
from shardline.gate.planner.union import plan_union


def plan_query(query: exp.Expression, ctx: PlanContext, *, text: str | None = None) -> Primitive:
    """Plans a SELECT, a UNION or a parenthesized query. ``text`` is the query's exact normalized text when it is
    the whole statement: a route that runs it unchanged sends that text (the client's own)."""
    if isinstance(query, exp.Subquery) and not query.args.get("alias"):
        if query.args.get("order") or query.args.get("limit"):
            raise Unsupported("ORDER BY or LIMIT on a parenthesized query across shards is not supported")
        return plan_query(query.this, ctx, text=text)
    if isinstance(query, exp.SetOperation):
        return plan_union(query, ctx, text=text, plan_branch=plan_query)
    if isinstance(query, exp.Select):
        return plan_select(query, ctx, text=text)
    raise Unsupported(f"unsupported query: {generate(query)[:200]}")


def plan_select(select: exp.Select, ctx: PlanContext, *, text: str | None) -> Primitive:
    """A SELECT block: pull-outs, then one route, a multi-shard route with gate work, or a join."""
    if select.args.get("with_"):  # a nested WITH (the statement's own are inlined by build_plan)
        raise Unsupported("WITH (common table expressions) inside a subquery is supported only in queries on one "
                          "unsharded keyspace")
    clause = analyze_from(select, ctx, [])
    pullouts = _pull_out_subqueries(select, clause, ctx)
    if pullouts:
        text = None
        clause = analyze_from(select, ctx, [])
    if clause.single_route:
        candidate = clause.groups[0]
        for subquery in direct_subqueries(select):
            merged = merge_subquery(candidate, subquery, ctx, clause.sources)
            if merged is None:
                raise Unsupported("a subquery cannot run in the route its outer query takes")
            candidate = merged
        if candidate.single_shard:
            primitive = single_route(select, candidate, ctx, text)
        else:
            primitive = plan_multi_shard(select, candidate, ctx, text)
    else:
        primitive = plan_join(select, clause, ctx, plan_query)
    for kind, subquery_plan, values_bind, has_values_bind in reversed(pullouts):
        primitive = UncorrelatedSubquery(kind, subquery_plan, primitive, values_bind, has_values_bind)
    return primitive


def single_route(
    select: exp.Expression, candidate: RouteCandidate, ctx: PlanContext, text: str | None
) -> Primitive:
    """The whole query on one shard (or every shard, for a query each shard answers completely)."""
    names = column_names(select, ctx.sql) if text is None and select is ctx.name_select else ()
    route = make_route(candidate, select, ctx, text)
    return Projection(route, names=names) if names else route


def _pull_out_subqueries(
    select: exp.Select, clause: FromClause, ctx: PlanContext
) -> list[tuple[PulloutKind, Primitive, str, str]]:
    """Replaces each subquery that cannot run inside the block's route by bind variables, planning it alone."""
    pullouts = []
    single = clause.groups[0] if clause.single_route else None
    candidate = single
    sources: list[TableSource] = clause.sources
    for subquery in direct_subqueries(select):
        if candidate is not None:
            merged = merge_subquery(candidate, subquery, ctx, sources)
            if merged is not None:
                candidate = merged
                continue
        if is_correlated(subquery, clause.aliases):
            raise Unsupported(
                "correlated subquery whose rows are on other shards than the outer query's is not supported"
            )
        pullouts.append(_pull_out(subquery, ctx))
    return pullouts


def _pull_out(subquery: exp.Expression, ctx: PlanContext) -> tuple[PulloutKind, Primitive, str, str]:
    plan = plan_query(subquery, ctx)
    holder = subquery.parent
    values_bind, has_values_bind = ctx.reserve("sq"), ctx.reserve("sq_has_values")
    if isinstance(holder, exp.Exists):
        holder.replace(exp.Placeholder(this=has_values_bind))
        return PulloutKind.EXISTS, plan, "", has_values_bind
    assert isinstance(holder, exp.Subquery)
    container = holder.parent
    if isinstance(container, exp.In) and container.args.get("query") is holder:
        ctx.list_binds = ctx.list_binds | {values_bind}
        test = exp.In(this=container.this, expressions=[exp.Placeholder(this=values_bind)])
        guarded = exp.And(
            this=exp.EQ(this=exp.Placeholder(this=has_values_bind), expression=exp.Literal.number(1)),
            expression=test,
        )
        container.replace(exp.Paren(this=guarded))
        return PulloutKind.IN, plan, values_bind, has_values_bind
    if isinstance(container, exp.Any | exp.All) or isinstance(holder.parent, exp.Tuple):
        raise Unsupported("ANY/ALL and row subqueries across shards are not supported")
    holder.replace(exp.Placeholder(this=values_bind))
    return PulloutKind.VALUE, plan, values_bind, ""
