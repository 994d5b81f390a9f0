"""Planning INSERT and REPLACE: which variant, the VALUES tuples as templates, the vindex and auto_increment
values the engine evaluates per row, and the statements shardline refuses because it cannot run them right."""

from __future__ import annotations

from sqlglot import exp

from shardline.errors import InvalidArgument, MySQLError, Unsupported
from shardline.gate.engine.evalengine import Const, Expr
from shardline.gate.engine.insert import Generate, Insert, InsertVariant, VindexValues, sequence_slot
from shardline.gate.engine.insert_select import InsertSelect
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.planner.astutil import QUERY_TYPES, generate
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.select import plan_query
from shardline.gate.planner.values import bind_value
from shardline.vindexes.vschema import AutoIncrement, ColumnVindex, Table

_ROWS_MARKER = "__rows"


def plan_insert(stmt: exp.Insert, ctx: PlanContext, *, replace: bool = False) -> Insert | InsertSelect:
    """The Insert primitive of an INSERT (or, with ``replace``, a REPLACE parsed as an INSERT); an
    InsertSelect for ``INSERT ... SELECT`` whose rows the gate must route."""
    target = stmt.this
    table_node = target.this if isinstance(target, exp.Schema) else target
    if not isinstance(table_node, exp.Table):
        raise Unsupported(f"INSERT into {generate(target)} is not supported")
    table = ctx.find_table(table_node)
    sharded = ctx.keyspace_of(table).sharded
    source = stmt.expression
    others = [ctx.find_table(node) for node in stmt.find_all(exp.Table) if node is not table_node]
    if not sharded:
        elsewhere = sorted({t.qualified_name for t in others if t.keyspace != table.keyspace})
        if elsewhere and (table.auto_increment is None or isinstance(source, exp.Values)):
            raise Unsupported(
                f"INSERT into {table.qualified_name} reads {', '.join(elsewhere)} of another keyspace: "
                "a statement on an unsharded keyspace must stay in it"
            )
        if table.auto_increment is None:
            return Insert(InsertVariant.UNSHARDED, table, SQLTemplate(ctx.sql))
    else:
        _check_sharded_insert(table, source, others, replace)
    if isinstance(source, QUERY_TYPES):
        return _plan_insert_select(stmt, source, table, ctx, sharded=sharded, replace=replace)
    if not isinstance(source, exp.Values):
        raise Unsupported(f"INSERT from {generate(source)[:80]} is not supported")
    columns = _columns(stmt, table)
    rows = [list(row.expressions) if isinstance(row, exp.Tuple) else [row] for row in source.expressions]
    for number, row in enumerate(rows, 1):
        if len(row) != len(columns):
            raise MySQLError(1136, "21S01", f"Column count doesn't match value count at row {number}")
    generated = None
    if table.auto_increment is not None:
        generated = _fill_auto_increment(table.auto_increment, columns, rows)
    conflict = stmt.args.get("conflict")
    if conflict is not None:
        _check_upsert(conflict, table)
    prefix, suffix = _prefix_and_suffix(stmt, columns, replace)
    return Insert(
        InsertVariant.SHARDED if sharded else InsertVariant.UNSHARDED,
        table,
        SQLTemplate(ctx.sql),
        prefix=prefix,
        rows=tuple(SQLTemplate(generate(exp.Tuple(expressions=row))) for row in rows),
        suffix=SQLTemplate(suffix),
        vindex_values=tuple(
            _vindex_values(cv, columns, rows, primary=i == 0) for i, cv in enumerate(table.column_vindexes)
        ),
        generate=generated,
        ignore=bool(stmt.args.get("ignore")) or conflict is not None,
    )


def _check_sharded_insert(table: Table, source: exp.Expression, others: list[Table], replace: bool) -> None:
    if table.is_reference:  # one with a source was planned on it (dml._on_reference_source)
        raise Unsupported(f"INSERT into reference table {table.qualified_name} of a sharded keyspace, which names "
                          "no source to write instead")
    if others and not isinstance(source, QUERY_TYPES):  # an INSERT ... SELECT's tables are its SELECT's plan
        raise Unsupported(f"subqueries in the VALUES of an INSERT into sharded table {table.qualified_name}")
    if replace and table.owned_vindexes:
        names = ", ".join(cv.name for cv in table.owned_vindexes)
        raise Unsupported(
            f"REPLACE into {table.qualified_name}, which owns lookup vindexes ({names}): the rows it deletes "
            "would keep their lookup rows; use INSERT ... ON DUPLICATE KEY UPDATE"
        )


