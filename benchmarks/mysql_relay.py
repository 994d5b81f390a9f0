"""Measures the protocol layer's overhead: sysbench point selects direct to MariaDB vs through a relay.

The relay is shardline's MySQL server with a RelayHandler (one backend connection per client, responses passed
through raw), in its own process on uvloop, as the gate runs. Prints QPS and latency for both and their ratio.

    .venv/bin/python benchmarks/mysql_relay.py [--seconds 10] [--threads 16] [--mysql-port PORT]

Without --mysql-port it starts a throwaway MariaDB (from the mysqlctl template) and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql

from shardline.mysql.relay import RelayHandler
from shardline.mysql.server import MySQLServer
from shardline.mysql.users import UserStore
from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import DBA

DATABASE = "sbtest"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(backend_port: int, port: int) -> None:
    """Runs the relay until killed."""
    import uvloop

    async def main() -> None:
        server = MySQLServer(
            lambda conn: RelayHandler("127.0.0.1", backend_port, DBA.user, DBA.password),
            users=UserStore({DBA.user: DBA.password}),
            port=port,
        )
        await server.start()
        await asyncio.Event().wait()

    uvloop.run(main())


def sysbench(port: int, command: str, seconds: int, threads: int, ps_mode: str) -> dict[str, float]:
    out = subprocess.run(
        [
            "sysbench", "oltp_point_select", "--db-driver=mysql", "--mysql-host=127.0.0.1", f"--mysql-port={port}",
            f"--mysql-user={DBA.user}", f"--mysql-password={DBA.password}", f"--mysql-db={DATABASE}",
            "--tables=1", "--table-size=10000", f"--threads={threads}", f"--time={seconds}", "--percentile=99",
            f"--db-ps-mode={ps_mode}", command,
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    if command != "run":
        return {}
    qps = float(re.search(r"queries:\s+\d+\s+\(([\d.]+) per sec", out).group(1))  # type: ignore[union-attr]
    avg = float(re.search(r"avg:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"99th percentile:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"qps": qps, "avg_ms": avg, "p99_ms": p99}


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"relay did not listen on {port}")


def run(args: argparse.Namespace) -> None:
    instance = None
    mysql_port = args.mysql_port
    tmp = tempfile.TemporaryDirectory(prefix="shardline-bench-")
    if mysql_port is None:
        mysql_port = free_port()
        instance = MysqlInstance(Path(tmp.name) / "mariadb", mysql_port, 9001)
        instance.init()
        instance.start()
        instance.execute("SET GLOBAL read_only = OFF")
    relay = None
    try:
        login = {"user": DBA.user, "password": DBA.password, "autocommit": True}
        with pymysql.connect(host="127.0.0.1", port=mysql_port, **login) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        sysbench(mysql_port, "cleanup", 1, 1, "auto")
        sysbench(mysql_port, "prepare", 1, 1, "auto")
        relay_port = free_port()
        relay = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--backend-port",
                str(mysql_port),
                "--port",
                str(relay_port),
            ]
        )
        wait_listening(relay_port)
        print(
            f"{'mode':<22}{'direct qps':>12}{'relay qps':>12}{'ratio':>8}{'direct p99':>12}{'relay p99':>12}"
        )
        for threads in (args.threads, 1):
            for ps_mode in ("auto", "disable"):
                direct = sysbench(mysql_port, "run", args.seconds, threads, ps_mode)
                relayed = sysbench(relay_port, "run", args.seconds, threads, ps_mode)
                mode = f"{threads} thr, ps={ps_mode}"
                print(
                    f"{mode:<22}{direct['qps']:>12.0f}{relayed['qps']:>12.0f}"
                    f"{relayed['qps'] / direct['qps']:>8.2f}{direct['p99_ms']:>10.2f}ms{relayed['p99_ms']:>10.2f}ms",
                    flush=True,
                )
    finally:
        if relay is not None:
            relay.terminate()
            relay.wait()
        if instance is not None:
            instance.stop()
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--mysql-port", type=int, help="use a running MariaDB (DBA account, database sbtest)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.backend_port, args.port)
    else:
        run(args)


if __name__ == "__main__":
    main()
