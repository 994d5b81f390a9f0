"""Joins across routes: each route group runs its own SELECT; the gate joins them in FROM order with nested
loops, binding values of earlier groups into later groups' queries (which may then route on them).

Every expression is computed in the latest group it references; aggregation, HAVING, DISTINCT, ORDER BY and
LIMIT happen at the gate over the joined rows. ``*`` needs the VSchema's authoritative column lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.aggregate import Aggregate, AggregateColumn, AggregateOp
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.columnname import ColumnName
from shardline.gate.engine.distinct import Distinct
from shardline.gate.engine.filter import Filter
from shardline.gate.engine.join import Join
from shardline.gate.engine.limit import Limit
from shardline.gate.engine.memory_sort import MemorySort
from shardline.gate.engine.ordering import OrderKey
from shardline.gate.engine.projection import Projection
from shardline.gate.engine.route import Route
from shardline.gate.planner.astutil import (
    and_all,
    contains_aggregate,
    expr_key,
    generate,
    has_aggregation,
    is_aggregate,
    query_branches,
    unalias,
)
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.evalplan import to_eval
from shardline.gate.planner.fromclause import FromClause, FromItem
from shardline.gate.planner.names import column_names
from shardline.gate.planner.routebuild import make_route
from shardline.gate.planner.routes import RouteCandidate, candidate_for, column_of, merge
from shardline.gate.planner.scatter import check_supported
from shardline.gate.planner.values import bind_value

_RAW_OPS = {
    exp.Sum: AggregateOp.SUM,
    exp.Min: AggregateOp.MIN,
    exp.Max: AggregateOp.MAX,
    exp.Avg: AggregateOp.AVG,
}


@dataclass
class _Group:
    """One route of the join: its FROM items, the expressions it selects, and its own predicates. A derived
    table the gate completes is a group of its own: its result columns (then their weight strings) are fixed,
    and predicates on it are evaluated at the gate."""

    candidate: RouteCandidate
    items: list[FromItem]
    outer: bool = False
    columns: list[exp.Expression] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    predicates: list[exp.Expression] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    weighted: list[bool] = field(default_factory=list)  # derived columns that come with a weight string

    @property
    def derived(self) -> exp.Expression | None:
        return self.items[0].derived if self.items[0].alone else None


class _JoinPlan:
    def __init__(self, select: exp.Select, clause: FromClause, ctx: PlanContext) -> None:
        self.select = select
        self.ctx = ctx
        self.groups = [_Group(c, []) for c in clause.groups]
        self.group_of: dict[str, int] = {}
        for item, index in zip(clause.items, clause.membership, strict=True):
            self.groups[index].items.append(item)
            self.group_of[item.alias] = index
        for index, group in enumerate(self.groups):
            group.outer = index > 0 and group.items[0].kind == "left"
            if any(item.kind == "right" for item in group.items) or (group.outer and len(group.items) != 1):
                raise Unsupported("this outer join across shards is not supported")
            if group.derived is not None:
                group.outputs, group.weighted = _derived_outputs(group.derived, group.items[0].alias)
        self.sources = clause.sources
        self.join_vars: dict[tuple[int, int], str] = {}
        self.gate_predicates: list[exp.Expression] = []

    def groups_of(self, node: exp.Expression) -> set[int]:
        """The groups whose columns the expression reads."""
        out = set()
        for column in [node] if isinstance(node, exp.Column) else node.find_all(exp.Column):
            if isinstance(column.this, exp.Star):
                raise Unsupported("'*' inside an expression across shards is not supported")
            if column.table:
                if column.table not in self.group_of:
                    raise Unsupported(f"unknown table '{column.table}' in a join across shards")
                out.add(self.group_of[column.table])
                continue
            found = column_of(column, self.sources)
            derived = [i for i, g in enumerate(self.groups) if column.name.lower() in g.outputs]
            if found is None and len(derived) == 1:
                out.add(derived[0])
                continue
            if found is None or derived:
                raise Unsupported(
                    f"column '{column.name}' of a join across shards must be qualified with its table"
                )
            out.add(self.group_of[found[0].alias])
        return out

    def target_group(self, node: exp.Expression) -> int:
        groups = self.groups_of(node)
        return max(groups) if groups else 0

    def bind_earlier(self, node: exp.Expression, group: int) -> exp.Expression:
        """A copy of the expression for ``group``'s query: columns of earlier groups become join variables."""
        copy = node.copy()
        for column in list(copy.find_all(exp.Column)) if not isinstance(copy, exp.Column) else [copy]:
            owner = self.groups_of(column)
            (index,) = owner or {group}
            if index == group:
                continue
            ref = self.column(index, column)
            if ref not in self.join_vars:
                self.join_vars[ref] = self.ctx.reserve(f"{column.name}_")
            placeholder = exp.Placeholder(this=self.join_vars[ref])
            if column is copy:
                return placeholder
            column.replace(placeholder)
        return copy

    def column(self, group: int, node: exp.Expression) -> tuple[int, int]:
        """(group, position) of the expression in the group's select list, adding it if needed."""
        target = self.groups[group]
        key = expr_key(node)
        if key not in target.keys:
            target.keys[key] = len(target.columns)
            if target.derived is not None:
                _derived_column(target, unalias(node))  # refuses what the derived table does not have
                target.columns.append(unalias(node))
            else:
                target.columns.append(self.bind_earlier(node, group))
        return group, target.keys[key]

    def value(self, node: exp.Expression) -> tuple[int, int]:
        """Where the value of an expression comes from: the latest group it reads."""
        return self.column(self.target_group(node), node)

    def weight(self, node: exp.Expression) -> tuple[int, int] | None:
        """Where the weight string of a text value comes from (None: a derived table's computed value, which
        the gate compares itself)."""
        group = self.target_group(node)
        target = self.groups[group]
        if target.derived is not None:
            column = unalias(node)
            if not isinstance(column, exp.Column) or not target.weighted[_derived_column(target, column)]:
                return None
        return self.column(group, exp.WeightString(this=node.copy()))


