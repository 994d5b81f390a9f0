"""The columns a rewritten SELECT returns: the client's select items, then helper columns the gate needs
(weight strings, ORDER BY / GROUP BY expressions not selected, partial aggregates)."""

from __future__ import annotations

from sqlglot import exp

from shardline.gate.planner.astutil import expr_key, unalias
from shardline.gate.planner.routes import RouteCandidate, column_of

_NUMERIC_COLUMN_TYPES = frozenset(
    "INT8 UINT8 INT16 UINT16 INT24 UINT24 INT32 UINT32 INT64 UINT64 FLOAT32 FLOAT64 DECIMAL YEAR BIT".split()
)


class SelectColumns:
    """Positions in the rows a rewritten SELECT returns. Helper columns go after the select items. Without ``*``
    every reference is the final row index; with ``*`` (whose width only the shard knows) a helper's reference
    is provisional (negative) until :meth:`index` addresses it from the row's end."""

    def __init__(self, select: exp.Select, candidate: RouteCandidate | None = None) -> None:
        self.select = select
        self.candidate = candidate
        self.items: list[exp.Expression] = list(select.expressions)
        self.star_at = next((i for i, item in enumerate(self.items) if _is_star(item)), None)
        self.helpers: list[exp.Expression] = []
        self._weights: dict[str, int] = {}

    @property
    def has_star(self) -> bool:
        return self.star_at is not None

    def add(self, node: exp.Expression) -> int:
        """Adds a copy of the expression as a helper column; returns its reference."""
        self.helpers.append(node.copy())
        return -len(self.helpers) if self.has_star else len(self.items) + len(self.helpers) - 1

    def item_ref(self, index: int) -> int | None:
        """The reference of select item ``index`` if its position in the row is known."""
        return index if self.star_at is None or index < self.star_at else None

    def find_item(self, node: exp.Expression) -> int | None:
        """The select item the expression names: a bare alias, or the same expression."""
        if isinstance(node, exp.Column) and not node.table:
            for i, item in enumerate(self.items):
                if isinstance(item, exp.Alias) and item.alias.lower() == node.name.lower():
                    return self.item_ref(i)
        key = expr_key(node)
        for i, item in enumerate(self.items):
            if not _is_star(item) and expr_key(unalias(item)) == key:
                return self.item_ref(i)
        return None

    def positional(self, node: exp.Expression) -> int | None:
        """``ORDER BY 2`` / ``GROUP BY 2``: the column position (absolute, whatever ``*`` expands to)."""
        if (
            isinstance(node, exp.Literal)
            and not node.is_string
            and node.this.isdigit()
            and int(node.this) > 0
        ):
            return int(node.this) - 1
        return None

    def item_expression(self, ref: int) -> exp.Expression | None:
        """The expression behind a reference, if known (not for columns of ``*``)."""
        if ref < 0:
            return self.helpers[-ref - 1]
        if ref >= len(self.items):
            return self.helpers[ref - len(self.items)] if not self.has_star else None
        return unalias(self.items[ref]) if self.item_ref(ref) is not None else None

    def weight(self, node: exp.Expression | None) -> int | None:
        """A helper column with ``weight_string(node)``, unless the expression is known not to be text."""
        if node is None or not self.may_be_text(node):
            return None
        key = expr_key(node)
        if key not in self._weights:
            self._weights[key] = self.add(exp.WeightString(this=node.copy()))
        return self._weights[key]

    def may_be_text(self, node: exp.Expression) -> bool:
        if isinstance(node, exp.Count | exp.Sum | exp.Avg):
            return False
        if isinstance(node, exp.Literal):
            return node.is_string
        if self.candidate is not None:
            found = column_of(node, self.candidate.sources)
            if found is not None:
                source, name = found
                declared = {c.name.lower(): c.type for c in source.table.columns}
                return declared.get(name, "") not in _NUMERIC_COLUMN_TYPES
        return True

    def index(self, ref: int | None) -> int | None:
        """The final row index of a reference, once all helpers are known."""
        if ref is None or ref >= 0:
            return ref
        return -ref - 1 - len(self.helpers)

    def finish(self) -> None:
        """Appends the helper columns to the SELECT."""
        for helper in self.helpers:
            self.select.append("expressions", helper)


def _is_star(node: exp.Expression) -> bool:
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))
