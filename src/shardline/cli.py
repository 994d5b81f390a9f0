"""The ``shardline`` command. Each component registers its own subcommands from its ``cli`` module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from shardline.errors import ShardlineError

# Components whose ``cli.register(subparsers)`` adds subcommands.
COMPONENT_CLIS = (
    "shardline.cluster.cli",
    "shardline.mysqlctl.cli",
    "shardline.tablet.cli",
    "shardline.ctl.cli",
    "shardline.gate.cli",
    "shardline.orc.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardline", description="Horizontal sharding for MariaDB.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMPONENT_CLIS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Runs a subcommand; a ShardlineError becomes one line on stderr and exit status 1. A reader that stops
    reading (``shardline status | head``) ends the command quietly, as it ends other Unix commands."""
    try:
        try:
            args = build_parser().parse_args(argv)
            rc = args.func(args)
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be caught, not at interpreter exit
    except ShardlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's own flush finds no pipe
        sys.exit(141)  # 128 + SIGPIPE, what a shell reports for a command a closed pipe ended
    sys.exit(rc or 0)