def _derived_outputs(query: exp.Expression, alias: str) -> tuple[list[str], list[bool]]:
    """The column names of a derived table's result (lower case), and which of them get a weight string: one
    is added to the derived query (in every UNION branch) after its columns for each plain expression."""
    branches = query_branches(query)
    first = branches[0]
    if any(isinstance(unalias(item), exp.Star) or not item.alias_or_name for item in first.expressions):
        raise Unsupported(f"derived table '{alias}' across shards must name each of its columns (no '*')")
    outputs = [item.alias_or_name.lower() for item in first.expressions]
    if any(len(branch.expressions) != len(outputs) for branch in branches):
        raise Unsupported(f"the SELECTs of derived table '{alias}' return different numbers of columns")
    weighted = [
        not any(contains_aggregate(unalias(branch.expressions[i])) for branch in branches)
        for i in range(len(outputs))
    ]
    for branch in branches:
        for item, with_weight in zip(list(branch.expressions), weighted, strict=True):
            if with_weight:
                branch.append("expressions", exp.WeightString(this=unalias(item).copy()))
    return outputs, weighted


def _derived_column(group: _Group, node: exp.Expression) -> int:
    """The position of a derived table's column (or of its weight string) in the derived plan's rows."""
    if isinstance(node, exp.Literal):  # COUNT(*): any column will do
        return 0
    weight = isinstance(node, exp.WeightString)
    column = node.this if weight else node
    if not isinstance(column, exp.Column) or column.name.lower() not in group.outputs:
        raise Unsupported(
            f"only columns of derived table '{group.items[0].alias}' can be used across shards, "
            f"not {generate(node)[:200]}"
        )
    position = group.outputs.index(column.name.lower())
    if not weight:
        return position
    return len(group.outputs) + sum(group.weighted[:position])


