"""The executor's VCursor: what a plan sees of the session, the serving graph and the shards while it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shardline.errors import NotFound
from shardline.gate.engine.lock import LOCK_KEYSPACE_ID
from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.vindexes.base import CommitOrder

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import ShardTarget
    from shardline.gate.executor import Executor
    from shardline.gate.session import Session
    from shardline.sqltypes import Result
    from shardline.vindexes.vschema import Table


class SessionVCursor:
    """One statement's view: built per statement, so ``original_sql`` is that statement's text. Its shard
    queries join the session's transaction of ``commit_order``."""

    __slots__ = ("executor", "session", "_original_sql", "commit_order")

    def __init__(self, executor: Executor, session: Session, original_sql: str,
                 commit_order: CommitOrder = CommitOrder.NORMAL) -> None:
        self.executor = executor
        self.session = session
        self._original_sql = original_sql
        self.commit_order = commit_order

    @property
    def original_sql(self) -> str:
        return self._original_sql

    def shards(self, keyspace: str) -> list[ShardTarget]:
        shards = self.executor.serving.shards(keyspace, self.session.target.tablet_type)
        wanted = self.session.target.shard
        if wanted and keyspace == self.session.target.keyspace:
            chosen = [s for s in shards if s.name == wanted]
            if not chosen:
                raise NotFound(f"shard '{keyspace}/{wanted}' is not serving", code=1105)
            return chosen
        return shards

    def shard_for_keyspace_id(self, keyspace: str, keyspace_id: bytes) -> ShardTarget:
        return self.executor.serving.shard_for_keyspace_id(keyspace, keyspace_id, self.session.target.tablet_type)

    async def execute_on_shards(self, queries: list[tuple[ShardTarget, str]]) -> list[Result]:
        return await self.executor.scatter.execute(self.session, queries, self.commit_order)

    async def execute(self, sql: str, bind_vars: dict[str, Any], *, autocommit: bool = False,
                      commit_order: CommitOrder = CommitOrder.NORMAL) -> Result:
        return await self.executor.execute_nested(self.session, sql, bind_vars, autocommit=autocommit,
                                                  commit_order=commit_order)

    async def execute_keyspace_id(self, keyspace: str, keyspace_id: bytes, sql: str,
                                  bind_vars: dict[str, Any]) -> Result:
        target = self.shard_for_keyspace_id(keyspace, keyspace_id)
        (result,) = await self.execute_on_shards([(target, SQLTemplate(sql).render(bind_vars))])
        return result

    async def execute_lock(self, keyspace: str, shard: str, sql: str, *, acquires: bool) -> Result:
        serving = self.executor.serving
        if shard:
            target = next((s for s in serving.shards(keyspace, "primary") if s.name == shard), None)
            if target is None:
                raise NotFound(f"shard '{keyspace}/{shard}' is not serving", code=1105)
        else:
            target = serving.shard_for_keyspace_id(keyspace, LOCK_KEYSPACE_ID, "primary")
        return await self.executor.scatter.execute_lock(self.session, target, sql, acquires=acquires)

    async def next_sequence_ids(self, sequence: Table, count: int) -> int:
        return await self.executor.sequences.next_ids(self, sequence, count)
