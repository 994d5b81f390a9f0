"""The gate's own CPU cost per relayed point select, without the kernel: a real gate, real backend connections,
but the client's and MariaDB's sockets replaced, after warm-up, by objects that only record what is written;
each query is one client packet handed to the gate and one canned MariaDB response handed back.

Needs a cluster with ``sbtest1`` loaded in both keyspaces, e.g. one left by ``sysbench_gate.py --keep``:

    .venv/bin/python benchmarks/sysbench_gate.py --keep --root /tmp/sb
    .venv/bin/python benchmarks/fastpath_cost.py --root /tmp/sb [--queries 50000] [--profile]

Prints µs per query for prepared and text point selects on ``commerce`` and ``customer``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from pathlib import Path
from typing import Any

import uvloop
from inprocess_gate import gate_on

from shardline.gate.server import Gate
from shardline.mysql.binary import build_execute
from shardline.mysql.client import connect
from shardline.mysql.framing import frame

SQL = "SELECT c FROM sbtest1 WHERE id={}"
WARMUP = 2000


class RecordingTransport:
    """Stands in for a socket: keeps what is written; ``last`` is the transport written to most recently."""

    last: RecordingTransport | None = None

    def __init__(self, real: Any, protocol: Any = None) -> None:
        self.real, self.protocol, self.written = real, protocol, []

    def write(self, data: bytes) -> None:
        self.written.append(data)
        RecordingTransport.last = self

    def get_extra_info(self, *args: Any, **kwargs: Any) -> Any:
        return self.real.get_extra_info(*args, **kwargs)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def measure(gate: Gate, keyspace: str, prepared: bool, queries: int, profile: bool) -> float:
    """µs of gate CPU per query (wall time of a single-threaded loop with no I/O)."""
    client = await connect("127.0.0.1", gate.port, "root", "", keyspace)
    try:
        if prepared:
            statement = await client.prepare(SQL.format("?"))
            for i in range(1, 200):  # learned, and prepared on the backend connections
                await client.execute_raw(statement, [i])
            packet = frame(build_execute(statement.id, [5034]), 0)[0]
        else:
            for i in range(1, 200):
                await client.query_raw(SQL.format(i))
            packet = frame(b"\x03" + SQL.format(5034).encode(), 0)[0]
        (server_conn,) = [c for c in gate.mysql.connections.values() if not c.closed]
        real_client = server_conn.transport
        backends = [(p.connection._protocol, p.connection._protocol.transport)
                    for pool in gate.gateway._pools.values() for p in pool._idle]
        for protocol, transport in backends:
            protocol.transport = RecordingTransport(transport, protocol)
        server_conn.transport = RecordingTransport(real_client)  # type: ignore[assignment]
        try:
            response = await _canned_response(server_conn, packet, backends)

            def one() -> None:
                server_conn.data_received(packet)
                backend = RecordingTransport.last
                assert backend is not None and backend.protocol is not None
                backend.protocol.data_received(response)

            for _ in range(WARMUP):
                one()
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            started = time.perf_counter()
            for _ in range(queries):
                one()
            elapsed = time.perf_counter() - started
            if profiler:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return elapsed / queries * 1e6
        finally:
            for protocol, transport in backends:
                protocol.transport = transport
            server_conn.transport = real_client
    finally:
        await client.close()


async def _canned_response(server_conn: Any, packet: bytes, backends: list[tuple[Any, Any]]) -> bytes:
    """MariaDB's real answer to the statement: sent once over the real socket of the backend it went to."""
    server_conn.data_received(packet)
    recorder = RecordingTransport.last
    if recorder is None or recorder.protocol is None:
        raise SystemExit("the statement did not take the fast path: is sbtest1 loaded and the gate serving?")
    protocol = recorder.protocol
    real = next(transport for p, transport in backends if p is protocol)
    protocol.transport = real
    real.write(recorder.written[-1])
    client_side = server_conn.transport
    async with asyncio.timeout(5):
        while not client_side.written:
            await asyncio.sleep(0.001)
    protocol.transport = recorder
    return client_side.written[-1]


async def main(args: argparse.Namespace) -> None:
    async with gate_on(args.root) as gate:
        for keyspace in ("commerce", "customer"):
            for prepared in (True, False):
                cost = await measure(gate, keyspace, prepared, args.queries, args.profile)
                print(f"{keyspace:<9} {'prepared' if prepared else 'text':<9} {cost:6.2f} µs per query")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="root of a running local cluster")
    parser.add_argument("--queries", type=int, default=50000)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions")
    uvloop.run(main(parser.parse_args()))
