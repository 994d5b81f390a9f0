"""Through the gate: while a shard has no serving primary, its primary requests wait in the failover buffer
and go to the new primary; a PlannedReparentShard under a write and read load fails no request and loses no
write."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pymysql
import pytest

from shardline.ctl.schema import apply_vschema
from shardline.gate.buffer import PrimaryBuffer
from shardline.gate.server import Gate
from shardline.reparent.emergency import emergency_reparent_shard
from shardline.reparent.planned import planned_reparent_shard
from tests.reparent.live_shard import CELL, KEYSPACE, SHARD, alias


@asynccontextmanager
async def gate_for(shard, buffer: PrimaryBuffer | None = None) -> AsyncIterator[Gate]:
    await apply_vschema(shard.ctx, KEYSPACE, {"sharded": False, "tables": {"t": {}}})
    gate = Gate(shard.ts, CELL, host="127.0.0.1", port=0, http_port=None)
    if buffer is not None:
        gate.gateway.buffer = buffer
    await gate.start()
    try:
        while not any(view.serving and view.tablet_type == "primary" for view in gate.serving.tablets()):
            await asyncio.sleep(0.05)
        yield gate
    finally:
        await gate.close()


def connect(gate: Gate) -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=gate.port, user="root", password="", database=KEYSPACE,
                           autocommit=True)


class Writers:
    """Threads inserting rows through the gate, each its own id range; ``acked`` and ``errors`` as they come."""

    def __init__(self, gate: Gate, count: int) -> None:
        self.gate = gate
        self.acked: list[int] = []
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n * 10**6,), daemon=True) for n in range(count)]

    def _run(self, first_id: int) -> None:
        with connect(self.gate) as conn, conn.cursor() as cursor:
            row_id = first_id
            while not self.stopping.is_set():
                start = time.monotonic()
                try:
                    cursor.execute("INSERT INTO t (id, v) VALUES (%s, 'load')", (row_id,))
                except pymysql.MySQLError as exc:
                    self.errors.append(str(exc))
                else:
                    self.acked.append(row_id)
                    self.latencies.append(time.monotonic() - start)
                row_id += 1

    async def __aenter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stopping.set()  # joined off the event loop: their last requests need the gate, which runs on it
        for thread in self.threads:
            await asyncio.to_thread(thread.join, 30)


class Readers:
    """Threads reading rows that exist (point selects: the gate's fast path) until stopped; ``errors`` and
    ``wrong`` answers as they come."""

    def __init__(self, gate: Gate, count: int, ids: list[int]) -> None:
        self.gate, self.ids = gate, ids
        self.reads = 0
        self.errors: list[str] = []
        self.wrong: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(count)]

    def _run(self, offset: int) -> None:
        with connect(self.gate) as conn, conn.cursor() as cursor:
            n = offset
            while not self.stopping.is_set():
                row_id = self.ids[n % len(self.ids)]
                n += 1
                try:
                    cursor.execute(f"SELECT id, v FROM t WHERE id = {row_id}")
                    answer = cursor.fetchall()
                except pymysql.MySQLError as exc:
                    self.errors.append(str(exc))
                    continue
                self.reads += 1
                if answer != ((row_id, "read"),):
                    self.wrong.append(f"{row_id}: {answer}")

    async def __aenter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            await asyncio.to_thread(thread.join, 30)


async def wait_acked(writers: Writers, more_than: int) -> None:
    while len(writers.acked) <= more_than:
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_planned_reparents_under_write_load_fail_no_request_and_lose_no_write(shard):
    async with gate_for(shard) as gate:
        read_ids = list(range(9_000_000, 9_000_020))
        await asyncio.to_thread(_insert_rows, gate, read_ids, "read")
        async with Writers(gate, count=3) as writers, Readers(gate, count=2, ids=read_ids) as readers:
            await wait_acked(writers, 200)
            for new_primary in (101, 102):
                await planned_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD, new_primary=alias(new_primary))
                await wait_acked(writers, len(writers.acked) + 200)  # writes flow to the new primary
        assert writers.errors == []
        assert readers.errors == [] and readers.wrong == []  # reads (fast path) went on through both reparents
        assert readers.reads > 100 and gate.metrics.fast_path_queries > 100
        assert await shard.primary_uid() == 102
        assert set(writers.acked) <= await shard.ids(102)
        for uid in (100, 101):
            await shard.wait_for(uid, set(writers.acked))
        assert max(writers.latencies) < 5


async def test_requests_wait_for_the_new_primary_during_an_emergency_reparent(shard):
    async with gate_for(shard) as gate:
        shard.kill_mysql(100)
        insert = asyncio.create_task(asyncio.to_thread(_insert_through, gate, 7))
        await asyncio.sleep(0.5)
        assert not insert.done()  # held in the buffer
        result = await emergency_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD)
        await insert
        assert 7 in await shard.ids(result.new_primary.uid)


async def test_after_the_buffer_window_requests_fail_with_a_retryable_error(shard):
    async with gate_for(shard, PrimaryBuffer(window=1.0, max_requests=2)) as gate:
        await shard.kill_tablet(100)
        start = time.monotonic()
        outcomes = await asyncio.gather(*(asyncio.to_thread(_insert_through, gate, n) for n in range(3)),
                                        return_exceptions=True)
        errors = sorted(str(outcome) for outcome in outcomes)
        assert all(isinstance(outcome, pymysql.MySQLError) for outcome in outcomes), outcomes
        assert sum("the failover buffer is full (2 requests)" in error for error in errors) == 1
        assert sum("no primary became available within the 1s buffer window" in error for error in errors) == 2
        assert all("has no serving primary (failover in progress?)" in error and "retry" in error for error in errors)
        assert 0.9 < time.monotonic() - start < 5
        start = time.monotonic()  # past the window, requests fail at once until a primary serves again
        with pytest.raises(pymysql.MySQLError, match="buffer window"):
            await asyncio.to_thread(_insert_through, gate, 10)
        assert time.monotonic() - start < 0.5
        await emergency_reparent_shard(shard.ts, shard.ctx.tmc, KEYSPACE, SHARD)
        await asyncio.to_thread(_insert_through, gate, 11)


def _insert_rows(gate: Gate, ids: list[int], value: str) -> None:
    with connect(gate) as conn, conn.cursor() as cursor:
        for row_id in ids:
            cursor.execute("INSERT INTO t (id, v) VALUES (%s, %s)", (row_id, value))


def _insert_through(gate: Gate, row_id: int) -> None:
    with connect(gate) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO t (id, v) VALUES (%s, 'x')", (row_id,))
