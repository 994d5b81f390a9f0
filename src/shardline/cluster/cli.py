"""``shardline up``, ``shardline down`` and ``shardline status``: the local cluster."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from shardline.cluster.down import down, status
from shardline.cluster.layout import (
    DEFAULT_PORT_BASE,
    DEFAULT_REPLICAS,
    DEFAULT_SHARDS,
    MAX_REPLICAS,
    MAX_SHARDS,
    ClusterLayout,
)
from shardline.cluster.up import UpReport, up
from shardline.errors import FailedPrecondition
from shardline.mysqlctl.users import APP

DEFAULT_ROOT = Path("var/cluster")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``up``, ``down`` and ``status`` commands."""
    parser = subparsers.add_parser("up", help="start (or resume) the local cluster")
    _add_root(parser)
    parser.add_argument(
        "--shards", type=int, help=f"shards of the customer keyspace, 1..{MAX_SHARDS} (default {DEFAULT_SHARDS})"
    )
    parser.add_argument(
        "--replicas", type=int, help=f"replicas per shard, 0..{MAX_REPLICAS} (default {DEFAULT_REPLICAS})"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        help="ports are BASE+306 (gate MySQL), BASE+1 (gate HTTP), BASE+999 (ctld), BASE+N (agent of tablet "
        f"uid N), BASE+2000+N (its MariaDB); default {DEFAULT_PORT_BASE}",
    )
    parser.set_defaults(func=_up)
    parser = subparsers.add_parser("down", help="stop the local cluster (its data is kept)")
    _add_root(parser)
    parser.set_defaults(func=_down)
    parser = subparsers.add_parser("status", help="list the local cluster's processes")
    _add_root(parser)
    parser.set_defaults(func=_status)


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"cluster directory (default {DEFAULT_ROOT})")


def _existing(root: Path) -> ClusterLayout:
    layout = ClusterLayout.load(root)
    if layout is None:
        raise FailedPrecondition(f"no cluster in {root}: start one with `shardline up --root {root}`")
    return layout


def _up(args: argparse.Namespace) -> int:
    layout = ClusterLayout.resolve(args.root, args.shards, args.replicas, args.port_base)
    print(f"starting the cluster in {layout.root} ...", flush=True)
    report = asyncio.run(up(layout))
    print(_describe(report))
    return 0


def _down(args: argparse.Namespace) -> int:
    layout = _existing(args.root)
    stopped = down(layout)
    print(f"stopped {len(stopped)} processes of {layout.root}; data kept (`shardline up --root {args.root}` resumes)")
    return 0


def _status(args: argparse.Namespace) -> int:
    layout = _existing(args.root)
    print(f"cluster in {layout.root}")
    for row in status(layout):
        state = f"pid {row.pid}" if row.pid is not None else "stopped"
        print(f"  {row.name:<28} {state:<12} port {', '.join(map(str, row.ports))}")
    return 0


def _describe(report: UpReport) -> str:
    layout = report.layout
    lines = [f"cluster up in {report.seconds:.1f}s: {layout.root}"]
    if report.started:
        lines.append(f"  started: {', '.join(report.started)}")
    if report.initialized_shards:
        lines.append(f"  new primaries for: {', '.join(report.initialized_shards)}")
    if report.sample_keyspaces:
        lines.append(f"  sample schema and VSchema applied to: {', '.join(report.sample_keyspaces)}")
    lines.append("tablets (uid: keyspace/shard, agent HTTP port, MariaDB port; the first of each shard is its primary):")
    for plan in layout.tablets:
        lines.append(f"  {plan.alias:<12} {plan.keyspace}/{plan.shard:<8} agent {plan.port}  mariadb {plan.mysql_port}")
    lines.append(f"ctld: 127.0.0.1:{layout.ctld_port}  (shardline ctl --server 127.0.0.1:{layout.ctld_port} GetTablets)")
    direct = layout.tablets[0]
    lines += [
        f"gate: MySQL 127.0.0.1:{layout.gate_port} and {layout.gate_socket}, HTTP 127.0.0.1:{layout.gate_http_port}",
        f"failover agent: http://127.0.0.1:{layout.orc_port}/debug/status",
        "connect:",
        f"  mariadb -h 127.0.0.1 -P {layout.gate_port} -u root customer",
        f"  mariadb -S {layout.gate_socket} -u root customer",
        f"  python: pymysql.connect(host='127.0.0.1', port={layout.gate_port}, user='root', database='customer')",
    ]
    lines.append(
        f"  one shard directly: mariadb -h 127.0.0.1 -P {direct.mysql_port} -u {APP.user} -p{APP.password} "
        f"{direct.keyspace}"
    )
    lines.append(f"stop: shardline down --root {layout.root}")
    return "\n".join(lines)
