"""Route candidates: for each table of a query block, the best routing its predicates allow, and the rules that
merge candidates into one route (co-located joins, reference tables, one unsharded keyspace)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlglot import exp

from shardline.gate.engine.evalengine import BindVar, Expr
from shardline.gate.engine.routing import RouteVariant, Routing
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.values import bind_value
from shardline.vindexes.vschema import ColumnVindex, Table

V = RouteVariant
_SINGLE_SHARD = frozenset({V.UNSHARDED, V.EQUAL_UNIQUE, V.REFERENCE, V.BY_DESTINATION})
_RANK = {V.NONE: 0, V.UNSHARDED: 1, V.BY_DESTINATION: 1, V.EQUAL_UNIQUE: 2, V.EQUAL: 3, V.IN: 4,
         V.SCATTER: 5, V.REFERENCE: 6}  # fmt: skip


@dataclass(frozen=True)
class TableSource:
    """A table of a FROM clause: the name its columns are qualified with, and its VSchema table."""

    alias: str
    table: Table
    node: exp.Table

    @property
    def sharded(self) -> bool:
        return self.table.primary_vindex is not None


@dataclass
class RouteCandidate:
    """Tables that one route can serve together, and how that route picks its shards.

    ``in_node`` is the ``col IN (...)`` predicate an IN route narrows per shard.
    """

    keyspace: str
    variant: RouteVariant
    sources: list[TableSource] = field(default_factory=list)
    vindex: ColumnVindex | None = None
    values: tuple[Expr, ...] = ()
    in_node: exp.In | None = None
    shard: str = ""

    @property
    def single_shard(self) -> bool:
        return self.variant in _SINGLE_SHARD

    def routing(self) -> Routing:
        vindex = self.vindex.vindex if self.vindex is not None else None
        return Routing(self.variant, self.keyspace, vindex, self.values, self.shard)

    def sharded_sources(self) -> list[TableSource]:
        return [s for s in self.sources if s.sharded]


def column_of(node: exp.Expression, sources: Sequence[TableSource]) -> tuple[TableSource, str] | None:
    """The source and lower-case column name a column reference belongs to, if it is clear from the query.

    An unqualified column belongs to the only table of the block, or to the only table whose VSchema lists it.
    """
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Column) or not isinstance(node.this, exp.Identifier):
        return None
    name = node.name.lower()
    qualifier = node.table
    if qualifier:
        matches = [s for s in sources if s.alias == qualifier]
    elif len(sources) == 1:
        matches = list(sources)
    else:
        matches = [s for s in sources if any(c.name.lower() == name for c in s.table.columns)]
    return (matches[0], name) if len(matches) == 1 else None


def candidate_for(
    source: TableSource, conjuncts: Iterable[exp.Expression], ctx: PlanContext
) -> RouteCandidate:
    """The best routing for one table given the predicates ANDed in its WHERE (and inner-join ON) clauses."""
    table = source.table
    keyspace = ctx.keyspace_of(table)
    if not keyspace.sharded:
        return RouteCandidate(keyspace.name, V.UNSHARDED, [source])
    if table.is_reference or table.primary_vindex is None:
        return RouteCandidate(keyspace.name, V.REFERENCE, [source])
    conjuncts = list(conjuncts)
    if any(_never_true(c) for c in conjuncts):
        return RouteCandidate(keyspace.name, V.NONE, [source])
    best = RouteCandidate(keyspace.name, V.SCATTER, [source])
    for conjunct in conjuncts:
        found = _vindex_predicate(conjunct, source, ctx)
        if found is not None and _better(found, best):
            best = found
    return best


def _never_true(node: exp.Expression) -> bool:
    """A conjunct that no row satisfies: FALSE or NULL."""
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Null) or (isinstance(node, exp.Boolean) and not node.this)


def _better(a: RouteCandidate, b: RouteCandidate) -> bool:
    cost_a = (_RANK[a.variant], a.vindex.vindex.cost if a.vindex else 0)
    cost_b = (_RANK[b.variant], b.vindex.vindex.cost if b.vindex else 0)
    return cost_a < cost_b


def _vindex_predicate(node: exp.Expression, source: TableSource, ctx: PlanContext) -> RouteCandidate | None:
    keyspace = source.table.keyspace
    if isinstance(node, exp.EQ):
        for col_side, value_side in ((node.this, node.expression), (node.expression, node.this)):
            column_vindex = _vindex_on(col_side, source)
            value = bind_value(value_side)
            if column_vindex is not None and value is not None:
                variant = V.EQUAL_UNIQUE if column_vindex.vindex.unique else V.EQUAL
                return RouteCandidate(keyspace, variant, [source], column_vindex, (value,))
        return None
    if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
        column_vindex = _vindex_on(node.this, source)
        if column_vindex is None:
            return None
        items = node.expressions
        values = [bind_value(item) for item in items]
        if any(v is None for v in values):
            return None
        if len(values) == 1 and not _is_list(values[0], ctx):
            variant = V.EQUAL_UNIQUE if column_vindex.vindex.unique else V.EQUAL
            return RouteCandidate(keyspace, variant, [source], column_vindex, tuple(values))  # type: ignore[arg-type]
        return RouteCandidate(keyspace, V.IN, [source], column_vindex, tuple(values), in_node=node)  # type: ignore[arg-type]
    return None


def _is_list(value: Expr, ctx: PlanContext) -> bool:
    return isinstance(value, BindVar) and value.name in ctx.list_binds


def _vindex_on(node: exp.Expression, source: TableSource) -> ColumnVindex | None:
    """The single-column vindex of the source on this column reference, preferring the cheapest."""
    found = column_of(node, [source])
    if found is None:
        return None
    name = found[1]
    options = [
        cv for cv in source.table.column_vindexes if len(cv.columns) == 1 and cv.column.lower() == name
    ]
    return min(options, key=lambda cv: cv.vindex.cost) if options else None


def vindex_join(left: RouteCandidate, right: RouteCandidate, predicates: Iterable[exp.Expression]) -> bool:
    """Whether an equality among the predicates joins a primary vindex column of a sharded table of ``left``
    to that of one of ``right``, both of the same vindex type: then matching rows live on the same shard."""
    for predicate in predicates:
        if not isinstance(predicate, exp.EQ):
            continue
        a = _primary_vindex_ref(predicate.this, left.sharded_sources())
        b = _primary_vindex_ref(predicate.expression, right.sharded_sources())
        if a is None or b is None:
            a = _primary_vindex_ref(predicate.expression, left.sharded_sources())
            b = _primary_vindex_ref(predicate.this, right.sharded_sources())
        if a is not None and b is not None and a.vindex.type_name == b.vindex.type_name:
            if a.vindex.params == b.vindex.params:
                return True
    return False


def _primary_vindex_ref(node: exp.Expression, sources: Sequence[TableSource]) -> ColumnVindex | None:
    found = column_of(node, sources)
    if found is None:
        return None
    source, name = found
    primary = source.table.primary_vindex
    if primary is not None and len(primary.columns) == 1 and primary.column.lower() == name:
        return primary
    return None


def merge(
    left: RouteCandidate, right: RouteCandidate, predicates: Sequence[exp.Expression], *, outer: bool = False
) -> RouteCandidate | None:
    """One route for both candidates, joined by ``predicates``, if their rows meet on the same shards.

    ``outer``: ``right`` is the inner side of a LEFT JOIN, so every ``left`` row must be produced exactly once.
    """
    if left.keyspace != right.keyspace:
        return None
    if left.variant == V.NONE:
        return _combined(left, right, left)
    if right.variant == V.NONE:
        return None if outer else _combined(left, right, right)
    if left.variant == V.UNSHARDED and right.variant == V.UNSHARDED:
        return _combined(left, right, left)
    if right.variant == V.REFERENCE:
        return _combined(left, right, left)
    if left.variant == V.REFERENCE:
        # Each shard would produce the outer rows of a reference table again: only one shard may run it.
        return None if outer and not right.single_shard else _combined(left, right, right)
    if vindex_join(left, right, predicates):
        # An outer join keeps every left row: only the left side's routing may narrow the shards.
        return _combined(left, right, right if not outer and _better(right, left) else left)
    if left.variant == right.variant == V.EQUAL_UNIQUE and same_value(left, right):
        return _combined(left, right, left)
    return None


def same_value(a: RouteCandidate, b: RouteCandidate) -> bool:
    """Both route on one value of the same vindex type, so they reach the same single shard."""
    if a.vindex is None or b.vindex is None or len(a.values) != 1 or len(b.values) != 1:
        return False
    same_vindex = (
        a.vindex.vindex.type_name == b.vindex.vindex.type_name
        and a.vindex.vindex.params == b.vindex.vindex.params
    )
    return same_vindex and a.values[0] == b.values[0]


def _combined(left: RouteCandidate, right: RouteCandidate, routing_from: RouteCandidate) -> RouteCandidate:
    return replace(routing_from, sources=left.sources + right.sources)
