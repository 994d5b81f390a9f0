"""The gate as a MySQL server: clients, targeting, session state, SHOW, errors."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator

import MySQLdb
import pymysql
import pytest
import sqlalchemy

from tests.e2e.cluster import ClusterThread


def rows(conn: pymysql.connections.Connection, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_mariadb_cli_queries_through_the_gate(e2e_cluster: ClusterThread):
    out = subprocess.run(
        ["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{e2e_cluster.gate_port}", "-uroot", "-N", "-B", "commerce",
         "-e", "SELECT 40 + 2; SHOW TABLES"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines[0] == "42"
    assert "product" in lines and "customer_seq" in lines


def test_mysqldb_and_sqlalchemy_connect_and_query(e2e_cluster: ClusterThread):
    conn = MySQLdb.connect(host="127.0.0.1", port=e2e_cluster.gate_port, user="root", passwd="", db="commerce")
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT DATABASE(), 1 + 1")
        assert cursor.fetchone() == ("commerce", 2)
    finally:
        conn.close()
    engine = sqlalchemy.create_engine(f"mysql+pymysql://root:@127.0.0.1:{e2e_cluster.gate_port}/commerce")
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("DELETE FROM product WHERE sku LIKE 'sa-%'"))
            conn.execute(sqlalchemy.text("INSERT INTO product (sku, description, price) VALUES ('sa-1', 'x', 1.50)"))
        with engine.connect() as conn:
            price = conn.execute(sqlalchemy.text("SELECT price FROM product WHERE sku = 'sa-1'")).scalar_one()
        assert str(price) == "1.50"
    finally:
        engine.dispose()


def test_database_autocommit_and_transaction_mode_are_the_sessions_not_a_pooled_connections(
        e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect()
    try:
        assert rows(conn, "SELECT DATABASE(), SCHEMA()") == [(None, None)]  # no database selected yet
        rows(conn, "USE `customer:-80`")
        assert rows(conn, "SELECT DATABASE()") == [("customer",)]
        rows(conn, "SET autocommit = 0")
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@autocommit, @@session.autocommit AS s, @@transaction_mode")
            assert cursor.fetchall() == ((0, 0, "MULTI"),)
            assert [column[0] for column in cursor.description] == ["@@autocommit", "s", "@@transaction_mode"]
        rows(conn, "SET autocommit = 1, transaction_mode = 'single'")
        assert rows(conn, "SELECT @@autocommit + 1, @@transaction_mode") == [(2, "SINGLE")]
    finally:
        conn.close()


def test_a_statement_sqlglot_parses_only_with_its_literals_is_planned_from_its_text(e2e_cluster: ClusterThread):
    """JSON_OBJECT('key', ...) does not parse once 'key' is a bind variable: each text gets its own plan."""
    conn = e2e_cluster.connect("customer")
    try:
        rows(conn, "DELETE FROM customer WHERE customer_id IN (7901, 7902)")
        rows(conn, "INSERT INTO customer (customer_id, name, email) VALUES (7901, 'j1', 'j1@x'), (7902, 'j2', 'j2@x')")
        for _ in range(3):  # the second id must not be answered with the first one's plan (nor shard)
            for customer_id in (7901, 7902):
                (text,), = rows(conn, f"SELECT JSON_OBJECT('id', customer_id, 'name', name) FROM customer "
                                      f"WHERE customer_id = {customer_id}")
                assert json.loads(text) == {"id": customer_id, "name": f"j{customer_id - 7900}"}
        with pytest.raises(pymysql.err.ProgrammingError) as info:
            rows(conn, "SELECT JSON_OBJECT('id', customer_id FROM customer")
        assert info.value.args[0] == 1064
    finally:
        rows(conn, "DELETE FROM customer WHERE customer_id IN (7901, 7902)")
        conn.close()


def test_group_concat_across_shards_joins_the_shards_partial_concatenations(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    ids = range(7951, 7961)  # rows on both shards
    try:
        rows(conn, "DELETE FROM corder WHERE sku = 'gc'")
        rows(conn, "INSERT INTO corder (order_id, customer_id, sku, qty) VALUES "
                   + ", ".join(f"({i}, {i}, 'gc', {i % 3 if i % 4 else 'NULL'})" for i in ids))
        for shard in ("-80", "80-"):  # the groups need both shards' parts
            with e2e_cluster.connect(f"customer:{shard}") as on_shard:
                assert rows(on_shard, "SELECT COUNT(*) > 0 FROM corder WHERE sku = 'gc'") == [(1,)]
        got = rows(conn, "SELECT customer_id % 2 AS parity, GROUP_CONCAT(order_id SEPARATOR ' / '), COUNT(*) "
                         "FROM corder WHERE sku = 'gc' GROUP BY parity ORDER BY parity")
        assert [(p, sorted(map(int, text.split(" / "))), n) for p, text, n in got] == [
            (0, [i for i in ids if i % 2 == 0], 5), (1, [i for i in ids if i % 2], 5)]
        (text,), = rows(conn, "SELECT GROUP_CONCAT(qty) FROM corder WHERE sku = 'gc'")  # NULLs left out
        assert sorted(text.split(",")) == sorted(str(i % 3) for i in ids if i % 4)
        assert rows(conn, "SELECT GROUP_CONCAT(qty) FROM corder WHERE sku = 'gc' AND qty IS NULL") == [(None,)]
        # DISTINCT: the shards group by the value too; the gate joins the distinct values in order.
        assert rows(conn, "SELECT GROUP_CONCAT(DISTINCT qty), GROUP_CONCAT(DISTINCT qty ORDER BY qty DESC "
                          "SEPARATOR ':') FROM corder WHERE sku = 'gc'") == [("0,1,2", "2:1:0")]
        for refused in ("GROUP_CONCAT(order_id ORDER BY order_id)", "GROUP_CONCAT(DISTINCT qty ORDER BY order_id)"):
            with pytest.raises(pymysql.err.NotSupportedError):  # they need every row at the gate
                rows(conn, f"SELECT {refused} FROM corder WHERE sku = 'gc'")
    finally:
        rows(conn, "DELETE FROM corder WHERE sku = 'gc'")
        conn.close()


def test_sql_select_limit_caps_top_level_selects_without_their_own_limit(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    mine = "FROM corder WHERE sku = 'lim'"
    try:
        rows(conn, f"DELETE {mine}")
        rows(conn, "INSERT INTO corder (order_id, customer_id, sku) VALUES "
                   + ", ".join(f"({i}, {i}, 'lim')" for i in range(7971, 7976)))
        rows(conn, "SET sql_select_limit = 2")
        for _ in range(3):  # learned statements must not slip past it on the fast path
            assert rows(conn, f"SELECT order_id {mine} ORDER BY order_id") == [(7971,), (7972,)]
            assert len(rows(conn, f"SELECT order_id {mine}")) == 2
        assert len(rows(conn, f"SELECT order_id {mine} ORDER BY order_id LIMIT 3")) == 3  # its own LIMIT wins
        assert rows(conn, f"SELECT COUNT(*) FROM (SELECT order_id {mine}) AS t") == [(5,)]  # not in subqueries
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(conn, "SET sql_select_limit = 'many'")
        assert info.value.args[0] == 1232
        rows(conn, "SET sql_select_limit = DEFAULT")
        assert len(rows(conn, f"SELECT order_id {mine}")) == 5
    finally:
        rows(conn, f"DELETE {mine}")
        conn.close()


def test_from_dual_names_no_table(e2e_cluster: ClusterThread):
    """Connection pools' validation queries (SELECT 1 FROM DUAL), on a sharded keyspace or none."""
    for database in ("customer", None):
        conn = e2e_cluster.connect(database)
        try:
            assert rows(conn, "SELECT 1 FROM DUAL") == [(1,)]
            assert rows(conn, "SELECT 2 AS two FROM dual WHERE 1 = 1") == [(2,)]
        finally:
            conn.close()


