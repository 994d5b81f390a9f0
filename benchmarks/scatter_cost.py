"""CPU per query of sysbench's oltp_read_only statements through the gate's ordinary path: a gate started
in-process against a running cluster, one client in the same process, real sockets to MariaDB.

Needs a cluster with ``sbtest1`` loaded, e.g. one left by ``sysbench_gate.py --keep``:

    .venv/bin/python benchmarks/sysbench_gate.py --keep --root /tmp/sb
    .venv/bin/python benchmarks/scatter_cost.py --root /tmp/sb [--keyspace customer] [--queries 1000] [--profile]

Prints, per statement kind and protocol (text, prepared), the process's CPU time per query (gate and client
together; the client only sends and receives bytes) and the wall time. On ``customer`` the range reads reach
both shards: the simple range is relayed shard after shard undecoded, SUM is aggregated, ORDER BY merge-sorted
and DISTINCT merged and deduplicated at the gate, all on the fast path once the first statement taught it. Compare trees by running both in the same minutes (``PYTHONPATH=tree/src``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from inprocess_gate import gate_on

from shardline.mysql.client import Connection, connect

RANGE = 100  # sysbench's --range_size
STATEMENTS = {  # oltp_read_only's statements, with {a} and {b} for the range's ends
    "point": "SELECT c FROM sbtest1 WHERE id={a}",
    "simple": "SELECT c FROM sbtest1 WHERE id BETWEEN {a} AND {b}",
    "sum": "SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN {a} AND {b}",
    "order": "SELECT c FROM sbtest1 WHERE id BETWEEN {a} AND {b} ORDER BY c",
    "distinct": "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN {a} AND {b} ORDER BY c",
}
WARMUP = 300


async def runner(client: Connection, sql: str, prepared: bool) -> Callable[[int], Awaitable[bytes]]:
    """Sends the statement for the range starting at ``a``, as text or as a prepared statement."""
    if not prepared:
        return lambda a: client.query_raw(sql.format(a=a, b=a + RANGE - 1))
    statement = await client.prepare(sql.format(a="?", b="?"))
    if "{b}" in sql:
        return lambda a: client.execute_raw(statement, [a, a + RANGE - 1])
    return lambda a: client.execute_raw(statement, [a])


async def main(args: argparse.Namespace) -> None:
    async with gate_on(args.root) as gate:
        client = await connect("127.0.0.1", gate.port, "root", "", args.keyspace)
        try:
            for kind in args.kinds.split(","):
                for prepared in (False, True):
                    run = await runner(client, STATEMENTS[kind], prepared)
                    for i in range(WARMUP):
                        await run(1 + i)
                    profiler = cProfile.Profile() if args.profile else None
                    if profiler:
                        profiler.enable()
                    cpu, wall = time.process_time(), time.perf_counter()
                    for i in range(args.queries):
                        await run(1 + i % (args.table_size - RANGE))
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    if profiler:
                        profiler.disable()
                    print(f"{kind:<9} {'prepared' if prepared else 'text':<9} CPU {cpu / args.queries * 1e6:7.1f} µs"
                          f"  wall {wall / args.queries * 1e6:7.1f} µs per query")
                    if profiler:
                        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        finally:
            await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="root of a running local cluster")
    parser.add_argument("--keyspace", default="customer")
    parser.add_argument("--kinds", default=",".join(STATEMENTS), help="comma-separated: " + ", ".join(STATEMENTS))
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--table-size", type=int, default=10000, help="rows in sbtest1 (sysbench_gate's default)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions")
    uvloop.run(main(parser.parse_args()))
