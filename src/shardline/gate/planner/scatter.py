"""A SELECT on a route that reaches several shards: what each shard runs, and what the gate does with the
rows (merge-sort, limit, aggregate, filter, distinct).

- Each shard answers completely (no aggregation, or groups that each live on one shard because the GROUP BY
  holds a primary vindex column): the query runs as is; ORDER BY is merge-sorted at the gate and LIMIT is
  pushed down as ``offset + count`` and applied again at the gate.
- Otherwise aggregation happens in two steps: the shards group and compute partial aggregates (AVG as SUM
  and COUNT; ``COUNT(DISTINCT x)`` by also grouping on ``x``), the gate combines them; HAVING, DISTINCT,
  ORDER BY and LIMIT then run at the gate.
"""

from __future__ import annotations

from typing import Final

from sqlglot import exp

from shardline.errors import Unsupported
from shardline.gate.engine.aggregate import Aggregate, AggregateColumn, AggregateOp
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.columnname import ColumnName
from shardline.gate.engine.compute import Compute
from shardline.gate.engine.distinct import Distinct
from shardline.gate.engine.evalengine import Const, Expr
from shardline.gate.engine.filter import Filter
from shardline.gate.engine.limit import Limit
from shardline.gate.engine.memory_sort import MemorySort
from shardline.gate.engine.ordering import OrderKey
from shardline.gate.engine.projection import Projection
from shardline.gate.planner.astutil import (
    contains_aggregate,
    expr_key,
    generate,
    has_aggregation,
    is_aggregate,
    unalias,
)
from shardline.gate.planner.columns import SelectColumns
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.evalplan import to_eval
from shardline.gate.planner.locality import groups_on_one_shard
from shardline.gate.planner.names import column_names
from shardline.gate.planner.routebuild import make_route
from shardline.gate.planner.routes import RouteCandidate
from shardline.gate.planner.values import bind_value

_SPREADS: Final[dict[type[exp.Expression], AggregateOp]] = {
    exp.VariancePop: AggregateOp.VAR_POP,
    exp.Variance: AggregateOp.VAR_SAMP,  # sqlglot's name for VAR_SAMP
    exp.StddevPop: AggregateOp.STDDEV_POP,
    exp.StddevSamp: AggregateOp.STDDEV_SAMP,
}
_BITWISE: Final[dict[type[exp.Expression], AggregateOp]] = {
    exp.BitwiseAndAgg: AggregateOp.BIT_AND,
    exp.BitwiseOrAgg: AggregateOp.BIT_OR,
    exp.BitwiseXorAgg: AggregateOp.BIT_XOR,
}


def plan_multi_shard(
    select: exp.Select, candidate: RouteCandidate, ctx: PlanContext, text: str | None
) -> Primitive:
    """A single-route SELECT whose route reaches several shards (``text``: the statement's own text)."""
    check_supported(select)
    aggregating = has_aggregation(select)
    distinct = bool(select.args.get("distinct"))
    names = column_names(select, ctx.sql) if select is ctx.name_select else ()
    if not (aggregating or distinct or select.args.get("order") or select.args.get("limit")):
        return named(make_route(candidate, select, ctx, text), names if text is None else (), 0)
    if not (aggregating or distinct) or groups_on_one_shard(select, candidate.sharded_sources()):
        return _merge_sorted(select, candidate, ctx, names)
    if (distinct and not aggregating and select.args.get("order") and not select.args.get("having")
            and not SelectColumns(select).has_star):
        return _merge_sorted(select, candidate, ctx, names, across_shards=True)
    return _aggregated(select, candidate, ctx, names)


def named(primitive: Primitive, names: tuple[ColumnName | None, ...], helpers: int) -> Primitive:
    """Drops helper columns and names the columns of a regenerated query as the client's text does."""
    return Projection(primitive, helpers, names) if helpers or names else primitive


def check_supported(select: exp.Select) -> None:
    """Refuses what the gate cannot finish across shards: window functions, WITH ROLLUP, FOUND_ROWS."""
    if select.find(exp.Window) is not None:
        raise Unsupported("window functions across shards are not supported")
    group = select.args.get("group")
    if group is not None and any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "totals")):
        raise Unsupported("WITH ROLLUP across shards is not supported")
    if any(str(m).upper() == "SQL_CALC_FOUND_ROWS" for m in select.args.get("operation_modifiers") or []):
        raise Unsupported("SQL_CALC_FOUND_ROWS across shards is not supported")


