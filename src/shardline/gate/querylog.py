"""The query log: recent queries in a ring buffer, streamed to any number of HTTP subscribers."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class QueryLogEntry:
    """What the gate did with one statement."""

    sql: str
    plan: str
    keyspace: str
    shards: list[str] = field(default_factory=list)
    start: float = field(default_factory=time.time)
    seconds: float = 0.0
    rows: int = 0
    error: str = ""
    username: str = ""
    connection_id: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class QueryLog:
    """Keeps the last ``capacity`` entries; each subscriber gets new entries through its own bounded queue."""

    def __init__(self, capacity: int = 1000, subscriber_queue: int = 1000) -> None:
        self.recent: deque[QueryLogEntry] = deque(maxlen=capacity)
        self._subscribers: set[asyncio.Queue[QueryLogEntry]] = set()
        self._queue_size = subscriber_queue

    def add(self, entry: QueryLogEntry) -> None:
        self.recent.append(entry)
        for queue in self._subscribers:
            if not queue.full():  # a slow reader misses entries rather than slowing queries down
                queue.put_nowait(entry)

    def subscribe(self) -> asyncio.Queue[QueryLogEntry]:
        queue: asyncio.Queue[QueryLogEntry] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[QueryLogEntry]) -> None:
        self._subscribers.discard(queue)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)
