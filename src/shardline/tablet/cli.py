"""``shardline tablet``: run one tablet agent until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvloop

from shardline.tablet.agent import TabletAgent, TabletConfig
from shardline.tablet.httpjson import until_terminated
from shardline.tablet.server import TabletServer
from shardline.topo.records import TabletAlias, TabletType
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``tablet`` command."""
    parser = subparsers.add_parser("tablet", help="run a tablet agent and its MariaDB")
    parser.add_argument("--topo", required=True, help="topo spec, e.g. embedded:/path/topo.db")
    parser.add_argument("--alias", required=True, type=TabletAlias.parse, help="tablet alias, e.g. zone1-100")
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--shard", required=True, help="shard name, e.g. 0, -80, 80-")
    parser.add_argument("--type", default="replica", type=TabletType.parse, help="initial tablet type (replica)")
    parser.add_argument("--mysql-port", type=int, required=True, help="MariaDB port")
    parser.add_argument("--port", type=int, required=True, help="agent HTTP port (0: any free port)")
    parser.add_argument("--root", type=Path, required=True, help="directory of the MariaDB instances")
    parser.add_argument("--hostname", default="127.0.0.1", help="address to listen on and publish")
    parser.add_argument("--keep-mysql", action="store_true", help="leave MariaDB running on shutdown")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = TabletConfig(
        alias=args.alias,
        keyspace=args.keyspace,
        shard=args.shard,
        tablet_type=args.type,
        mysql_port=args.mysql_port,
        root=args.root,
        hostname=args.hostname,
        keep_mysql=args.keep_mysql,
    )
    uvloop.run(_serve(args.topo, config, args.port))
    return 0


async def _serve(topo_spec: str, config: TabletConfig, port: int) -> None:
    ts = await TopoServer.open(topo_spec)
    try:
        server = TabletServer(TabletAgent(ts, config), port)
        await server.start()
        log.info("tablet %s serving %s/%s on port %d", config.alias, config.keyspace, config.shard, server.port)
        await until_terminated()
        log.info("tablet %s shutting down", config.alias)
        await server.stop()
    finally:
        await ts.close()
