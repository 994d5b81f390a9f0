"""Building a Route primitive from a route candidate and the query it runs."""

from __future__ import annotations

from sqlglot import exp

from shardline.gate.engine.route import Route
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.planner.astutil import generate
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.routes import RouteCandidate


def make_route(
    candidate: RouteCandidate, query: exp.Expression, ctx: PlanContext, text: str | None, **options: object
) -> Route:
    """A route for the candidate running ``text`` (the unchanged statement) or the regenerated query.

    An IN route narrows its IN list to each shard's values: in the unchanged text when the list is the
    statement's own literals, else in the tree before it is regenerated.
    """
    in_bind = ""
    sql = text
    if candidate.in_node is not None:
        in_bind = ctx.reserve("vals")
        if text is not None:
            sql = _narrow_in_text(text, candidate.in_node, in_bind)
        if sql is None or text is None:
            candidate.in_node.set("expressions", [exp.Placeholder(this=in_bind)])
    if sql is None:
        sql = generate(query)
    return Route(
        candidate.routing(),
        SQLTemplate(sql),
        passthrough=text is not None,
        in_bind=in_bind,
        table=", ".join(dict.fromkeys(s.table.qualified_name for s in candidate.sources)),
        **options,  # type: ignore[arg-type]
    )


def _narrow_in_text(text: str, in_node: exp.In, in_bind: str) -> str | None:
    """The text with the IN list's items (all bind variables of the normalizer) replaced by ``:in_bind``."""
    items = in_node.expressions
    if not items or not all(isinstance(i, exp.Placeholder) and i.name.startswith("v") for i in items):
        return None
    first, last = f":{items[0].name}", f":{items[-1].name}"
    start = _placeholder_at(text, first)
    end = _placeholder_at(text, last)
    if start < 0 or end < start:
        return None
    return text[:start] + ":" + in_bind + text[end + len(last) :]


def _placeholder_at(text: str, placeholder: str) -> int:
    """The position of a normalizer placeholder (``:v12``, not the prefix of ``:v123``)."""
    start = text.find(placeholder)
    while start >= 0:
        after = start + len(placeholder)
        if after >= len(text) or not (text[after].isalnum() or text[after] == "_"):
            return start
        start = text.find(placeholder, after)
    return -1
