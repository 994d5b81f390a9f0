"""``shardline gate``: runs a gate until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import uvloop

from shardline.mysql.users import UserStore
from shardline.topo.server import TopoServer


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gate", help="run a gate: the MySQL endpoint that routes queries to shards")
    parser.add_argument("--topo", required=True, help="topo server, e.g. embedded:/path/topo.db")
    parser.add_argument("--cell", default="zone1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15306, help="MySQL port")
    parser.add_argument("--http-port", type=int, default=15001, help="port of /metrics and /debug pages")
    parser.add_argument("--users", help='JSON file {"user": "password"}; default: user root, no password')
    parser.add_argument("--pool-size", type=int, default=16, help="connections per tablet")
    parser.add_argument("--max-replica-lag", type=float, default=30.0, help="seconds; laggier replicas get no reads")
    parser.add_argument("--transaction-mode", choices=("single", "multi"), default="multi")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gate %(levelname)s %(message)s")
    users = UserStore.load(args.users) if args.users else None
    return uvloop.run(_serve(args, users))


async def _serve(args: argparse.Namespace, users: UserStore | None) -> int:
    from shardline.gate.server import Gate

    ts = await TopoServer.open(args.topo)
    gate = Gate(ts, args.cell, host=args.host, port=args.port, http_port=args.http_port, users=users,
                pool_size=args.pool_size, max_replica_lag=args.max_replica_lag,
                transaction_mode=args.transaction_mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await gate.start()
        logging.info("gate serving MySQL on %s:%d, HTTP on %s", args.host, gate.port, gate.http_port)
        await stop.wait()
    finally:
        await gate.close()
        await ts.close()
    return 0
