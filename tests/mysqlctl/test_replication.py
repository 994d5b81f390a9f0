"""Real MariaDB GTID replication driven through MariadbFlavor."""

import time

import pytest

from shardline.errors import InvalidArgument, MySQLError
from shardline.mysqlctl.flavor import MariadbFlavor, MariadbGTIDSet
from shardline.mysqlctl.users import REPL

flavor = MariadbFlavor()


@pytest.fixture(scope="module")
def pair(mariadb_factory):
    """A primary and a replica replicating from it, with a ``repl_ks.t`` table."""
    primary, replica = mariadb_factory("repl-primary"), mariadb_factory("repl-replica")
    with replica.dba_connect() as conn:
        flavor.set_read_only(conn, True)
        flavor.set_replication_source(conn, primary.host, primary.port, REPL)
        flavor.start_replication(conn)
    primary.execute("CREATE DATABASE repl_ks")
    primary.execute("CREATE TABLE repl_ks.t (id INT PRIMARY KEY, name VARCHAR(20))")
    return primary, replica


def caught_up(primary, replica) -> bool:
    with primary.dba_connect() as conn:
        position = flavor.primary_position(conn)
    with replica.dba_connect() as conn:
        return flavor.wait_for_position(conn, position, timeout=10)


def rows(instance):
    return instance.execute("SELECT id, name FROM repl_ks.t ORDER BY id")


def test_insert_update_delete_replicate(pair):
    primary, replica = pair
    primary.execute("INSERT INTO repl_ks.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert caught_up(primary, replica)
    assert rows(replica) == rows(primary) == [(1, "a"), (2, "b"), (3, "c")]

    primary.execute("UPDATE repl_ks.t SET name = 'bb' WHERE id = 2")
    primary.execute("DELETE FROM repl_ks.t WHERE id = 3")
    assert caught_up(primary, replica)
    assert rows(replica) == rows(primary) == [(1, "a"), (2, "bb")]


def test_primary_position_advances_with_each_transaction(pair):
    primary, _ = pair
    with primary.dba_connect() as conn:
        before = flavor.primary_position(conn)
        primary.execute("INSERT INTO repl_ks.t VALUES (10, 'x')")
        after = flavor.primary_position(conn)
    assert after.contains(before) and not before.contains(after)
    assert after.sequence(0) == before.sequence(0) + 1
    assert after.gtids[0].server_id == primary.server_id


def test_replication_status_reports_threads_source_and_position(pair):
    primary, replica = pair
    assert caught_up(primary, replica)
    with replica.dba_connect() as conn:
        status = flavor.replication_status(conn)
    with primary.dba_connect() as conn:
        position = flavor.primary_position(conn)
    assert status.io_running and status.sql_running
    assert (status.source_host, status.source_port) == (primary.host, primary.port)
    assert status.lag_seconds == 0
    assert status.position == position
    assert status.last_error == ""


def test_primary_has_no_replication_status(pair):
    primary, _ = pair
    with primary.dba_connect() as conn:
        assert flavor.replication_status(conn) is None


def test_wait_for_unreached_position_times_out(pair):
    _, replica = pair
    with replica.dba_connect() as conn:
        start = time.monotonic()
        assert not flavor.wait_for_position(conn, MariadbGTIDSet.parse("0-1-999999999"), timeout=0.3)
    assert 0.25 < time.monotonic() - start < 5


def test_replica_is_read_only_for_the_app_but_replication_still_applies(pair):
    _, replica = pair
    assert replica.execute("SELECT @@GLOBAL.read_only") == [(1,)]


def test_stopped_replication_reports_threads_down_and_resumes(pair):
    primary, replica = pair
    with replica.dba_connect() as conn:
        flavor.stop_replication(conn)
        primary.execute("INSERT INTO repl_ks.t VALUES (20, 'while stopped')")
        status = flavor.replication_status(conn)
        assert not status.io_running and not status.sql_running
        assert status.lag_seconds is None
        flavor.start_replication(conn)
    assert caught_up(primary, replica)
    assert (20, "while stopped") in rows(replica)


def test_semi_sync_primary_sees_the_semi_sync_replica(pair):
    primary, replica = pair
    with primary.dba_connect() as p, replica.dba_connect() as r:
        flavor.enable_semi_sync_primary(p, True)
        flavor.enable_semi_sync_replica(r, True)
        try:
            deadline = time.monotonic() + 5
            clients = 0
            while clients != 1 and time.monotonic() < deadline:
                clients = int(primary.execute("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'")[0][1])
                time.sleep(0.02)
            assert clients == 1
            primary.execute("INSERT INTO repl_ks.t VALUES (30, 'semi-sync')")
            yes_tx = primary.execute("SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'")[0][1]
            assert int(yes_tx) >= 1
        finally:
            flavor.enable_semi_sync_replica(r, False)
            flavor.enable_semi_sync_primary(p, False)
        assert replica.execute("SELECT @@rpl_semi_sync_slave_enabled") == [(0,)]


def test_new_replica_resumes_from_a_set_position(mariadb_factory, pair):
    primary, _ = pair
    replica = mariadb_factory("repl-late-replica")
    with primary.dba_connect() as conn:
        skipped = flavor.primary_position(conn)
    primary.execute("INSERT INTO repl_ks.t VALUES (40, 'after')")
    # The late replica gets the schema by hand, as a restored backup would have it, and skips the history.
    replica.execute("CREATE DATABASE repl_ks")
    replica.execute("CREATE TABLE repl_ks.t (id INT PRIMARY KEY, name VARCHAR(20))")
    with replica.dba_connect() as conn:
        flavor.set_replica_position(conn, skipped)
        flavor.set_replication_source(conn, primary.host, primary.port, REPL)
        flavor.start_replication(conn)
    assert caught_up(primary, replica)
    assert rows(replica) == [(40, "after")]

    with replica.dba_connect() as conn:
        flavor.reset_replication(conn)
        assert flavor.replication_status(conn) is None
        assert replica.execute("SELECT @@GLOBAL.gtid_slave_pos") == [("",)]


def test_setting_position_while_replicating_is_refused(pair):
    _, replica = pair
    with replica.dba_connect() as conn, pytest.raises(MySQLError):
        flavor.set_replica_position(conn, MariadbGTIDSet.parse("0-1-1"))


@pytest.mark.parametrize(
    "host, port, heartbeat, retry",
    [("", 3306, 1.0, 1), ("127.0.0.1", 0, 1.0, 1), ("127.0.0.1", 3306, 0, 1), ("127.0.0.1", 3306, 1.0, 0)],
)
def test_bad_replication_source_is_rejected_before_touching_replication(pair, host, port, heartbeat, retry):
    primary, replica = pair
    with replica.dba_connect() as conn:
        with pytest.raises(InvalidArgument):
            flavor.set_replication_source(conn, host, port, REPL, heartbeat=heartbeat, connect_retry=retry)
        status = flavor.replication_status(conn)
    assert status.io_running and status.source_port == primary.port
