"""A gate started inside a benchmark's own process, against a running local cluster (its embedded topo), so
that the benchmark can measure or profile the gate's Python directly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from shardline.gate.server import Gate
from shardline.topo.server import TopoServer


@asynccontextmanager
async def gate_on(root: Path, cell: str = "zone1") -> AsyncIterator[Gate]:
    """A started gate (MySQL on an ephemeral port, no HTTP) for the cluster under ``root``."""
    ts = await TopoServer.open(f"embedded:{root / 'topo.db'}")
    gate = Gate(ts, cell, port=0, http_port=None)
    try:
        await gate.start()
        yield gate
    finally:
        await gate.close()
        await ts.close()
