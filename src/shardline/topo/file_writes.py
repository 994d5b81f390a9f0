"""Tells the embedded topo's watch poller that its SQLite file was written, by this process or another: an
inotify watch on the file's directory for writes to the database and its write-ahead log, read on the event
loop. The poller then reads the change log only after a write, instead of on a timer on its SQLite thread,
whose every wake-up takes the GIL from the event loop (docs/architecture.md, "Topo watches, embedded backend")."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from inotify_simple import INotify, flags

log = logging.getLogger(__name__)

_MASK = flags.MODIFY | flags.CREATE | flags.MOVED_TO


class FileWrites:
    """Set by a write to ``path`` (or its ``-wal`` or ``-journal`` file) since the last ``clear``; the inotify
    descriptor is read by the running event loop until ``close``."""

    def __init__(self, path: Path, inotify: INotify) -> None:
        self._names = {path.name, f"{path.name}-wal", f"{path.name}-journal"}
        self._inotify = inotify
        self._written = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        inotify.add_watch(path.parent, _MASK)
        self._loop.add_reader(inotify.fileno(), self._on_readable)

    @classmethod
    def open(cls, path: Path) -> FileWrites | None:
        """Watches ``path``; None where inotify is unavailable (limits reached, no such facility), so that the
        caller polls instead."""
        try:
            inotify = INotify(nonblocking=True)
        except OSError as exc:
            log.info("no inotify for %s (%s); the topo watch polls instead", path, exc)
            return None
        try:
            return cls(path, inotify)
        except OSError as exc:
            inotify.close()
            log.info("no inotify watch on %s (%s); the topo watch polls instead", path.parent, exc)
            return None

    def clear(self) -> None:
        """Forgets the writes seen so far: call it before reading the file, so that a write during the read
        is not missed."""
        self._written.clear()

    async def wait(self, timeout: float) -> bool:
        """Returns at the first write since ``clear`` (True), or after ``timeout`` seconds (False)."""
        if self._written.is_set():
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._written.wait()
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Stops reading the descriptor and closes it."""
        self._loop.remove_reader(self._inotify.fileno())
        self._inotify.close()

    def _on_readable(self) -> None:
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            self._written.set()  # cannot tell: read the file again
            return
        for event in events:
            if event.name in self._names or event.mask & flags.Q_OVERFLOW:
                self._written.set()
                return