def _group_concat_distinct(argument: exp.Expression) -> tuple[exp.Expression | None, bool]:
    """For ``GROUP_CONCAT(DISTINCT x [ORDER BY x [ASC|DESC]])``: ``x`` and whether it is descending."""
    descending = False
    if isinstance(argument, exp.Order):
        ordered = argument.expressions
        inner = argument.this
        if (len(ordered) != 1 or not isinstance(inner, exp.Distinct) or len(inner.expressions) != 1
                or expr_key(ordered[0].this) != expr_key(inner.expressions[0])):
            return None, False
        descending = bool(ordered[0].args.get("desc"))
        argument = inner
    if isinstance(argument, exp.Distinct) and len(argument.expressions) == 1:
        return argument.expressions[0], descending
    return None, False


def _limit_values(select: exp.Select, ctx: PlanContext) -> tuple[Expr | None, Expr | None, str]:
    limit, offset = select.args.get("limit"), select.args.get("offset")
    if limit is None:
        return None, None, ""
    count = bind_value(limit.expression)
    skip = bind_value(offset.expression) if offset is not None else None
    if count is None or (offset is not None and skip is None):
        raise Unsupported("LIMIT across shards needs number literals")
    return count, skip, ctx.reserve("upper_limit") if skip is not None else ""


def _merge_sorted(
    select: exp.Select, candidate: RouteCandidate, ctx: PlanContext, names: tuple[ColumnName | None, ...],
    across_shards: bool = False,
) -> Primitive:
    """Each shard's rows are final: sort them on the shards, merge at the gate, limit on both sides.

    ``across_shards``: a SELECT DISTINCT (no aggregates) ordered by select items, whose equal rows may come from
    several shards: each shard sends its distinct rows sorted, the gate merges them and keeps the first of
    equal rows (under each column's collation), then limits; the shards are not limited."""
    columns = SelectColumns(select, candidate)
    distinct_refs = ([(i, columns.weight(unalias(item))) for i, item in enumerate(columns.items)]
                     if across_shards else [])
    refs = []
    for ordered in select.args["order"].expressions if select.args.get("order") else []:
        node = ordered.this
        if isinstance(node, exp.Null):
            continue
        ref = columns.positional(node)
        if ref is None:
            ref = columns.find_item(node)
        if ref is None:
            if select.args.get("distinct"):  # a hidden column would make more rows distinct on the shards
                raise Unsupported(
                    "SELECT DISTINCT ordered by an unselected expression across shards is not supported"
                )
            ref = columns.add(node)
        refs.append((ref, columns.weight(columns.item_expression(ref)), bool(ordered.args.get("desc"))))
    count, skip, upper = _limit_values(select, ctx)
    if across_shards:
        select.set("limit", None)
        select.set("offset", None)
        upper = ""
    elif upper:
        select.set("limit", exp.Limit(expression=exp.Placeholder(this=upper)))
        select.set("offset", None)
    columns.finish()
    order = tuple(OrderKey(columns.index(r), columns.index(w), d) for r, w, d in refs)  # type: ignore[arg-type]
    primitive: Primitive = make_route(candidate, select, ctx, None, order=order)
    if across_shards:
        primitive = Distinct(primitive, tuple(distinct_refs))
    if count is not None:
        primitive = Limit(primitive, count, skip, upper)
    return named(primitive, names, len(columns.helpers))


