"""The storage contract every topo backend implements: versioned keys with compare-and-swap, prefix listing,
ordered watches and lease-based locks. Higher-level records are written on top of it once (server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from shardline.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)

Version: TypeAlias = int
"""The revision at which a key was last written; only compare versions of the same key for equality."""


class NoNode(NotFound):
    """The key does not exist."""


class NodeExists(AlreadyExists):
    """The key exists already."""


class BadVersion(FailedPrecondition):
    """The key changed since the version the caller read (compare-and-swap failed)."""


class TopoUnavailable(Unavailable):
    """The topo backend cannot be reached or failed to answer."""


class LockTimeout(DeadlineExceeded):
    """A lock stayed held by someone else until the timeout; ``holder`` tells who."""

    def __init__(self, message: str, holder: LockInfo | None) -> None:
        super().__init__(message)
        self.holder = holder

    @classmethod
    def waiting_for(cls, key: str, timeout: float, holder: LockInfo | None) -> LockTimeout:
        who = json.dumps(holder.holder, sort_keys=True) if holder else "a holder that just left"
        return cls(f"timed out after {timeout:g}s waiting for lock {key!r} held by {who}", holder)


@dataclass(frozen=True, slots=True)
class KVEntry:
    """One key with its value and version."""

    key: str
    value: bytes
    version: Version


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A committed change: the new value, or None when the key was deleted."""

    key: str
    value: bytes | None
    version: Version


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock: the lock id and the holder's description given to ``lock()``."""

    lock_id: str
    holder: dict[str, Any]


def check_key(key: str) -> None:
    """Raises InvalidArgument unless ``key`` is a usable topo key."""
    if not key or key.startswith("/") or "\x00" in key:
        raise InvalidArgument(f"invalid topo key {key!r}: must be non-empty, relative and without NUL")


def encode_holder(holder: dict[str, Any], ttl: float, timeout: float | None) -> str:
    """Validates the arguments of ``TopoConn.lock`` and returns the holder as JSON."""
    if ttl <= 0:
        raise InvalidArgument(f"lock ttl must be positive, got {ttl}")
    if timeout is not None and timeout < 0:
        raise InvalidArgument(f"lock timeout must not be negative, got {timeout}")
    try:
        return json.dumps(holder, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"lock holder must be JSON-serializable: {exc}") from None


T = TypeVar("T")
_CLOSED = object()


class Watch(Generic[T]):
    """The value(s) at the time the watch started (``current``), then an async iterator of the changes after it,
    in commit order. A backend failure ends the iteration with TopoUnavailable. ``close()`` (or leaving
    ``async with``) stops the watch from any task and frees everything it holds."""

    def __init__(self, current: T, events: AsyncIterator[WatchEvent]) -> None:
        self.current = current
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._pump = asyncio.create_task(self._run(events))

    async def _run(self, events: AsyncIterator[WatchEvent]) -> None:
        try:
            async for event in events:
                self._queue.put_nowait(event)
        except Exception as exc:  # handed to the reader, who sees it on the next __anext__
            self._queue.put_nowait(exc)
        finally:
            self._queue.put_nowait(_CLOSED)

    def __aiter__(self) -> Watch[T]:
        return self

    async def __anext__(self) -> WatchEvent:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # every later call ends too
            raise StopAsyncIteration
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        self._pump.cancel()
        await asyncio.wait([self._pump])

    async def __aenter__(self) -> Watch[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class Lock:
    """A held lock. A background task renews its lease every ttl/3; if the holder's process dies, the lock
    expires ttl seconds after the last renewal. ``is_held()`` turns false once the lease could not be renewed
    for ttl seconds or was lost."""

    def __init__(
        self,
        key: str,
        lock_id: str,
        ttl: float,
        renew: Callable[[], Awaitable[bool]],
        release: Callable[[], Awaitable[None]],
    ) -> None:
        self.key = key
        self.id = lock_id
        self.ttl = ttl
        self._renew = renew
        self._release = release
        self._renewed_at = time.monotonic()
        self._lost = False
        self._released = False
        self._keepalive = asyncio.create_task(self._keep_alive(), name=f"topo-lock-keepalive {key}")

    async def _keep_alive(self) -> None:
        interval = self.ttl / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):
                    still_ours = await self._renew()
            except (TopoUnavailable, TimeoutError):
                continue  # retried next round; is_held() turns false after ttl without renewal
            if not still_ours:
                self._lost = True
                return
            self._renewed_at = time.monotonic()

    def is_held(self) -> bool:
        return not (self._released or self._lost) and time.monotonic() - self._renewed_at < self.ttl

    async def release(self) -> None:
        """Stops the keepalive and frees the lock; releasing twice, or a lock already lost, is a no-op."""
        if self._released:
            return
        self._released = True
        self._keepalive.cancel()
        await asyncio.wait([self._keepalive])
        if not self._lost:
            await self._release()

    async def __aenter__(self) -> Lock:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()


