"""Topo fixtures: a real etcd (Debian's binary) started once per session, and a fresh store per test on each
backend: a temp SQLite file, or a unique root prefix in the shared etcd."""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shardline.topo import TopoConn, open_topo
from tests.ports import free_port

BACKENDS = ["embedded", "etcd"]



def _start_etcd(data_dir: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """Starts etcd on fresh ports; None if it died (a port was taken meanwhile)."""
    client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    with open(data_dir / "etcd.log", "ab") as log:
        proc = subprocess.Popen(
            ["etcd", "--name", "n1", "--data-dir", str(data_dir / "data"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"n1={peer}", "--initial-cluster-state", "new"],
            stdout=log, stderr=log,
        )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{client}/health", timeout=1) as resp:
                if b'"true"' in resp.read():
                    return proc, client.removeprefix("http://")
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    return None


@pytest.fixture(scope="session")
def etcd_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a single-node etcd running for the whole session."""
    for _ in range(3):
        started = _start_etcd(tmp_path_factory.mktemp("etcd"))
        if started:
            break
    else:
        pytest.fail("etcd did not start; see etcd.log in the pytest temp dir")
    proc, endpoint = started
    yield endpoint
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture(params=BACKENDS)
def topo_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A topo spec for an empty store on each backend."""
    if request.param == "embedded":
        return f"embedded:{tmp_path}/topo.db"
    return f"etcd:{request.getfixturevalue('etcd_endpoint')}/test-{uuid.uuid4().hex}"


@pytest.fixture
async def conn(topo_spec: str) -> AsyncIterator[TopoConn]:
    topo = await open_topo(topo_spec)
    yield topo
    await topo.close()