def _plan_insert_select(stmt: exp.Insert, source: exp.Expression, table: Table, ctx: PlanContext, *,
                        sharded: bool, replace: bool) -> InsertSelect:
    columns = _columns(stmt, table)
    names = [c.name.lower() for c in columns]
    selected = len(names)
    if table.auto_increment is not None and table.auto_increment.column.lower() not in names:
        columns.append(exp.to_identifier(table.auto_increment.column, quoted=True))
        names.append(table.auto_increment.column.lower())
    if sharded:
        primary = table.column_vindexes[0]
        missing = [column for column in primary.columns if column.lower() not in names]
        if missing:
            raise InvalidArgument(
                f"value must be supplied for column {missing[0]}: it is the primary vindex ({primary.name}) "
                "that decides the shard of each row"
            )
    conflict = stmt.args.get("conflict")
    if conflict is not None:
        _check_upsert(conflict, table)
    values = stmt.copy()
    values.set("expression", exp.Values(expressions=[exp.Tuple(expressions=[exp.Null()])]))
    prefix, suffix = _prefix_and_suffix(values, columns, replace)
    select = plan_query(source, ctx)
    return InsertSelect(select, InsertVariant.SHARDED if sharded else InsertVariant.UNSHARDED, table,
                        tuple(names), selected, prefix, SQLTemplate(suffix),
                        ignore=bool(stmt.args.get("ignore")) or conflict is not None)


def _columns(stmt: exp.Insert, table: Table) -> list[exp.Identifier]:
    """The statement's column list, or the VSchema's authoritative columns when it has none."""
    if isinstance(stmt.this, exp.Schema) and stmt.this.expressions:
        columns = list(stmt.this.expressions)
    elif table.column_list_authoritative and table.columns:
        columns = [exp.to_identifier(c.name, quoted=True) for c in table.columns if not c.invisible]
    else:
        raise InvalidArgument(
            f"INSERT into {table.qualified_name} should name its columns, or the VSchema should list the "
            "table's columns as authoritative"
        )
    seen: set[str] = set()
    for column in columns:
        if column.name.lower() in seen:
            raise MySQLError(1110, "42000", f"Column '{column.name}' specified twice")
        seen.add(column.name.lower())
    return columns


def _fill_auto_increment(
    auto_increment: AutoIncrement, columns: list[exp.Identifier], rows: list[list[exp.Expression]]
) -> Generate:
    """Puts each row's sequence slot in place of its auto_increment value (adding the column if absent)."""
    name = auto_increment.column.lower()
    index = next((i for i, c in enumerate(columns) if c.name.lower() == name), None)
    if index is None:
        columns.append(exp.to_identifier(auto_increment.column, quoted=True))
    values: list[Expr] = []
    for number, row in enumerate(rows):
        slot = exp.Placeholder(this=sequence_slot(number))
        if index is None:
            values.append(Const(None))
            row.append(slot)
            continue
        written = row[index]
        value = Const(None) if _is_default(written) else bind_value(written)
        if value is None:
            raise Unsupported(
                f"cannot compute {generate(written)} for auto_increment column {auto_increment.column} at the gate"
            )
        values.append(value)
        row[index] = slot
    return Generate(auto_increment.column, auto_increment.sequence, tuple(values))


def _is_default(node: exp.Expression) -> bool:
    return isinstance(node, exp.Var) and node.name.upper() == "DEFAULT"


def _vindex_values(
    column_vindex: ColumnVindex,
    columns: list[exp.Identifier],
    rows: list[list[exp.Expression]],
    *,
    primary: bool,
) -> VindexValues:
    index = {c.name.lower(): i for i, c in enumerate(columns)}
    positions = [index.get(column.lower()) for column in column_vindex.columns]
    if primary and None in positions:
        missing = column_vindex.columns[positions.index(None)]
        raise InvalidArgument(
            f"value must be supplied for column {missing}: it is the primary vindex ({column_vindex.name}) "
            "that decides the shard of each row"
        )
    out: list[tuple[Expr, ...]] = []
    for row in rows:
        values: list[Expr] = []
        for column, position in zip(column_vindex.columns, positions, strict=True):
            value = Const(None) if position is None else bind_value(row[position])
            if value is None:
                raise Unsupported(
                    f"cannot compute {generate(row[position])} for vindex column {column} at the gate "  # type: ignore[index]
                    f"(vindex {column_vindex.name}); give it as a literal"
                )
            values.append(value)
        out.append(tuple(values))
    return VindexValues(column_vindex, tuple(out))


def _check_upsert(conflict: exp.Expression, table: Table) -> None:
    vindex_columns = {column.lower() for cv in table.column_vindexes for column in cv.columns}
    for assignment in conflict.expressions:
        target = assignment.this if isinstance(assignment, exp.EQ) else None
        if isinstance(target, exp.Column) and target.name.lower() in vindex_columns:
            raise Unsupported(
                f"DML cannot update vindex column {target.name} (ON DUPLICATE KEY UPDATE of "
                f"{table.qualified_name})"
            )


def _prefix_and_suffix(stmt: exp.Insert, columns: list[exp.Identifier], replace: bool) -> tuple[str, str]:
    """The statement's text before and after its VALUES tuples, with the (possibly extended) column list."""
    copy = stmt.copy()
    for node in copy.walk():
        node.comments = None
    target = copy.this
    table_node = target.this if isinstance(target, exp.Schema) else target
    copy.set("this", exp.Schema(this=table_node, expressions=[c.copy() for c in columns]))
    values = copy.expression
    values.set("expressions", [exp.Tuple(expressions=[exp.Placeholder(this=_ROWS_MARKER)])])
    prefix, suffix = generate(copy).split(f"(:{_ROWS_MARKER})")
    if replace:
        prefix = "REPLACE" + prefix.removeprefix("INSERT")
    return prefix, suffix
