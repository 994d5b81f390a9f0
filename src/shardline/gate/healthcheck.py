"""Tablet health as the gate sees it: one health stream per tablet of the cell, reconnecting when it breaks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from shardline.errors import ShardlineError
from shardline.tablet.client import stream_health
from shardline.tablet.health import Health
from shardline.topo.records import Tablet

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


@dataclass
class TabletView:
    """A tablet's record from topo and its latest health report (None until the first one arrives)."""

    tablet: Tablet
    health: Health | None = None
    updated: float = 0.0

    @property
    def serving(self) -> bool:
        return self.health is not None and self.health.serving

    @property
    def tablet_type(self) -> str:
        """The type the tablet reports (its topo record may lag behind a type change)."""
        return (self.health.tablet_type if self.health is not None else self.tablet.type.value).lower()

    @property
    def lag_seconds(self) -> int | None:
        return self.health.replication_lag_seconds if self.health is not None else None

    @property
    def primary_term_start_time(self) -> float | None:
        if self.health is not None and self.health.primary_term_start_time is not None:
            return self.health.primary_term_start_time
        return self.tablet.primary_term_start_time


class HealthCheck:
    """Keeps a TabletView per tablet alias, fed by the tablets' health streams."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._views: dict[str, TabletView] = {}
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._on_change = on_change
        self.changed = asyncio.Condition()

    def views(self) -> list[TabletView]:
        return list(self._views.values())

    def set_tablets(self, tablets: list[Tablet]) -> None:
        """Follows exactly these tablets: new ones get a stream, moved ones a new stream, gone ones none."""
        wanted = {str(t.alias): t for t in tablets}
        for alias in list(self._views):
            if alias not in wanted:
                self._drop(alias)
        for alias, tablet in wanted.items():
            view = self._views.get(alias)
            if view is not None and _same_address(view.tablet, tablet):
                view.tablet = tablet
                continue
            if view is not None:
                self._drop(alias)
            self._views[alias] = TabletView(tablet)
            self._streams[alias] = asyncio.create_task(self._follow(alias, tablet))
        self._notify()

    def _drop(self, alias: str) -> None:
        self._views.pop(alias, None)
        task = self._streams.pop(alias, None)
        if task is not None:
            task.cancel()

    async def _follow(self, alias: str, tablet: Tablet) -> None:
        while True:
            try:
                async for health in stream_health(tablet):
                    view = self._views.get(alias)
                    if view is None:
                        return
                    view.health, view.updated = health, time.monotonic()
                    self._notify()
            except asyncio.CancelledError:
                raise
            except (ShardlineError, OSError) as exc:
                log.info("health stream of %s ended: %s", alias, exc)
            view = self._views.get(alias)
            if view is None:
                return
            if view.health is not None:
                view.health = None  # a tablet we cannot hear from does not serve
                self._notify()
            await asyncio.sleep(RETRY_SECONDS)

    def _notify(self) -> None:
        if self._on_change is not None:
            self._on_change()
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def close(self) -> None:
        tasks = list(self._streams.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._streams.clear()


def _same_address(a: Tablet, b: Tablet) -> bool:
    return (a.hostname, a.port, a.mysql_host, a.mysql_port) == (b.hostname, b.port, b.mysql_host, b.mysql_port)
