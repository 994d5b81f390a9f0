"""Insert: routes each row of an INSERT to the shard of its keyspace id, one multi-row INSERT per shard.

Before the rows are written, missing ``auto_increment`` values are taken from the table's sequence, owned lookup
vindexes get their lookup rows (so a lookup never misses an owner row) and the other vindex columns are checked
to map to the row's keyspace id. An unsharded keyspace gets the statement as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shardline.errors import InvalidArgument
from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.evalengine import Env, Expr
from shardline.gate.engine.routing import RouteVariant, Routing, map_values
from shardline.sqltypes import Result
from shardline.vindexes.base import FunctionalVindex, LookupVindex

if TYPE_CHECKING:
    from shardline.gate.engine.sqltemplate import SQLTemplate
    from shardline.gate.engine.vcursor import ShardTarget, VCursor
    from shardline.vindexes.vschema import ColumnVindex, Table


class InsertVariant(StrEnum):
    """Where an insert goes: the one shard of an unsharded keyspace, or each row to its keyspace id's shard."""

    UNSHARDED = "Unsharded"
    SHARDED = "Sharded"


def sequence_slot(row: int) -> str:
    """The bind variable that carries row ``row``'s auto_increment value into its VALUES tuple."""
    return f"__seq{row}"


@dataclass(frozen=True)
class Generate:
    """An auto_increment column: ``values[i]`` is row i's value as written (NULL when the column is left out).

    NULL or 0 takes the next value of ``sequence``, as MySQL's AUTO_INCREMENT does.
    """

    column: str
    sequence: Table
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class VindexValues:
    """The values of a column vindex's columns: ``rows[i][j]`` is row i's value of ``column_vindex.columns[j]``."""

    column_vindex: ColumnVindex
    rows: tuple[tuple[Expr, ...], ...]

    def evaluate(self, env: Env) -> list[list[Any]]:
        return [[value.evaluate(env) for value in row] for row in self.rows]


