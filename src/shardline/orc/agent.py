"""The failover agent's loop: every poll interval, and at once when a tablet's health changes, it snapshots
each shard of its cells, analyzes it, and starts the first recovery the shard needs (one at a time per shard,
in the background, so that a slow recovery never delays the other shards)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from shardline.errors import ShardlineError
from shardline.gate.healthcheck import HealthCheck
from shardline.orc.analysis import Problem, analyze, shard_state
from shardline.orc.metrics import OrcMetrics
from shardline.orc.recovery import FAILURE, SUCCESS, RecoveryRecord, run_recovery
from shardline.tablet.client import TabletManagerClient
from shardline.topo.records import Tablet
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)

ShardKey = tuple[str, str]


class Orc:
    """Watches the tablets of ``cells`` (default: every cell). Call :meth:`start`, then :meth:`stop`."""

    def __init__(
        self,
        ts: TopoServer,
        *,
        cells: list[str] | None = None,
        poll_interval: float = 5.0,
        probe_timeout: float = 2.0,
        lock_timeout: float = 2.0,
        wait_replicas_timeout: float = 10.0,
        retry_interval: float = 5.0,
        history: int = 100,
    ) -> None:
        self.ts = ts
        self.cells = cells
        self.poll_interval = poll_interval
        self.lock_timeout = lock_timeout
        self.wait_replicas_timeout = wait_replicas_timeout
        self.retry_interval = retry_interval
        self.metrics = OrcMetrics()
        self.health = HealthCheck(on_change=self._health_changed)
        self.problems: dict[ShardKey, list[Problem]] = {}
        self.recent: deque[RecoveryRecord] = deque(maxlen=history)
        """Finished recoveries, newest first."""
        self._probe = TabletManagerClient(timeout=probe_timeout)
        self._tmc = TabletManagerClient()
        self._recoveries: dict[ShardKey, tuple[Problem, asyncio.Task[None]]] = {}
        self._retry_after: dict[tuple[Any, ...], float] = {}
        self._health_seen: dict[str, tuple[Any, ...]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="orc")

    async def stop(self) -> None:
        """Stops watching; recoveries under way run to their end first."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        await asyncio.gather(*(task for _, task in self._recoveries.values()), return_exceptions=True)
        await self.health.close()
        await self._probe.close()
        await self._tmc.close()

    def in_progress(self) -> list[Problem]:
        return [problem for problem, _ in self._recoveries.values()]

    def _health_changed(self) -> None:
        """Wakes the loop when a tablet starts or stops serving, changes type or goes silent (not on the
        periodic repeats of an unchanged report)."""
        seen = {
            str(view.tablet.alias): (view.tablet_type, view.serving, view.health is None) for view in self.health.views()
        }
        if seen != self._health_seen:
            self._health_seen = seen
            self._wake.set()

    async def _run(self) -> None:
        woken = True  # the first round checks every shard at once, as does a round a health change started
        while True:
            self._wake.clear()
            started = time.monotonic()
            try:
                await self.tick(spread=0.0 if woken else self.poll_interval)
            except ShardlineError as exc:
                log.warning("discovery failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, self.poll_interval - (time.monotonic() - started))):
                    await self._wake.wait()
            woken = self._wake.is_set()

    async def tick(self, spread: float = 0.0) -> None:
        """One round: refresh the tablet list, analyze every shard, start the recoveries needed. With ``spread``
        the shards' checks start evenly over that many seconds (all at once should a tablet's health change
        meanwhile): probing every tablet at one instant is a burst of work for the machines they share."""
        everywhere = {cell: await self.ts.get_tablets(cell) for cell in await self.ts.get_cells()}
        for cell in self.cells or ():
            if cell not in everywhere:
                everywhere[cell] = await self.ts.get_tablets(cell)  # NotFound if the cell does not exist
        cells = self.cells if self.cells is not None else list(everywhere)
        tablets = [tablet for cell in cells for tablet in everywhere[cell]]
        by_shard: dict[ShardKey, list[Tablet]] = {}
        for tablet in (tablet for cell_tablets in everywhere.values() for tablet in cell_tablets):
            by_shard.setdefault((tablet.keyspace, tablet.shard), []).append(tablet)
        self.health.set_tablets(tablets)
        self.metrics.tablets.set(len(tablets))
        shards = sorted({(tablet.keyspace, tablet.shard) for tablet in tablets})
        for gone in set(self.problems) - set(shards):
            self.metrics.set_problems(*gone, [])
            del self.problems[gone]
        step = spread / len(shards) if shards else 0.0
        await asyncio.gather(*(
            self._check_shard(keyspace, shard, by_shard[keyspace, shard], delay=i * step)
            for i, (keyspace, shard) in enumerate(shards)
        ))  # fmt: skip

    async def _check_shard(self, keyspace: str, shard: str, tablets: list[Tablet], delay: float = 0.0) -> None:
        """After ``delay`` seconds (less if a health change wakes the loop), analyzes the shard (``tablets``: its
        tablets in every cell, as this round read them) and starts the first recovery it needs, unless one runs
        already."""
        if delay:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        key = (keyspace, shard)
        if key in self._recoveries:
            return
        try:
            problems = analyze(await shard_state(self.ts, self._probe, keyspace, shard, tablets))
        except ShardlineError as exc:
            log.warning("cannot analyze shard %s/%s: %s", keyspace, shard, exc)
            return
        known = {problem.key for problem in self.problems.get(key, [])}
        for problem in problems:
            if problem.key not in known:
                log.warning("detected %s on %s: %s", problem.analysis.value, _target(problem), problem.detail)
        self.problems[key] = problems
        self.metrics.set_problems(keyspace, shard, problems)
        now = time.monotonic()
        todo = next(
            (p for p in problems if p.analysis.recovery and self._retry_after.get(p.key, 0.0) <= now),
            None,
        )
        if todo is not None:
            self._recoveries[key] = (todo, asyncio.create_task(self._recover(todo), name=f"orc recovery {keyspace}/{shard}"))

    async def _recover(self, problem: Problem) -> None:
        assert problem.analysis.recovery is not None
        log.warning("running %s for %s on %s", problem.analysis.recovery.value, problem.analysis.value, _target(problem))
        try:
            record = await run_recovery(
                self.ts,
                self._probe,
                self._tmc,
                problem,
                lock_timeout=self.lock_timeout,
                wait_replicas_timeout=self.wait_replicas_timeout,
            )
        finally:
            del self._recoveries[(problem.keyspace, problem.shard)]
        self.recent.appendleft(record)
        self.metrics.observe_recovery(record)
        if record.result in (SUCCESS, FAILURE):  # not again right away: give the repair time to show
            self._retry_after[problem.key] = time.monotonic() + self.retry_interval
        level = logging.ERROR if record.result == FAILURE else logging.WARNING
        log.log(
            level,
            "%s for %s on %s: %s after %.2fs: %s",
            problem.analysis.recovery.value,
            problem.analysis.value,
            _target(problem),
            record.result,
            record.seconds,
            record.detail,
        )
        self._wake.set()

    def status(self) -> dict[str, Any]:
        """What /debug/status shows."""
        return {
            "cells": self.cells,
            "tablets": [
                {
                    "alias": str(view.tablet.alias),
                    "keyspace": view.tablet.keyspace,
                    "shard": view.tablet.shard,
                    "type": view.tablet_type,
                    "serving": view.serving,
                    "last_error": view.health.last_error if view.health else "no health report",
                }
                for view in sorted(self.health.views(), key=lambda view: view.tablet.alias)
            ],
            "problems": [problem.to_json() for problems in self.problems.values() for problem in problems],
            "recoveries_in_progress": [problem.to_json() for problem in self.in_progress()],
            "recent_recoveries": [record.to_json() for record in self.recent],
        }


def _target(problem: Problem) -> str:
    where = f"{problem.keyspace}/{problem.shard}"
    return f"{problem.tablet} ({where})" if problem.tablet else where