def test_use_targets_keyspace_shard_and_tablet_type(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect()
    try:
        rows(conn, "USE customer")
        assert rows(conn, "SELECT DATABASE()") == [("customer",)]
        rows(conn, "USE `customer:-80`")
        assert rows(conn, "SELECT COUNT(*) FROM customer WHERE 1 = 0") == [(0,)]
        rows(conn, "USE commerce@replica")
        assert rows(conn, "SELECT @@read_only") == [(1,)]  # answered by the replica
        rows(conn, "USE commerce")
        assert rows(conn, "SELECT @@read_only") == [(0,)]  # the primary
        with pytest.raises(pymysql.err.OperationalError) as info:
            rows(conn, "USE nosuchkeyspace")
        assert info.value.args[0] == 1049
    finally:
        conn.close()


def test_show_statements(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        databases = {r[0] for r in rows(conn, "SHOW DATABASES")}
        assert {"commerce", "customer"} <= databases
        assert rows(conn, "SHOW VITESS_SHARDS") == [("commerce/0",), ("customer/-80",), ("customer/80-",)]
        tablets = rows(conn, "SHOW VITESS_TABLETS")
        assert len(tablets) == 4
        assert sum(1 for t in tablets if t[3] == "PRIMARY" and t[4] == "SERVING") == 3
        tables = {r[0] for r in rows(conn, "SHOW TABLES")}
        assert {"customer", "corder", "product"} <= tables
        create = rows(conn, "SHOW CREATE TABLE corder")[0][1]
        assert create.startswith("CREATE TABLE `corder`")
        columns = [r[0] for r in rows(conn, "SHOW COLUMNS FROM commerce.product")]
        assert columns == ["sku", "description", "price"]
        assert rows(conn, "SHOW VARIABLES LIKE 'version_comment'")
    finally:
        conn.close()


def test_show_vschema_and_vitess_target(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        tables = [r[0] for r in rows(conn, "SHOW VSCHEMA TABLES")]
        assert tables == ["corder", "customer", "customer_email_idx", "dual", "product"]
        assert rows(conn, "SHOW VSCHEMA VINDEXES ON customer") == [
            ("customer_id", "hash", "hash", "", ""),
            ("email", "customer_email_lookup", "consistent_lookup_unique",
             "from=email; ignore_nulls=true; table=customer.customer_email_idx; to=keyspace_id", "customer")]
        assert {r[1] for r in rows(conn, "SHOW VSCHEMA VINDEXES")} == {"hash", "binary_md5", "customer_email_lookup"}
        rows(conn, "USE `customer:-80@replica`")
        assert rows(conn, "SHOW VITESS_TARGET") == [("customer:-80@replica",)]
    finally:
        conn.close()


def test_show_full_and_extended_forms_find_the_tables_keyspace(e2e_cluster: ClusterThread):
    """SHOW FULL ... (what GUI tools and ORMs send) and SHOW CREATE DATABASE go to the keyspace they name."""
    conn = e2e_cluster.connect("customer")
    try:
        full = rows(conn, "SHOW FULL COLUMNS FROM corder")
        assert [r[0] for r in full][:2] == ["order_id", "customer_id"] and len(full[0]) == 9  # with Collation...
        assert [r[0] for r in rows(conn, "SHOW FULL FIELDS FROM product FROM commerce")] == [
            "sku", "description", "price"]
        assert [r[0] for r in rows(conn, "SHOW FULL COLUMNS FROM commerce.product LIKE 's%'")] == ["sku"]
        assert {r[0] for r in rows(conn, "SHOW FULL TABLES FROM commerce")} >= {"product"}
        assert rows(conn, "SHOW CREATE DATABASE commerce")[0][0] == "commerce"
        assert rows(conn, "SHOW CREATE SCHEMA `customer`")[0][0] == "customer"
        with pytest.raises(pymysql.err.OperationalError) as info:
            rows(conn, "SHOW CREATE DATABASE nosuchkeyspace")
        assert info.value.args[0] == 1049
    finally:
        conn.close()
    unselected = e2e_cluster.connect(None)
    try:
        assert rows(unselected, "SHOW FULL PROCESSLIST")  # not a table SHOW: needs no database
    finally:
        unselected.close()


def test_session_variables_follow_the_session_across_pooled_connections(e2e_cluster: ClusterThread):
    strict, relaxed = e2e_cluster.connect("customer"), e2e_cluster.connect("customer")
    try:
        rows(strict, "SET sql_mode = 'ANSI_QUOTES', @marker = 'strict'")
        for _ in range(5):  # pooled connections are shared; each session must keep its own settings
            assert rows(strict, "SELECT @@sql_mode, @marker") == [("ANSI_QUOTES", "strict")]
            mode, marker = rows(relaxed, "SELECT @@sql_mode, @marker")[0]
            assert "ANSI_QUOTES" not in mode and marker is None
        with pytest.raises(pymysql.err.NotSupportedError) as info:
            rows(strict, "SET GLOBAL max_connections = 10")
        assert info.value.args[0] == 1235
    finally:
        strict.close()
        relaxed.close()


def test_errors_carry_mysql_codes_and_the_connection_survives(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        for sql, code in [("SELECT * FROM no_such_table", 1146), ("SELEC 1", 1064),
                          ("SELECT * FROM nosuchks.customer", 1049)]:
            with pytest.raises(pymysql.err.MySQLError) as info:
                rows(conn, sql)
            assert info.value.args[0] == code, (sql, info.value.args)
        for sql in ("SELECT customer_id INTO @x FROM customer WHERE name = 'nobody'",  # relayed: each shard's OK
                    "SELECT customer_id INTO @x FROM customer LIMIT 1"):  # regenerated for the shards
            with pytest.raises(pymysql.err.MySQLError, match=r"SELECT \.\.\. INTO is supported only") as info:
                rows(conn, sql)
            assert info.value.args[0] == 1235, info.value.args
        assert rows(conn, "SELECT 1") == [(1,)]
    finally:
        conn.close()


def test_a_statement_too_deep_for_the_parser_gets_a_clear_error_or_goes_to_its_unsharded_keyspace(
        e2e_cluster: ClusterThread):
    deep_or = " OR ".join(f"customer_id = {i}" for i in range(5000))
    conn = e2e_cluster.connect("customer")
    try:
        with pytest.raises(pymysql.err.NotSupportedError, match="nests too deeply") as info:
            rows(conn, f"SELECT COUNT(*) FROM customer WHERE {deep_or}")
        assert info.value.args[0] == 1235
        rows(conn, "USE commerce")  # unsharded: MariaDB gets the statement as written
        assert rows(conn, "SELECT " + "(" * 3000 + "7" + ")" * 3000) == [(7,)]
        with pytest.raises(pymysql.err.OperationalError) as info:  # MariaDB's own limit, not the gate's
            rows(conn, "SELECT " + " + ".join(["1"] * 20000))
        assert info.value.args[0] == 1436
    finally:
        conn.close()


def test_wrong_password_is_refused(e2e_cluster: ClusterThread):
    with pytest.raises(pymysql.err.OperationalError) as info:
        pymysql.connect(host="127.0.0.1", port=e2e_cluster.gate_port, user="root", password="wrong")
    assert info.value.args[0] == 1045


def test_malformed_and_oversized_packets_do_not_disturb_other_clients(e2e_cluster: ClusterThread):
    bystander = e2e_cluster.connect("customer")
    try:
        for junk in (b"\x01\x00\x00\x00\xff", struct.pack("<I", 0xFFFFFF)[:3] + b"\x00" + b"x" * 100):
            with socket.create_connection(("127.0.0.1", e2e_cluster.gate_port), timeout=5) as sock:
                sock.recv(1024)  # the server greeting
                sock.sendall(junk)
                sock.settimeout(5)
                try:
                    while sock.recv(1024):
                        pass
                except (TimeoutError, ConnectionResetError):
                    pass
        assert rows(bystander, "SELECT 7") == [(7,)]
    finally:
        bystander.close()


def test_query_above_the_shards_max_allowed_packet_gets_1153_and_the_session_goes_on(e2e_cluster: ClusterThread):
    for keyspace in ("commerce", "customer"):
        conn = e2e_cluster.connect(keyspace)
        try:
            limit = rows(conn, "SELECT @@max_allowed_packet")[0][0]
            conn.max_allowed_packet = 4 * limit  # PyMySQL's own limit must not stop it first
            with pytest.raises(pymysql.err.MySQLError) as info:
                rows(conn, "SELECT '" + "x" * (limit + 1024) + "'")
            assert info.value.args[0] == 1153, info.value.args
            for n in range(3):  # at once: the shard's connection that MariaDB is closing is not lent again
                assert rows(conn, f"SELECT {n}") == [(n,)]
        finally:
            conn.close()


def test_query_bytes_that_are_not_utf8_get_a_syntax_error(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        conn._execute_command(3, b"\xff\xfe")  # COM_QUERY with bytes no client library would send
        with pytest.raises(pymysql.err.MySQLError) as info:
            conn._read_query_result()
        assert info.value.args[0] == 1064, info.value.args
        assert rows(conn, "SELECT 1") == [(1,)]
    finally:
        conn.close()


def test_metrics_and_querylog_endpoints(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        rows(conn, "SELECT * FROM customer WHERE customer_id = 1")
    finally:
        conn.close()
    assert e2e_cluster.gate is not None
    base = f"http://127.0.0.1:{e2e_cluster.gate.http_port}"
    metrics = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
    assert 'shardline_gate_queries_total{keyspace="customer",plan="EqualUnique"}' in metrics
    assert "shardline_gate_shard_query_seconds_bucket" in metrics
    status = json.loads(urllib.request.urlopen(f"{base}/debug/status", timeout=5).read())
    assert status["keyspaces"]["customer"]["primary"] == ["-80", "80-"]


def test_last_insert_id_belongs_to_the_session(e2e_cluster: ClusterThread):
    mine, other = e2e_cluster.connect("commerce"), e2e_cluster.connect("commerce")
    try:
        rows(mine, "CREATE TABLE IF NOT EXISTS item (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(10))")
        with mine.cursor() as cursor:
            cursor.execute("INSERT INTO item (name) VALUES ('mine')")
            my_id = cursor.lastrowid
        assert my_id > 0
        for _ in range(3):  # other sessions' inserts and pooled connections must not change it
            rows(other, "INSERT INTO item (name) VALUES ('other')")
            assert rows(mine, "SELECT LAST_INSERT_ID()") == [(my_id,)]
    finally:
        mine.close()
        other.close()


def test_information_schema_queries_answer_for_the_keyspace(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer")
    try:
        tables = {r[0] for r in rows(conn, "SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'customer'")}
        assert {"customer", "corder"} <= tables
        columns = rows(conn, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'commerce' "
                             "AND table_name = 'product' ORDER BY ordinal_position")
        assert [c[0] for c in columns] == ["sku", "description", "price"]
        assert rows(conn, "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = 'commerce' "
                          "AND routine_name = 'nosuchroutine'") == [(0,)]
    finally:
        conn.close()
    unselected = e2e_cluster.connect(None)
    try:  # no database selected: the filter's keyspace, else any keyspace's shard answers
        assert rows(unselected, "SELECT COUNT(*) > 0 FROM information_schema.schemata") == [(1,)]
        tables = {r[0] for r in rows(unselected, "SELECT table_name FROM information_schema.tables AS t "
                                                 "WHERE t.TABLE_SCHEMA = 'customer'")}
        assert {"customer", "corder"} <= tables
        constraints = rows(unselected, "SELECT DISTINCT constraint_type FROM information_schema.table_constraints "
                                       "WHERE constraint_schema = 'commerce' AND table_name = 'product'")
        assert constraints == [("PRIMARY KEY",)]
    finally:
        unselected.close()


def test_explain_shows_the_gates_plan_or_mariadbs_from_the_right_keyspace(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("commerce")
    try:
        (text,), = rows(conn, "EXPLAIN FORMAT=VITESS SELECT name FROM customer.customer WHERE customer_id = 7")
        plan = json.loads(text)
        route = plan["Instructions"]
        assert (route["OperatorType"], route["Variant"], route["Keyspace"]) == ("Route", "EqualUnique", "customer")
        assert plan["TablesUsed"] == ["customer.customer"]
        (text,), = rows(conn, "VEXPLAIN PLAN SELECT COUNT(*) FROM customer.corder")
        operators = list(_operators(json.loads(text)["Instructions"]))
        assert ("Aggregate", "Scalar") in operators and ("Route", "Scatter") in operators, operators
        with pytest.raises(pymysql.err.NotSupportedError) as info:
            rows(conn, "VEXPLAIN QUERIES SELECT 1")
        assert info.value.args[0] == 1235
        # MariaDB's own EXPLAIN and DESCRIBE, from a shard of the table's keyspace, not the session's.
        with conn.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute("EXPLAIN SELECT name FROM customer.customer WHERE customer_id > 7")
            assert [row["table"] for row in cursor.fetchall()] == ["customer"]
        assert [r[0] for r in rows(conn, "DESC customer.corder qty")] == ["qty"]
        assert [r[0] for r in rows(conn, "DESCRIBE product")][0] == "sku"
    finally:
        conn.close()
    unselected = e2e_cluster.connect(None)
    try:  # no database selected: an unqualified name is looked up in every keyspace's VSchema
        assert [r[0] for r in rows(unselected, "DESCRIBE corder")][:2] == ["order_id", "customer_id"]
    finally:
        unselected.close()


def _operators(primitive: dict) -> Iterator[tuple[str, str | None]]:
    """(OperatorType, Variant) of every primitive of a VEXPLAIN plan, depth first."""
    yield primitive["OperatorType"], primitive.get("Variant")
    for child in primitive.get("Inputs", ()):
        yield from _operators(child)


def test_set_is_applied_whole_or_refused_and_reaches_open_transactions(e2e_cluster: ClusterThread):
    conn, other = e2e_cluster.connect("customer"), e2e_cluster.connect("customer")
    try:
        mode = rows(conn, "SELECT @@sql_mode")[0][0]
        with pytest.raises(pymysql.err.OperationalError) as info:
            rows(conn, "SET @marker = 'kept?', sql_mode = 'BOGUS'")
        assert info.value.args[0] == 1231  # MariaDB's answer, at the SET, not at every later statement
        assert rows(conn, "SELECT @@sql_mode, @marker") == [(mode, None)]
        rows(conn, "SET @mode = 'ANSI_QUOTES'")
        rows(conn, "SET sql_mode = @mode")  # a variable: MariaDB would see NULL if replayed beside @mode
        assert rows(conn, "SELECT @@sql_mode") == [("ANSI_QUOTES",)]
        rows(conn, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        assert rows(conn, "SELECT @@tx_isolation") == [("READ-COMMITTED",)]
        with pytest.raises(pymysql.err.NotSupportedError):
            rows(conn, "SET TRANSACTION READ ONLY")

        rows(conn, "SET sql_mode = ''")
        rows(conn, "BEGIN")
        point = "SELECT @@sql_mode FROM customer WHERE customer_id = 1 UNION ALL SELECT @@sql_mode"
        rows(conn, point)  # opens the transaction on the shard of customer 1
        rows(conn, "SET sql_mode = 'NO_ZERO_DATE'")
        assert {r[0] for r in rows(conn, point)} == {"NO_ZERO_DATE"}  # the transaction's connection has it too
        rows(conn, "COMMIT")
        for _ in range(3):  # the connection went back to the pool: nobody else gets the mode with it
            assert "NO_ZERO_DATE" not in rows(other, point)[0][0]
    finally:
        conn.close()
        other.close()


def test_mariadb_dump_through_the_gate_and_back(e2e_cluster: ClusterThread, tmp_path):
    gate = ["--no-defaults", "-h127.0.0.1", f"-P{e2e_cluster.gate_port}", "-uroot"]
    conn = e2e_cluster.connect("commerce")
    try:
        rows(conn, "CREATE TABLE dumped (id INT PRIMARY KEY, note VARCHAR(20)) DEFAULT CHARSET=utf8mb4")
        rows(conn, "INSERT INTO dumped VALUES (1, 'it''s'), (2, NULL), (3, 'ünï')")
        dump = subprocess.run(["mariadb-dump", *gate, "--single-transaction", "--skip-add-locks", "commerce",
                               "dumped"], capture_output=True, timeout=60)
        assert dump.returncode == 0, dump.stderr
        assert b"/*!40101 SET NAMES" in dump.stdout
        sharded = subprocess.run(["mariadb-dump", *gate, "--single-transaction", "customer", "customer"],
                                 capture_output=True, timeout=60)
        assert sharded.returncode == 0 and b"CREATE TABLE `customer`" in sharded.stdout, sharded.stderr
        rows(conn, "DROP TABLE dumped")
        restore = subprocess.run(["mariadb", *gate, "commerce"], input=dump.stdout, capture_output=True, timeout=60)
        assert restore.returncode == 0, restore.stderr
        assert rows(conn, "SELECT * FROM dumped ORDER BY id") == [(1, "it's"), (2, None), (3, "ünï")]
        # What a pooled connection would keep for other sessions is refused; UNLOCK TABLES has nothing to do.
        for statement in ("LOCK TABLES dumped READ", "FLUSH TABLES WITH READ LOCK",
                          "PREPARE s FROM 'SELECT 1'", "EXECUTE s", "HANDLER dumped OPEN",
                          "SET STATEMENT max_statement_time = 1 FOR SELECT 1"):
            with pytest.raises(pymysql.err.NotSupportedError) as info:
                rows(conn, statement)
            assert info.value.args[0] == 1235, statement
        rows(conn, "UNLOCK TABLES")
    finally:
        rows(conn, "DROP TABLE IF EXISTS dumped")
        conn.close()


def test_several_statements_in_one_query_answer_one_result_each(e2e_cluster: ClusterThread):
    conn = e2e_cluster.connect("customer", client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    try:
        def results(sql: str) -> list[tuple]:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                out = [tuple(cursor.fetchall())]
                while cursor.nextset():
                    out.append(tuple(cursor.fetchall()))
                return out

        assert results("SET @n = 40; SELECT @n + 2; SELECT 'a;b' AS s") == [(), ((42,),), (("a;b",),)]
        assert results("USE commerce; SELECT DATABASE(); USE customer") == [(), (("commerce",),), ()]
        rows(conn, "DELETE FROM corder WHERE order_id IN (7701, 7702)")
        assert results("BEGIN; INSERT INTO corder (order_id, customer_id, sku) VALUES (7701, 1, 'm'), (7702, 2, 'm');"
                       " SELECT COUNT(*) FROM corder WHERE sku = 'm'; ROLLBACK") == [(), (), ((2,),), ()]
        assert rows(conn, "SELECT COUNT(*) FROM corder WHERE sku = 'm'") == [(0,)]
        with conn.cursor() as cursor:  # the first failing statement ends the response with its error
            cursor.execute("SELECT 1; SELEKT 2; SET @after = 1")
            assert cursor.fetchall() == ((1,),)
            with pytest.raises(pymysql.err.ProgrammingError) as info:
                cursor.nextset()
            assert info.value.args[0] == 1064
        assert rows(conn, "SELECT @after") == [(None,)]
    finally:
        conn.close()
    single = e2e_cluster.connect("customer")  # without CLIENT_MULTI_STATEMENTS: refused, as MariaDB does
    try:
        with pytest.raises(pymysql.err.ProgrammingError) as info:
            rows(single, "SET @x = 1; SELECT @x")
        assert info.value.args[0] == 1064
        assert rows(single, "SELECT @x, 7;") == [(None, 7)]
    finally:
        single.close()


def test_processlist_and_kill_see_the_gates_connections_and_kill_rolls_back(e2e_cluster: ClusterThread):
    victim = e2e_cluster.connect("customer", autocommit=False)
    admin = e2e_cluster.connect("customer", read_timeout=10)
    try:
        rows(admin, "DELETE FROM corder WHERE order_id = 7801")
        rows(admin, "INSERT INTO corder (order_id, customer_id, sku, qty) VALUES (7801, 3, 'kill', 1)")
        rows(victim, "UPDATE corder SET qty = 99 WHERE order_id = 7801")  # holds the row's lock, uncommitted
        with pytest.raises(pymysql.err.MySQLError) as info:
            rows(admin, "KILL 999999")
        assert info.value.args[0] == 1094
        (victim_id,), = rows(victim, "SELECT CONNECTION_ID()")  # the gate's id, as KILL takes it
        assert victim_id == victim.thread_id()
        listed = {row[0]: row for row in rows(admin, "SHOW FULL PROCESSLIST")}  # the gate's connections
        assert listed[victim_id][1:5:2] == ("root", "customer") and listed[victim_id][4] == "Sleep"
        assert listed[admin.thread_id()][4:8:3] == ("Query", "SHOW FULL PROCESSLIST")
        rows(admin, f"KILL CONNECTION {victim_id}")
        rows(admin, "UPDATE corder SET qty = qty + 1 WHERE order_id = 7801")  # the lock is gone: no wait
        assert rows(admin, "SELECT qty FROM corder WHERE order_id = 7801") == [(2,)]  # 99 was rolled back
        with pytest.raises(pymysql.err.OperationalError):
            rows(victim, "SELECT 1")
    finally:
        rows(admin, "DELETE FROM corder WHERE order_id = 7801")
        admin.close()


def test_kill_query_interrupts_a_statement_and_keeps_its_connection(e2e_cluster: ClusterThread):
    """What the mariadb client sends on Ctrl-C: the statement (here waiting for a row lock) ends with 1317."""
    holder = e2e_cluster.connect("customer", autocommit=False)
    victim = e2e_cluster.connect("customer", read_timeout=30)
    admin = e2e_cluster.connect("customer")
    try:
        rows(admin, "DELETE FROM corder WHERE order_id = 7802")
        rows(admin, "INSERT INTO corder (order_id, customer_id, sku, qty) VALUES (7802, 4, 'kill', 1)")
        rows(holder, "UPDATE corder SET qty = 2 WHERE order_id = 7802")
        outcome: list[BaseException | float] = []

        def wait_for_the_lock() -> None:
            started = time.monotonic()
            try:
                rows(victim, "UPDATE corder SET qty = 3 WHERE order_id = 7802")
            except pymysql.err.MySQLError as exc:
                outcome.append(exc)
            outcome.append(time.monotonic() - started)

        waiter = threading.Thread(target=wait_for_the_lock)
        waiter.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the gate runs the UPDATE
            listed = {row[0]: row for row in rows(admin, "SHOW PROCESSLIST")}
            if listed[victim.thread_id()][4] == "Query":
                break
            time.sleep(0.05)
        time.sleep(0.2)  # its backend query is waiting for the lock now
        rows(admin, f"KILL QUERY {victim.thread_id()}")
        waiter.join(10)
        error, seconds = outcome
        assert isinstance(error, pymysql.err.OperationalError) and error.args[0] == 1317, error
        assert seconds < 5  # not the 50 s lock wait timeout
        assert rows(victim, "SELECT 'still connected'") == [("still connected",)]
        holder.rollback()
        assert rows(admin, "SELECT qty FROM corder WHERE order_id = 7802") == [(1,)]
    finally:
        rows(admin, "DELETE FROM corder WHERE order_id = 7802")
        for conn in (holder, victim, admin):
            conn.close()



@pytest.mark.parametrize("keyspace,table", [("customer", "corder"), ("commerce", "product")])
def test_row_count_and_found_rows_are_the_sessions(e2e_cluster: ClusterThread, keyspace: str, table: str):
    """As MariaDB counts them: ROW_COUNT() the rows the last statement changed (-1 after rows returned, 0 after
    SET or BEGIN), FOUND_ROWS() the rows of the last SELECT, without its LIMIT under SQL_CALC_FOUND_ROWS."""
    conn = e2e_cluster.connect(keyspace)
    key, other = ("order_id", "qty") if table == "corder" else ("sku", "price")
    ids = [f"'rc-{i}'" if table == "product" else str(9100 + i) for i in range(5)]
    where = f"{key} IN ({', '.join(ids)})"
    try:
        rows(conn, f"DELETE FROM {table} WHERE {where}")
        values = ", ".join(f"({i}, {i}, 1)" if table == "corder" else f"({i}, 'x', 1)" for i in ids)
        columns = "order_id, customer_id, qty" if table == "corder" else "sku, description, price"
        rows(conn, f"INSERT INTO {table} ({columns}) VALUES {values}")
        assert rows(conn, "SELECT ROW_COUNT()") == [(5,)]
        rows(conn, f"UPDATE {table} SET {other} = 2 WHERE {key} IN ({ids[0]}, {ids[1]})")
        assert rows(conn, "SELECT ROW_COUNT()") == [(2,)]
        for _ in range(3):  # the fast path answers the point select after the first time
            assert rows(conn, f"SELECT {other} FROM {table} WHERE {key} = {ids[0]}") == [(2,)]
            assert rows(conn, "SELECT ROW_COUNT(), 7") == [(-1, 7)]
            assert rows(conn, "SELECT FOUND_ROWS()") == [(1,)]  # the row of the SELECT just before
        assert len(rows(conn, f"SELECT {key} FROM {table} WHERE {where}")) == 5
        rows(conn, "SET @rc = 1")
        assert rows(conn, "SELECT ROW_COUNT()") == [(0,)]
        assert rows(conn, "SELECT FOUND_ROWS()") == [(1,)]  # the SELECT ROW_COUNT() counts as the last SELECT
        first_two = [(9100,), (9101,)] if table == "corder" else [("rc-0",), ("rc-1",)]
        assert rows(conn, f"SELECT SQL_CALC_FOUND_ROWS {key} FROM {table} WHERE {where} ORDER BY {key} "
                          "LIMIT 2") == first_two
        nothing = f"DELETE FROM {table} WHERE {key} = {'-1' if table == 'corder' else repr('none')}"
        rows(conn, nothing)
        assert rows(conn, "SELECT FOUND_ROWS()") == [(5,)]  # a DELETE between does not change it
        rows(conn, nothing)
        assert rows(conn, "SELECT ROW_COUNT()") == [(0,)]
        assert rows(conn, f"SELECT SQL_CALC_FOUND_ROWS {other}, COUNT(*) FROM {table} WHERE {where} "
                          f"GROUP BY {other} ORDER BY {other} LIMIT 1") == [(1, 3)]
        assert rows(conn, "SELECT FOUND_ROWS()") == [(2,)]  # two groups
        rows(conn, "BEGIN")
        assert rows(conn, "SELECT ROW_COUNT()") == [(0,)]
        rows(conn, "COMMIT")
    finally:
        rows(conn, f"DELETE FROM {table} WHERE {where}")
        conn.close()


def test_writes_to_a_reference_table_with_a_source_go_to_the_source(e2e_cluster: ClusterThread):
    """Vitess routes DML on a sharded keyspace's reference table to the ``source`` its VSchema names (the copies
    follow by replication); without a source it stays refused."""
    from shardline.ctl.schema import apply_vschema

    ts, ctx = e2e_cluster.ts, e2e_cluster.ctx
    assert ts is not None and ctx is not None
    commerce, customer = (e2e_cluster.call(ts.get_vschema(ks)) for ks in ("commerce", "customer"))
    conn = e2e_cluster.connect("customer")
    try:
        for keyspace in ("commerce", "customer"):
            rows(conn, f"CREATE TABLE IF NOT EXISTS {keyspace}.color (code VARCHAR(8) PRIMARY KEY, label VARCHAR(32))")
        e2e_cluster.call(apply_vschema(ctx, "commerce", {**commerce, "tables": {
            **commerce["tables"], "color": {"type": "reference"}}}))
        e2e_cluster.call(apply_vschema(ctx, "customer", {**customer, "tables": {
            **customer["tables"], "color": {"type": "reference", "source": "commerce.color"}}}))
        deadline = time.monotonic() + 10
        while "color" not in e2e_cluster.gate.serving.vschema.find_keyspace("customer").tables:
            assert time.monotonic() < deadline, "the gate never saw the new VSchema"
            time.sleep(0.05)
        rows(conn, "INSERT INTO color (code, label) VALUES ('r', 'red'), ('g', 'green')")
        rows(conn, "UPDATE color SET label = UPPER(color.label) WHERE color.code = 'r'")
        rows(conn, "REPLACE INTO color (code, label) VALUES ('b', 'blue')")
        rows(conn, "DELETE FROM color WHERE code = 'g'")
        with e2e_cluster.connect("commerce") as source:
            assert rows(source, "SELECT code, label FROM color ORDER BY code") == [("b", "blue"), ("r", "RED")]
        for shard in ("-80", "80-"):  # the sharded keyspace's copies were not written
            with e2e_cluster.connect(f"customer:{shard}") as copy:
                assert rows(copy, "SELECT COUNT(*) FROM color") == [(0,)]
        with pytest.raises(pymysql.err.NotSupportedError) as info:  # no source: refused as before
            rows(conn, "INSERT INTO product (sku, title) VALUES ('ref-1', 'x')")
        assert "reference table customer.product" in info.value.args[1]
    finally:
        e2e_cluster.call(apply_vschema(ctx, "customer", customer))
        e2e_cluster.call(apply_vschema(ctx, "commerce", commerce))
        for keyspace in ("commerce", "customer"):
            rows(conn, f"DROP TABLE IF EXISTS {keyspace}.color")
        conn.close()
