"""A SELECT's FROM clause as the planner sees it: its items, how they join, and the routes they merge into."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.routing import RouteVariant
from shardline.gate.planner.astutil import conjuncts, direct_subqueries, qualifiers
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.locality import rows_final_per_shard
from shardline.gate.planner.routes import (
    RouteCandidate,
    TableSource,
    candidate_for,
    merge,
    same_value,
    vindex_join,
)


@dataclass
class FromItem:
    """A table or derived table of the FROM clause. ``kind``: "inner" (also the first item), "left" or "right";
    ``on``: the conjuncts of its ON (or USING) condition. ``alone``: a derived table whose rows only the gate
    can complete (LIMIT, aggregation across shards...): planned on its own and joined at the gate."""

    node: exp.Expression
    alias: str
    kind: str
    on: list[exp.Expression]
    candidate: RouteCandidate
    derived: exp.Expression | None = None
    alone: bool = False


@dataclass
class FromClause:
    """``groups``: the route candidates the items merge into (one, and no item alone: the whole block is one
    route); ``membership``: each item's group."""

    items: list[FromItem]
    where: list[exp.Expression]
    groups: list[RouteCandidate] = field(default_factory=list)
    membership: list[int] = field(default_factory=list)

    @property
    def single_route(self) -> bool:
        return len(self.groups) == 1 and not any(item.alone for item in self.items)

    @property
    def sources(self) -> list[TableSource]:
        return [s for item in self.items for s in item.candidate.sources]

    @property
    def aliases(self) -> set[str]:
        return {item.alias for item in self.items}


def analyze_from(select: exp.Select, ctx: PlanContext, outer: list[TableSource]) -> FromClause:
    """Resolves the FROM items against the VSchema and merges them into as few routes as possible."""
    from_ = select.args.get("from_")
    where = conjuncts(select.args["where"].this) if select.args.get("where") else []
    if from_ is None:
        return FromClause([], where, [_dual_candidate(ctx)])
    joins = select.args.get("joins") or []
    nodes = [from_.this] + [j.this for j in joins]
    kinds = ["inner"] + [_join_kind(j) for j in joins]
    ons: list[list[exp.Expression]] = [[]]
    for i, join in enumerate(joins):
        ons.append(_on_conjuncts(join, [_alias_of(n) for n in nodes[: i + 1]], _alias_of(join.this)))
    inner_on = [c for kind, on in zip(kinds, ons, strict=True) if kind == "inner" for c in on]
    items: list[FromItem] = []
    for node, kind, on in zip(nodes, kinds, ons, strict=True):
        filters = where + inner_on + (on if kind == "left" else [])
        items.append(_from_item(node, kind, on, filters, ctx, outer))
    clause = FromClause(items, where)
    clause.groups, clause.membership = _merge_items(items, where)
    return clause


def _dual_candidate(ctx: PlanContext) -> RouteCandidate:
    """A SELECT without tables runs on the session's keyspace (any shard), else on any keyspace."""
    name = ctx.keyspace or (sorted(ctx.vschema.keyspaces)[0] if ctx.vschema.keyspaces else "")
    if not name:
        raise Unsupported("no keyspace to run a query without tables on: select a keyspace with USE")
    keyspace = ctx.vschema.find_keyspace(name)
    return RouteCandidate(
        keyspace.name, RouteVariant.REFERENCE if keyspace.sharded else RouteVariant.UNSHARDED
    )


def _join_kind(join: exp.Join) -> str:
    side = (join.side or "").upper()
    if side in ("LEFT", "RIGHT"):
        return side.lower()
    if side or join.args.get("method"):
        raise Unsupported(f"unsupported join: {join.sql(dialect='mysql')}")
    return "inner"


def _on_conjuncts(join: exp.Join, left_aliases: list[str], right: str) -> list[exp.Expression]:
    """The ON conjuncts; ``USING (c)`` becomes ``l.c = right.c`` for each table ``l`` before the join."""
    on = conjuncts(join.args.get("on"))
    for ident in join.args.get("using") or []:
        for left in left_aliases:
            on.append(exp.EQ(this=exp.column(ident.name, left), expression=exp.column(ident.name, right)))
    return on


def _alias_of(node: exp.Expression) -> str:
    return node.alias_or_name


def _from_item(
    node: exp.Expression,
    kind: str,
    on: list[exp.Expression],
    filters: list[exp.Expression],
    ctx: PlanContext,
    outer: list[TableSource],
) -> FromItem:
    alias = _alias_of(node)
    if isinstance(node, exp.Table) and not isinstance(node.this, exp.Func):
        source = TableSource(alias, ctx.find_table(node), node)
        return FromItem(node, alias, kind, on, candidate_for(source, filters, ctx))
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select | exp.SetOperation):
        candidate = query_route(node.this, ctx, outer)
        if candidate is not None and (
            candidate.single_shard or rows_final_per_shard(node.this, candidate.sharded_sources())
        ):
            return FromItem(node, alias, kind, on, candidate, derived=node.this)
        alone = RouteCandidate("", RouteVariant.SCATTER)  # merges with nothing
        return FromItem(node, alias, kind, on, alone, derived=node.this, alone=True)
    raise Unsupported(f"unsupported FROM item: {node.sql(dialect='mysql')}")