class Insert(Primitive):
    """``query`` is the whole statement (sent as it is when unsharded and nothing is generated); ``prefix``,
    ``rows`` and ``suffix`` rebuild it from a subset of its VALUES tuples. ``vindex_values[0]`` is the
    primary vindex's. ``ignore``: INSERT IGNORE or ON DUPLICATE KEY UPDATE, where a row whose lookup value is
    taken is skipped rather than failing the statement."""

    def __init__(
        self,
        variant: InsertVariant,
        table: Table,
        query: SQLTemplate,
        *,
        prefix: str = "",
        rows: tuple[SQLTemplate, ...] = (),
        suffix: SQLTemplate | None = None,
        vindex_values: tuple[VindexValues, ...] = (),
        generate: Generate | None = None,
        ignore: bool = False,
    ) -> None:
        self.variant = variant
        self.table = table
        self.query = query
        self.prefix = prefix
        self.rows = rows
        self.suffix = suffix
        self.vindex_values = vindex_values
        self.generate = generate
        self.ignore = ignore
        self._unsharded = Routing(RouteVariant.UNSHARDED, table.keyspace)

    @property
    def keyspace(self) -> str:
        return self.table.keyspace

    @property
    def plan_type(self) -> str:
        return self.variant.value

    async def single_shard(self, vcursor: VCursor, bind_vars: BindVars) -> ShardTarget | None:
        """The shard that takes the client's statement unchanged: an insert that needs no sequence value, either
        unsharded or with only a primary vindex whose rows all map to one shard (no lookup rows to write)."""
        env = Env(bind_vars)
        if self.generate is not None:
            given = [value.evaluate(env) for value in self.generate.values]
            if any(_takes_next_value(value) for value in given):
                return None
            env = Env({**bind_vars, **{sequence_slot(i): value for i, value in enumerate(given)}})
        if self.variant is InsertVariant.UNSHARDED:
            return (await self._unsharded.destinations(vcursor, bind_vars))[0].shard
        if len(self.vindex_values) != 1:
            return None
        primary = self.vindex_values[0]
        values = [row[0] for row in primary.evaluate(env)]
        if any(value is None for value in values):
            return None  # execute() reports the missing value
        ksids = await map_values(primary.column_vindex.vindex, vcursor, values)
        if not all(isinstance(ksid, bytes) for ksid in ksids):
            return None
        shards = {vcursor.shard_for_keyspace_id(self.keyspace, ksid) for ksid in ksids}
        return shards.pop() if len(shards) == 1 else None

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        bind_vars = dict(bind_vars)
        insert_id = await self._generate(vcursor, bind_vars)
        if self.variant is InsertVariant.UNSHARDED:
            shard = (await self._unsharded.destinations(vcursor, bind_vars))[0].shard
            text = (
                self.query.render(bind_vars)
                if self.generate is None
                else self._render(range(len(self.rows)), bind_vars)
            )
            return _with_insert_id((await vcursor.execute_on_shards([(shard, text)]))[0], insert_id)
        env = Env(bind_vars)
        values = [vv.evaluate(env) for vv in self.vindex_values]
        ksids = await self._keyspace_ids(vcursor, values[0])
        await self._create_owned(vcursor, values, ksids)
        await self._verify_unowned(vcursor, values, ksids)
        by_shard: dict[str, tuple[ShardTarget, list[int]]] = {}
        for i, ksid in ksids.items():
            shard = vcursor.shard_for_keyspace_id(self.keyspace, ksid)
            by_shard.setdefault(shard.name, (shard, []))[1].append(i)
        if not by_shard:
            return Result(insert_id=insert_id)
        queries = [(shard, self._render(rows, bind_vars)) for shard, rows in by_shard.values()]
        results = await vcursor.execute_on_shards(queries)
        return _with_insert_id(
            Result(
                rows_affected=sum(r.rows_affected for r in results),
                insert_id=next((r.insert_id for r in results if r.insert_id), 0),
                warnings=sum(r.warnings for r in results),
            ),
            insert_id,
        )

    async def _generate(self, vcursor: VCursor, bind_vars: BindVars) -> int:
        """Fills each row's auto_increment slot; returns the first generated value (0 if none was)."""
        if self.generate is None:
            return 0
        env = Env(bind_vars)
        values = [value.evaluate(env) for value in self.generate.values]
        missing = [i for i, value in enumerate(values) if _takes_next_value(value)]
        first = await vcursor.next_sequence_ids(self.generate.sequence, len(missing)) if missing else 0
        for offset, i in enumerate(missing):
            values[i] = first + offset
        for i, value in enumerate(values):
            bind_vars[sequence_slot(i)] = value
        return first

    async def _keyspace_ids(self, vcursor: VCursor, primary_rows: list[list[Any]]) -> dict[int, bytes]:
        """The keyspace id of each row to insert, by row number, from its primary vindex column (INSERT IGNORE
        leaves out rows that map to none)."""
        primary = self.vindex_values[0].column_vindex
        values = [row[0] for row in primary_rows]
        if any(value is None for value in values):
            raise InvalidArgument(
                f"value must be supplied for column {primary.column} (primary vindex {primary.name})"
            )
        out: dict[int, bytes] = {}
        for i, ksid in enumerate(await map_values(primary.vindex, vcursor, values)):
            if isinstance(ksid, bytes):
                out[i] = ksid
            elif not self.ignore:
                raise InvalidArgument(f"could not map [{values[i]!r}] to a keyspace id")
        return out

    async def _create_owned(
        self, vcursor: VCursor, values: list[list[list[Any]]], ksids: dict[int, bytes]
    ) -> None:
        """Writes the lookup rows of owned vindexes; in ignore mode drops the rows whose value another row has."""
        for vv, rows in zip(self.vindex_values, values, strict=True):
            vindex = vv.column_vindex.vindex
            if not vv.column_vindex.owned or not isinstance(vindex, LookupVindex) or not ksids:
                continue
            await vindex.create(
                vcursor, [rows[i] for i in ksids], list(ksids.values()), ignore_mode=self.ignore
            )
            if self.ignore:
                checked = [i for i in ksids if None not in rows[i]]
                verified = await vindex.verify(
                    vcursor, [rows[i][0] for i in checked], [ksids[i] for i in checked]
                )
                for i, ok in zip(checked, verified, strict=True):
                    if not ok:
                        del ksids[i]

    async def _verify_unowned(
        self, vcursor: VCursor, values: list[list[list[Any]]], ksids: dict[int, bytes]
    ) -> None:
        """Checks that the values of secondary vindexes the table does not own map to the row's keyspace id;
        in ignore mode drops the rows whose value does not."""
        for vv, rows in zip(self.vindex_values[1:], values[1:], strict=True):
            cv = vv.column_vindex
            if cv.owned:
                continue
            checked = [i for i in ksids if rows[i][0] is not None]
            firsts = [rows[i][0] for i in checked]
            checked_ksids = [ksids[i] for i in checked]
            vindex = cv.vindex
            if isinstance(vindex, FunctionalVindex):
                verified = vindex.verify(firsts, checked_ksids)
            else:
                assert isinstance(vindex, LookupVindex)
                verified = await vindex.verify(vcursor, firsts, checked_ksids)
            failed = [i for i, ok in zip(checked, verified, strict=True) if not ok]
            if failed and not self.ignore:
                wrong = ", ".join(repr(rows[i][0]) for i in failed)
                raise InvalidArgument(
                    f"values [{wrong}] for column {cv.column} do not map to keyspace ids (vindex {cv.name})"
                )
            for i in failed:
                del ksids[i]

    def _render(self, rows: Iterable[int], bind_vars: BindVars) -> str:
        assert self.suffix is not None
        values = ", ".join(self.rows[i].render(bind_vars) for i in rows)
        return f"{self.prefix}{values}{self.suffix.render(bind_vars)}"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "OperatorType": "Insert",
            "Variant": self.variant.value,
            "Keyspace": self.keyspace,
            "TargetTabletType": "PRIMARY",
        }
        if self.ignore:
            out["InsertIgnore"] = True
        if self.generate is not None:
            values = ", ".join(map(str, self.generate.values))
            out["AutoIncrement"] = f"{self.generate.sequence.qualified_name}:{self.generate.column}({values})"
        if self.vindex_values:
            out["VindexValues"] = {
                vv.column_vindex.name: ", ".join("(" + ", ".join(map(str, row)) + ")" for row in vv.rows)
                for vv in self.vindex_values
            }
        if self.rows and (self.variant is InsertVariant.SHARDED or self.generate is not None):
            assert self.suffix is not None
            out["Query"] = self.prefix + ", ".join(r.text for r in self.rows) + self.suffix.text
        else:
            out["Query"] = self.query.text
        out["TableName"] = self.table.name
        return out


def _takes_next_value(value: Any) -> bool:
    return value is None or (isinstance(value, int | Decimal) and not isinstance(value, bool) and value == 0)


def _with_insert_id(result: Result, generated: int) -> Result:
    """MySQL reports the first value generated for an AUTO_INCREMENT column as the statement's insert id."""
    if generated:
        result.insert_id = generated
    return result
