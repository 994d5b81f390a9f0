"""``shardline mysqlctl init|start|stop|status``: manage the MariaDB instance of one tablet uid."""

from __future__ import annotations

import argparse
from pathlib import Path

from shardline.mysqlctl.instance import MysqlInstance, tablet_instance


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``mysqlctl`` command and its actions."""
    parser = subparsers.add_parser("mysqlctl", help="manage the local MariaDB instance of a tablet")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, func, help_text in (
        ("init", _init, "create the instance directory, my.cnf and datadir (idempotent)"),
        ("start", _start, "start mariadbd and wait until it answers (idempotent)"),
        ("stop", _stop, "stop mariadbd (idempotent)"),
        ("status", _status, "print whether mariadbd runs; exit status 1 if it does not"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--root", type=Path, required=True, help="directory holding the instance dirs")
        action.add_argument("--uid", type=int, required=True, help="tablet uid, also the server_id")
        action.add_argument("--port", type=int, help="MySQL port (default 17000 + uid)")
        action.set_defaults(func=func)


def _instance(args: argparse.Namespace) -> MysqlInstance:
    return tablet_instance(args.root, args.uid, args.port)


def _init(args: argparse.Namespace) -> int:
    instance = _instance(args)
    instance.init()
    print(f"initialized MariaDB for uid {args.uid} in {instance.base_dir} (port {instance.port})")
    return 0


def _start(args: argparse.Namespace) -> int:
    instance = _instance(args)
    instance.start()
    status = instance.status()
    print(f"MariaDB for uid {args.uid} running on {instance.host}:{instance.port} (pid {status.pid})")
    return 0


def _stop(args: argparse.Namespace) -> int:
    _instance(args).stop()
    print(f"MariaDB for uid {args.uid} stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = _instance(args).status()
    if status.running:
        print(f"MariaDB for uid {args.uid} running on port {status.port} (pid {status.pid})")
        return 0
    print(f"MariaDB for uid {args.uid} not running (port {status.port})")
    return 1
