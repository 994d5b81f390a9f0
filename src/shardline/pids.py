"""Processes this machine runs for shardline, found by PID: alive or not, and how to stop one."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from shardline.errors import DeadlineExceeded

POLL_SECONDS = 0.05


def is_running(pid: int, program: bytes) -> bool:
    """True if ``pid`` is a live, non-zombie process whose command line names ``program``; reaps it if it is
    our exited child. For our own child, being alive is enough: right after exec, /proc may not show its new
    command line yet."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and program in cmdline


def terminate(pid: int, timeout: float, program: bytes) -> None:
    """Sends SIGTERM, waits up to ``timeout`` for the exit, then SIGKILL and waits again."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_running(pid, program):
                return
            time.sleep(POLL_SECONDS)
    raise DeadlineExceeded(f"{program.decode()} (pid {pid}) did not exit after SIGKILL")
