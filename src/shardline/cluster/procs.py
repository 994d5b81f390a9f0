"""Detached ``shardline`` processes of a local cluster, recorded by PID file under the cluster root."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shardline import pids
from shardline.errors import FailedPrecondition

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ProcessSlot:
    """Where one named cluster process keeps its PID file and log."""

    root: Path
    name: str

    @property
    def pid_file(self) -> Path:
        return self.root / "pids" / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.root / "logs" / f"{self.name}.log"

    def running_pid(self) -> int | None:
        """The PID of the live process recorded for this slot, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if is_shardline_process(pid) else None

    def spawn(self, args: list[str]) -> int:
        """Starts ``shardline ARGS`` in its own session (it outlives the caller) and records its PID."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            process = subprocess.Popen(
                [shardline_executable(), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def stop(self, timeout: float) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``; True if a process was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid, timeout)
        self.pid_file.unlink(missing_ok=True)
        return True


def shardline_executable() -> str:
    """The ``shardline`` console script of the running Python environment."""
    path = Path(sys.executable).parent / "shardline"
    if not path.is_file():
        raise FailedPrecondition(f"{path} not found: install shardline in this environment (scripts/bootstrap.sh)")
    return str(path)


def is_shardline_process(pid: int) -> bool:
    """True if ``pid`` is a live, non-zombie ``shardline`` process (our exited child is reaped)."""
    return pids.is_running(pid, b"shardline")


def terminate(pid: int, timeout: float) -> None:
    """Sends SIGTERM, waits up to ``timeout`` for the exit, then SIGKILL."""
    pids.terminate(pid, timeout, b"shardline")


def check_port_free(port: int, owner: str) -> None:
    """Raises FailedPrecondition if something already listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise FailedPrecondition(
                    f"port {port} ({owner}) is already in use by another process; "
                    "stop it or choose another --port-base"
                ) from exc
            raise FailedPrecondition(f"cannot listen on 127.0.0.1:{port} ({owner}): {exc.strerror}") from exc
