"""Small questions the planner asks of sqlglot trees."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from shardline.errors import Unsupported

QUERY_TYPES = (exp.Select, exp.SetOperation)
_UNPARSED_AGGREGATES = frozenset({"JSON_ARRAYAGG"})  # MariaDB aggregates sqlglot parses as plain functions


def conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    """The operands of a top-level AND chain (parentheses looked through)."""
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


def and_all(nodes: list[exp.Expression]) -> exp.Expression | None:
    """The conjunction of the nodes (None for none)."""
    if not nodes:
        return None
    out = nodes[0]
    for node in nodes[1:]:
        out = exp.And(this=out, expression=node)
    return out


def walk_block(node: exp.Expression) -> Iterator[exp.Expression]:
    """Every node of the expression, not descending into nested queries (yields the query node itself)."""
    for child in node.iter_expressions():
        yield child
        if not isinstance(child, QUERY_TYPES):
            yield from walk_block(child)


def block_nodes(select: exp.Select) -> Iterator[exp.Expression]:
    """The nodes of a SELECT's own clauses (select list, WHERE, ON, GROUP BY, HAVING, ORDER BY, LIMIT), not
    those of its FROM items' names nor of nested queries."""
    for key, value in select.args.items():
        if key in ("from_", "with_") or value is None:
            continue
        for child in value if isinstance(value, list) else [value]:
            if not isinstance(child, exp.Expression):
                continue
            if key == "joins":
                on = child.args.get("on")
                if on is not None:
                    yield on
                    yield from walk_block(on)
                continue
            yield child
            yield from walk_block(child)


def direct_subqueries(select: exp.Select) -> list[exp.Expression]:
    """Query nodes used as expressions in the SELECT (IN, EXISTS, scalar), not derived tables."""
    return [node for node in block_nodes(select) if isinstance(node, QUERY_TYPES)]


def query_branches(query: exp.Expression) -> list[exp.Select]:
    """The SELECTs of a query, a UNION's branches from left to right."""
    if isinstance(query, exp.SetOperation):
        return query_branches(query.left) + query_branches(query.right)
    if isinstance(query, exp.Subquery):
        return query_branches(query.this)
    if not isinstance(query, exp.Select):
        raise Unsupported(f"unsupported query: {generate(query)[:200]}")
    return [query]


def is_aggregate(node: exp.Expression) -> bool:
    """An aggregate function call (not used as a window function)."""
    if isinstance(node, exp.Anonymous):
        return node.name.upper() in _UNPARSED_AGGREGATES and not isinstance(node.parent, exp.Window)
    return isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window)


def contains_aggregate(node: exp.Expression) -> bool:
    """Whether the expression is or contains an aggregate (nested queries excluded)."""
    return is_aggregate(node) or any(is_aggregate(n) for n in walk_block(node))


def has_aggregation(select: exp.Select) -> bool:
    """GROUP BY, or an aggregate function in the select list or HAVING."""
    if select.args.get("group") or select.args.get("having"):
        return True
    return any(contains_aggregate(item) for item in select.expressions)


def unalias(node: exp.Expression) -> exp.Expression:
    """The expression under an ``AS`` alias."""
    return node.this if isinstance(node, exp.Alias) else node


def expr_key(node: exp.Expression) -> str:
    """A text that is equal for expressions MySQL treats as the same (identifiers are case-insensitive)."""
    copy = node.copy()
    for ident in copy.find_all(exp.Identifier):
        ident.set("this", ident.name.lower())
        ident.set("quoted", False)
    return copy.sql(dialect="mysql")


def qualifiers(node: exp.Expression) -> set[str]:
    """Table qualifiers of the column references anywhere inside the node, nested queries included."""
    return {col.table for col in node.find_all(exp.Column) if col.table}


def generate(node: exp.Expression) -> str:
    """The SQL of a (rewritten) query for MariaDB. sqlglot writes ``LOCK IN SHARE MODE`` as ``FOR SHARE``,
    which MariaDB rejects, and ``SELECT ... INTO`` as ``CREATE TABLE``: the first is restored, the second
    refused (it runs only as the client's own text, on one shard); ``x REGEXP y``, which sqlglot writes as
    ``REGEXP_LIKE(x, y)``, a function MariaDB does not have, is restored too."""
    for lock in list(node.find_all(exp.Lock)):
        if not lock.args.get("update") and not lock.args.get("wait") and not lock.expressions:
            lock.replace(exp.Var(this="LOCK IN SHARE MODE"))
    for regexp in reversed(list(node.find_all(exp.RegexpLike))):  # inner ones first
        if regexp.args.get("flag") is None:
            regexp.replace(exp.Var(this=f"({regexp.this.sql(dialect='mysql')} REGEXP "
                                        f"{regexp.expression.sql(dialect='mysql')})"))
    if any(select.args.get("into") for select in node.find_all(exp.Select)):
        raise Unsupported("SELECT ... INTO is supported only for statements that run unchanged on one shard")
    return node.sql(dialect="mysql")
