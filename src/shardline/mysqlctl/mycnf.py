"""Renders the my.cnf of one instance. It is always passed with --defaults-file, so /etc/mysql is never read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shardline.errors import InvalidArgument

# Small-memory profile: about 53 MB RSS idle, so a dozen instances fit in a few GB.
_SMALL_MEMORY = """\
performance_schema=OFF
innodb_buffer_pool_size=16M
innodb_log_file_size=16M
innodb_log_buffer_size=2M
innodb_read_io_threads=1
innodb_write_io_threads=2
innodb_purge_threads=1
innodb_use_native_aio=OFF
key_buffer_size=1M
aria_pagecache_buffer_size=1M
query_cache_size=0
query_cache_type=0
max_connections=200
thread_cache_size=4
table_open_cache=256
table_definition_cache=256
tmp_table_size=4M
max_heap_table_size=4M
sort_buffer_size=256K
binlog_cache_size=32K
"""


@dataclass(frozen=True)
class MycnfLayout:
    """Where one instance keeps its files, all under ``base_dir``."""

    base_dir: Path

    @property
    def cnf(self) -> Path:
        return self.base_dir / "my.cnf"

    @property
    def datadir(self) -> Path:
        return self.base_dir / "data"

    @property
    def tmpdir(self) -> Path:
        return self.base_dir / "tmp"

    @property
    def binlog_dir(self) -> Path:
        return self.base_dir / "binlog"

    @property
    def socket(self) -> Path:
        return self.base_dir / "mysql.sock"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "mariadbd.pid"

    @property
    def error_log(self) -> Path:
        return self.base_dir / "error.log"


def render_mycnf(layout: MycnfLayout, *, port: int, server_id: int, bind_address: str) -> str:
    """The my.cnf text for an instance: own files, GTID row-based binlog, read_only at start, small memory."""
    if not 0 < port < 65536:
        raise InvalidArgument(f"invalid MySQL port {port}: must be 1..65535")
    if not 0 < server_id < 2**32:
        raise InvalidArgument(f"invalid server_id {server_id}: must be 1..4294967295")
    if len(str(layout.socket)) > 107:
        raise InvalidArgument(f"socket path too long for a Unix socket (max 107 bytes): {layout.socket}")
    run_as_root = "user=root\n" if os.geteuid() == 0 else ""
    return f"""\
[mariadbd]
{run_as_root}datadir={layout.datadir}
tmpdir={layout.tmpdir}
socket={layout.socket}
pid_file={layout.pid_file}
log_error={layout.error_log}
port={port}
bind_address={bind_address}
server_id={server_id}
skip_name_resolve=ON
log_bin={layout.binlog_dir}/mysql-bin
relay_log={layout.binlog_dir}/relay-bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
log_slave_updates=ON
gtid_strict_mode=ON
gtid_domain_id=0
binlog_expire_logs_seconds=86400
read_only=ON
character_set_server=utf8mb4
collation_server=utf8mb4_general_ci
{_SMALL_MEMORY}
[client]
socket={layout.socket}
port={port}
user=root
"""
