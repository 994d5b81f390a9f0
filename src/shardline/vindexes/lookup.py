"""``lookup`` and ``lookup_unique``: vindexes backed by a lookup table that the owner table's writes maintain in
the session's transaction.

Params (as Vitess): ``table`` (keyspace.table), ``from`` (column, or comma-separated columns), ``to`` (keyspace id
column); optional ``autocommit`` (write the lookup table outside the transaction: inserts of ``lookup`` become
upserts, deletes are skipped since they cannot be undone), ``multi_shard_autocommit`` (same, for this
implementation), ``ignore_nulls``, ``batch_lookup``, ``write_only`` and ``no_verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shardline.vindexes.base import CommitOrder, VCursor
from shardline.vindexes.lookup_table import TABLE_PARAMS, LookupTableVindex


class _OwnedLookup(LookupTableVindex):
    """Writes happen in the session's transaction (or autocommitted, if so configured)."""

    known_params = TABLE_PARAMS | {"autocommit", "multi_shard_autocommit", "no_verify"}

    def __init__(self, name: str, params: Mapping[str, str]) -> None:
        super().__init__(name, params)
        self.autocommit = self.bool_param("autocommit") or self.bool_param("multi_shard_autocommit")
        self.table.upsert = self.autocommit and not self.unique
        self.skip_verify = self.write_only or self.bool_param("no_verify")

    async def create(
        self, vcursor: VCursor, rows: list[list[Any]], ksids: list[bytes], *, ignore_mode: bool = False
    ) -> None:
        await self.table.create(
            vcursor,
            self.table.rows_to_write(rows, ksids),
            ignore_mode=ignore_mode,
            autocommit=self.autocommit,
            commit_order=CommitOrder.NORMAL,
        )

    async def delete(self, vcursor: VCursor, rows: list[list[Any]], ksid: bytes) -> None:
        if not self.autocommit:
            await self.table.delete(vcursor, rows, ksid, commit_order=CommitOrder.NORMAL)

    async def update(
        self, vcursor: VCursor, old_values: list[Any], ksid: bytes, new_values: list[Any]
    ) -> None:
        await self.delete(vcursor, [old_values], ksid)
        await self.create(vcursor, [new_values], [ksid])


class Lookup(_OwnedLookup):
    """Non-unique: a value may map to many keyspace ids."""

    type_name = "lookup"
    cost = 20
    unique = False


class LookupUnique(_OwnedLookup):
    """Unique: the lookup table holds at most one row per value."""

    type_name = "lookup_unique"
    cost = 10
    unique = True
