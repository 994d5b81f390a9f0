"""A tablet's health as it streams to ctld, the gate and the failover agent (one JSON object per line), and the
broadcast that hands the latest report to every subscriber."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from typing import Any

from shardline.errors import InvalidArgument

UNHEALTHY_LAG_SECONDS = 7200
"""A replica further behind than this stops serving."""
RESEND_SECONDS = 3.0
"""A health stream repeats the current report after this long without a change."""


@dataclass(frozen=True)
class Health:
    """One health report: whom it is about, whether it serves, and why not."""

    alias: str
    keyspace: str
    shard: str
    tablet_type: str
    serving: bool
    replication_lag_seconds: int | None
    """Seconds behind the primary; None on a primary or when replication is not running."""
    primary_term_start_time: float | None
    """Unix time at which this tablet became primary; None unless it is the primary."""
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Health:
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidArgument(f"malformed health report: {exc}") from None


class HealthBroadcast:
    """The latest health report (None until the first); subscribers wait for the next change or a timeout."""

    def __init__(self) -> None:
        self.current: Health | None = None
        self.closed = False
        self._changed = asyncio.Event()

    def close(self) -> None:
        """Ends the broadcast: waiting subscribers wake up and see ``closed``."""
        self.closed = True
        self._changed.set()

    def publish(self, health: Health) -> None:
        """Makes ``health`` current and wakes the waiting subscribers if it differs from the last report."""
        if health == self.current:
            return
        self.current = health
        self._changed.set()
        self._changed = asyncio.Event()

    async def next(self, timeout: float) -> Health | None:
        """The report after the next change, or the current one after ``timeout`` seconds without change."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.current
