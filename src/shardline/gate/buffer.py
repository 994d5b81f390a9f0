"""Buffering of primary requests during a failover (Vitess's vtgate buffer).

While a shard has no serving primary, because a reparent demoted it or because it stopped answering, the
gate holds that shard's primary requests instead of failing them. A buffering episode starts with the first
request that finds no primary (or meets a failover error, see :func:`is_failover_error`); it ends when a primary
is serving again, and the held requests go there. An episode lasts at most ``window`` seconds: then the held
requests, and every later one until a primary serves, fail with a retryable error. At most ``max_requests``
requests wait at once, over all shards; more fail at once.

A primary that answered with a failover error is not used again until its health stream reports after the
error: its old "serving" report is stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shardline.errors import ShardlineError, Unavailable

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import ShardTarget
    from shardline.gate.healthcheck import TabletView

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 10.0
DEFAULT_MAX_REQUESTS = 1000

_FAILOVER_CODES = frozenset({
    1290,  # ER_OPTION_PREVENTS_STATEMENT: the primary was made read-only (it is being demoted)
    2002, 2003,  # cannot connect: nothing was sent
    2006,  # the connection was found dead before the statement was sent
})


def is_failover_error(exc: ShardlineError) -> bool:
    """True for errors that mean the primary stopped being one *and* that the statement did not run, so it
    may be sent again to the next primary."""
    return exc.code in _FAILOVER_CODES


@dataclass
class _Episode:
    """A shard's buffering: since when, and the primary that failed (alias, term start, when)."""

    started: float
    failed: tuple[str, float | None, float] | None = None


class PrimaryBuffer:
    """Holds primary requests of shards that have no serving primary; :meth:`notify` on every health change."""

    def __init__(self, *, window: float = DEFAULT_WINDOW, max_requests: int = DEFAULT_MAX_REQUESTS) -> None:
        self.window = window
        self.max_requests = max_requests
        self.waiting = 0
        self._episodes: dict[tuple[str, str], _Episode] = {}
        self._changed = asyncio.Event()

    @property
    def buffering(self) -> bool:
        """True while some shard is buffering (its primary requests wait or fail)."""
        return bool(self._episodes)

    def notify(self) -> None:
        """Tablet health changed: held requests look for a primary again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def primary_failed(self, target: ShardTarget, view: TabletView) -> None:
        """The primary ``view`` answered a request with a failover error: skip it until it reports again."""
        episode = self._episode(target)
        episode.failed = (str(view.tablet.alias), view.primary_term_start_time, time.monotonic())

    async def primary(self, target: ShardTarget, pick: Callable[[], TabletView]) -> TabletView:
        """The shard's serving primary (``pick`` finds it or raises Unavailable), waiting for one while the
        shard is buffering."""
        key = (target.keyspace, target.name)
        view = self._usable(key, pick)
        if view is not None:
            return view
        episode = self._episode(target)
        deadline = episode.started + self.window
        if self.waiting >= self.max_requests:
            raise self._error(target, f"the failover buffer is full ({self.max_requests} requests)")
        self.waiting += 1
        try:
            while (view := self._usable(key, pick)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._error(target, f"no primary became available within the {self.window:g}s buffer window")
                changed = self._changed
                try:
                    async with asyncio.timeout(remaining):
                        await changed.wait()
                except TimeoutError:
                    pass
        finally:
            self.waiting -= 1
        return view

    def _episode(self, target: ShardTarget) -> _Episode:
        key = (target.keyspace, target.name)
        if key not in self._episodes:
            log.info("buffering primary requests of %s/%s", target.keyspace, target.name)
            self._episodes[key] = _Episode(time.monotonic())
        return self._episodes[key]

    def _usable(self, key: tuple[str, str], pick: Callable[[], TabletView]) -> TabletView | None:
        """The primary ``pick`` finds, unless it is the one that failed and has not reported since; a usable
        primary ends the shard's episode."""
        try:
            view = pick()
        except Unavailable:
            return None
        episode = self._episodes.get(key)
        if episode is None:
            return view
        if episode.failed is not None:
            alias, term_start, failed_at = episode.failed
            if (str(view.tablet.alias), view.primary_term_start_time) == (alias, term_start) and view.updated <= failed_at:
                return None
        del self._episodes[key]
        log.info(
            "primary %s serves %s/%s again after %.3fs of buffering",
            view.tablet.alias, *key, time.monotonic() - episode.started,
        )
        return view

    @staticmethod
    def _error(target: ShardTarget, why: str) -> Unavailable:
        return Unavailable(
            f"shard {target.keyspace}/{target.name} has no serving primary (failover in progress?): {why}; "
            "retry the request",
            code=1105,
        )