class TopoConn(ABC):
    """A connection to one topo backend. Keys are '/'-separated strings; values are bytes."""

    def __init__(self) -> None:
        self._watches: weakref.WeakSet[Watch[Any]] = weakref.WeakSet()
        self._locks: weakref.WeakSet[Lock] = weakref.WeakSet()

    def _new_watch(self, current: T, events: AsyncIterator[WatchEvent]) -> Watch[T]:
        watch = Watch(current, events)
        self._watches.add(watch)
        return watch

    def _new_lock(
        self,
        key: str,
        lock_id: str,
        ttl: float,
        renew: Callable[[], Awaitable[bool]],
        release: Callable[[], Awaitable[None]],
    ) -> Lock:
        lock = Lock(key, lock_id, ttl, renew, release)
        self._locks.add(lock)
        return lock

    @abstractmethod
    async def create(self, key: str, value: bytes) -> Version:
        """Creates the key; NodeExists if it exists."""

    @abstractmethod
    async def get(self, key: str) -> tuple[bytes, Version]:
        """Returns the value and version; NoNode if absent."""

    @abstractmethod
    async def update(self, key: str, value: bytes, version: Version | None) -> Version:
        """Writes the key if its version is still ``version`` (BadVersion otherwise, NoNode if it vanished);
        ``version=None`` writes unconditionally, creating the key if needed."""

    @abstractmethod
    async def delete(self, key: str, version: Version | None = None) -> None:
        """Deletes the key (NoNode if absent), only at ``version`` when given (BadVersion otherwise)."""

    @abstractmethod
    async def list(self, prefix: str) -> list[KVEntry]:
        """Every key starting with ``prefix``, sorted by key."""

    @abstractmethod
    async def watch(self, key: str) -> Watch[KVEntry | None]:
        """Watches one key; ``current`` is its entry now (None if absent)."""

    @abstractmethod
    async def watch_prefix(self, prefix: str) -> Watch[list[KVEntry]]:
        """Watches every key under ``prefix``; ``current`` lists them now."""

    @abstractmethod
    async def lock(self, key: str, *, holder: dict[str, Any], ttl: float, timeout: float | None) -> Lock:
        """Takes the lock named ``key``, waiting up to ``timeout`` seconds (None: forever) for the current
        holder to release it or expire; LockTimeout then names that holder."""

    @abstractmethod
    async def release_lock(self, key: str, lock_id: str) -> None:
        """Frees the lock if ``lock_id`` still holds it (for locks taken by another process); NoNode otherwise."""

    @abstractmethod
    async def get_lock(self, key: str) -> LockInfo | None:
        """Who holds the lock now, or None."""

    async def close(self) -> None:
        """Ends this connection's watches, releases the locks it holds, then frees the backend's resources."""
        for watch in list(self._watches):
            await watch.close()
        for lock in list(self._locks):
            with contextlib.suppress(TopoUnavailable):
                await lock.release()
        await self._close()

    @abstractmethod
    async def _close(self) -> None:
        """Frees the backend's own resources (connections, threads)."""
