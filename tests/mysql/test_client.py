"""The asyncio client against a real MariaDB."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shardline.errors import MySQLError, Unavailable
from shardline.mysql.client import Connection, connect
from shardline.mysql.constants import ServerStatus
from shardline.mysql.framing import split_packets
from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import DBA
from shardline.sqltypes import FieldType


async def test_query_returns_fields_and_text_rows(conn: Connection) -> None:
    result = await conn.query("SELECT 1 AS one, NULL AS n, 'abc' AS s, 2.50 AS d")
    assert [f.name for f in result.fields] == ["one", "n", "s", "d"]
    assert result.fields[0].type == FieldType.LONG
    assert result.fields[3].type == FieldType.NEWDECIMAL
    assert result.rows == [(b"1", None, b"abc", b"2.50")]


async def test_query_reports_affected_rows_and_insert_id(conn: Connection) -> None:
    await conn.query("DELETE FROM seq_test")
    result = await conn.query("INSERT INTO seq_test (v) VALUES ('a'), ('b')")
    assert result.rows_affected == 2
    assert result.insert_id > 0
    assert result.info.startswith("Records: 2")
    updated = await conn.query("UPDATE seq_test SET v = CONCAT(v, '!')")
    assert updated.rows_affected == 2


async def test_server_error_carries_code_and_sqlstate(conn: Connection) -> None:
    with pytest.raises(MySQLError) as info:
        await conn.query("SELECT * FROM no_such_table")
    assert (info.value.code, info.value.sqlstate) == (1146, "42S02")
    assert "no_such_table" in info.value.message
    await conn.query("INSERT IGNORE INTO seq_test (v) VALUES ('dup')")
    with pytest.raises(MySQLError) as info:
        await conn.query("INSERT INTO seq_test (v) VALUES ('dup')")
    assert (info.value.code, info.value.sqlstate) == (1062, "23000")
    assert (await conn.query("SELECT 2")).rows == [(b"2",)]  # still usable


async def test_query_raw_is_exactly_what_query_decodes(conn: Connection) -> None:
    raw = await conn.query_raw("SELECT id, vc, dtm FROM all_types ORDER BY id")
    payloads = split_packets(raw)
    assert payloads[0] == b"\x03"  # column count
    assert raw[3] == 1  # the response's sequence ids start after COM_QUERY's 0
    decoded = await conn.query("SELECT id, vc, dtm FROM all_types ORDER BY id")
    assert len(payloads) == 1 + 3 + 1 + len(decoded.rows) + 1
    assert decoded.rows[0] == (b"1", "héllo wörld".encode(), b"9999-12-31 23:59:59")


async def test_multi_statement_response_ends_after_the_last_result(conn: Connection) -> None:
    raw = await conn.query_raw("SELECT 1; SELECT 2, 3; DO 1")
    assert len(split_packets(raw)) == (1 + 1 + 1 + 1 + 1) + (1 + 2 + 1 + 1 + 1) + 1
    assert (await conn.query("SELECT 4")).rows == [(b"4",)]


async def test_error_in_a_later_statement_raises(conn: Connection) -> None:
    with pytest.raises(MySQLError) as info:
        await conn.query("SELECT 1; SELECT * FROM no_such_table")
    assert info.value.code == 1146
    assert (await conn.query("SELECT 5")).rows == [(b"5",)]


async def test_status_flags_follow_the_transaction(conn: Connection) -> None:
    await conn.query("SELECT 1")
    assert conn.autocommit and not conn.in_transaction
    await conn.query("BEGIN")
    assert conn.in_transaction
    await conn.query("SELECT 1")
    assert conn.status & ServerStatus.IN_TRANS
    await conn.query("ROLLBACK")
    assert not conn.in_transaction
    await conn.query("SET autocommit = 0")
    assert not conn.autocommit
    await conn.query("SET autocommit = 1")


async def test_ping_init_db_and_reset_connection(conn: Connection) -> None:
    await conn.ping()
    await conn.init_db("mysql")
    assert (await conn.query("SELECT DATABASE()")).rows == [(b"mysql",)]
    with pytest.raises(MySQLError) as info:
        await conn.init_db("no_such_db")
    assert (info.value.code, info.value.sqlstate) == (1049, "42000")
    await conn.query("SET @x = 42")
    await conn.reset_connection()
    assert (await conn.query("SELECT @x")).rows == [(None,)]


async def test_unix_socket_and_no_database(mysql_db: MysqlInstance) -> None:
    connection = await connect(user=DBA.user, password=DBA.password, unix_socket=str(mysql_db.socket))
    try:
        assert (await connection.query("SELECT DATABASE(), USER()")).rows == [
            (None, f"{DBA.user}@localhost".encode())
        ]
    finally:
        await connection.close()


async def test_wrong_password_is_refused(mysql_db: MysqlInstance) -> None:
    with pytest.raises(MySQLError) as info:
        await connect(mysql_db.host, mysql_db.port, DBA.user, "wrong")
    assert (info.value.code, info.value.sqlstate) == (1045, "28000")


async def test_unknown_database_is_refused(mysql_db: MysqlInstance) -> None:
    with pytest.raises(MySQLError) as info:
        await connect(mysql_db.host, mysql_db.port, DBA.user, DBA.password, "no_such_db")
    assert info.value.code == 1049


async def test_refused_port_raises_unavailable() -> None:
    with socket.socket() as probe:  # bound but not listening: connecting is refused
        probe.bind(("127.0.0.1", 0))
        with pytest.raises(Unavailable) as info:
            await connect("127.0.0.1", probe.getsockname()[1], "u", "p")
    assert info.value.code == 2003


async def test_killed_connection_raises_unavailable_and_is_unusable(
    mysql_db: MysqlInstance, conn: Connection
) -> None:
    mysql_db.execute(f"KILL {conn.connection_id}")
    with pytest.raises(Unavailable):
        await conn.query("SELECT 1")
    assert conn.closed
    with pytest.raises(Unavailable):
        await conn.query("SELECT 1")


async def test_packet_above_max_allowed_packet_closes_the_connection_at_once(conn: Connection) -> None:
    limit = int((await conn.query("SELECT @@max_allowed_packet")).rows[0][0])
    with pytest.raises(MySQLError) as info:
        await conn.query("SELECT '" + "x" * (limit + 1024) + "'")
    assert info.value.code == 1153
    assert conn.closed  # the server drops it next; no one may send on it in between
    with pytest.raises(Unavailable):
        await conn.query("SELECT 1")


async def test_cancelled_command_makes_the_connection_unusable(conn: Connection) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await conn.query("SELECT SLEEP(5)")
    assert conn.closed
    with pytest.raises(Unavailable):
        await conn.ping()


async def test_large_value_split_over_several_packets(conn: Connection) -> None:
    size = 17 * 1024 * 1024
    result = await conn.query(f"SELECT REPEAT('x', {size}) AS big, 7")
    assert len(result.rows[0][0]) == size
    assert result.rows[0][1] == b"7"


class _Sink:
    """Collects what a submitted command's callback hands over, in order across sinks."""

    def __init__(self, log: list[tuple[str, object]], name: str) -> None:
        self.log, self.name = log, name

    def set_result(self, response: bytes) -> None:
        self.log.append((self.name, response))

    def set_exception(self, exc: BaseException) -> None:
        self.log.append((self.name, exc))


