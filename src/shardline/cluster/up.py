"""``shardline up``: start (or resume) the local cluster. Idempotent: what runs already is left alone, shards
that have a primary keep it, and the sample schema is applied only to keyspaces without a VSchema."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from dataclasses import dataclass, field

from shardline.cluster.layout import ClusterLayout, TabletPlan
from shardline.cluster.processes import ClusterProcess, cluster_processes, tablet_mysql
from shardline.cluster.procs import check_port_free
from shardline.cluster.sample import SCHEMA, VSCHEMA
from shardline.ctl import keyspaces, schema
from shardline.ctl.context import CtlContext
from shardline.ctl.reparent import init_shard_primary
from shardline.errors import DeadlineExceeded, NotFound, Unavailable
from shardline.mysqlctl.process import log_size, log_tail
from shardline.tablet.client import stream_health_at

READY_TIMEOUT = 50.0
_POLL_SECONDS = 0.1


@dataclass
class UpReport:
    """What ``up`` did."""

    layout: ClusterLayout
    started: list[str] = field(default_factory=list)
    """Processes started now (the others were running)."""
    initialized_shards: list[str] = field(default_factory=list)
    """Shards that got their first primary now."""
    sample_keyspaces: list[str] = field(default_factory=list)
    """Keyspaces that got the sample schema and VSchema now."""
    seconds: float = 0.0


async def up(layout: ClusterLayout) -> UpReport:
    """Starts everything of ``layout`` that does not run yet and waits until it serves."""
    started_at = time.monotonic()
    report = UpReport(layout)
    processes = cluster_processes(layout)
    to_start = [process for process in processes if process.slot.running_pid() is None]
    _check_ports(layout, to_start)
    layout.save()
    async with CtlContext.open(layout.topo_spec) as ctx:
        await _ensure_keyspaces(ctx, layout)
        tablets = [process for process in processes if process.tablet is not None]
        log_offsets = _spawn([process for process in to_start if process.tablet is not None], report)
        await asyncio.gather(*(_wait_tablet(process, log_offsets.get(process.name, 0)) for process in tablets))
        report.initialized_shards = await _init_shard_primaries(ctx, layout)
        for keyspace in layout.keyspace_shards:
            await keyspaces.rebuild_keyspace_graph(ctx, keyspace)
        report.sample_keyspaces = await _apply_sample(ctx, layout)
        servers = [process for process in processes if process.tablet is None]
        log_offsets = _spawn([process for process in to_start if process.tablet is None], report)
        await asyncio.gather(*(_wait_listening(process, log_offsets.get(process.name, 0)) for process in servers))
    report.seconds = time.monotonic() - started_at
    return report


def _check_ports(layout: ClusterLayout, to_start: list[ClusterProcess]) -> None:
    for process in to_start:
        for port, owner in process.ports:
            own_mysql = process.tablet is not None and port == process.tablet.mysql_port
            if own_mysql and tablet_mysql(layout, process.tablet).status().running:
                continue  # the tablet's MariaDB outlived its agent; the agent takes it over
            check_port_free(port, owner)


def _spawn(processes: list[ClusterProcess], report: UpReport) -> dict[str, int]:
    """Starts the processes; returns each one's log size before, to quote only its new lines on failure."""
    offsets = {}
    for process in processes:
        offsets[process.name] = log_size(process.slot.log)
        process.slot.spawn(list(process.args))
        report.started.append(process.name)
    return offsets


def _died(process: ClusterProcess, log_offset: int) -> Unavailable:
    return Unavailable(
        f"{process.name} exited during start; {process.slot.log}: {log_tail(process.slot.log, 3, log_offset)}"
    )


async def _wait_tablet(process: ClusterProcess, log_offset: int) -> None:
    """Waits until the agent answers with its first health report (it has started and published itself)."""
    assert process.tablet is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.slot.running_pid() is None:
            raise _died(process, log_offset)
        try:
            async with aclosing(stream_health_at(f"127.0.0.1:{process.tablet.port}")) as reports:
                await asyncio.wait_for(anext(reports), max(deadline - time.monotonic(), _POLL_SECONDS))
            return
        except (Unavailable, TimeoutError, StopAsyncIteration):
            await asyncio.sleep(_POLL_SECONDS)
    raise DeadlineExceeded(f"{process.name} did not become ready within {READY_TIMEOUT:g}s; see {process.slot.log}")


async def _wait_listening(process: ClusterProcess, log_offset: int) -> None:
    """Waits until the process accepts connections on its first port."""
    port = process.ports[0][0]
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.slot.running_pid() is None:
            raise _died(process, log_offset)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(_POLL_SECONDS)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise DeadlineExceeded(f"{process.name} did not listen on {port} within {READY_TIMEOUT:g}s; see {process.slot.log}")


async def _ensure_keyspaces(ctx: CtlContext, layout: ClusterLayout) -> None:
    if layout.cell not in await ctx.ts.get_cells():
        await ctx.ts.add_cell(layout.cell)
    for keyspace, shards in layout.keyspace_shards.items():
        try:
            await ctx.ts.get_keyspace(keyspace)
        except NotFound:
            await keyspaces.create_keyspace(ctx, keyspace, layout.durability_policy)
        existing = await ctx.ts.get_shard_names(keyspace)
        for shard in shards:
            if shard not in existing:
                await keyspaces.create_shard(ctx, f"{keyspace}/{shard}")


def _first_tablet(layout: ClusterLayout, keyspace: str, shard: str) -> TabletPlan:
    return next(plan for plan in layout.tablets if (plan.keyspace, plan.shard) == (keyspace, shard))


async def _init_shard_primaries(ctx: CtlContext, layout: ClusterLayout) -> list[str]:
    """InitShardPrimary (first tablet of the shard) for every shard without a primary, all at once."""
    pending = [
        (keyspace, shard)
        for keyspace, shards in layout.keyspace_shards.items()
        for shard in shards
        if (await ctx.ts.get_shard(keyspace, shard)).primary_alias is None
    ]
    await asyncio.gather(
        *(
            init_shard_primary(ctx, f"{keyspace}/{shard}", _first_tablet(layout, keyspace, shard).alias)
            for keyspace, shard in pending
        )
    )
    return [f"{keyspace}/{shard}" for keyspace, shard in pending]


async def _apply_sample(ctx: CtlContext, layout: ClusterLayout) -> list[str]:
    """The sample schema and VSchema, for keyspaces without a VSchema (commerce first: customer's
    auto_increment columns use its sequences)."""
    applied = []
    for keyspace in layout.keyspace_shards:
        try:
            await ctx.ts.get_vschema(keyspace)
            continue
        except NotFound:
            pass
        await schema.apply_schema(ctx, keyspace, SCHEMA[keyspace])
        await schema.apply_vschema(ctx, keyspace, VSCHEMA[keyspace])
        applied.append(keyspace)
    return applied
