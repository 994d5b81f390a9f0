"""The embedded backend's watches: woken by writes to the file (inotify), not by a timer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from shardline.topo import WatchEvent, embedded, open_topo
from shardline.topo.file_writes import FileWrites


def _count_change_log_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads = [0]
    read = embedded._changes_since

    def counted(*args: object) -> object:
        reads[0] += 1
        return read(*args)

    monkeypatch.setattr(embedded, "_changes_since", counted)
    return reads


async def test_a_write_by_another_process_reaches_a_watch_without_a_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "WRITE_WAIT_LIMIT", 60.0)  # only inotify can deliver it in time
    path = tmp_path / "topo.db"
    conn = await open_topo(f"embedded:{path}")
    try:
        async with await conn.watch("w/key") as watch:
            await asyncio.sleep(0.2)  # the poller has read the change log and waits for a write
            writer = (
                "import asyncio, sys\n"
                "from shardline.topo import open_topo\n"
                "async def main():\n"
                "    conn = await open_topo(sys.argv[1])\n"
                "    await conn.create('w/key', b'from another process')\n"
                "    await conn.close()\n"
                "asyncio.run(main())\n"
            )
            subprocess.run([sys.executable, "-c", writer, f"embedded:{path}"], check=True, timeout=30)
            event = await asyncio.wait_for(anext(watch), 5)
            assert event == WatchEvent("w/key", b"from another process", event.version)
    finally:
        await conn.close()


async def test_an_idle_watch_does_not_read_the_change_log_on_a_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_change_log_reads(monkeypatch)
    conn = await open_topo(f"embedded:{tmp_path}/topo.db")
    try:
        async with await conn.watch_prefix("p/") as watch:
            await asyncio.sleep(0.1)
            before = reads[0]
            await asyncio.sleep(0.6)
            assert reads[0] - before <= 1  # a 30 ms timer would have read it about 20 times
            version = await conn.create("p/a", b"a")
            assert await asyncio.wait_for(anext(watch), 5) == WatchEvent("p/a", b"a", version)
    finally:
        await conn.close()


async def test_without_inotify_a_watch_polls_the_change_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FileWrites, "open", staticmethod(lambda path: None))
    reads = _count_change_log_reads(monkeypatch)
    conn = await open_topo(f"embedded:{tmp_path}/topo.db")
    try:
        async with await conn.watch("k") as watch:
            await asyncio.sleep(0.5)
            assert reads[0] >= 5
            version = await conn.create("k", b"v")
            assert await asyncio.wait_for(anext(watch), 5) == WatchEvent("k", b"v", version)
    finally:
        await conn.close()


async def test_closing_the_topo_closes_the_inotify_descriptor(tmp_path: Path) -> None:
    before = _inotify_descriptors()
    conn = await open_topo(f"embedded:{tmp_path}/topo.db")
    watch = await conn.watch("k")
    reader = asyncio.create_task(anext(watch, "ended"))
    await asyncio.sleep(0.1)
    assert _inotify_descriptors() == before + 1
    await watch.close()
    await conn.close()
    assert await asyncio.wait_for(reader, 5) == "ended"
    assert _inotify_descriptors() == before


def _inotify_descriptors() -> int:
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += "inotify" in str(fd.readlink())
        except OSError:
            pass
    return count