async def _until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_submitted_commands_are_pipelined_and_answered_in_order(conn: Connection) -> None:
    log: list[tuple[str, object]] = []
    statements = ["SELECT SLEEP(0.05), 1", "SELECT 2", "SELECT * FROM no_such_table", "SELECT 4"]
    for i, sql in enumerate(statements):
        conn.submit(b"\x03" + sql.encode(), _Sink(log, f"q{i}"))
    assert conn.submitted == 4
    await _until(lambda: len(log) == 4)
    assert [name for name, _ in log] == ["q0", "q1", "q2", "q3"]
    outcomes = dict(log)
    error = outcomes["q2"]
    assert isinstance(error, MySQLError) and error.code == 1146  # an error ends only its own command
    for name, value in (("q1", b"\x012"), ("q3", b"\x014")):
        response = outcomes[name]
        assert isinstance(response, bytes)
        assert split_packets(response)[-2] == value  # the row (one length-prefixed value) before the final EOF
    assert conn.submitted == 0
    assert (await conn.query("SELECT 5")).rows == [(b"5",)]  # and the connection goes on


async def test_a_lost_connection_fails_every_pipelined_command(mysql_db: MysqlInstance, conn: Connection) -> None:
    log: list[tuple[str, object]] = []
    conn.submit(b"\x03SELECT SLEEP(2)", _Sink(log, "a"))
    conn.submit(b"\x03SELECT 1", _Sink(log, "b"))
    mysql_db.execute(f"KILL {conn.connection_id}")
    await _until(lambda: len(log) == 2)
    assert [name for name, _ in log] == ["a", "b"]
    assert all(isinstance(outcome, Unavailable) for _, outcome in log)
    assert conn.closed and conn.submitted == 0
