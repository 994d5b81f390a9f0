"""What primitives may ask of the executor while they run: shards, shard execution, nested queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shardline.vindexes.base import CommitOrder

if TYPE_CHECKING:
    from shardline.key import KeyRange
    from shardline.sqltypes import Result
    from shardline.vindexes.vschema import Table


@dataclass(frozen=True, slots=True)
class ShardTarget:
    """A serving shard of a keyspace, as the session's tablet type sees it."""

    keyspace: str
    name: str
    key_range: KeyRange


class VCursor(Protocol):
    """The executor's side of execution, implemented per session by the gate.

    It is also the vindexes' VCursor (:class:`shardline.vindexes.base.VCursor`), so lookup vindexes map with it.
    """

    @property
    def original_sql(self) -> str:
        """The client's statement text, sent as is when a route goes to one shard unchanged."""

    def shards(self, keyspace: str) -> list[ShardTarget]:
        """The serving shards of a keyspace, ordered by key range (honours a ``USE ks:shard`` target)."""

    def shard_for_keyspace_id(self, keyspace: str, keyspace_id: bytes) -> ShardTarget:
        """The serving shard whose key range holds the keyspace id."""

    async def execute_on_shards(self, queries: list[tuple[ShardTarget, str]]) -> list[Result]:
        """Runs each SQL text on its shard, concurrently, inside the session's transaction if one is open."""

    async def execute(
        self,
        sql: str,
        bind_vars: dict[str, Any],
        *,
        autocommit: bool = False,
        commit_order: CommitOrder = CommitOrder.NORMAL,
    ) -> Result:
        """Runs a nested statement through the planner (lookup vindex queries); ``:x`` scalar, ``::x`` list."""

    async def execute_keyspace_id(
        self, keyspace: str, keyspace_id: bytes, sql: str, bind_vars: dict[str, Any]
    ) -> Result:
        """Runs a statement on the shard of ``keyspace`` that holds ``keyspace_id``, in the session's transaction."""

    async def execute_lock(self, keyspace: str, shard: str, sql: str, *, acquires: bool) -> Result:
        """Runs named-lock functions on the session's lock connection (``engine.lock``) to the primary of
        ``shard``, or of the keyspace's lock shard when ``shard`` is ''."""

    async def next_sequence_ids(self, sequence: Table, count: int) -> int:
        """Reserves ``count`` consecutive values of a sequence table and returns the first."""
