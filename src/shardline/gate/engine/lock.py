"""Named locks: ``SELECT GET_LOCK('name', 10)``, ``RELEASE_LOCK``, ``RELEASE_ALL_LOCKS``, ``IS_FREE_LOCK``,
``IS_USED_LOCK``.

MariaDB ties a named lock to the connection that took it, so the gate runs these functions on one connection
the session reserves (Vitess's lock session, ``ScatterConn.execute_lock``), on the primary of one shard per
keyspace: the one holding keyspace id 0x00 (the first), as Vitess does, so that every gate and session meets on
the same MariaDB for a keyspace's locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from shardline.gate.engine.base import BindVars, Primitive

if TYPE_CHECKING:
    from shardline.gate.engine.sqltemplate import SQLTemplate
    from shardline.gate.engine.vcursor import VCursor
    from shardline.sqltypes import Result

LOCK_KEYSPACE_ID: Final = b"\x00"


class Lock(Primitive):
    """A SELECT of named-lock functions only, on ``keyspace``'s lock shard (or the session's ``shard``
    target). ``acquires``: it calls GET_LOCK, so it reserves the lock connection if the session has none."""

    def __init__(self, keyspace: str, query: SQLTemplate, *, acquires: bool, shard: str = "") -> None:
        self.keyspace = keyspace
        self.query = query
        self.acquires = acquires
        self.shard = shard

    async def execute(self, vcursor: VCursor, bind_vars: BindVars) -> Result:
        return await vcursor.execute_lock(self.keyspace, self.shard, self.query.render(bind_vars),
                                          acquires=self.acquires)

    def describe(self) -> dict[str, Any]:
        return {
            "OperatorType": "Lock",
            "Keyspace": self.keyspace,
            "TargetDestination": f"Shard({self.shard})" if self.shard else f"KeyspaceID({LOCK_KEYSPACE_ID.hex()})",
            "Query": self.query.text,
        }
