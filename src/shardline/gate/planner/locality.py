"""Whether a query's answer on each shard is already final: rows, groups or distinct rows that never span
shards, so the shards' results only need to be put together."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from shardline.gate.planner.astutil import has_aggregation
from shardline.gate.planner.routes import TableSource, column_of


def groups_on_one_shard(select: exp.Select, sources: Sequence[TableSource]) -> bool:
    """Whether every group (or, without aggregation, every distinct row) lives on a single shard: the GROUP BY
    (or the select list) holds a primary vindex column of one of the sharded tables."""
    if not has_aggregation(select):
        keys = list(select.expressions)
    elif select.args.get("group"):
        keys = [_group_item(g, select) for g in select.args["group"].expressions]
    else:
        return False
    for key in keys:
        key = key.this if isinstance(key, exp.Alias) else key
        found = column_of(key, sources)
        if found is not None:
            source, name = found
            primary = source.table.primary_vindex
            if primary is not None and len(primary.columns) == 1 and primary.column.lower() == name:
                return True
    return False


def _group_item(node: exp.Expression, select: exp.Select) -> exp.Expression:
    """A GROUP BY item, with a position or an alias replaced by the select item it names."""
    items = select.expressions
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        position = int(node.this) - 1
        return items[position] if 0 <= position < len(items) else node
    if isinstance(node, exp.Column) and not node.table:
        for item in items:
            if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                return item.this
    return node


def rows_final_per_shard(query: exp.Expression, sources: Sequence[TableSource]) -> bool:
    """Whether the query, run on every shard as is, yields on each shard exactly its share of the rows (as a
    derived table inside a multi-shard query must): no LIMIT, no window, and groups or DISTINCT rows that never
    span shards; a UNION ALL of such queries."""
    if isinstance(query, exp.Subquery):
        return rows_final_per_shard(query.this, sources)
    if isinstance(query, exp.Union):
        return not query.args.get("distinct") and all(
            rows_final_per_shard(side, sources) for side in (query.left, query.right)
        )
    if not isinstance(query, exp.Select) or query.find(exp.Window) is not None:
        return False
    if query.args.get("limit") or query.args.get("offset"):
        return False
    if (has_aggregation(query) or query.args.get("distinct")) and not groups_on_one_shard(query, sources):
        return False
    return True
