"""The probe connection: one kept session for a tablet's read-only probes, replaced when it breaks."""

from __future__ import annotations

import pytest

from shardline.errors import MySQLError, Unavailable
from shardline.mysqlctl.probe import ProbeConnection
from shardline.mysqlctl.query import query


def session_id(conn) -> int:
    return query(conn, "SELECT CONNECTION_ID()")[0][0]


def test_probes_share_one_session(mariadb):
    probes = ProbeConnection(mariadb.dba_connect)
    try:
        assert len({probes.run(session_id) for _ in range(5)}) == 1
    finally:
        probes.close()


def test_a_killed_session_is_replaced_without_failing_the_probe(mariadb):
    probes = ProbeConnection(mariadb.dba_connect)
    try:
        first = probes.run(session_id)
        mariadb.execute(f"KILL {first}")
        second = probes.run(session_id)
        assert second != first
        assert probes.run(session_id) == second
    finally:
        probes.close()


def test_a_failed_statement_is_not_retried_and_the_next_probe_works(mariadb):
    probes = ProbeConnection(mariadb.dba_connect)
    calls = []

    def bad(conn):
        calls.append(1)
        return query(conn, "SELECT no_such_column FROM mysql.user")

    try:
        probes.run(session_id)
        with pytest.raises(MySQLError, match="no_such_column"):
            probes.run(bad)
        assert len(calls) == 1
        assert probes.run(session_id) > 0
    finally:
        probes.close()


def test_an_unreachable_server_is_unavailable(tmp_path):
    def connect():
        raise Unavailable(f"cannot connect to {tmp_path}")

    with pytest.raises(Unavailable):
        ProbeConnection(connect).run(session_id)
