"""Shared fixtures: MariaDB instances started once per test session from the cached template datadir."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# The tests run the modules the gate runs: the compiled ones, rebuilt first if a source changed since the last
# build (before anything imports them: a process keeps the extension it loaded).
if subprocess.run([sys.executable, str(Path(__file__).parent.parent / "scripts" / "build_native.py")]).returncode:
    pytest.exit("scripts/build_native.py failed (above): the compiled modules would not match their sources", 1)

from shardline.errors import FailedPrecondition
from shardline.mysqlctl.instance import MysqlInstance
from tests.ports import free_port

_PORT_ATTEMPTS = 5



@pytest.fixture(scope="session")
def mariadb_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], MysqlInstance]]:
    """``mariadb_factory(name)``: a started, initialized, writable (read_only=OFF) instance with its own port
    and directory; the same name returns the same instance. All are stopped at the end of the session."""
    root = tmp_path_factory.mktemp("mariadb")
    instances: dict[str, MysqlInstance] = {}
    server_ids = itertools.count(1001)

    def factory(name: str) -> MysqlInstance:
        if name in instances:
            return instances[name]
        server_id = next(server_ids)
        for attempt in range(_PORT_ATTEMPTS):
            instance = MysqlInstance(root / name, free_port(), server_id)
            instance.init()
            try:
                instance.start()
                break
            except FailedPrecondition:  # another process took the port between probe and start
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
        instance.execute("SET GLOBAL read_only = OFF")
        instances[name] = instance
        return instance

    yield factory
    with ThreadPoolExecutor(max_workers=max(1, len(instances))) as pool:
        list(pool.map(MysqlInstance.stop, instances.values()))


@pytest.fixture(scope="session")
def mariadb(mariadb_factory: Callable[[str], MysqlInstance]) -> MysqlInstance:
    """The session's shared instance, ``mariadb_factory("shared")``."""
    return mariadb_factory("shared")