def plan_join(
    select: exp.Select, clause: FromClause, ctx: PlanContext, plan_query: Callable[..., Primitive]
) -> Primitive:
    """A SELECT whose FROM clause needs several routes (``plan_query`` plans derived tables alone)."""
    check_supported(select)
    plan = _JoinPlan(select, clause, ctx)
    names = column_names(select, ctx.sql) if select is ctx.name_select else ()
    if _expand_stars(select, plan):
        names = ()
    _assign_predicates(select, clause, plan)
    items = list(select.expressions)
    aggregating = has_aggregation(select)
    refs: list[tuple[int, int]] = []
    aggregates: list[tuple[AggregateOp, tuple[int, int], tuple[int, int] | None]] = []
    by_key: dict[str, tuple[int, int]] = {}
    for item in items:
        inner = unalias(item)
        if aggregating and is_aggregate(inner):
            ref = _aggregate(inner, plan, aggregates)
            by_key[expr_key(inner)] = ref
        elif contains_aggregate(inner):
            raise Unsupported(
                f"expression over aggregates across shards is not supported: {generate(inner)[:200]}"
            )
        else:
            ref = plan.value(inner)
        refs.append(ref)
    group_keys = []
    for node in select.args["group"].expressions if select.args.get("group") else []:
        node = _select_item(node, items)
        group_keys.append((plan.value(node), plan.weight(node)))
        by_key[expr_key(node)] = group_keys[-1][0]

    def resolve(node: exp.Expression) -> tuple[int, int] | None:
        if isinstance(node, exp.Column) and not node.table:
            for item, ref in zip(items, refs, strict=True):
                if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                    return ref
        ref = by_key.get(expr_key(node))
        if ref is None and aggregating and is_aggregate(node):
            ref = by_key[expr_key(node)] = _aggregate(node, plan, aggregates)
        if ref is None and not aggregating and bind_value(node) is None:
            ref = plan.value(node)
        return ref

    having = select.args.get("having")
    if having is not None:  # a first pass adds the columns HAVING reads; the second, below, addresses them
        to_eval(having.this, lambda node: 0 if resolve(node) is not None else None)
    order = []
    for ordered in select.args["order"].expressions if select.args.get("order") else []:
        node = ordered.this
        if isinstance(node, exp.Null):
            continue
        position = _position(node)
        ref = refs[position] if position is not None and position < len(refs) else resolve(node)
        if ref is None:
            raise Unsupported(f"ORDER BY '{generate(node)[:200]}' across shards is not supported")
        target = _select_item(node, items) if position is None else unalias(items[position])
        weight = plan.weight(target) if not (aggregating and contains_aggregate(target)) else None
        order.append((ref, weight, bool(ordered.args.get("desc"))))
    distinct = bool(select.args.get("distinct"))
    distinct_weights = [plan.weight(unalias(item)) if not contains_aggregate(unalias(item)) else None
                        for item in items] if distinct else []  # fmt: skip

    primitive, offsets = _join_tree(plan, ctx, plan_query)

    def at(ref: tuple[int, int] | None) -> int | None:
        return None if ref is None else offsets[ref[0]] + ref[1]

    for predicate in plan.gate_predicates:
        primitive = Filter(
            primitive,
            to_eval(predicate, lambda node: at(plan.value(node)) if isinstance(node, exp.Column) else None),
        )

    if aggregating:
        primitive = Aggregate(
            primitive,
            tuple((at(v), at(w)) for v, w in group_keys),  # type: ignore[misc]
            tuple(AggregateColumn(op, at(v), at(w)) for op, v, w in aggregates),  # type: ignore[arg-type]
        )
    if having is not None:
        primitive = Filter(primitive, to_eval(having.this, lambda node: at(resolve(node))))
    if distinct:
        primitive = Distinct(
            primitive, tuple((at(r), at(w)) for r, w in zip(refs, distinct_weights, strict=True))
        )  # type: ignore[misc]
    if order:
        primitive = MemorySort(primitive, tuple(OrderKey(at(r), at(w), d) for r, w, d in order))  # type: ignore[arg-type]
    limit = select.args.get("limit")
    if limit is not None:
        count = bind_value(limit.expression)
        offset = select.args.get("offset")
        skip = bind_value(offset.expression) if offset is not None else None
        if count is None or (offset is not None and skip is None):
            raise Unsupported("LIMIT across shards needs number literals")
        primitive = Limit(primitive, count, skip)
    named = tuple(
        ColumnName(alias=item.alias) if isinstance(item, exp.Alias) else names[i] if i < len(names) else None
        for i, item in enumerate(items)
    )
    return Projection(primitive, names=named, columns=tuple(at(r) for r in refs))  # type: ignore[misc]


