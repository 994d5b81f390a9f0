"""``shardline orc``: run the failover agent until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging

import uvloop

from shardline.orc.agent import Orc
from shardline.orc.server import OrcServer
from shardline.tablet.httpjson import until_terminated
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)

DEFAULT_PORT = 16000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``orc`` command."""
    parser = subparsers.add_parser("orc", help="run the failover agent: detect and repair shard problems")
    parser.add_argument("--topo", required=True, help="topo spec, e.g. embedded:/path/topo.db")
    parser.add_argument("--cell", action="append", dest="cells", help="cell to watch (repeatable; default: all)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the HTTP port (127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port: /metrics, /debug/status ({DEFAULT_PORT})")
    parser.add_argument("--poll-interval", type=float, default=5.0,
                        help="seconds between checks of every tablet; a health change starts one at once (5)")
    parser.add_argument("--lock-timeout", type=float, default=2.0, help="seconds to wait for a shard lock (2)")
    parser.add_argument(
        "--wait-replicas-timeout", type=float, default=10.0, help="seconds a new primary may take to catch up (10)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s orc %(levelname)s %(name)s: %(message)s")
    uvloop.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    ts = await TopoServer.open(args.topo)
    orc = Orc(
        ts,
        cells=args.cells,
        poll_interval=args.poll_interval,
        lock_timeout=args.lock_timeout,
        wait_replicas_timeout=args.wait_replicas_timeout,
    )
    server = OrcServer(orc, args.host, args.port)
    try:
        await server.start()
        await orc.start()
        log.info("orc watching %s, HTTP on %s:%d", ", ".join(args.cells or ["every cell"]), args.host, server.port)
        await until_terminated()
    finally:
        await orc.stop()
        await server.stop()
        await ts.close()
