"""``shardline gate``: runs a gate until SIGTERM/SIGINT, in one process or several worker processes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys

import uvloop

from shardline.errors import InvalidArgument, ShardlineError
from shardline.gate.buffer import DEFAULT_MAX_REQUESTS, DEFAULT_WINDOW
from shardline.gate.pool import DEFAULT_PIPELINE_DEPTH
from shardline.mysql.server import listen_unix
from shardline.mysql.users import UserStore
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gate", help="run a gate: the MySQL endpoint that routes queries to shards")
    parser.add_argument("--topo", required=True, help="topo server, e.g. embedded:/path/topo.db")
    parser.add_argument("--cell", default="zone1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15306, help="MySQL port")
    parser.add_argument("--socket", default="",
                        help="also take MySQL clients on this Unix socket (clients on the same machine skip TCP)")
    parser.add_argument("--http-port", type=int, default=15001,
                        help="port of /metrics and /debug pages (worker i uses this port + i)")
    parser.add_argument("--users", help='JSON file {"user": "password"}; default: user root, no password')
    parser.add_argument("--pool-size", type=int, default=16, help="connections per tablet (per worker)")
    parser.add_argument("--pipeline-depth", type=int, default=DEFAULT_PIPELINE_DEPTH,
                        help="fast-path point selects sent on one backend connection without waiting for the "
                             "ones before (1: never pipeline)")
    parser.add_argument("--max-replica-lag", type=float, default=30.0, help="seconds; laggier replicas get no reads")
    parser.add_argument("--transaction-mode", choices=("single", "multi"), default="multi")
    parser.add_argument("--buffer-window", type=float, default=DEFAULT_WINDOW,
                        help="seconds a shard's primary requests are held during a failover (0: fail at once)")
    parser.add_argument("--buffer-max-requests", type=int, default=DEFAULT_MAX_REQUESTS,
                        help="requests held at once during a failover; more fail at once")
    parser.add_argument("--workers", type=int, default=1,
                        help="gate processes sharing the MySQL port (SO_REUSEPORT), each with its own pools")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gate %(levelname)s %(message)s")
    if not 1 <= args.workers <= 64:
        raise InvalidArgument(f"--workers must be between 1 and 64, got {args.workers}")
    if not 1 <= args.pipeline_depth <= 1024:
        raise InvalidArgument(f"--pipeline-depth must be between 1 and 1024, got {args.pipeline_depth}")
    users = UserStore.load(args.users) if args.users else None
    # Bound before the workers fork, so that they all take clients from it.
    unix_listener = listen_unix(args.socket) if args.socket else None
    try:
        if args.workers == 1:
            return uvloop.run(_serve(args, users, 0, unix_listener))
        return _supervise(args, users, unix_listener)
    finally:
        if unix_listener is not None:
            unix_listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.socket)


def _supervise(args: argparse.Namespace, users: UserStore | None, unix_listener: socket.socket | None) -> int:
    """Forks the workers (before any event loop or thread exists) and stops them all when one fails or a
    signal arrives."""
    children: dict[int, int] = {}
    for worker in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = uvloop.run(_serve(args, users, worker, unix_listener))
            except ShardlineError as exc:
                print(f"error: gate worker {worker}: {exc}", file=sys.stderr)
            finally:
                os._exit(code)
        children[pid] = worker

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while children:
        pid, code = os.wait()
        worker = children.pop(pid, None)
        if worker is not None and os.waitstatus_to_exitcode(code) != 0 and status == 0:
            log.error("gate worker %d exited with %d; stopping the others", worker, os.waitstatus_to_exitcode(code))
            status = 1
            forward(signal.SIGTERM, None)
    return status


async def _serve(args: argparse.Namespace, users: UserStore | None, worker: int,
                 unix_listener: socket.socket | None) -> int:
    from shardline.gate.server import Gate

    ts = await TopoServer.open(args.topo)
    gate = Gate(ts, args.cell, host=args.host, port=args.port,
                http_port=None if args.http_port is None else args.http_port + worker, users=users,
                pool_size=args.pool_size, max_replica_lag=args.max_replica_lag,
                transaction_mode=args.transaction_mode, reuse_port=args.workers > 1,
                buffer_window=args.buffer_window, buffer_max_requests=args.buffer_max_requests,
                pipeline_depth=args.pipeline_depth, unix_listener=unix_listener, worker=(worker, args.workers))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await gate.start()
        log.info("gate worker %d serving MySQL on %s:%d%s, HTTP on %s", worker, args.host, gate.port,
                 f" and {args.socket}" if args.socket else "", gate.http_port)
        await stop.wait()
    finally:
        await gate.close()
        await ts.close()
    return 0
