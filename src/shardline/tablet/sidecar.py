"""The databases a tablet creates on its MariaDB at start: the keyspace's own and the ``_vt`` sidecar tables.

They are created with the binlog off on every tablet of a shard, so they never replicate and never collide with
what the primary sends.
"""

from __future__ import annotations

import pymysql

from shardline.mysqlctl.query import query
from shardline.mysqlctl.template import SIDECAR_DB

REPARENT_JOURNAL = f"{SIDECAR_DB}.reparent_journal"

_SIDECAR_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS {REPARENT_JOURNAL} (
  time_created_ns BIGINT UNSIGNED NOT NULL,
  action_name VARBINARY(250) NOT NULL,
  primary_alias VARBINARY(32) NOT NULL,
  replication_position VARBINARY(64000) DEFAULT NULL,
  PRIMARY KEY (time_created_ns)
) ENGINE=InnoDB""",
)


def quote_identifier(name: str) -> str:
    """``name`` as a backquoted MySQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def create_databases(conn: pymysql.connections.Connection, keyspace: str) -> None:
    """Creates the keyspace's database and the sidecar tables if missing, without writing to the binlog."""
    query(conn, "SET SESSION sql_log_bin = 0")
    try:
        query(conn, f"CREATE DATABASE IF NOT EXISTS {quote_identifier(keyspace)}")
        query(conn, f"CREATE DATABASE IF NOT EXISTS {SIDECAR_DB}")
        for statement in _SIDECAR_TABLES:
            query(conn, statement)
    finally:
        query(conn, "SET SESSION sql_log_bin = 1")


def write_reparent_journal(
    conn: pymysql.connections.Connection,
    time_created_ns: int,
    action_name: str,
    primary_alias: str,
    replication_position: str,
) -> None:
    """Records a reparent on the new primary; the row replicates, so replicas that have it follow it."""
    query(
        conn,
        f"INSERT INTO {REPARENT_JOURNAL} (time_created_ns, action_name, primary_alias, replication_position) "
        "VALUES (%s, %s, %s, %s)",
        (time_created_ns, action_name, primary_alias, replication_position),
    )
