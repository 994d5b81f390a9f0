"""Runs SQL on shards for a session: pooled connections outside transactions, reserved ones inside, and the
commit/rollback of transactions that span shards (Vitess's ScatterConn and TxConn)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from shardline.errors import FailedPrecondition, ShardlineError, Unavailable, Unsupported
from shardline.gate.session import LOCK_DEADLOCK, ShardSession, TransactionMode
from shardline.mysql.resultset import concat_result_sets
from shardline.vindexes.base import CommitOrder

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import ShardTarget
    from shardline.gate.metrics import GateMetrics
    from shardline.gate.pool import PooledConnection
    from shardline.gate.session import Session
    from shardline.gate.tablet_gateway import TabletGateway
    from shardline.mysql.client import PreparedStatement
    from shardline.sqltypes import Result

T = TypeVar("T")
MAX_PREPARED_PER_CONNECTION: Final = 256
_COMMIT_SEQUENCE: Final = (CommitOrder.PRE, CommitOrder.NORMAL, CommitOrder.POST)
_SERVER_LOST: Final = 2013  # CR_SERVER_LOST
_LOCKS_LOST: Final = 1105  # ER_UNKNOWN_ERROR


class ScatterConn:
    """The session-aware way to reach shards. ``order`` picks which of the session's transactions a
    statement joins (the main one, or the pre/post ones consistent lookups use)."""

    def __init__(self, gateway: TabletGateway, metrics: GateMetrics) -> None:
        self.gateway = gateway
        self.metrics = metrics

    async def execute(self, session: Session, queries: list[tuple[ShardTarget, str]],
                      order: CommitOrder = CommitOrder.NORMAL) -> list[Result]:
        """Runs each query on its shard, concurrently; results come back in the order of ``queries``."""
        if len(queries) == 1:
            target, sql = queries[0]
            return [await self.run(session, target, _query_op(sql), order)]
        self._check_single(session, [target for target, _ in queries], order)
        return await _all([self.run(session, target, _query_op(sql), order) for target, sql in queries])

    async def run_on_shards(self, session: Session, targets: list[ShardTarget],
                            call: Callable[[ShardTarget], Awaitable[T]]) -> list[T]:
        """``call`` for each target, concurrently (each reaching its shard through ``run``); results in order."""
        self._check_single(session, targets, CommitOrder.NORMAL)
        return await _all([call(target) for target in targets])

    async def execute_raw(self, session: Session, target: ShardTarget, sql: str) -> bytes:
        """Runs one query and returns the shard's response packets untouched, for relaying."""
        return await self.run(session, target, lambda c: c.connection.query_raw(sql))

    async def execute_prepared_raw(self, session: Session, target: ShardTarget, sql: str,
                                   params: list[Any]) -> bytes:
        """Runs a statement as a prepared statement on the shard (prepared once per backend connection) and
        returns the binary-protocol response untouched."""
        async def op(conn: PooledConnection) -> bytes:
            return await conn.connection.execute_raw(await _prepared(conn, sql), params)
        return await self.run(session, target, op)

    async def prepare(self, session: Session, target: ShardTarget, sql: str) -> PreparedStatement:
        """Prepares a statement on the shard (kept for later executions) and returns its metadata."""
        return await self.run(session, target, lambda conn: _prepared(conn, sql))

    async def run(self, session: Session, target: ShardTarget, op: Callable[[PooledConnection], Awaitable[T]],
                  order: CommitOrder = CommitOrder.NORMAL) -> T:
        """Runs ``op`` on the connection the session uses for the shard: its transaction's, or a pooled one."""
        tablet_type = session.target.tablet_type
        start = time.perf_counter()
        try:
            reserved = (session.reserved_sessions.get((target.keyspace, target.name))
                        if session.reserved_sessions and tablet_type == "primary" else None)
            if reserved is not None and not session.in_transaction and (
                    order is CommitOrder.NORMAL and not reserved.connection.connection.in_transaction):
                return await self._on_reserved(session, reserved, op)
            if session.in_transaction and tablet_type == "primary":
                shard_session = await self._shard_session(session, target, order)
                async with shard_session.lock:  # one statement at a time on a transaction's connection
                    if shard_session.deadlocked:  # a statement on the fast path found it; after_failure ends it
                        raise FailedPrecondition("Deadlock found earlier in this transaction", code=LOCK_DEADLOCK,
                                                 sqlstate="40001")
                    try:
                        return await _tracked(session, shard_session.connection, op)
                    except ShardlineError as exc:
                        shard_session.note_error(exc)
                        raise
            return await self.gateway.execute(target, tablet_type, session.settings_sql,
                                              lambda conn: _tracked(session, conn, op))
        finally:
            self.metrics.observe_shard_query(target.keyspace, target.name, tablet_type, time.perf_counter() - start)

    async def execute_lock(self, session: Session, target: ShardTarget, sql: str, *, acquires: bool) -> Result:
        """Runs a statement of named-lock functions on the session's lock connection to the shard's primary,
        reserved by the first one that ``acquires`` (GET_LOCK), so that a lock, its release and the session's
        end meet on one MariaDB connection. Before that, nothing is held: a pooled connection answers. A lock
        connection that closed, or whose tablet is no longer the primary, has lost the session's locks: the
        statement fails with an error that says so, and the next one starts afresh."""
        key = (target.keyspace, target.name)
        conn = session.lock_connections.get(key)
        if conn is not None and (conn.connection.closed or not self.gateway.is_primary(target, conn)):
            del session.lock_connections[key]
            conn.release()
            raise Unavailable(f"the named locks of this session on {target.keyspace}/{target.name} were lost: "
                              f"{'its lock connection closed' if conn.connection.closed else 'the primary changed'}"
                              f"; they are no longer held", code=_LOCKS_LOST, sqlstate="HY000")
        if conn is None:
            if not acquires:
                return await self.gateway.execute(target, "primary", session.settings_sql,
                                                  lambda c: _tracked(session, c, _query_op(sql)))
            conn = session.lock_connections[key] = await self.gateway.reserve(target, session.settings_sql)
        else:
            await _add_settings(session, conn)
        return await _tracked(session, conn, _query_op(sql))

    async def reserve(self, session: Session, target: ShardTarget) -> None:
        """Gives the session a reserved connection to the shard's primary (it creates a temporary table there),
        unless it has one. The executor refuses this while the session's transaction holds a pooled connection
        to the shard; a transaction opened later runs on the reserved one."""
        key = (target.keyspace, target.name)
        if key not in session.reserved_sessions:
            conn = await self.gateway.reserve(target, session.settings_sql)
            session.reserved_sessions[key] = ShardSession(target, conn)

    async def _on_reserved(self, session: Session, reserved: ShardSession,
                           op: Callable[[PooledConnection], Awaitable[T]]) -> T:
        _check_reserved(session, reserved)
        async with reserved.lock:
            await _add_settings(session, reserved.connection)
            return await _tracked(session, reserved.connection, op)

    @staticmethod
    def end_session(session: Session) -> None:
        """The client's session ended (or was reset): its reserved and lock connections close, which drops its
        temporary tables and releases its named locks. Its transactions are rolled back before."""
        connections = [s.connection for s in session.reserved_sessions.values()]
        connections += session.lock_connections.values()
        session.reserved_sessions.clear()
        session.lock_connections.clear()
        for conn in connections:
            conn.release()

    async def _shard_session(self, session: Session, target: ShardTarget, order: CommitOrder) -> ShardSession:
        key = (target.keyspace, target.name)
        sessions = session.sessions_for(order)
        existing = sessions.get(key)
        if existing is not None:
            return existing
        if order is CommitOrder.NORMAL and sessions and session.transaction_mode is TransactionMode.SINGLE:
            raise _multi_db(list(sessions), [target])
        reserved = session.reserved_sessions.get(key) if order is CommitOrder.NORMAL else None
        if reserved is not None:  # the transaction opens on the session's reserved connection
            async with reserved.lock:
                opened = sessions.get(key)
                if opened is not None:  # a concurrent statement of the session opened it meanwhile
                    return opened
                _check_reserved(session, reserved)
                await self._begin(session, reserved.connection, order)
                shard_session = sessions[key] = ShardSession(target, reserved.connection)
                return shard_session
        conn = await self.gateway.connection(target, "primary", session.settings_sql)
        try:
            await self._begin(session, conn, order)
        except BaseException:
            conn.release()
            raise
        opened = sessions.get(key)
        if opened is not None:  # a concurrent statement of the session (a UNION's other branch) opened it meanwhile
            conn.release()  # its own BEGIN is open: the pool closes it
            return opened
        shard_session = sessions[key] = ShardSession(target, conn)
        return shard_session

    @staticmethod
    async def _begin(session: Session, conn: PooledConnection, order: CommitOrder) -> None:
        """Opens the transaction of ``order`` on the connection (replaying the main one's savepoints)."""
        await conn.connection.query(session.begin_statement if order is CommitOrder.NORMAL else "BEGIN")
        if order is CommitOrder.NORMAL:
            for savepoint in session.savepoints:
                await conn.connection.query(savepoint)

    @staticmethod
    def _check_single(session: Session, targets: list[ShardTarget], order: CommitOrder) -> None:
        """Refuses, before any of them runs, statements that would take a single-mode transaction past one
        shard (run concurrently, none of them would see the others' shard sessions yet)."""
        if (order is not CommitOrder.NORMAL or not session.in_transaction
                or session.transaction_mode is not TransactionMode.SINGLE or session.target.tablet_type != "primary"):
            return
        open_keys = list(session.shard_sessions)
        if len(set(open_keys) | {(t.keyspace, t.name) for t in targets}) > 1:
            raise _multi_db(open_keys, targets)

    async def commit(self, session: Session) -> None:
        """Commits the session's transactions, pre, main and post, each shard after the other.

        A failure part-way leaves the shards committed so far committed: the error names them, and the rest
        are rolled back. A transaction that already lost its part on a shard commits nowhere.
        """
        lost = _lost_shards(session)
        if lost:  # a shard's part of the transaction is gone: committing the others would commit a part of it
            reason = _rolled_back(lost)
            deadlock = any(s.deadlocked for s in lost)
            await self.rollback(session)
            raise Unavailable(f"COMMIT failed: {reason}", code=LOCK_DEADLOCK if deadlock else _SERVER_LOST,
                              sqlstate="40001" if deadlock else "HY000")
        committed: list[str] = []
        try:
            for order in _COMMIT_SEQUENCE:
                for shard_session in list(session.sessions_for(order).values()):
                    await shard_session.connection.connection.query("COMMIT")
                    committed.append(f"{shard_session.target.keyspace}/{shard_session.target.name}")
        except ShardlineError as exc:
            await self.rollback(session)
            if committed:
                raise partial_commit_error(committed, exc) from exc
            raise
        finally:
            self.release_all(session)

    async def rollback(self, session: Session) -> None:
        """Rolls back every shard of the session's transactions; a shard that fails to answer is dropped."""
        shard_sessions = [s for order in _COMMIT_SEQUENCE for s in session.sessions_for(order).values()]
        await asyncio.gather(*[s.connection.connection.query("ROLLBACK") for s in shard_sessions],
                             return_exceptions=True)
        self.release_all(session)

    async def after_failure(self, session: Session, exc: ShardlineError) -> ShardlineError:
        """The error to give for a statement that failed. One that cost the session's transaction its part on a
        shard (MariaDB closed the connection: a restart, KILL, a packet above its max_allowed_packet; or a
        deadlock rolled the part back) leaves a transaction that cannot go on anywhere: it is rolled back on
        every shard, and the error says so. Called once the statement's work on every shard has ended."""
        if not session.in_transaction:
            return exc
        lost = _lost_shards(session)
        if not lost:
            return exc
        reason = _rolled_back(lost)
        await self.rollback(session)
        return ShardlineError(f"{exc} ({reason})", code=exc.code, sqlstate=exc.sqlstate)

    async def run_on_open_shards(self, session: Session, sql: str) -> None:
        """Runs a statement (a SAVEPOINT) on every shard already in the main transaction."""
        for shard_session in session.shard_sessions.values():
            await shard_session.connection.connection.query(sql)

    @staticmethod
    async def apply_settings(session: Session) -> None:
        """Puts the session's settings on the connections of its open transactions, as MySQL applies a SET at
        once (pooled connections get them when next lent). Only for settings that add to or change what those
        connections carry: a dropped one needs a reset, which waits for the pool."""
        if not session.settings_sql:
            return
        for order in _COMMIT_SEQUENCE:
            for shard_session in session.sessions_for(order).values():
                pooled = shard_session.connection
                if pooled.settings_sql != session.settings_sql:
                    await pooled.connection.query(session.settings_sql)
                    pooled.settings_sql = session.settings_sql

    @staticmethod
    def release_all(session: Session) -> None:
        """Ends the session's transactions at the gate: their connections go back to the pools."""
        for order in _COMMIT_SEQUENCE:
            sessions = session.sessions_for(order)
            for shard_session in sessions.values():
                if shard_session.connection.reserved:  # the session's reserved connection: it stays
                    continue
                shard_session.connection.release()
            sessions.clear()
        session.savepoints.clear()
        session.in_transaction = False


