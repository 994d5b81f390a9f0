"""What the gate remembers about one client connection between statements.

The module is compiled (scripts/build_native.py); its dataclasses resolve their fields' types when it is
imported, so the types they name are imported at run time, not only for type checking."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from shardline.errors import InvalidArgument, ShardlineError
from shardline.gate.engine.vcursor import ShardTarget
from shardline.gate.pool import PooledConnection
from shardline.mysql.resultset import count_rows
from shardline.vindexes.base import CommitOrder

LOCK_DEADLOCK: Final = 1213  # ER_LOCK_DEADLOCK: InnoDB rolled the whole transaction back


class TransactionMode(StrEnum):
    """How a transaction that touches several shards is handled (Vitess's ``transaction_mode``)."""

    SINGLE = "single"  # a second shard in one transaction is refused
    MULTI = "multi"  # shards commit one after the other; a failure part-way is reported, not undone


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """Where unqualified tables resolve: ``USE ks``, ``USE ks@replica``, ``USE ks:-80``. (Part of the fast path's
    key per statement: its ``__eq__`` and ``__hash__`` are written out so that the compiled module runs them.)"""

    keyspace: str = ""
    tablet_type: str = "primary"
    shard: str = ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return (self.keyspace == other.keyspace and self.tablet_type == other.tablet_type
                and self.shard == other.shard)

    def __hash__(self) -> int:
        return hash((self.keyspace, self.tablet_type, self.shard))

    @classmethod
    def parse(cls, text: str) -> Target:
        """Parses Vitess's target syntax ``keyspace[:shard][@tablet_type]``."""
        tablet_type = "primary"
        if "@" in text:
            text, tablet_type = text.rsplit("@", 1)
            tablet_type = tablet_type.lower()
            if tablet_type not in ("primary", "replica", "rdonly"):
                raise InvalidArgument(
                    f"invalid tablet type '{tablet_type}' in target: use primary, replica or rdonly", code=1049
                )
        keyspace, _, shard = text.partition(":")
        return cls(keyspace, tablet_type, shard)

    def __str__(self) -> str:
        text = self.keyspace + (f":{self.shard}" if self.shard else "")
        return text + (f"@{self.tablet_type}" if self.tablet_type != "primary" else "")


@dataclass
class ShardSession:
    """A connection reserved for a shard while the client's transaction is open."""

    target: ShardTarget
    connection: PooledConnection
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    deadlocked: bool = False  # MariaDB rolled the shard's part back (ER_LOCK_DEADLOCK); the rest must not commit

    def note_error(self, error: ShardlineError) -> None:
        """A statement of the transaction failed here: after a deadlock MariaDB has rolled the part back."""
        if error.code == LOCK_DEADLOCK:
            self.deadlocked = True

    def lost_reason(self) -> str:
        """Why the transaction's part on this shard is gone ('' while it is not)."""
        if self.deadlocked:
            return "a deadlock rolled it back"
        return "its connection closed" if self.connection.connection.closed else ""


@dataclass
class Session:
    """Per-connection state: target, autocommit, the open transaction and session variables."""

    connection_id: int
    username: str
    target: Target = field(default_factory=Target)
    autocommit: bool = True
    in_transaction: bool = False
    transaction_mode: TransactionMode = TransactionMode.MULTI
    shard_sessions: dict[tuple[str, str], ShardSession] = field(default_factory=dict)
    # Vitess's pre- and post-session: transactions committed before / after the main one (consistent lookups).
    pre_sessions: dict[tuple[str, str], ShardSession] = field(default_factory=dict)
    post_sessions: dict[tuple[str, str], ShardSession] = field(default_factory=dict)
    begin_statement: str = "BEGIN"  # START TRANSACTION with the client's characteristics, sent to each shard
    savepoints: list[str] = field(default_factory=list)  # replayed on shards that join the transaction later
    # Assignments of MySQL session variables (name -> ``SET`` item text), applied on every backend connection
    # the session uses.
    system_settings: dict[str, str] = field(default_factory=dict)
    settings_sql: str = ""  # the one SET statement that applies them; also how pooled connections are matched
    last_insert_id: int = 0
    row_count: int = 0  # ROW_COUNT(): the rows the last statement changed, -1 after one that returned rows
    # FOUND_ROWS(): the row count of the last SELECT (SQL_CALC_FOUND_ROWS: without its LIMIT), or the response
    # it relayed, counted when asked
    last_select: int | bytes = 0
    select_limit: int = -1  # sql_select_limit: rows a top-level SELECT without LIMIT returns at most (-1: all)
    # The backend connections running one of its statements now (on the ordinary path), for KILL QUERY; copies
    # of the session made for nested statements share it.
    running: set[PooledConnection] = field(default_factory=set)
    # Its reserved connections for named locks (GET_LOCK ...), per (keyspace, shard): Vitess's lock session.
    # Copies of the session share it too.
    lock_connections: dict[tuple[str, str], PooledConnection] = field(default_factory=dict)
    # Its reserved connections to unsharded keyspaces' primaries once it created a temporary table there, per
    # (keyspace, shard): every later statement of the session on that shard runs on it, until the session
    # ends (Vitess's reserved connections). Copies of the session share it.
    reserved_sessions: dict[tuple[str, str], ShardSession] = field(default_factory=dict)

    def found_rows(self) -> int:
        """FOUND_ROWS() of the session."""
        last = self.last_select
        return last if isinstance(last, int) else count_rows(last)

    def sessions_for(self, order: CommitOrder) -> dict[tuple[str, str], ShardSession]:
        """The shard sessions of the transaction that commits in ``order``."""
        if order is CommitOrder.PRE:
            return self.pre_sessions
        if order is CommitOrder.POST:
            return self.post_sessions
        return self.shard_sessions

    def set_setting(self, name: str, assignment: str | None) -> None:
        """Sets (or with None, drops) a session variable assignment replayed on backend connections."""
        if assignment is None:
            self.system_settings.pop(name, None)
        else:
            self.system_settings[name] = assignment
        items = sorted(self.system_settings.items())
        self.settings_sql = ("SET " + ", ".join(text for _, text in items)) if items else ""
