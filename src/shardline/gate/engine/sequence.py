"""Sequences: the gate's cache of values reserved from a sequence table, and ``SELECT NEXT n VALUES FROM seq``.

A sequence table lives in an unsharded keyspace (Vitess's layout)::

    create table user_seq(id int, next_id bigint, cache bigint, primary key(id)) comment 'vitess_sequence';
    insert into user_seq(id, next_id, cache) values (0, 1, 1000);

``next_id`` is the first value no gate has reserved yet. A gate reserves a block of ``cache`` values (more if one
request needs more) by moving ``next_id`` forward with a compare-and-set UPDATE in its own autocommitted
statement, outside the session's transaction: two gates can never reserve the same block, and a rolled-back
insert does not give values back. The values of a block are then handed out without a round trip.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shardline.errors import FailedPrecondition, InvalidArgument, Unavailable
from shardline.gate.engine.base import BindVars, Primitive
from shardline.gate.engine.evalengine import Env, Expr
from shardline.sqltypes import Field, FieldType, Result

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import VCursor
    from shardline.vindexes.vschema import Table

_MAX_RESERVE_ATTEMPTS = 100  # compare-and-set retries when other gates keep moving next_id meanwhile


@dataclass(slots=True)
class _Block:
    """Reserved values [next_value, end) of one sequence; ``end`` is the table's next_id after our reservation."""

    next_value: int
    end: int


class SequenceCache:
    """One gate's reserved sequence values, per sequence table; safe for concurrent sessions of the gate."""

    def __init__(self) -> None:
        self._blocks: dict[str, _Block] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def next_ids(self, vcursor: VCursor, sequence: Table, count: int) -> int:
        """Reserves ``count`` consecutive values of ``sequence`` and returns the first."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgument(f"sequence {sequence.qualified_name}: cannot reserve {count!r} values")
        key = sequence.qualified_name
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            block = self._blocks.get(key)
            if block is None or block.end - block.next_value < count:
                block = await _reserve(vcursor, sequence, block, count)
                self._blocks[key] = block
            first = block.next_value
            block.next_value += count
            return first


async def _reserve(vcursor: VCursor, sequence: Table, block: _Block | None, count: int) -> _Block:
    """A block holding at least ``count`` values, continuing ``block`` when no other gate reserved since."""
    name = sequence.qualified_name
    select = f"select next_id, cache from {name} where id = 0"
    update = f"update {name} set next_id = :new_next_id where id = 0 and next_id = :next_id"
    for _ in range(_MAX_RESERVE_ATTEMPTS):
        result = await vcursor.execute(select, {}, autocommit=True)
        next_id, cache = _sequence_row(name, result)
        start = block.next_value if block is not None and block.end == next_id else next_id
        needed = start + count - next_id
        new_next_id = next_id + -(-needed // cache) * cache  # whole blocks of ``cache`` values
        moved = await vcursor.execute(
            update, {"new_next_id": new_next_id, "next_id": next_id}, autocommit=True
        )
        if moved.rows_affected == 1:
            return _Block(start, new_next_id)
    raise Unavailable(f"sequence {name}: could not reserve values, next_id kept changing")


def _sequence_row(name: str, result: Result) -> tuple[int, int]:
    if not result.rows:
        raise FailedPrecondition(
            f"sequence table {name} has no row with id 0; insert one: "
            f"insert into {name}(id, next_id, cache) values (0, 1, 1000)"
        )
    raw_next_id, raw_cache = result.rows[0][:2]
    try:
        next_id, cache = int(raw_next_id or b""), int(raw_cache or b"")
    except ValueError:
        raise FailedPrecondition(f"sequence table {name}: next_id and cache must be integers") from None
    if cache < 1:
        raise FailedPrecondition(f"sequence table {name}: cache must be at least 1, got {cache}")
    return next_id, cache


class SequenceNext(Primitive):
    """``SELECT NEXT n VALUES FROM seq``: reserves n values and returns the first as ``nextval``."""

    def __init__(self, sequence: Table, count: Expr) -> None:
        self.sequence = sequence
        self.count = count

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        count = self.count.evaluate(Env(bind_vars))
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgument(f"NEXT n VALUES needs a positive integer n, got {count!r}")
        first = await vcursor.next_sequence_ids(self.sequence, count)
        return Result(fields=[Field("nextval", FieldType.LONGLONG)], rows=[(str(first).encode(),)])

    def describe(self) -> dict[str, Any]:
        return {
            "OperatorType": "Route",
            "Variant": "Next",
            "Keyspace": self.sequence.keyspace,
            "Query": f"select next {self.count} values from {self.sequence.name}",
        }