async def _add_settings(session: Session, conn: PooledConnection) -> None:
    """Puts the session's settings on a connection it holds for itself (reserved, lock): a setting the session
    dropped stays there, as a reset would drop the connection's temporary tables and locks too."""
    if session.settings_sql and conn.settings_sql != session.settings_sql:
        await conn.connection.query(session.settings_sql)
        conn.settings_sql = session.settings_sql


def _check_reserved(session: Session, reserved: ShardSession) -> None:
    """Raises, once, if the reserved connection closed (a restart, KILL): the session's temporary tables there
    are gone, and its later statements on the shard take pooled connections again."""
    if reserved.connection.connection.closed:
        target = reserved.target
        session.reserved_sessions.pop((target.keyspace, target.name), None)
        raise Unavailable(f"the reserved connection of this session to {target.keyspace}/{target.name} closed: "
                          f"its temporary tables there are gone", code=_SERVER_LOST, sqlstate="HY000")


def _lost_shards(session: Session) -> list[ShardSession]:
    """The shard sessions of the session's transactions whose part of the transaction is gone."""
    return [s for order in _COMMIT_SEQUENCE for s in session.sessions_for(order).values() if s.lost_reason()]


def _rolled_back(lost: list[ShardSession]) -> str:
    parts = ", ".join(f"{s.target.keyspace}/{s.target.name} ({s.lost_reason()})" for s in lost)
    return f"the transaction lost its part on {parts} and was rolled back on every shard"


