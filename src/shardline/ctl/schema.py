"""Schema and VSchema commands: ApplySchema on every shard's primary, ApplyVSchema validated against the
vindex model and the shards' real tables, and the VSchema serving graph."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymysql.converters import escape_string

from shardline.ctl.commands import CELLS_ARG, Arg, Command
from shardline.ctl.context import CtlContext, on_tablets, split_cells
from shardline.errors import FailedPrecondition, InvalidArgument, NotFound
from shardline.topo.records import Tablet

if TYPE_CHECKING:
    from shardline.vindexes.vschema import KeyspaceVSchema

# sqlglot and the vindex model are imported where used: every shardline process imports this module (for the
# CLI's command table) and most never run these commands.

_MAX_COLUMN_ROWS = 1_000_000


def split_statements(sql: str) -> list[str]:
    """The statements of a ``;``-separated script; comments before a statement and empty statements are dropped."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import TokenError
    from sqlglot.tokens import TokenType

    if not isinstance(sql, str):
        raise InvalidArgument("the SQL must be a string")
    try:
        tokens = Dialect.get_or_raise("mysql").tokenize(sql)
    except TokenError as exc:
        raise InvalidArgument(f"cannot split the SQL into statements: {exc}") from None
    statements: list[str] = []
    start: int | None = None  # where the current statement's first token begins
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if start is not None:
                statements.append(sql[start : token.start].strip())
            start = None
        elif start is None:
            start = token.start
    if start is not None:
        statements.append(sql[start:].strip())
    return statements


async def shard_primaries(ctx: CtlContext, keyspace: str, *, required: bool) -> list[Tablet]:
    """The primary tablet of each shard of the keyspace; a shard without one is an error if ``required``,
    else skipped."""
    primaries = []
    for shard in await ctx.ts.get_shards(keyspace):
        if shard.primary_alias is None:
            if required:
                raise FailedPrecondition(f"shard {keyspace}/{shard.name} has no primary: run InitShardPrimary")
            continue
        primaries.append(await ctx.ts.get_tablet(shard.primary_alias))
    return primaries


async def apply_schema(ctx: CtlContext, keyspace: str, sql: str) -> dict[str, Any]:
    """Runs the statements of ``sql`` in order, each on every shard's primary at once (replicas get them by
    replication). Stops at the first statement that fails on a shard."""
    statements = split_statements(sql)
    if not statements:
        raise InvalidArgument("ApplySchema: no SQL statement given")
    primaries = await shard_primaries(ctx, keyspace, required=True)
    if not primaries:
        raise FailedPrecondition(f"keyspace {keyspace!r} has no shards")
    for statement in statements:
        await on_tablets(
            primaries, lambda tablet, sql=statement: ctx.tmc.execute_fetch_as_dba(tablet, sql, db_name=keyspace)
        )
    return {"keyspace": keyspace, "shards": [tablet.shard for tablet in primaries], "statements": len(statements)}


async def apply_vschema(ctx: CtlContext, keyspace: str, vschema: dict[str, Any]) -> dict[str, Any]:
    """Validates a keyspace's VSchema (vindex types, tables, sequences across keyspaces, and that every
    column_vindexes column exists in the table on each shard that has a primary), saves it and rebuilds
    SrvVSchema in every cell. Nothing is saved if any check fails."""
    from shardline.vindexes.vschema import KeyspaceVSchema, VSchema

    await ctx.ts.get_keyspace(keyspace)
    parsed = KeyspaceVSchema.from_json(keyspace, vschema)
    all_keyspaces = {name: await _stored_vschema(ctx, name) for name in await ctx.ts.get_keyspace_names()}
    VSchema.from_json(all_keyspaces | {keyspace: vschema})
    await _check_vindex_columns(ctx, parsed)
    await ctx.ts.save_vschema(keyspace, vschema)
    await ctx.ts.rebuild_srv_vschema()
    return vschema


async def _stored_vschema(ctx: CtlContext, keyspace: str) -> dict[str, Any]:
    try:
        return await ctx.ts.get_vschema(keyspace)
    except NotFound:
        return {}


async def _check_vindex_columns(ctx: CtlContext, parsed: KeyspaceVSchema) -> None:
    from shardline.vindexes.vschema import vindex_columns

    needed = vindex_columns(parsed)
    if not needed:
        return
    keyspace = parsed.name
    tables = ", ".join(f"'{escape_string(table)}'" for table in sorted(needed))
    sql = (
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
        f"WHERE TABLE_SCHEMA = '{escape_string(keyspace)}' AND TABLE_NAME IN ({tables})"
    )
    primaries = await shard_primaries(ctx, keyspace, required=False)
    results = await on_tablets(
        primaries, lambda tablet: ctx.tmc.execute_fetch_as_dba(tablet, sql, max_rows=_MAX_COLUMN_ROWS)
    )
    for tablet, result in zip(primaries, results, strict=True):
        columns: dict[str, set[str]] = defaultdict(set)
        for table, column in result["rows"]:
            columns[table].add(column.lower())
        for table, wanted in needed.items():
            where = f"on shard {keyspace}/{tablet.shard}"
            if table not in columns:
                continue  # not created yet: VSchema first, then CREATE TABLE through the gate, as in Vitess
            missing = [column for column in wanted if column.lower() not in columns[table]]
            if missing:
                raise InvalidArgument(
                    f"ApplyVSchema: table '{table}' has no column '{missing[0]}' {where}, "
                    "but its column_vindexes use it"
                )


async def get_vschema(ctx: CtlContext, keyspace: str) -> dict[str, Any]:
    return await ctx.ts.get_vschema(keyspace)


async def get_srv_vschema(ctx: CtlContext, cell: str) -> dict[str, Any]:
    return (await ctx.ts.get_srv_vschema(cell)).to_json()


async def rebuild_vschema_graph(ctx: CtlContext, cells: str | None = None) -> dict[str, Any]:
    """Publishes every keyspace's VSchema to the cells' SrvVSchema."""
    return (await ctx.ts.rebuild_srv_vschema(split_cells(cells))).to_json()


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc}") from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("a VSchema must be a JSON object")
    return value


def _json_file(path: str) -> dict[str, Any]:
    return _json_object(_read_file(path))


COMMANDS = (
    Command(
        "ApplySchema",
        "Runs DDL (or other SQL) on the primary of every shard of a keyspace.",
        apply_schema,
        (
            Arg("keyspace"),
            Arg("--sql", dest="sql", help="';'-separated SQL statements"),
            Arg("--sql-file", dest="sql", type=_read_file, help="file with ';'-separated SQL statements"),
        ),
        one_of="sql",
    ),
    Command(
        "ApplyVSchema",
        "Validates and saves a keyspace's VSchema, then rebuilds SrvVSchema.",
        apply_vschema,
        (
            Arg("keyspace"),
            Arg("--vschema", dest="vschema", type=_json_object, help="the VSchema as JSON"),
            Arg("--vschema-file", dest="vschema", type=_json_file, help="file with the VSchema as JSON"),
        ),
        one_of="vschema",
    ),
    Command("GetVSchema", "Prints a keyspace's VSchema as JSON.", get_vschema, (Arg("keyspace"),)),
    Command("GetSrvVSchema", "Prints a cell's SrvVSchema as JSON.", get_srv_vschema, (Arg("cell"),)),
    Command(
        "RebuildVSchemaGraph",
        "Rebuilds SrvVSchema in the cells.",
        rebuild_vschema_graph,
        (CELLS_ARG,),
    ),
)