class _Aggregation:
    """Rewrites an aggregating SELECT into its per-shard form and collects what the gate must do. There is no
    ``*``, so column references are final row indexes."""

    def __init__(self, select: exp.Select, candidate: RouteCandidate) -> None:
        self.select = select
        self.columns = SelectColumns(select, candidate)
        if self.columns.has_star:
            raise Unsupported("SELECT * with GROUP BY or aggregates across shards is not supported")
        self.aggregates: list[AggregateColumn] = []
        self.group_keys: list[tuple[int, int | None]] = []
        self.weights: dict[int, int | None] = {}  # column ref -> its weight-string ref
        self.by_key: dict[str, int] = {}  # expression key -> column ref (aggregates, group keys)
        self.extra_group: list[exp.Expression] = []
        self.computed: list[tuple[int, exp.Expression]] = []  # expressions over aggregates, by column

    def plan_groups(self) -> None:
        group = self.select.args.get("group")
        for node in group.expressions if group else []:
            ref = self.columns.positional(node)
            if ref is None:
                ref = self.columns.find_item(node)
            if ref is None:
                ref = self.columns.add(node)
            expression = self.columns.item_expression(ref)
            weight = self.columns.weight(expression)
            self.group_keys.append((ref, weight))
            self.weights[ref] = weight
            if expression is not None:
                self.by_key[expr_key(expression)] = ref

    def group_on_items(self) -> None:
        """SELECT DISTINCT without aggregates: a group per distinct row of the select list."""
        for i, item in enumerate(self.columns.items):
            weight = self.columns.weight(item.this if isinstance(item, exp.Alias) else item)
            self.group_keys.append((i, weight))
            self.weights[i] = weight

    def plan_items(self) -> None:
        for i, item in enumerate(self.columns.items):
            inner = item.this if isinstance(item, exp.Alias) else item
            if is_aggregate(inner):
                self.by_key.setdefault(expr_key(inner), i)
                shard_form = self._aggregate(inner, i)
                if shard_form is not inner:
                    inner.replace(shard_form)
            elif contains_aggregate(inner):
                self.by_key.setdefault(expr_key(inner), i)
                self.computed.append((i, inner.copy()))
                inner.replace(exp.Null())  # the gate computes it from the aggregated columns

    def compute(self) -> tuple[tuple[int, Expr], ...]:
        """The gate-side expressions of computed columns (adding the helper aggregates they read)."""
        return tuple(
            (i, to_eval(node, lambda n, whole=node: None if n is whole else self.resolve(n)))
            for i, node in self.computed
        )

    def _aggregate(self, node: exp.Expression, ref: int) -> exp.Expression:
        """Records how the gate combines the aggregate at ``ref``; returns what the shards compute there."""
        argument = node.this
        if isinstance(argument, exp.Distinct) and not isinstance(node, exp.GroupConcat):
            if len(argument.expressions) != 1 or not isinstance(node, exp.Count | exp.Sum):
                raise Unsupported(f"{generate(node)[:200]} across shards is not supported")
            value = argument.expressions[0]
            self.extra_group.append(value.copy())
            op = AggregateOp.COUNT_DISTINCT if isinstance(node, exp.Count) else AggregateOp.SUM_DISTINCT
            self.aggregates.append(AggregateColumn(op, ref, self.columns.weight(value)))
            return value.copy()
        if isinstance(node, exp.Count):
            self.aggregates.append(AggregateColumn(AggregateOp.SUM_COUNT, ref))
        elif isinstance(node, exp.Sum):
            self.aggregates.append(AggregateColumn(AggregateOp.SUM, ref))
        elif isinstance(node, exp.Min | exp.Max):
            op = AggregateOp.MIN if isinstance(node, exp.Min) else AggregateOp.MAX
            weight = self.columns.weight(node) if self.columns.may_be_text(argument) else None
            self.weights[ref] = weight
            self.aggregates.append(AggregateColumn(op, ref, weight))
        elif isinstance(node, exp.Avg):
            count_ref = self.columns.add(exp.Count(this=argument.copy()))
            self.aggregates.append(AggregateColumn(AggregateOp.AVG_PARTIAL, ref, count_ref))
            return exp.Sum(this=argument.copy())
        elif type(node) in _SPREADS:  # each shard's count, average and population variance, merged at the gate
            as_double = exp.Add(this=exp.Paren(this=argument.copy()), expression=exp.Literal.number("0e0"))
            count_ref = self.columns.add(exp.Count(this=argument.copy()))
            mean_ref = self.columns.add(exp.Avg(this=as_double.copy()))  # in DOUBLE, as MariaDB's VAR_POP runs
            variance_ref = self.columns.add(exp.VariancePop(this=as_double))
            self.aggregates.append(AggregateColumn(_SPREADS[type(node)], ref, count_ref, mean=mean_ref,
                                                   variance=variance_ref))
            return exp.VariancePop(this=argument.copy())  # only its column's decimals are used
        elif type(node) in _BITWISE:  # each shard's partial value, combined the same way at the gate
            self.aggregates.append(AggregateColumn(_BITWISE[type(node)], ref))
        elif isinstance(node, exp.GroupConcat):
            given = node.args.get("separator")
            separator = Const(",") if given is None else bind_value(given)
            if separator is None:
                raise Unsupported("GROUP_CONCAT across shards needs a literal SEPARATOR")
            distinct_value, descending = _group_concat_distinct(argument)
            if distinct_value is not None:  # the shards group by the value too; the gate joins the distinct ones
                self.extra_group.append(distinct_value.copy())
                self.aggregates.append(AggregateColumn(AggregateOp.GROUP_CONCAT_DISTINCT, ref,
                                                       self.columns.weight(distinct_value), separator, descending))
                return distinct_value.copy()
            if isinstance(argument, exp.Order | exp.Distinct):
                raise Unsupported(f"{generate(node)[:200]} across shards is not supported (GROUP_CONCAT with "
                                  "ORDER BY is supported only as GROUP_CONCAT(DISTINCT x ORDER BY x))")
            # Each shard concatenates its rows of the group; the gate joins those with the same separator.
            self.aggregates.append(AggregateColumn(AggregateOp.GROUP_CONCAT, ref, separator=separator))
        else:
            raise Unsupported(f"aggregate {generate(node)[:200]} across shards is not supported")
        return node

    def resolve(self, node: exp.Expression) -> int | None:
        """The output column of an expression of HAVING or ORDER BY, adding helper columns as needed."""
        ref = self.by_key.get(expr_key(node))
        if ref is not None:
            return ref
        ref = self.columns.find_item(node)
        if ref is not None:
            return ref
        if is_aggregate(node):
            ref = self.columns.add(node)
            self.by_key[expr_key(node)] = ref
            position = len(self.columns.helpers) - 1
            self.columns.helpers[position] = self._aggregate(self.columns.helpers[position], ref)
            return ref
        if isinstance(node, exp.Column):
            raise Unsupported(f"column '{generate(node)}' must be grouped or selected to be used here")
        return None

    def weight_of(self, ref: int) -> int | None:
        if any(ref == column for column, _ in self.computed):
            return None  # a number the gate computes
        if ref not in self.weights:
            self.weights[ref] = self.columns.weight(self.columns.item_expression(ref))
        return self.weights[ref]


