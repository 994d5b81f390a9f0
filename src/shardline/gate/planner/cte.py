"""Common table expressions across shards: a non-recursive CTE is planned as the derived table it stands for
wherever the query names it (MySQL may evaluate it either way; the rows are the same)."""

from __future__ import annotations

from sqlglot import exp

from shardline.errors import Unsupported


def inline_ctes(query: exp.Expression) -> exp.Expression:
    """The query with each of its CTEs (``WITH name AS (...)``, each seeing the ones before it) in place of the
    table references that name it; the query itself if it has none."""
    with_ = query.args.get("with_")
    if with_ is None:
        return query
    if with_.args.get("recursive"):
        raise Unsupported("WITH RECURSIVE is supported only in queries on one unsharded keyspace")
    query = query.copy()
    with_ = query.args["with_"]
    query.set("with_", None)
    bodies: dict[str, exp.Expression] = {}
    for cte in with_.expressions:
        alias = cte.args.get("alias")
        if alias is not None and alias.columns:
            raise Unsupported(f"a column list on common table expression '{cte.alias_or_name}' is not supported "
                              "across shards; alias the columns in its SELECT")
        bodies[cte.alias_or_name] = _inline(cte.this, bodies)
    return _inline(query, bodies)


def _inline(node: exp.Expression, bodies: dict[str, exp.Expression]) -> exp.Expression:
    for table in list(node.find_all(exp.Table)):
        body = bodies.get(table.name)
        if body is None or table.db or isinstance(table.this, exp.Func | exp.Parameter):
            continue
        derived = exp.Subquery(this=body.copy(), alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name)))
        if table is node:
            return derived
        table.replace(derived)
    return node
