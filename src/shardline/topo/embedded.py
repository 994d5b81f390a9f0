"""The default topo backend: one SQLite file shared by every process of a machine, no server.

Every change bumps a global revision and is appended to a change log; a key's version is the revision of its
last write. Watches read the change log (one poller per connection) whenever the file is written, as inotify
tells (``FileWrites``), and so see every change in commit order; without inotify they poll it every ~30 ms.
Locks are rows whose lease expiry the holder's keepalive pushes forward. All SQLite calls run on one dedicated
thread per connection, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from shardline.topo.contract import (
    BadVersion,
    KVEntry,
    Lock,
    LockInfo,
    LockTimeout,
    NodeExists,
    NoNode,
    TopoConn,
    TopoUnavailable,
    Version,
    Watch,
    WatchEvent,
    check_key,
    encode_holder,
)
from shardline.topo.file_writes import FileWrites

POLL_INTERVAL = 0.03  # between reads of the change log where inotify is unavailable
WRITE_WAIT_LIMIT = 1.0  # the longest wait for a write inotify reports, should one event be missed
LOCK_RETRY_INTERVAL = 0.05
BUSY_TIMEOUT_S = 10.0
KEEP_CHANGES = 10_000  # change-log entries kept for watchers; one that falls further behind must re-watch
COMPACT_EVERY = 1_000
POLL_BATCH = 1_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (rev INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB);
CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0), rev INTEGER NOT NULL,
                                 compacted INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, id TEXT NOT NULL, holder TEXT NOT NULL,
                                  expires REAL NOT NULL) WITHOUT ROWID;
"""

R = TypeVar("R")


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """SQL bounds [low, high) of the keys starting with ``prefix`` (high is a sentinel above every key)."""
    if not prefix:
        return "", "\U0010ffff"
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