def _position(node: exp.Expression) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return int(node.this) - 1
    return None


def _select_item(node: exp.Expression, items: list[exp.Expression]) -> exp.Expression:
    """A GROUP BY / ORDER BY item with a position or a select alias replaced by what it names."""
    position = _position(node)
    if position is not None and position < len(items):
        return unalias(items[position])
    if isinstance(node, exp.Column) and not node.table:
        for item in items:
            if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                return item.this
    return node


def _aggregate(node: exp.Expression, plan: _JoinPlan, out: list) -> tuple[int, int]:
    """Plans a raw aggregate over joined rows; returns the column its value goes to."""
    argument = node.this
    if isinstance(argument, exp.Distinct):
        if len(argument.expressions) != 1 or not isinstance(node, exp.Count | exp.Sum):
            raise Unsupported(f"{generate(node)[:200]} across shards is not supported")
        value = argument.expressions[0]
        op = AggregateOp.COUNT_DISTINCT if isinstance(node, exp.Count) else AggregateOp.SUM_DISTINCT
        ref = plan.column(
            plan.target_group(value), exp.Alias(this=value.copy(), alias=exp.to_identifier(f"d{len(out)}"))
        )
        out.append((op, ref, plan.weight(value)))
        return ref
    if isinstance(node, exp.Count):
        if isinstance(argument, exp.Star):
            ref = plan.column(
                0, exp.Alias(this=exp.Literal.number(1), alias=exp.to_identifier(f"c{len(out)}"))
            )
            out.append((AggregateOp.COUNT_STAR, ref, None))
        else:
            ref = plan.column(
                plan.target_group(argument),
                exp.Alias(this=argument.copy(), alias=exp.to_identifier(f"c{len(out)}")),
            )
            out.append((AggregateOp.COUNT, ref, None))
        return ref
    op = _RAW_OPS.get(type(node))
    if op is None:
        raise Unsupported(f"aggregate {generate(node)[:200]} across shards is not supported")
    ref = plan.column(
        plan.target_group(argument), exp.Alias(this=argument.copy(), alias=exp.to_identifier(f"a{len(out)}"))
    )
    weight = plan.weight(argument) if op in (AggregateOp.MIN, AggregateOp.MAX) else None
    out.append((op, ref, weight))
    return ref


def _expand_stars(select: exp.Select, plan: _JoinPlan) -> bool:
    """``*`` and ``t.*`` become the tables' columns, which the VSchema must list authoritatively; returns
    whether there was any."""
    expanded: list[exp.Expression] = []
    for item in select.expressions:
        star_table = item.table if isinstance(item, exp.Column) and isinstance(item.this, exp.Star) else None
        if not isinstance(item, exp.Star) and star_table is None:
            expanded.append(item)
            continue
        for group in plan.groups:
            for from_item in group.items:
                if star_table and from_item.alias != star_table:
                    continue
                if from_item.derived is not None:
                    raise Unsupported("'*' over a derived table in a join across shards is not supported")
                table = from_item.candidate.sources[0].table
                if not table.column_list_authoritative or not table.columns:
                    raise Unsupported(
                        f"'*' in a join across shards needs an authoritative column list for {table.qualified_name}"
                    )
                expanded += [exp.column(c.name, from_item.alias) for c in table.columns if not c.invisible]
    changed = [id(e) for e in expanded] != [id(e) for e in select.expressions]
    select.set("expressions", expanded)
    return changed


