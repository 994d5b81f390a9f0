"""MysqlInstance lifecycle on real mariadbd processes in their own tmp dirs and ports."""

import os
import socket

import pymysql
import pytest

from shardline.errors import FailedPrecondition, InvalidArgument
from shardline.mysqlctl import process
from shardline.mysqlctl.instance import MysqlInstance, MysqlStatus, tablet_instance
from shardline.mysqlctl.users import APP, DBA, FILTERED, REPL


@pytest.fixture
def instance(tmp_path, unused_tcp_port):
    """An initialized, not yet started instance, stopped after the test."""
    instance = MysqlInstance(tmp_path / "inst", unused_tcp_port, 7)
    instance.init()
    yield instance
    instance.stop()


def test_start_status_stop(instance):
    assert instance.status().running is False
    instance.start()
    status = instance.status()
    assert status.running and status.port == instance.port
    assert status.pid == int(instance.layout.pid_file.read_text())
    assert instance.execute("SELECT @@port, @@server_id") == [(instance.port, 7)]
    instance.stop()
    assert instance.status() == MysqlStatus(running=False, pid=None, port=instance.port)
    assert not process.is_mariadbd(status.pid)


def test_start_twice_keeps_the_running_process(instance):
    instance.start()
    pid = instance.status().pid
    instance.start()
    assert instance.status().pid == pid


def test_stop_twice_and_stop_before_start_are_fine(instance):
    instance.stop()
    instance.start()
    instance.stop()
    instance.stop()
    assert not instance.status().running


def test_mariadbd_runs_in_its_own_session(instance):
    instance.start()
    pid = instance.status().pid
    assert os.getsid(pid) == pid != os.getsid(0)


def test_restart_keeps_data_and_init_again_keeps_data(instance):
    instance.start()
    instance.execute("CREATE DATABASE keep")
    instance.execute("CREATE TABLE keep.t (id INT PRIMARY KEY)")
    instance.execute("INSERT INTO keep.t VALUES (1), (2)")
    instance.stop()
    instance.init()
    instance.start()
    assert instance.execute("SELECT id FROM keep.t ORDER BY id") == [(1,), (2,)]


def test_port_in_use_gives_a_clear_error(instance):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", instance.port))
        squatter.listen()
        with pytest.raises(FailedPrecondition, match=f"port {instance.port} .*already in use"):
            instance.start()
    assert not instance.status().running


def test_port_taken_after_the_check_is_reported_from_the_error_log(instance, monkeypatch):
    monkeypatch.setattr(instance, "_check_port_free", lambda: None)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", instance.port))
        squatter.listen()
        with pytest.raises(FailedPrecondition, match=f"port {instance.port} .*already in use"):
            instance.start()
    assert not instance.status().running


def test_start_before_init_is_refused(tmp_path, unused_tcp_port):
    with pytest.raises(FailedPrecondition, match="not initialized"):
        MysqlInstance(tmp_path / "never", unused_tcp_port, 8).start()


def test_missing_mariadbd_says_to_install_mariadb_server(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "_SBIN_PATH", str(tmp_path))
    with pytest.raises(FailedPrecondition, match="install mariadb-server"):
        process.find_binary("mariadbd")


@pytest.mark.parametrize("port, server_id", [(0, 1), (70000, 1), (3306, 0)])
def test_bad_parameters_are_rejected_before_anything_is_written(tmp_path, port, server_id):
    with pytest.raises(InvalidArgument):
        MysqlInstance(tmp_path / "bad", port, server_id).init()
    assert not (tmp_path / "bad").exists()


def test_tablet_instance_layout():
    instance = tablet_instance("/data", 100)
    assert (str(instance.base_dir), instance.port, instance.server_id) == ("/data/vt_0000000100", 17100, 100)
    assert tablet_instance("/data", 100, port=3307).port == 3307
    with pytest.raises(InvalidArgument):
        tablet_instance("/data", 0)


def test_server_configuration(instance):
    instance.start()
    names = (
        "binlog_format",
        "binlog_row_image",
        "binlog_row_metadata",
        "gtid_strict_mode",
        "log_slave_updates",
        "read_only",
        "skip_name_resolve",
        "character_set_server",
        "innodb_buffer_pool_size",
        "performance_schema",
    )
    rows = dict(instance.execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN %s", (names,)))
    assert rows == {
        "binlog_format": "ROW",
        "binlog_row_image": "FULL",
        "binlog_row_metadata": "FULL",
        "gtid_strict_mode": "ON",
        "log_slave_updates": "ON",
        "read_only": "ON",
        "skip_name_resolve": "ON",
        "character_set_server": "utf8mb4",
        "innodb_buffer_pool_size": str(16 * 1024 * 1024),
        "performance_schema": "OFF",
    }
    assert instance.execute("SELECT @@log_bin_basename") == [(str(instance.layout.binlog_dir / "mysql-bin"),)]


def test_sidecar_database_exists(mariadb):
    assert mariadb.execute("SHOW DATABASES LIKE '\\_vt'") == [("_vt",)]


@pytest.mark.parametrize("credentials", [DBA, APP, REPL, FILTERED], ids=lambda c: c.user)
def test_accounts_log_in_over_tcp(mariadb, credentials):
    with (
        pymysql.connect(
            host=mariadb.host, port=mariadb.port, user=credentials.user, password=credentials.password
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SELECT CURRENT_USER()")
        assert cursor.fetchone() == (f"{credentials.user}@%",)


def test_root_has_no_tcp_account(mariadb):
    with pytest.raises(pymysql.err.OperationalError) as failure:
        pymysql.connect(host=mariadb.host, port=mariadb.port, user="root")
    assert failure.value.args[0] == 1045


def test_repl_has_exactly_the_replication_privileges(mariadb):
    grants = mariadb.execute(f"SHOW GRANTS FOR '{REPL.user}'@'%'")[0][0]
    # REPLICATION CLIENT is an alias of BINLOG MONITOR in MariaDB 10.5+.
    for privilege in ("REPLICATION SLAVE", "BINLOG MONITOR", "REPLICATION MASTER ADMIN", "SLAVE MONITOR"):
        assert privilege in grants
    assert "SELECT" not in grants and "ALL PRIVILEGES" not in grants


def test_app_cannot_administer_the_server(mariadb):
    with (
        pymysql.connect(host=mariadb.host, port=mariadb.port, user=APP.user, password=APP.password) as conn,
        conn.cursor() as cursor,
    ):
        with pytest.raises(pymysql.err.OperationalError) as failure:
            cursor.execute("SET GLOBAL read_only = ON")
    assert failure.value.args[0] == 1227  # ER_SPECIFIC_ACCESS_DENIED_ERROR
