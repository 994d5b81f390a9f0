"""``shardline ctl`` against a real ``shardline ctld`` process: JSON on stdout, and bad input as exit status 1
with one ``error:`` line on stderr."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shardline.cluster.procs import shardline_executable
from tests.ports import free_port


@contextmanager
def running_ctld(topo_spec: str, log_path: Path) -> Iterator[str]:
    """Runs ``shardline ctld`` on a free port; yields its ``host:port``; SIGTERM must stop it cleanly."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [shardline_executable(), "ctld", "--topo", topo_spec, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"ctld did not start: {log_path.read_text()}")
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    process.terminate()
    assert process.wait(timeout=10) == 0


@pytest.fixture(scope="module")
def ctld(tmp_path_factory) -> Iterator[str]:
    """``host:port`` of a ctld on a fresh embedded topo."""
    root = tmp_path_factory.mktemp("ctld")
    with running_ctld(f"embedded:{root / 'topo.db'}", root / "ctld.log") as server:
        yield server


def ctl(server: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shardline_executable(), "ctl", "--server", server, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]


def test_commands_print_json(ctld):
    assert ctl(ctld, "AddCellInfo", "zone1").returncode == 0
    created = ctl(ctld, "CreateKeyspace", "--durability-policy", "semi_sync", "cli_ks")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"name": "cli_ks", "durability_policy": "semi_sync"}
    listed = ctl(ctld, "GetKeyspaces")
    assert json.loads(listed.stdout) == [{"name": "cli_ks", "durability_policy": "semi_sync"}]


def test_bad_input_is_one_line_and_changes_nothing(ctld):
    ctl(ctld, "CreateKeyspace", "twice")
    assert_one_line_error(ctl(ctld, "CreateKeyspace", "twice"), "keyspace 'twice' already exists")
    assert_one_line_error(ctl(ctld, "GetKeyspace", "nope"), "keyspace 'nope' does not exist")
    assert_one_line_error(ctl(ctld, "GetKeyspace"), "the following arguments are required: keyspace")
    assert_one_line_error(ctl(ctld, "Explode"), "unknown command 'Explode'")
    assert_one_line_error(ctl(ctld, "ApplyVSchema", "twice", "--vschema", "{nope"), "not valid JSON")
    assert_one_line_error(
        ctl(ctld, "ApplyVSchema", "twice", "--vschema", '{"vindexes": {"v": {"type": "nope"}}}'),
        "unknown vindex type 'nope'",
    )
    ctl(ctld, "CreateShard", "twice/-80")
    assert_one_line_error(ctl(ctld, "RebuildKeyspaceGraph", "twice"), "gap in key space after -80")
    shards = json.loads(ctl(ctld, "FindAllShardsInKeyspace", "twice").stdout)
    assert list(shards) == ["-80"]


def test_unreachable_ctld_or_topo_is_one_line():
    assert_one_line_error(ctl(f"127.0.0.1:{free_port()}", "GetKeyspaces"), "cannot reach")
    ctld = subprocess.run(
        [shardline_executable(), "ctld", "--topo", f"etcd:127.0.0.1:{free_port()}", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert ctld.returncode == 1
    assert ctld.stderr.splitlines()[-1].startswith("error: etcd 127.0.0.1:") and "UNAVAILABLE" in ctld.stderr
