"""The MariaDB accounts every instance gets, and the SQL that creates them.

Passwords have fixed defaults for a local cluster; ``SHARDLINE_<ROLE>_PASSWORD`` (``SHARDLINE_DBA_PASSWORD``,
``SHARDLINE_APP_PASSWORD``, ``SHARDLINE_REPL_PASSWORD``, ``SHARDLINE_FILTERED_PASSWORD``) overrides one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pymysql.converters import escape_string


@dataclass(frozen=True)
class Credentials:
    """A MySQL user name and its password."""

    user: str
    password: str


def _credentials(role: str, user: str) -> Credentials:
    return Credentials(user, os.environ.get(f"SHARDLINE_{role}_PASSWORD", f"{user}_pw"))


DBA = _credentials("DBA", "vt_dba")
"""Administration: all privileges, with grant option."""
APP = _credentials("APP", "vt_app")
"""Applications, through the gate's connection pools: DML, DDL and SELECT on every database."""
REPL = _credentials("REPL", "vt_repl")
"""Replicas connecting to their primary."""
FILTERED = _credentials("FILTERED", "vt_filtered")
"""VReplication: binlog streaming from the source, copy and apply on the target."""

_APP_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, "
    "LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, TRIGGER, EVENT, "
    "SHOW DATABASES, PROCESS"
)
_GRANTS: tuple[tuple[Credentials, str], ...] = (
    (DBA, "ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION"),
    (APP, f"{_APP_PRIVILEGES} ON *.* TO {{account}}"),
    (
        REPL,
        "REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, REPLICATION MASTER ADMIN, SLAVE MONITOR "
        "ON *.* TO {account}",
    ),
    (
        FILTERED,
        f"{_APP_PRIVILEGES}, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR "
        "ON *.* TO {account}",
    ),
)


def account_statements() -> list[str]:
    """CREATE USER and GRANT statements for every account, host '%'."""
    statements = []
    for credentials, grant in _GRANTS:
        account = f"'{escape_string(credentials.user)}'@'%'"
        statements.append(f"CREATE USER {account} IDENTIFIED BY '{escape_string(credentials.password)}'")
        statements.append("GRANT " + grant.format(account=account))
    return statements