def _aggregated(
    select: exp.Select, candidate: RouteCandidate, ctx: PlanContext, names: tuple[ColumnName | None, ...]
) -> Primitive:
    plan = _Aggregation(select, candidate)
    aggregating = has_aggregation(select)
    if aggregating:
        plan.plan_groups()
        plan.plan_items()
    else:
        plan.group_on_items()
    having = select.args.get("having")
    predicate = to_eval(having.this, plan.resolve) if having is not None else None
    order_refs = []
    for ordered in select.args["order"].expressions if select.args.get("order") else []:
        node = ordered.this
        if isinstance(node, exp.Null):
            continue
        ref = plan.columns.positional(node)
        if ref is None:
            ref = plan.resolve(node)
        if ref is None and contains_aggregate(node):
            ref = plan.columns.add(exp.Null())
            plan.computed.append((ref, node.copy()))
        if ref is None:
            raise Unsupported(
                f"ORDER BY '{generate(node)[:200]}' after aggregation across shards is not supported"
            )
        order_refs.append((ref, plan.weight_of(ref), bool(ordered.args.get("desc"))))
    distinct = aggregating and bool(select.args.get("distinct"))
    distinct_refs = [(i, plan.weight_of(i)) for i in range(len(plan.columns.items))] if distinct else []
    count, skip, _ = _limit_values(select, ctx)
    computed = plan.compute()
    for clause in ("having", "order", "limit", "offset") + (("distinct",) if aggregating else ()):
        select.set(clause, None)
    if plan.extra_group:
        group = select.args.get("group") or exp.Group(expressions=[])
        for node in plan.extra_group:
            group.append("expressions", node)
        select.set("group", group)
    plan.columns.finish()
    primitive: Primitive = make_route(candidate, select, ctx, None)
    primitive = Aggregate(primitive, tuple(plan.group_keys), tuple(plan.aggregates))
    if computed:
        primitive = Compute(primitive, computed)
    if predicate is not None:
        primitive = Filter(primitive, predicate)
    if distinct:
        primitive = Distinct(primitive, tuple(distinct_refs))
    if order_refs:
        primitive = MemorySort(primitive, tuple(OrderKey(r, w, d) for r, w, d in order_refs))
    if count is not None:
        primitive = Limit(primitive, count, skip)
    return named(primitive, names, len(plan.columns.helpers))
