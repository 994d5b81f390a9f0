"""What planning one statement needs: the VSchema, the session's keyspace, the statement text."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from shardline.vindexes.vschema import KeyspaceVSchema, Table, VSchema


@dataclass
class PlanContext:
    """``sql`` is the normalized statement; ``list_binds`` are bind variables that hold lists (``::name``)."""

    vschema: VSchema
    keyspace: str | None
    sql: str
    list_binds: frozenset[str] = frozenset()
    name_select: exp.Select | None = None  # the SELECT whose items name the statement's result columns
    tables_used: dict[str, Table] = field(default_factory=dict)
    _reserved: int = 0

    def find_table(self, node: exp.Table) -> Table:
        """The VSchema table a FROM item names: ``ks.t``, or ``t`` in the session's keyspace (or anywhere)."""
        table = self.vschema.find_table(node.name, node.db or self.keyspace or None)
        self.tables_used.setdefault(table.qualified_name, table)
        return table

    def keyspace_of(self, table: Table) -> KeyspaceVSchema:
        """The VSchema of the table's keyspace."""
        return self.vschema.find_keyspace(table.keyspace)

    def reserve(self, prefix: str) -> str:
        """A fresh bind variable name for values the gate binds itself (``__sq1``, ``__vals2``...)."""
        self._reserved += 1
        return f"__{prefix}{self._reserved}"
