"""mariadbd processes: find the binaries, spawn detached, check liveness by PID, wait, terminate."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pymysql

from shardline import pids
from shardline.errors import DeadlineExceeded, FailedPrecondition

_SBIN_PATH = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"))
_POLL_SECONDS = 0.02


def find_binary(name: str) -> str:
    """The path of a MariaDB server binary; a clear error when mariadb-server is not installed."""
    path = shutil.which(name, path=_SBIN_PATH)
    if path is None:
        raise FailedPrecondition(f"{name} not found: install mariadb-server (run scripts/bootstrap.sh)")
    return path


def spawn_mariadbd(cnf: Path, log: Path, *extra_args: str) -> int:
    """Starts mariadbd in its own session so that it outlives the caller; returns its PID."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [find_binary("mariadbd"), f"--defaults-file={cnf}", *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def is_mariadbd(pid: int) -> bool:
    """True if ``pid`` is a live (not zombie) mariadbd process; reaps it if it is our exited child."""
    return pids.is_running(pid, b"mariadbd")


def read_pid(pid_file: Path) -> int | None:
    """The PID of a running mariadbd recorded in ``pid_file``, or None if none is running."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_mariadbd(pid) else None


def wait_until_answering(socket: Path, pid: int, timeout: float) -> bool:
    """Polls the socket until root gets an answer; False if the process died first, DeadlineExceeded on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_mariadbd(pid):
            return False
        try:
            pymysql.connect(unix_socket=str(socket), user="root", connect_timeout=1, ssl_disabled=True).close()
            return True
        except pymysql.err.OperationalError:
            time.sleep(_POLL_SECONDS)
    raise DeadlineExceeded(f"mariadbd (pid {pid}) did not answer on {socket} within {timeout:g}s")


def terminate(pid: int, timeout: float) -> None:
    """Sends SIGTERM, waits up to ``timeout`` for exit, then SIGKILL and waits again."""
    pids.terminate(pid, timeout, b"mariadbd")


def log_size(log: Path) -> int:
    """The current size of a log file (0 if missing), to read only what a start appends."""
    try:
        return log.stat().st_size
    except FileNotFoundError:
        return 0


def log_tail(log: Path, lines: int = 5, offset: int = 0) -> str:
    """The last lines of a log file after ``offset``, joined with ' | ', for an error message."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no {log})"
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