def _merge_items(
    items: list[FromItem], where: list[exp.Expression]
) -> tuple[list[RouteCandidate], list[int]]:
    groups: list[RouteCandidate] = [items[0].candidate]
    membership = [0]
    for item in items[1:]:
        predicates = item.on + where
        if item.kind == "inner":
            for i, group in enumerate(groups):
                merged = None if item.alone else merge(group, item.candidate, predicates)
                if merged is not None:
                    groups[i] = merged
                    membership.append(i)
                    break
            else:
                groups.append(item.candidate)
                membership.append(len(groups) - 1)
            continue
        merged = None
        if len(groups) == 1 and not item.alone and not items[0].alone:
            if item.kind == "left":
                merged = merge(groups[0], item.candidate, predicates, outer=True)
            else:
                merged = merge(item.candidate, groups[0], predicates, outer=True)
        if merged is None:
            if len(groups) == 1 and item.kind == "left":
                groups.append(item.candidate)
                membership.append(1)
                continue
            raise Unsupported(f"{item.kind.upper()} JOIN of '{item.alias}' across shards is not supported")
        groups[0] = merged
        membership.append(0)
    return groups, membership


def query_route(query: exp.Expression, ctx: PlanContext, outer: list[TableSource]) -> RouteCandidate | None:
    """The one route that can run the whole query (nested subqueries included), or None."""
    if isinstance(query, exp.SetOperation):
        left = query_route(query.left, ctx, outer)
        right = query_route(query.right, ctx, outer)
        return union_route(left, right) if left is not None and right is not None else None
    if isinstance(query, exp.Subquery):
        return query_route(query.this, ctx, outer)
    if not isinstance(query, exp.Select):
        return None
    clause = analyze_from(query, ctx, outer)
    if not clause.single_route:
        return None
    candidate = clause.groups[0]
    for subquery in direct_subqueries(query):
        candidate = merge_subquery(candidate, subquery, ctx, clause.sources + outer)
        if candidate is None:
            return None
    return candidate


def union_route(left: RouteCandidate, right: RouteCandidate) -> RouteCandidate | None:
    """One route for two UNION branches: the same single shard, or every shard for both (a scatter union is
    only complete per shard when nothing needs all rows, which the caller checks)."""
    V = RouteVariant
    if left.keyspace != right.keyspace or left.variant != right.variant:
        return None
    if left.variant in (V.UNSHARDED, V.REFERENCE, V.SCATTER) or (
        left.variant == V.EQUAL_UNIQUE and same_value(left, right)
    ):
        return RouteCandidate(
            left.keyspace, left.variant, left.sources + right.sources, left.vindex, left.values
        )
    return None


def merge_subquery(
    outer: RouteCandidate, subquery: exp.Expression, ctx: PlanContext, scope: list[TableSource]
) -> RouteCandidate | None:
    """The route that runs the outer block with the subquery inside it, if the subquery's rows are there."""
    inner = query_route(subquery, ctx, scope)
    if inner is None or inner.keyspace != outer.keyspace:
        return None
    V = RouteVariant
    if outer.variant == V.UNSHARDED and inner.variant == V.UNSHARDED:
        return outer
    if inner.variant == V.REFERENCE:
        return outer
    if outer.variant == V.REFERENCE and inner.single_shard:
        return RouteCandidate(
            inner.keyspace,
            inner.variant,
            outer.sources + inner.sources,
            inner.vindex,
            inner.values,
            inner.in_node,
        )
    if inner.variant == V.EQUAL_UNIQUE and outer.variant == V.EQUAL_UNIQUE and same_value(outer, inner):
        return outer
    predicates = [c for select in _selects(subquery) for c in _filters(select)]
    if vindex_join(outer, inner, predicates):
        return outer
    return None


def _selects(query: exp.Expression) -> list[exp.Select]:
    return [query] if isinstance(query, exp.Select) else list(query.find_all(exp.Select))


def _filters(select: exp.Select) -> list[exp.Expression]:
    out = conjuncts(select.args["where"].this) if select.args.get("where") else []
    for join in select.args.get("joins") or []:
        out += conjuncts(join.args.get("on"))
    return out


def is_correlated(query: exp.Expression, scope_aliases: set[str]) -> bool:
    """Whether the query refers to a table alias of the enclosing blocks (that it does not define itself)."""
    own = {t.alias_or_name for t in query.find_all(exp.Table)} | {
        s.alias_or_name for s in query.find_all(exp.Subquery) if s.alias
    }
    return bool((qualifiers(query) - own) & scope_aliases)
