"""The shared fixtures give fast, separate, writable instances."""

import pymysql

from shardline.mysqlctl.users import APP


def test_same_name_returns_same_instance(mariadb_factory, mariadb):
    assert mariadb_factory("shared") is mariadb
    other = mariadb_factory("fixture-other")
    assert other.port != mariadb.port
    assert other.server_id != mariadb.server_id
    assert other.execute("SELECT @@port, @@server_id") == [(other.port, other.server_id)]


def test_instance_is_writable_by_the_app_user(mariadb):
    mariadb.execute("CREATE DATABASE IF NOT EXISTS fixture_ks")
    with (
        pymysql.connect(
            host=mariadb.host, port=mariadb.port, user=APP.user, password=APP.password, autocommit=True
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("CREATE TABLE fixture_ks.t (id INT PRIMARY KEY)")
        cursor.execute("INSERT INTO fixture_ks.t VALUES (1), (2)")
        cursor.execute("SELECT COUNT(*) FROM fixture_ks.t")
        assert cursor.fetchone() == (2,)
    mariadb.execute("DROP DATABASE fixture_ks")