@contextlib.contextmanager
def _write(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the database's write lock up front."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextlib.contextmanager
def _snapshot(db: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: every query inside sees the same committed state."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def _record_change(db: sqlite3.Connection, key: str, value: bytes | None) -> Version:
    rev = db.execute("UPDATE meta SET rev = rev + 1 RETURNING rev").fetchone()[0]
    db.execute("INSERT INTO changes VALUES (?, ?, ?)", (rev, key, value))
    if rev % COMPACT_EVERY == 0:
        db.execute("DELETE FROM changes WHERE rev <= ?", (rev - KEEP_CHANGES,))
        db.execute("UPDATE meta SET compacted = max(compacted, ?)", (rev - KEEP_CHANGES,))
    return rev


def _version_of(db: sqlite3.Connection, key: str) -> Version | None:
    row = db.execute("SELECT version FROM kv WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _check_version(key: str, current: Version | None, expected: Version | None) -> None:
    if current is None:
        raise NoNode(f"topo key {key!r} does not exist")
    if expected is not None and current != expected:
        raise BadVersion(f"topo key {key!r} changed: version {current}, expected {expected}")


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    with _write(db):
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
    return db


def _create(db: sqlite3.Connection, key: str, value: bytes) -> Version:
    with _write(db):
        if _version_of(db, key) is not None:
            raise NodeExists(f"topo key {key!r} already exists")
        rev = _record_change(db, key, value)
        db.execute("INSERT INTO kv VALUES (?, ?, ?)", (key, value, rev))
    return rev


def _get(db: sqlite3.Connection, key: str) -> tuple[bytes, Version]:
    row = db.execute("SELECT value, version FROM kv WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise NoNode(f"topo key {key!r} does not exist")
    return row[0], row[1]


def _update(db: sqlite3.Connection, key: str, value: bytes, version: Version | None) -> Version:
    with _write(db):
        if version is not None:
            _check_version(key, _version_of(db, key), version)
        rev = _record_change(db, key, value)
        db.execute(
            "INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "version = excluded.version",
            (key, value, rev),
        )
    return rev


def _delete(db: sqlite3.Connection, key: str, version: Version | None) -> None:
    with _write(db):
        _check_version(key, _version_of(db, key), version)
        _record_change(db, key, None)
        db.execute("DELETE FROM kv WHERE key = ?", (key,))


def _list(db: sqlite3.Connection, prefix: str) -> list[KVEntry]:
    rows = db.execute(
        "SELECT key, value, version FROM kv WHERE key >= ? AND key < ? ORDER BY key", _prefix_bounds(prefix)
    )
    return [KVEntry(*row) for row in rows]


def _head(db: sqlite3.Connection) -> Version:
    return db.execute("SELECT rev FROM meta").fetchone()[0]


def _snapshot_key(db: sqlite3.Connection, key: str) -> tuple[KVEntry | None, Version]:
    with _snapshot(db):
        row = db.execute("SELECT key, value, version FROM kv WHERE key = ?", (key,)).fetchone()
        return (KVEntry(*row) if row else None), _head(db)


def _snapshot_prefix(db: sqlite3.Connection, prefix: str) -> tuple[list[KVEntry], Version]:
    with _snapshot(db):
        return _list(db, prefix), _head(db)


def _changes_since(
    db: sqlite3.Connection, rev: Version
) -> tuple[list[tuple[int, str, bytes | None]], Version]:
    with _snapshot(db):
        compacted = db.execute("SELECT compacted FROM meta").fetchone()[0]
        rows = db.execute(
            "SELECT rev, key, value FROM changes WHERE rev > ? ORDER BY rev LIMIT ?", (rev, POLL_BATCH)
        ).fetchall()
    return rows, compacted


def _try_lock(db: sqlite3.Connection, key: str, lock_id: str, holder: str, ttl: float) -> LockInfo | None:
    """Takes the lock if it is free or expired; otherwise returns who holds it."""
    now = time.time()
    with _write(db):
        db.execute("DELETE FROM locks WHERE key = ? AND expires <= ?", (key, now))
        row = db.execute("SELECT id, holder FROM locks WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return LockInfo(row[0], json.loads(row[1]))
        db.execute("INSERT INTO locks VALUES (?, ?, ?, ?)", (key, lock_id, holder, now + ttl))
    return None


def _renew_lock(db: sqlite3.Connection, key: str, lock_id: str, ttl: float) -> bool:
    now = time.time()
    cur = db.execute(
        "UPDATE locks SET expires = ? WHERE key = ? AND id = ? AND expires > ?",
        (now + ttl, key, lock_id, now),
    )
    return cur.rowcount == 1


def _delete_lock(db: sqlite3.Connection, key: str, lock_id: str) -> bool:
    cur = db.execute(
        "DELETE FROM locks WHERE key = ? AND id = ? AND expires > ?", (key, lock_id, time.time())
    )
    return cur.rowcount == 1


def _get_lock(db: sqlite3.Connection, key: str) -> LockInfo | None:
    row = db.execute(
        "SELECT id, holder FROM locks WHERE key = ? AND expires > ?", (key, time.time())
    ).fetchone()
    return LockInfo(row[0], json.loads(row[1])) if row else None


class _Subscriber:
    """One watch's position in the change log and the queue its events go to."""

    def __init__(self, matches: Callable[[str], bool], rev: Version) -> None:
        self.matches = matches
        self.rev = rev
        self.queue: asyncio.Queue[WatchEvent | Exception] = asyncio.Queue()


class EmbeddedTopo(TopoConn):
    """The SQLite backend. Open it with ``await EmbeddedTopo.open(path)``."""

    def __init__(self, path: str, executor: ThreadPoolExecutor, db: sqlite3.Connection) -> None:
        super().__init__()
        self.path = path
        self._executor = executor
        self._db = db
        self._subscribers: set[_Subscriber] = set()
        self._poller: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: str) -> EmbeddedTopo:
        """Opens (creating if needed) the topo database file at ``path``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="topo-sqlite")
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except (OSError, sqlite3.Error) as exc:
            executor.shutdown(wait=False)
            raise TopoUnavailable(f"cannot open embedded topo {path}: {exc}") from None
        return cls(path, executor, db)

    async def _call(self, fn: Callable[..., R], *args: Any) -> R:
        """Runs ``fn(db, *args)`` on the SQLite thread."""
        if self._closed:
            raise TopoUnavailable(f"embedded topo {self.path} is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, functools.partial(fn, self._db, *args)
            )
        except sqlite3.Error as exc:
            raise TopoUnavailable(f"embedded topo {self.path}: {exc}") from None

    async def create(self, key: str, value: bytes) -> Version:
        check_key(key)
        return await self._call(_create, key, bytes(value))

    async def get(self, key: str) -> tuple[bytes, Version]:
        check_key(key)
        return await self._call(_get, key)

    async def update(self, key: str, value: bytes, version: Version | None) -> Version:
        check_key(key)
        return await self._call(_update, key, bytes(value), version)

    async def delete(self, key: str, version: Version | None = None) -> None:
        check_key(key)
        await self._call(_delete, key, version)

    async def list(self, prefix: str) -> list[KVEntry]:
        return await self._call(_list, prefix)

    async def watch(self, key: str) -> Watch[KVEntry | None]:
        check_key(key)
        current, rev = await self._call(_snapshot_key, key)
        return self._new_watch(current, self._events(_Subscriber(key.__eq__, rev)))

    async def watch_prefix(self, prefix: str) -> Watch[list[KVEntry]]:
        current, rev = await self._call(_snapshot_prefix, prefix)
        return self._new_watch(current, self._events(_Subscriber(lambda key: key.startswith(prefix), rev)))

    async def _events(self, sub: _Subscriber) -> AsyncIterator[WatchEvent]:
        self._subscribers.add(sub)
        if self._poller is None or self._poller.done() or self._poller.cancelling():
            self._poller = asyncio.create_task(self._poll(), name=f"topo-watch-poller {self.path}")
        try:
            while True:
                item = await sub.queue.get()
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._subscribers.discard(sub)
            if not self._subscribers and self._poller is not None:
                self._poller.cancel()  # it may be waiting for a write; the next watch starts another

    async def _poll(self) -> None:
        """Reads the change log past the slowest watcher and hands each watcher the changes it wants, again
        after each write to the file."""
        writes = FileWrites.open(Path(self.path))
        try:
            await self._poll_changes(writes)
        finally:
            if writes is not None:
                writes.close()

    async def _poll_changes(self, writes: FileWrites | None) -> None:
        woken = False  # by a write
        while self._subscribers:
            if writes is not None:
                writes.clear()
            low = min(sub.rev for sub in self._subscribers)
            try:
                changes, compacted = await self._call(_changes_since, low)
            except TopoUnavailable as exc:
                for sub in self._subscribers:
                    sub.queue.put_nowait(exc)
                self._subscribers.clear()
                return
            for sub in list(self._subscribers):
                if sub.rev < low:
                    continue  # subscribed during the read; served from its own position next round
                if sub.rev < compacted:
                    sub.queue.put_nowait(
                        TopoUnavailable(f"watch fell behind the change log of {self.path}; watch again")
                    )
                    self._subscribers.discard(sub)
                    continue
                for rev, key, value in changes:
                    if rev > sub.rev and sub.matches(key):
                        sub.queue.put_nowait(WatchEvent(key, value, rev))
                if changes:
                    sub.rev = max(sub.rev, changes[-1][0])
            if len(changes) >= POLL_BATCH:
                continue
            if writes is None:
                await asyncio.sleep(POLL_INTERVAL)
            else:
                # A read that a write woke is followed by another within POLL_INTERVAL: the write may be a
                # commit not yet visible then (its WAL frames are written, and reported, before the WAL index
                # that makes them visible is updated).
                woken = await writes.wait(POLL_INTERVAL if woken else WRITE_WAIT_LIMIT)

    async def lock(self, key: str, *, holder: dict[str, Any], ttl: float, timeout: float | None) -> Lock:
        check_key(key)
        holder_json = encode_holder(holder, ttl, timeout)
        lock_id = uuid.uuid4().hex
        deadline = None if timeout is None else time.monotonic() + timeout
        while (current := await self._call(_try_lock, key, lock_id, holder_json, ttl)) is not None:
            if deadline is not None and time.monotonic() >= deadline:
                raise LockTimeout.waiting_for(key, timeout or 0.0, current)
            await asyncio.sleep(LOCK_RETRY_INTERVAL)

        async def renew() -> bool:
            return await self._call(_renew_lock, key, lock_id, ttl)

        async def release() -> None:
            await self._call(_delete_lock, key, lock_id)

        return self._new_lock(key, lock_id, ttl, renew, release)

    async def release_lock(self, key: str, lock_id: str) -> None:
        check_key(key)
        if not await self._call(_delete_lock, key, lock_id):
            raise NoNode(f"lock {key!r} is not held by {lock_id!r}")

    async def get_lock(self, key: str) -> LockInfo | None:
        check_key(key)
        return await self._call(_get_lock, key)

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.wait([self._poller])
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)
