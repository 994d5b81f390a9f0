"""InsertSelect: ``INSERT ... SELECT`` where the rows must be routed (a sharded table, or an auto_increment from a
sequence). The gate runs the SELECT, then inserts its rows as an INSERT with those VALUES would be: sequence
values, lookup rows and the shard of each row's keyspace id, one multi-row INSERT per shard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.errors import MySQLError
from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.bindvars import from_row_value
from shardline.gate.engine.evalengine import BindVar, Const, Expr
from shardline.gate.engine.insert import Generate, Insert, InsertVariant, VindexValues, sequence_slot
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.sqltypes import Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor
    from shardline.vindexes.vschema import Table


class InsertSelect(Primitive):
    """``columns``: the INSERT's columns, the auto_increment column last if the statement leaves it out; the
    SELECT gives the first ``selected`` of them. ``prefix`` and ``suffix`` frame the VALUES tuples (ON
    DUPLICATE KEY UPDATE ... in the suffix)."""

    def __init__(self, select: Primitive, variant: InsertVariant, table: Table, columns: tuple[str, ...],
                 selected: int, prefix: str, suffix: SQLTemplate, *, ignore: bool = False) -> None:
        self.select = select
        self.variant = variant
        self.table = table
        self.columns = columns
        self.prefix = prefix
        self.suffix = suffix
        self.ignore = ignore
        auto = table.auto_increment
        self._auto = columns.index(auto.column.lower()) if auto is not None else None
        self._selected = selected

    @property
    def keyspace(self) -> str:
        return self.table.keyspace

    @property
    def plan_type(self) -> str:
        return "InsertSelect"

    def inputs(self) -> list[Primitive]:
        return [self.select]

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        selected = await self.select.execute(vcursor, bind_vars)
        if len(selected.fields) != self._selected:
            raise MySQLError(1136, "21S01", "Column count doesn't match value count at row 1")
        if not selected.rows:
            return Result()
        values: dict[str, Any] = dict(bind_vars)
        rows: list[list[str]] = []
        for i, row in enumerate(selected.rows):
            names = []
            for j, (field, raw) in enumerate(zip(selected.fields, row, strict=True)):
                values[f"__isv{i}_{j}"] = from_row_value(field, raw)
                names.append(f"__isv{i}_{j}")
            if self._auto is not None:
                if self._auto == len(names):
                    names.append(sequence_slot(i))  # the column the statement left out
                else:
                    names[self._auto] = sequence_slot(i)  # its selected value is the one given (_insert)
            rows.append(names)
        return await self._insert(rows, values).execute(vcursor, values)

    def _insert(self, rows: list[list[str]], values: dict[str, Any]) -> Insert:
        """The Insert of these rows (``rows[i][j]``: the bind variable of row i's value of column j)."""
        generate = None
        auto = self.table.auto_increment
        if auto is not None and self._auto is not None:
            given: list[Expr] = [
                Const(values.get(f"__isv{i}_{self._auto}")) for i in range(len(rows))]
            generate = Generate(auto.column, auto.sequence, tuple(given))
        index = {column: j for j, column in enumerate(self.columns)}
        vindex_values = []
        for cv in self.table.column_vindexes:
            positions = [index.get(column.lower()) for column in cv.columns]
            vindex_values.append(VindexValues(cv, tuple(
                tuple(Const(None) if j is None else BindVar(row[j]) for j in positions) for row in rows)))
        return Insert(self.variant, self.table, SQLTemplate(""), prefix=self.prefix,
                      rows=tuple(SQLTemplate.values_row(row) for row in rows), suffix=self.suffix,
                      vindex_values=tuple(vindex_values), generate=generate, ignore=self.ignore)

    def describe(self) -> dict[str, Any]:
        return {"OperatorType": "Insert", "Variant": "Select", "Keyspace": self.keyspace,
                "TableName": self.table.name, "Columns": ", ".join(self.columns),
                "Query": f"{self.prefix}<rows of the SELECT>{self.suffix.text}"}
