"""Reparent benchmark: the write pause of PlannedReparentShard, and the failover agent's detection + recovery
time after kill -9 of a primary, each over repeated runs, with the number of acknowledged writes lost.

Shard ``bench/0`` has three tablets, each a ``shardline tablet`` process with its own MariaDB, and durability
policy ``semi_sync``. The gate (with its failover buffer) and the failover agent run in this process; writer
threads insert rows through the gate all along and record which inserts were acknowledged.

- PRS: one cluster, ``--runs`` reparents, each to the next tablet. The pause is the longest time any insert took
  while the reparent ran (the buffer holds inserts, it does not fail them). Target: at most 2 s.
- kill -9: a fresh cluster per run. The primary's tablet process and its MariaDB get SIGKILL; measured until the
  Shard record names a new primary (detection + recovery, target at most 10 s) and until the first insert after
  the kill is acknowledged (what clients see).
- Lost: acknowledged inserts missing on the new primary afterwards. Target: 0.

    .venv/bin/python benchmarks/reparent.py [--runs 5] [--writers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from shardline.ctl.context import CtlContext
from shardline.ctl.reparent import init_shard_primary
from shardline.ctl.schema import apply_schema, apply_vschema
from shardline.gate.server import Gate
from shardline.mysqlctl.instance import tablet_instance
from shardline.orc.agent import Orc
from shardline.reparent.keyspace_policy import set_keyspace_durability_policy
from shardline.reparent.planned import planned_reparent_shard
from shardline.topo.records import TabletAlias

CELL, KEYSPACE, SHARD = "zone1", "bench", "0"
UIDS = (100, 101, 102)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Writers:
    """Threads inserting through the gate; ``acks`` holds (monotonic time, id, seconds taken) per acknowledged
    insert."""

    port: int
    count: int
    acks: list[tuple[float, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.count)]
        for thread in self.threads:
            thread.start()

    async def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            await asyncio.to_thread(thread.join, 30)

    def _run(self, writer: int) -> None:
        row_id = writer * 10**9
        conn = None
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                conn = conn or pymysql.connect(host="127.0.0.1", port=self.port, user="root", database=KEYSPACE,
                                               autocommit=True)
                with conn.cursor() as cursor:
                    cursor.execute("INSERT INTO t (id) VALUES (%s)", (row_id,))
            except pymysql.MySQLError as exc:
                self.errors.append(str(exc))
                conn = None  # a fresh connection for the next insert
                time.sleep(0.01)
            else:
                end = time.monotonic()
                self.acks.append((end, row_id, end - start))
            row_id += 1

    def acked_ids(self) -> set[int]:
        return {row_id for _, row_id, _ in self.acks}


class Cluster:
    """Three tablet processes, then InitShardPrimary, semi_sync, the table, a gate and (optionally) an agent."""

    def __init__(self, root: Path, *, with_orc: bool) -> None:
        self.root = root
        self.with_orc = with_orc
        self.tablets: dict[int, subprocess.Popen[bytes]] = {}
        self.mysql_ports = {uid: free_port() for uid in UIDS}

    async def start(self) -> None:
        self.context = CtlContext.open(f"embedded:{self.root / 'topo.db'}")
        self.ctx = await self.context.__aenter__()
        self.ts = self.ctx.ts
        await self.ts.add_cell(CELL)
        await self.ts.create_keyspace(KEYSPACE)
        await self.ts.create_shard(KEYSPACE, SHARD)
        for uid in UIDS:
            self.tablets[uid] = subprocess.Popen(
                [sys.executable, "-m", "shardline", "tablet", "--topo", f"embedded:{self.root / 'topo.db'}",
                 "--alias", f"{CELL}-{uid}", "--keyspace", KEYSPACE, "--shard", SHARD,
                 "--mysql-port", str(self.mysql_ports[uid]), "--port", "0", "--root", str(self.root)],
                stdout=subprocess.DEVNULL, stderr=open(self.root / f"tablet-{uid}.log", "wb"),
            )
        deadline = time.monotonic() + 60
        while len(await self.ts.get_tablets(CELL)) < len(UIDS):  # every agent published, so InitShardPrimary sees all
            assert time.monotonic() < deadline, f"tablets did not start: see {self.root}/tablet-*.log"
            await asyncio.sleep(0.1)
        await init_shard_primary(self.ctx, f"{KEYSPACE}/{SHARD}", f"{CELL}-{UIDS[0]}")
        await apply_schema(self.ctx, KEYSPACE, "CREATE TABLE t (id BIGINT PRIMARY KEY)")
        await set_keyspace_durability_policy(self.ts, self.ctx.tmc, KEYSPACE, "semi_sync")
        await apply_vschema(self.ctx, KEYSPACE, {"sharded": False, "tables": {"t": {}}})
        self.gate = Gate(self.ts, CELL, host="127.0.0.1", port=0, http_port=None)
        await self.gate.start()
        self.orc = Orc(self.ts, cells=[CELL]) if self.with_orc else None
        if self.orc is not None:
            await self.orc.start()
        while not any(v.serving and v.tablet_type == "primary" for v in self.gate.serving.tablets()):
            await asyncio.sleep(0.05)

    async def primary(self) -> int:
        record = await self.ts.get_shard(KEYSPACE, SHARD)
        assert record.primary_alias is not None
        return record.primary_alias.uid

    async def ids(self, uid: int) -> set[int]:
        tablet = await self.ts.get_tablet(TabletAlias(CELL, uid))
        result = await self.ctx.tmc.execute_fetch_as_dba(tablet, f"SELECT id FROM {KEYSPACE}.t", max_rows=10**8)
        return {int(row[0]) for row in result["rows"]}

    def kill_tablet(self, uid: int) -> None:
        """SIGKILL to the tablet process and to its MariaDB."""
        mysql_pid = tablet_instance(self.root, uid, self.mysql_ports[uid]).status().pid
        self.tablets[uid].kill()
        self.tablets[uid].wait()
        if mysql_pid is not None:
            os.kill(mysql_pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.orc is not None:
            await self.orc.stop()
        await self.gate.close()
        for process in self.tablets.values():
            if process.poll() is None:
                process.terminate()
        for process in self.tablets.values():
            await asyncio.to_thread(process.wait, 60)
        await self.context.__aexit__(None, None, None)


async def bench_planned(root: Path, runs: int, writers_count: int) -> list[dict[str, float]]:
    cluster = Cluster(root, with_orc=False)
    await cluster.start()
    rows = []
    try:
        writers = Writers(cluster.gate.port, writers_count)
        writers.start()
        await asyncio.sleep(1)
        for run in range(runs):
            target = UIDS[(run + 1) % len(UIDS)]
            errors_before = len(writers.errors)
            start = time.monotonic()
            await planned_reparent_shard(cluster.ts, cluster.ctx.tmc, KEYSPACE, SHARD,
                                         new_primary=TabletAlias(CELL, target))
            end = time.monotonic()
            await asyncio.sleep(1)  # writes flow to the new primary
            pause = max((taken for acked, _, taken in writers.acks if acked >= start and acked - taken <= end),
                        default=0.0)
            rows.append({"reparent_s": end - start, "pause_s": pause, "errors": len(writers.errors) - errors_before})
        await writers.stop()
        acked = writers.acked_ids()
        lost = len(acked - await cluster.ids(await cluster.primary()))
        for row in rows:
            row["lost"] = lost
        return rows
    finally:
        await cluster.stop()


async def bench_kill(root: Path, run: int, writers_count: int) -> dict[str, float]:
    cluster = Cluster(root / f"kill-{run}", with_orc=True)
    (root / f"kill-{run}").mkdir()
    await cluster.start()
    try:
        writers = Writers(cluster.gate.port, writers_count)
        writers.start()
        await asyncio.sleep(1)
        old = await cluster.primary()
        killed = time.monotonic()
        cluster.kill_tablet(old)
        while await cluster.primary() == old:
            assert time.monotonic() - killed < 60, "no new primary within 60 s"
            await asyncio.sleep(0.01)
        recovered = time.monotonic() - killed
        while not any(acked > killed and acked - taken > killed for acked, _, taken in writers.acks):
            assert time.monotonic() - killed < 60, "no write acknowledged within 60 s"
            await asyncio.sleep(0.01)
        first_write = min(acked for acked, _, taken in writers.acks if acked - taken > killed) - killed
        await asyncio.sleep(1)
        await writers.stop()
        lost = len(writers.acked_ids() - await cluster.ids(await cluster.primary()))
        return {"recovery_s": recovered, "first_write_s": first_write, "errors": len(writers.errors), "lost": lost}
    finally:
        await cluster.stop()


def summary(name: str, values: list[float], unit: str = "s") -> str:
    return (f"| {name} | {min(values):.3f} | {statistics.median(values):.3f} | {max(values):.3f} | {unit} |")


async def main(runs: int, writers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="shardline-reparent-bench-") as tmp:
        root = Path(tmp)
        (root / "prs").mkdir()
        planned = await bench_planned(root / "prs", runs, writers)
        killed = [await bench_kill(root, run, writers) for run in range(runs)]
    print(f"\n{runs} runs each, {writers} writer threads through the gate, durability policy semi_sync\n")
    print("| measure | min | median | max | unit |")
    print("|---|---|---|---|---|")
    print(summary("PRS: write pause (target <= 2 s)", [row["pause_s"] for row in planned]))
    print(summary("PRS: reparent duration", [row["reparent_s"] for row in planned]))
    print(summary("PRS: client errors", [row["errors"] for row in planned], "errors"))
    print(summary("kill -9: detection + recovery (target <= 10 s)", [row["recovery_s"] for row in killed]))
    print(summary("kill -9: first acknowledged write after the kill", [row["first_write_s"] for row in killed]))
    print(summary("kill -9: client errors (in-flight inserts)", [row["errors"] for row in killed], "errors"))
    lost = planned[0]["lost"] + sum(row["lost"] for row in killed)
    print(f"\nacknowledged writes lost: {lost} (target 0)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writers", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.writers))