def partial_commit_error(committed: list[str], exc: ShardlineError) -> ShardlineError:
    """A multi-shard COMMIT that failed after committing on the ``committed`` shards (``keyspace/shard``)."""
    return FailedPrecondition(f"multi-shard commit failed part-way: committed on {', '.join(committed)}; "
                              f"rolled back the rest: {exc}", code=exc.code)


def concatenated(responses: list[bytes]) -> bytes:
    """The shards' responses to one relayed statement as the client's one response (``concat_result_sets``)."""
    raw = concat_result_sets(responses)
    if raw is None:
        raise Unsupported("a query that runs on several shards must return one result set each, with the same "
                          "columns (SELECT ... INTO is supported only on one shard)")
    return raw


async def _all(calls: list[Awaitable[T]]) -> list[T]:
    """Awaits the calls concurrently; the first failure is raised once all of them have ended."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
    return results  # type: ignore[return-value]


def _multi_db(open_keys: list[tuple[str, str]], targets: list[ShardTarget]) -> FailedPrecondition:
    open_shards = ", ".join(f"{ks}/{shard}" for ks, shard in open_keys) or "no shard yet"
    needed = ", ".join(f"{t.keyspace}/{t.name}" for t in targets if (t.keyspace, t.name) not in open_keys)
    return FailedPrecondition(
        f"multi-db transaction attempted: transaction_mode is single, the transaction is open on "
        f"{open_shards} and this statement needs {needed}", code=1105)


async def _prepared(conn: PooledConnection, sql: str) -> PreparedStatement:
    """The connection's prepared statement for ``sql``, prepared on first use (oldest dropped past the cap)."""
    statement = conn.prepared.get(sql)
    if statement is None:
        if len(conn.prepared) >= MAX_PREPARED_PER_CONNECTION:
            oldest = next(iter(conn.prepared))
            await conn.connection.close_statement(conn.prepared.pop(oldest))
        statement = conn.prepared[sql] = await conn.connection.prepare(sql)
    return statement


async def _tracked(session: Session, conn: PooledConnection, op: Callable[[PooledConnection], Awaitable[T]]) -> T:
    """Runs ``op`` with ``conn`` in the session's running connections (what KILL QUERY interrupts)."""
    session.running.add(conn)
    try:
        return await op(conn)
    finally:
        session.running.discard(conn)


def _query_op(sql: str) -> Callable[[PooledConnection], Awaitable[Result]]:
    return lambda conn: conn.connection.query(sql)

