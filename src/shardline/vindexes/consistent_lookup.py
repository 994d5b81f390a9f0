"""``consistent_lookup`` and ``consistent_lookup_unique``: lookup vindexes that never lose an owner row.

They write the lookup table in a transaction committed *before* the session's (``CommitOrder.PRE``) and delete
from it in one committed *after* (``CommitOrder.POST``). So whatever fails between the commits, every owner row
keeps its lookup row; the worst left behind is an orphan lookup row whose owner row does not exist.

Orphans are repaired on the next insert of the same value: when the lookup insert hits a duplicate key, each row
is checked. The existing lookup row is locked (``for update``), then the owner row it points to is looked for on
that keyspace id's shard (``lock in share mode``, waiting for a transaction still creating it). If the owner row
exists the value is really taken and the duplicate-key error stands; if not, the lookup row is an orphan and is
pointed at the new keyspace id (or left alone if it already points there).

Params: ``table``, ``from``, ``to``, ``ignore_nulls``, ``batch_lookup``, ``write_only``. The vindex must have an
owner (the VSchema sets it), whose row it locks.
"""

from __future__ import annotations

from typing import Any

from shardline.errors import FailedPrecondition, MySQLError
from shardline.sqltypes import from_python
from shardline.vindexes.base import CommitOrder, VCursor
from shardline.vindexes.lookup_table import TABLE_PARAMS, LookupTableVindex

ER_DUP_ENTRY = 1062


class _ConsistentLookup(LookupTableVindex):
    known_params = TABLE_PARAMS
    requires_owner = True
    read_order = CommitOrder.PRE

    async def create(
        self, vcursor: VCursor, rows: list[list[Any]], ksids: list[bytes], *, ignore_mode: bool = False
    ) -> None:
        to_write = self.table.rows_to_write(rows, ksids)
        try:
            await self.table.create(
                vcursor, to_write, ignore_mode=ignore_mode, autocommit=False, commit_order=CommitOrder.PRE
            )
        except MySQLError as err:
            if err.code != ER_DUP_ENTRY:
                raise
            keys = [tuple(from_python(value) for value in values) for values, _ in to_write]
            if len(set(keys)) != len(keys):
                raise
            for values, ksid in to_write:
                await self._handle_duplicate(vcursor, values, ksid, err)

    async def _handle_duplicate(
        self, vcursor: VCursor, values: list[Any], ksid: bytes, error: MySQLError
    ) -> None:
        table = self.table
        bind_vars: dict[str, Any] = dict(zip(table.from_columns, values, strict=True))
        bind_vars[table.to] = ksid
        where = table.where(table.from_columns)
        # A unique lookup table has one row per value; a non-unique one a row per (value, keyspace id).
        lock_where = where if self.unique else f"{where} and {table.to} = :{table.to}"
        locked = await vcursor.execute(
            f"select {table.to} from {table.name} where {lock_where} for update",
            bind_vars,
            commit_order=CommitOrder.PRE,
        )
        if not locked.rows:
            columns = ", ".join([*table.from_columns, table.to])
            placeholders = ", ".join(f":{column}" for column in [*table.from_columns, table.to])
            await vcursor.execute(
                f"insert into {table.name}({columns}) values ({placeholders})",
                bind_vars,
                commit_order=CommitOrder.PRE,
            )
            return
        if len(locked.rows) > 1:
            raise FailedPrecondition(
                f"vindex '{self.name}': lookup table {table.name} has {len(locked.rows)} rows for {values}"
            )
        existing = locked.rows[0][0] or b""
        owner_sql = (
            f"select {self.owner_columns[0]} from {self.owner_keyspace}.{self.owner} "
            f"where {table.where(self.owner_columns)} lock in share mode"
        )
        owner_rows = await vcursor.execute_keyspace_id(self.owner_keyspace, existing, owner_sql, bind_vars)
        if owner_rows.rows:
            raise error
        if existing != ksid:
            await vcursor.execute(
                f"update {table.name} set {table.to} = :{table.to} where {where}",
                bind_vars,
                commit_order=CommitOrder.PRE,
            )

    async def delete(self, vcursor: VCursor, rows: list[list[Any]], ksid: bytes) -> None:
        await self.table.delete(vcursor, rows, ksid, commit_order=CommitOrder.POST)

    async def update(
        self, vcursor: VCursor, old_values: list[Any], ksid: bytes, new_values: list[Any]
    ) -> None:
        if list(old_values) == list(new_values):
            return
        await self.delete(vcursor, [old_values], ksid)
        await self.create(vcursor, [new_values], [ksid])


class ConsistentLookup(_ConsistentLookup):
    """Non-unique: a value may map to many keyspace ids."""

    type_name = "consistent_lookup"
    cost = 20
    unique = False


class ConsistentLookupUnique(_ConsistentLookup):
    """Unique: the lookup table holds at most one row per value."""

    type_name = "consistent_lookup_unique"
    cost = 10
    unique = True
