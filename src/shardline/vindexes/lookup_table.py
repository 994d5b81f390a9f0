"""What all lookup vindexes share: the lookup table (``from`` column(s) -> ``to`` keyspace id column), the
statements that read and write it, and the map/verify logic on top of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from shardline.errors import FailedPrecondition, InvalidArgument
from shardline.key import KeyRange
from shardline.sqltypes import from_python
from shardline.vindexes.base import IDENTIFIER, CommitOrder, LookupVindex, VCursor

TABLE_PARAMS = frozenset({"table", "from", "to", "ignore_nulls", "batch_lookup", "write_only"})


class LookupTable:
    """The SQL of one lookup table. Column names are checked identifiers, values always bind variables."""

    def __init__(self, vindex: LookupVindex) -> None:
        self.name = vindex.required_param("table")
        keyspace, _, table = self.name.partition(".")
        if not IDENTIFIER.fullmatch(keyspace) or not IDENTIFIER.fullmatch(table):
            raise InvalidArgument(
                f"vindex '{vindex.name}': param 'table' must be of the form keyspace.table, got '{self.name}'"
            )
        self.from_columns = [column.strip() for column in vindex.required_param("from").split(",")]
        self.to = vindex.required_param("to")
        for column in [*self.from_columns, self.to]:
            if not IDENTIFIER.fullmatch(column):
                raise InvalidArgument(f"vindex '{vindex.name}': {column!r} is not a valid column name")
        self.vindex_name = vindex.name
        self.upsert = False
        """Insert as an upsert (``on duplicate key update``): an autocommitted non-unique lookup overwrites."""
        self.ignore_nulls = vindex.bool_param("ignore_nulls")
        self.batch_lookup = vindex.bool_param("batch_lookup")
        first = self.from_columns[0]
        self.select_sql = f"select {first}, {self.to} from {self.name} where {first} in ::{first}"
        self.verify_sql = (
            f"select {first} from {self.name} where {first} = :{first} and {self.to} = :{self.to}"
        )
        self.delete_sql = (
            f"delete from {self.name} where {self.where(self.from_columns)} and {self.to} = :{self.to}"
        )

    def where(self, columns: list[str]) -> str:
        """``column = :from_column and ...``: ``columns`` (the from columns or the owner's) against the values."""
        return " and ".join(
            f"{column} = :{from_column}"
            for column, from_column in zip(columns, self.from_columns, strict=True)
        )

    async def lookup(
        self, vcursor: VCursor, values: Sequence[Any], *, autocommit: bool, commit_order: CommitOrder
    ) -> list[list[bytes]]:
        """The keyspace ids the table holds for each value (of the first ``from`` column).

        Integers (or anything, with ``batch_lookup``) go in one ``IN`` query; other values one query each, since
        a case- or accent-insensitive match returns a ``from`` value that differs from the one asked for.
        """
        if not values:
            return []
        first = self.from_columns[0]
        if self.batch_lookup or all(isinstance(value, int) for value in values):
            result = await vcursor.execute(
                self.select_sql, {first: list(values)}, autocommit=autocommit, commit_order=commit_order
            )
            found: dict[bytes | None, list[bytes]] = {}
            for from_value, ksid in result.rows:
                if ksid is not None:
                    found.setdefault(from_value, []).append(ksid)
            return [list(found.get(from_python(value), [])) for value in values]
        out = []
        for value in values:
            result = await vcursor.execute(
                self.select_sql, {first: [value]}, autocommit=autocommit, commit_order=commit_order
            )
            out.append([ksid for _, ksid in result.rows if ksid is not None])
        return out

    async def verify(
        self,
        vcursor: VCursor,
        values: Sequence[Any],
        ksids: Sequence[bytes],
        *,
        autocommit: bool,
        commit_order: CommitOrder,
    ) -> list[bool]:
        out = []
        for value, ksid in zip(values, ksids, strict=True):
            bind_vars = {self.from_columns[0]: value, self.to: ksid}
            result = await vcursor.execute(
                self.verify_sql, bind_vars, autocommit=autocommit, commit_order=commit_order
            )
            out.append(bool(result.rows))
        return out

    def rows_to_write(self, rows: list[list[Any]], ksids: list[bytes]) -> list[tuple[list[Any], bytes]]:
        """The (values, keyspace id) pairs to insert, sorted so that concurrent writers lock rows in one order.

        Rows with a NULL are skipped with ``ignore_nulls`` and refused without it.
        """
        if len(rows) != len(ksids):
            raise InvalidArgument(
                f"vindex '{self.vindex_name}': {len(rows)} rows but {len(ksids)} keyspace ids"
            )
        kept = []
        for values, ksid in zip(rows, ksids, strict=True):
            self._check_width(values)
            if any(value is None for value in values):
                if self.ignore_nulls:
                    continue
                raise InvalidArgument(
                    f"vindex '{self.vindex_name}': cannot store NULL in lookup table {self.name} "
                    f"(values {values}); set ignore_nulls to skip such rows"
                )
            kept.append((list(values), ksid))
        return sorted(kept, key=lambda pair: ([from_python(value) for value in pair[0]], pair[1]))

    async def create(
        self,
        vcursor: VCursor,
        rows: list[tuple[list[Any], bytes]],
        *,
        ignore_mode: bool,
        autocommit: bool,
        commit_order: CommitOrder,
    ) -> None:
        """Inserts ``rows`` (from :meth:`rows_to_write`) in one statement."""
        if not rows:
            return
        bind_vars: dict[str, Any] = {}
        tuples = []
        for index, (values, ksid) in enumerate(rows):
            names = []
            for column, value in zip([*self.from_columns, self.to], [*values, ksid], strict=True):
                bind_vars[f"{column}_{index}"] = value
                names.append(f":{column}_{index}")
            tuples.append(f"({', '.join(names)})")
        columns = ", ".join([*self.from_columns, self.to])
        sql = (
            f"insert {'ignore ' if ignore_mode else ''}into {self.name}({columns}) values {', '.join(tuples)}"
        )
        if self.upsert:
            sql += " on duplicate key update " + ", ".join(
                f"{column} = values({column})" for column in [*self.from_columns, self.to]
            )
        await vcursor.execute(sql, bind_vars, autocommit=autocommit, commit_order=commit_order)

    async def delete(
        self, vcursor: VCursor, rows: list[list[Any]], ksid: bytes, *, commit_order: CommitOrder
    ) -> None:
        for values in rows:
            self._check_width(values)
            bind_vars = dict(zip(self.from_columns, values, strict=True))
            bind_vars[self.to] = ksid
            await vcursor.execute(self.delete_sql, bind_vars, commit_order=commit_order)

    def _check_width(self, values: list[Any]) -> None:
        if len(values) != len(self.from_columns):
            raise InvalidArgument(
                f"vindex '{self.vindex_name}': got {len(values)} values for lookup columns {self.from_columns}"
            )


class LookupTableVindex(LookupVindex):
    """A lookup vindex over a :class:`LookupTable`: maps and verifies by reading it.

    ``write_only`` (while the table is being backfilled) maps every value to all shards and verifies nothing.
    A non-unique vindex with ``ignore_nulls`` maps a single NULL to all shards too.
    """

    read_order: ClassVar[CommitOrder] = CommitOrder.NORMAL

    def __init__(self, name: str, params: Mapping[str, str]) -> None:
        super().__init__(name, params)
        self.autocommit = False
        self.write_only = self.bool_param("write_only")
        self.skip_verify = self.write_only
        self.table = LookupTable(self)

    def set_owner(self, keyspace: str, table: str, columns: list[str]) -> None:
        if len(columns) != len(self.table.from_columns):
            raise InvalidArgument(
                f"vindex '{self.name}': owner table '{table}' indexes columns {columns}, "
                f"but the lookup table has from columns {self.table.from_columns}"
            )
        super().set_owner(keyspace, table, columns)

    async def map(
        self, vcursor: VCursor, values: Sequence[Any]
    ) -> list[bytes | list[bytes] | KeyRange | None]:
        scatter = self.write_only or (
            not self.unique and self.table.ignore_nulls and len(values) == 1 and values[0] is None
        )
        if scatter:
            return [KeyRange() for _ in values]
        found = await self.table.lookup(
            vcursor, values, autocommit=self.autocommit, commit_order=self.read_order
        )
        if not self.unique:
            return list(found)
        out: list[bytes | list[bytes] | KeyRange | None] = []
        for value, ksids in zip(values, found, strict=True):
            if len(ksids) > 1:
                raise FailedPrecondition(
                    f"unique vindex '{self.name}': lookup table {self.table.name} has {len(ksids)} rows for {value!r}"
                )
            out.append(ksids[0] if ksids else None)
        return out

    async def verify(self, vcursor: VCursor, values: Sequence[Any], ksids: Sequence[bytes]) -> list[bool]:
        if self.skip_verify:
            return [True] * len(values)
        return await self.table.verify(
            vcursor, values, ksids, autocommit=self.autocommit, commit_order=self.read_order
        )
