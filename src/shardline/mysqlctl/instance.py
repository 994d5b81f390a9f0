"""One MariaDB instance on this machine: init from the template, start, stop, status, DBA access."""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from shardline.errors import FailedPrecondition, InvalidArgument, Unavailable
from shardline.mysqlctl import process
from shardline.mysqlctl.mycnf import MycnfLayout, render_mycnf
from shardline.mysqlctl.query import driver_error, query
from shardline.mysqlctl.template import template_datadir


@dataclass(frozen=True)
class MysqlStatus:
    """Whether the instance runs, under which PID, on which port."""

    running: bool
    pid: int | None
    port: int


TABLET_MYSQL_PORT_BASE = 17000


def tablet_instance(root: Path, uid: int, port: int | None = None) -> MysqlInstance:
    """The instance of tablet ``uid`` under ``root``: directory ``vt_<uid, 10 digits>``, server_id = uid,
    port 17000 + uid unless given."""
    if uid < 1:
        raise InvalidArgument(f"invalid tablet uid {uid}: must be a positive integer")
    port = TABLET_MYSQL_PORT_BASE + uid if port is None else port
    return MysqlInstance(Path(root) / f"vt_{uid:010d}", port, uid)


class MysqlInstance:
    """A mariadbd with its own directory, port and server_id. Every method is idempotent.

    The process is started in its own session, so it outlives the Python process that started it.
    """

    def __init__(self, base_dir: Path, port: int, server_id: int, host: str = "127.0.0.1") -> None:
        self.base_dir = Path(base_dir).absolute()
        self.port = port
        self.server_id = server_id
        self.host = host
        self.layout = MycnfLayout(self.base_dir)
        self.socket = self.layout.socket

    def __repr__(self) -> str:
        return f"MysqlInstance({str(self.base_dir)!r}, port={self.port}, server_id={self.server_id})"

    def init(self) -> None:
        """Writes my.cnf and, on first call, copies the template datadir (accounts and ``_vt`` included)."""
        cnf = render_mycnf(self.layout, port=self.port, server_id=self.server_id, bind_address=self.host)
        for directory in (self.base_dir, self.layout.tmpdir, self.layout.binlog_dir):
            directory.mkdir(parents=True, exist_ok=True)
        if not self.layout.datadir.is_dir():
            template = template_datadir()
            staging = self.base_dir / "data.partial"
            shutil.rmtree(staging, ignore_errors=True)
            subprocess.run(["cp", "-a", str(template), str(staging)], check=True)
            staging.rename(self.layout.datadir)
        staging_cnf = self.layout.cnf.with_suffix(".cnf.partial")
        staging_cnf.write_text(cnf)
        staging_cnf.rename(self.layout.cnf)

    def start(self, timeout: float = 30.0) -> None:
        """Starts mariadbd and waits until it answers; if it runs already, only waits until it answers."""
        running = process.read_pid(self.layout.pid_file)
        if running is not None:
            if not process.wait_until_answering(self.socket, running, timeout):
                raise Unavailable(f"mariadbd in {self.base_dir} exited while starting")
            return
        if not (self.layout.datadir.is_dir() and self.layout.cnf.is_file()):
            raise FailedPrecondition(f"{self.base_dir} is not initialized: run init first")
        self._check_port_free()
        log_offset = process.log_size(self.layout.error_log)
        pid = process.spawn_mariadbd(self.layout.cnf, self.base_dir / "stdout.log")
        try:
            answered = process.wait_until_answering(self.socket, pid, timeout)
        except Unavailable:
            process.terminate(pid, timeout=10)
            raise
        if not answered:
            errors = process.log_tail(self.layout.error_log, offset=log_offset)
            if "Address already in use" in errors:
                raise self._port_in_use()
            raise Unavailable(f"mariadbd in {self.base_dir} exited during start: {errors}")

    def stop(self, timeout: float = 60.0) -> None:
        """Stops mariadbd by the PID in its pid file: SIGTERM, then SIGKILL after ``timeout``."""
        pid = process.read_pid(self.layout.pid_file)
        if pid is not None:
            process.terminate(pid, timeout)

    def status(self) -> MysqlStatus:
        """Running or not, from the pid file and the process table."""
        pid = process.read_pid(self.layout.pid_file)
        return MysqlStatus(running=pid is not None, pid=pid, port=self.port)

    def dba_connect(self) -> pymysql.connections.Connection:
        """A new autocommit PyMySQL connection as root over the Unix socket."""
        try:
            return pymysql.connect(
                unix_socket=str(self.socket), user="root", autocommit=True, charset="utf8mb4",
                ssl_disabled=True,  # PyMySQL would build a TLS context per connection (~10 ms) for nothing
            )
        except pymysql.MySQLError as exc:
            raise Unavailable(f"cannot connect to {self.base_dir}: {driver_error(exc)}") from exc

    def execute(self, sql: str, args: Sequence[Any] | None = None) -> list[tuple]:
        """Runs one statement as root on a fresh connection and returns its rows."""
        with self.dba_connect() as conn:
            return query(conn, sql, args)

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise self._port_in_use() from exc
                raise FailedPrecondition(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from exc

    def _port_in_use(self) -> FailedPrecondition:
        return FailedPrecondition(f"port {self.port} on {self.host} is already in use by another process")