def _assign_predicates(select: exp.Select, clause: FromClause, plan: _JoinPlan) -> None:
    """Puts each predicate in the query of the latest group it reads (earlier groups' columns bound)."""
    pooled = list(clause.where)
    for item in clause.items:
        group = plan.groups[plan.group_of[item.alias]]
        if item.kind == "inner":
            pooled += item.on
        elif group.outer and item is group.items[0]:
            for predicate in item.on:
                target = plan.target_group(predicate)
                if target != plan.group_of[item.alias]:
                    raise Unsupported(
                        "an ON condition of a LEFT JOIN across shards must read the joined table"
                    )
                group.predicates.append(predicate)
        elif any(plan.group_of.get(q) != plan.group_of[item.alias] for q in _qualifiers(item.on)):
            raise Unsupported("an ON condition of an outer join may not read another shard's tables")
    for predicate in pooled:
        target = plan.target_group(predicate)
        if plan.groups[target].outer and predicate in clause.where:
            raise Unsupported(
                "a WHERE condition on the outer-joined table of a join across shards is not supported"
            )
        if plan.groups[target].derived is not None:
            plan.gate_predicates.append(predicate)
            to_eval(predicate, lambda node: 0 if isinstance(node, exp.Column) and plan.value(node) else None)
        else:
            plan.groups[target].predicates.append(predicate)
    for group in plan.groups:
        if group.derived is not None and (group.outer or group.predicates):
            raise Unsupported(
                f"outer join of derived table '{group.items[0].alias}' across shards is not supported"
            )


def _qualifiers(nodes: list[exp.Expression]) -> set[str]:
    return {c.table for n in nodes for c in n.find_all(exp.Column) if c.table}


def _join_tree(
    plan: _JoinPlan, ctx: PlanContext, plan_query: Callable[..., Primitive]
) -> tuple[Primitive, list[int]]:
    """The left-deep join of the groups' routes (or derived tables' plans), and each group's first column in
    the joined row."""
    sides: list[Primitive] = []
    for index, group in enumerate(plan.groups):
        group.predicates = [plan.bind_earlier(p, index) for p in group.predicates]
    for index, group in enumerate(plan.groups):
        if group.derived is not None:
            picked = tuple(_derived_column(group, column) for column in group.columns)
            sides.append(Projection(plan_query(group.derived, ctx), columns=picked or (0,)))
            continue
        if not group.columns:
            plan.column(index, exp.Alias(this=exp.Literal.number(1), alias=exp.to_identifier("one")))
        sides.append(make_route(_routing(group, ctx), _group_select(group), ctx, None))
    offsets = [0]
    for group in plan.groups[:-1]:
        offsets.append(offsets[-1] + max(len(group.columns), 1))
    primitive: Primitive = sides[0]
    for index in range(1, len(sides)):
        side = sides[index]
        used = set(side.query.bind_names) if isinstance(side, Route) else set()
        join_vars = {
            name: offsets[g] + pos for (g, pos), name in plan.join_vars.items() if g < index and name in used
        }
        primitive = Join(primitive, side, join_vars, outer=plan.groups[index].outer)
    return primitive, offsets


def _routing(group: _Group, ctx: PlanContext) -> RouteCandidate:
    """The group's route, re-derived from its predicates now that join variables stand for earlier values."""
    sources = group.candidate.sources
    if any(item.kind != "inner" for item in group.items[1:]):
        return group.candidate  # an outer join inside the group: its routing came from the outer side
    candidate: RouteCandidate | None = candidate_for(sources[0], group.predicates, ctx)
    for source in sources[1:]:
        assert candidate is not None
        candidate = merge(candidate, candidate_for(source, group.predicates, ctx), group.predicates)
    return candidate if candidate is not None else group.candidate


def _group_select(group: _Group) -> exp.Select:
    first, rest = group.items[0], group.items[1:]
    select = exp.Select(expressions=[c.copy() for c in group.columns])
    select.set("from_", exp.From(this=first.node.copy()))
    for item in rest:
        join = exp.Join(this=item.node.copy())
        if item.kind == "left":
            join.set("side", "LEFT")
            join.set("on", and_all([c.copy() for c in item.on]) or exp.true())
        select.append("joins", join)
    where = and_all(group.predicates)
    if where is not None:
        select.set("where", exp.Where(this=where))
    return select
