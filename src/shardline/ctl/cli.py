"""``shardline ctld`` (serve the ctl commands) and ``shardline ctl <Command>`` (run one through ctld)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from shardline.ctl.client import DEFAULT_SERVER, call_ctld
from shardline.ctl.context import CtlContext
from shardline.ctl.registry import COMMANDS
from shardline.ctl.server import CtldServer
from shardline.errors import InvalidArgument
from shardline.tablet.httpjson import until_terminated

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``ctld`` and ``ctl`` commands."""
    ctld = subparsers.add_parser("ctld", help="serve the ctl commands over HTTP/JSON")
    ctld.add_argument("--topo", required=True, help="topo spec, e.g. embedded:/path/topo.db")
    ctld.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    ctld.add_argument("--port", type=int, default=15999, help="HTTP port (15999)")
    ctld.set_defaults(func=_run_ctld)

    listing = "\n".join(f"  {name:<26} {command.help}" for name, command in sorted(COMMANDS.items()))
    ctl = subparsers.add_parser(
        "ctl",
        help="run a ctl command through ctld",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"commands (`shardline ctl COMMAND --help` for its flags):\n{listing}",
    )
    ctl.add_argument("--server", default=DEFAULT_SERVER, help=f"ctld address host:port ({DEFAULT_SERVER})")
    ctl.add_argument("--action-timeout", type=float, default=300.0, help="seconds to wait for the result (300)")
    ctl.add_argument("command", metavar="COMMAND")
    ctl.add_argument("args", nargs=argparse.REMAINDER, help="the command's flags and arguments")
    ctl.set_defaults(func=_run_ctl)


def _run_ctl(args: argparse.Namespace) -> int:
    command = COMMANDS.get(args.command)
    if command is None:
        raise InvalidArgument(f"unknown command {args.command!r}; `shardline ctl --help` lists the commands")
    result = asyncio.run(call_ctld(args.server, command, command.parse(args.args), args.action_timeout))
    if result is not None:
        print(json.dumps(result, indent=2))
    return 0


def _run_ctld(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args.topo, args.host, args.port))
    return 0


async def _serve(topo_spec: str, host: str, port: int) -> None:
    async with CtlContext.open(topo_spec) as ctx:
        await ctx.ts.get_cells()  # an unreachable topo is one error line at start, not a ctld that cannot work
        server = CtldServer(ctx, host, port)
        await server.start()
        log.info("ctld serving on %s:%d", host, server.port)
        await until_terminated()
        await server.stop()
