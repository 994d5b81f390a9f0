"""The server framework driven by real clients: PyMySQL, mysqlclient, the mariadb CLI and shardline's client.

Most tests run a relay (server + client to the shared MariaDB, responses passed through) so that results can be
compared with a direct connection; a scripted handler covers what a handler itself decides.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import MySQLdb
import pymysql
import pytest
import uvloop

from shardline.errors import InvalidArgument, MySQLError, ShardlineError, Unavailable
from shardline.mysql import auth
from shardline.mysql.client import Connection, connect
from shardline.mysql.client_protocol import ClientHandshake
from shardline.mysql.constants import CAPABILITIES, Command, ServerStatus
from shardline.mysql.framing import PacketReader, frame
from shardline.mysql.handshake import Handshake, HandshakeResponse
from shardline.mysql.relay import RelayHandler
from shardline.mysql.server import Handler, MySQLServer, ServerConnection, listen_unix
from shardline.mysql.server_protocol import ServerStatement
from shardline.mysql.users import UserStore
from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import DBA
from shardline.sqltypes import Field, FieldType, Result

USERS = UserStore({"app": "app_pw", "nopw": ""})
DATABASE = "mysql_protocol_test"


class RawClient:
    """A socket speaking framed packets, authenticated with the sans-IO client handshake."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.packets = PacketReader()
        self.pending: list[tuple[int, bytes]] = []

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def login(self, user: str = "app", password: str = "app_pw") -> None:
        handshake = ClientHandshake(user, password, DATABASE)
        while not handshake.done:
            seq, payload = await self.read()
            reply = handshake.receive(payload)
            if reply is not None:
                self.send(reply, seq + 1)

    def send(self, payload: bytes, seq: int = 0) -> None:
        self.writer.write(frame(payload, seq)[0])

    async def read(self) -> tuple[int, bytes]:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            if not data:
                raise ConnectionResetError("closed by the server")
            self.pending.extend(self.packets.feed(data))
        return self.pending.pop(0)

    async def read_until_closed(self) -> bytes:
        return await asyncio.wait_for(self.reader.read(), 5)

    def close(self) -> None:
        self.writer.close()


class ScriptedHandler(Handler):
    """Answers a few fixed statements; records what happened."""

    closed: list[int] = []

    async def on_query(self, conn: ServerConnection, sql: str) -> None:
        if sql == "begin":
            conn.in_transaction = True
        elif sql == "two results":
            conn.send_result(Result([Field("a", FieldType.LONGLONG)], [(b"1",)]), more=True)
            conn.send_ok(rows_affected=3, info="done")
        elif sql == "crash":
            raise RuntimeError("boom")
        elif sql == "refuse":
            raise ShardlineError("not here", code=1105, sqlstate="HY000")
        elif sql.startswith("refuse "):  # a message quoting the client's text, which may not be UTF-8
            raise ShardlineError(f"not here: {sql[7:]}", code=1105, sqlstate="HY000")
        elif sql == "unencodable error":  # a handler bug: no ERR packet can carry this code
            raise ShardlineError("bad code", code=70000)
        elif sql == "slow":
            await asyncio.sleep(0.2)
            conn.send_result(Result([Field("slow")], [(b"done",)]))
        elif sql.startswith("echo "):
            conn.send_result(Result([Field("echo")], [(sql[5:].encode(),)]))
        # anything else: the framework answers OK

    async def on_prepare(self, conn: ServerConnection, sql: str) -> tuple[int, list[Field]]:
        return sql.count("?"), [Field("p", FieldType.VAR_STRING), Field("n", FieldType.LONGLONG)]

    async def on_execute(self, conn: ServerConnection, statement: ServerStatement, params: list[Any]) -> None:
        rows = [(repr(p).encode(), b"%d" % i) for i, p in enumerate(params)]
        conn.send_result(Result(statement.fields, rows), binary=True)

    async def on_close(self, conn: ServerConnection) -> None:
        ScriptedHandler.closed.append(conn.connection_id)


@pytest.fixture(scope="module")
async def relay(mysql_db: MysqlInstance) -> AsyncIterator[MySQLServer]:
    server = MySQLServer(
        lambda conn: RelayHandler(mysql_db.host, mysql_db.port, DBA.user, DBA.password), users=USERS
    )
    await server.start()
    yield server
    await server.close()


@pytest.fixture(scope="module")
async def scripted() -> AsyncIterator[MySQLServer]:
    server = MySQLServer(lambda conn: ScriptedHandler(), users=USERS, max_payload=4096, connect_timeout=1,
                         read_timeout=1)
    await server.start()
    yield server
    await server.close()


def _pymysql_rows(port: int, sql: str, **kwargs: Any) -> tuple[Any, ...]:
    with pymysql.connect(host="127.0.0.1", port=port, database=DATABASE, **kwargs) as c, c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


async def test_pymysql_through_the_relay_sees_what_a_direct_connection_sees(
    relay: MySQLServer, mysql_db: MysqlInstance
) -> None:
    sql = "SELECT * FROM all_types ORDER BY id"
    through = await asyncio.to_thread(_pymysql_rows, relay.port, sql, user="app", password="app_pw")
    direct = await asyncio.to_thread(_pymysql_rows, mysql_db.port, sql, user=DBA.user, password=DBA.password)
    assert through == direct
    assert len(through) == 4


def _pymysql_session(port: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    conn = pymysql.connect(host="127.0.0.1", port=port, user="app", password="app_pw", database=DATABASE)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM seq_test WHERE v LIKE 'srv%'")
        seen["inserted"] = cur.execute("INSERT INTO seq_test (v) VALUES ('srv1'), ('srv2')")
        seen["lastrowid"] = cur.lastrowid
        try:
            cur.execute("INSERT INTO seq_test (v) VALUES ('srv1')")
        except pymysql.err.IntegrityError as exc:
            seen["duplicate"] = exc.args
        conn.begin()
        cur.execute("UPDATE seq_test SET v = 'srv3' WHERE v = 'srv2'")
        conn.rollback()
        cur.execute("SELECT v FROM seq_test WHERE v LIKE 'srv%' ORDER BY v")
        seen["after_rollback"] = cur.fetchall()
        conn.select_db("mysql")
        cur.execute("SELECT DATABASE()")
        seen["database"] = cur.fetchone()
    return seen


async def test_pymysql_dml_errors_transactions_and_use(relay: MySQLServer) -> None:
    seen = await asyncio.to_thread(_pymysql_session, relay.port)
    assert seen["inserted"] == 2
    assert seen["lastrowid"] > 0
    assert seen["duplicate"][0] == 1062 and "srv1" in seen["duplicate"][1]
    assert seen["after_rollback"] == (("srv1",), ("srv2",))
    assert seen["database"] == ("mysql",)


def _mysqldb_session(port: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    conn = MySQLdb.connect(host="127.0.0.1", port=port, user="app", passwd="app_pw", db=DATABASE)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, dec1, dtm6, tm, vc FROM all_types WHERE id IN (1, 3) ORDER BY id")
        seen["rows"] = cur.fetchall()
        try:
            cur.execute("SELECT * FROM nope")
        except MySQLdb.ProgrammingError as exc:
            seen["error"] = exc.args
        seen["stat"] = conn.stat()
        conn.ping()
        seen["server_info"] = conn.get_server_info()
    finally:
        conn.close()
    return seen


async def test_mysqlclient_through_the_relay(relay: MySQLServer) -> None:
    seen = await asyncio.to_thread(_mysqldb_session, relay.port)
    first, null_row = seen["rows"]
    assert first[0] == 1 and str(first[1]) == "-12345678.91" and first[4] == "héllo wörld"
    assert null_row == (3, None, None, None, None)
    assert seen["error"][0] == 1146
    assert seen["stat"].startswith("Uptime: ")
    assert seen["server_info"] == "10.11.19-MariaDB-shardline"


async def _mariadb_cli(port: int, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_mariadb_cli_through_the_relay(relay: MySQLServer) -> None:
    rc, out, err = await _mariadb_cli(
        relay.port,
        "-uapp",
        "-papp_pw",
        DATABASE,
        "--batch",
        "-e",
        "SELECT id, vc FROM all_types ORDER BY id; SELECT 1+1",
    )
    assert (rc, err) == (0, "")
    assert out.splitlines() == ["id\tvc", "1\théllo wörld", "2\t", "3\tNULL", "4\ty", "1+1", "2"]


async def test_mariadb_cli_wrong_password_gets_1045(relay: MySQLServer) -> None:
    rc, _, err = await _mariadb_cli(relay.port, "-uapp", "-pwrong", "-e", "SELECT 1")
    assert rc == 1
    assert "ERROR 1045 (28000): Access denied for user 'app'@'127.0.0.1' (using password: YES)" in err


async def test_wrong_password_and_unknown_user_are_refused(relay: MySQLServer) -> None:
    for user, password in (("app", "nope"), ("ghost", "app_pw"), ("app", "")):
        with pytest.raises(MySQLError) as info:
            await connect("127.0.0.1", relay.port, user, password)
        assert (info.value.code, info.value.sqlstate) == (1045, "28000")
        using = "YES" if password else "NO"
        assert info.value.message == f"Access denied for user '{user}'@'127.0.0.1' (using password: {using})"
    empty = await connect("127.0.0.1", relay.port, "nopw", "")
    assert (await empty.query("SELECT 3")).rows == [(b"3",)]
    await empty.close()


async def test_unknown_database_at_connect_is_the_backends_error(relay: MySQLServer) -> None:
    with pytest.raises(MySQLError) as info:
        await connect("127.0.0.1", relay.port, "app", "app_pw", "no_such_db")
    assert info.value.code == 1049


async def test_prepared_statements_through_the_relay_equal_direct(
    relay: MySQLServer, conn: Connection
) -> None:
    through = await connect("127.0.0.1", relay.port, "app", "app_pw", DATABASE)
    try:
        sql = "SELECT * FROM all_types WHERE id >= ? AND (vc <> ? OR vc IS NULL) ORDER BY id"
        stmt = await through.prepare(sql)
        assert stmt.param_count == 2
        assert [f.name for f in stmt.fields][:3] == ["id", "t", "tu"]
        direct_stmt = await conn.prepare(sql)
        assert (await through.execute(stmt, [1, "zz"])).rows == (
            await conn.execute(direct_stmt, [1, "zz"])
        ).rows
        params = [None, -7, 2**64 - 1, 2.5, "é", b"\x00\x01"]
        echo = await through.prepare("SELECT ?, ?, ?, ?, ?, ?")
        assert (await through.execute(echo, params)).rows == [
            (None, b"-7", b"18446744073709551615", b"2.5", "é".encode(), b"\x00\x01")
        ]
        await through.close_statement(echo)
        with pytest.raises(MySQLError) as info:
            await through.execute(echo, params)
        assert info.value.code == 1243
        assert (await through.execute(stmt, [4, ""])).rows[0][0] == b"4"
    finally:
        await through.close()


async def test_status_flags_of_relayed_responses(relay: MySQLServer) -> None:
    through = await connect("127.0.0.1", relay.port, "app", "app_pw", DATABASE)
    try:
        await through.query("BEGIN")
        assert through.in_transaction
        await through.query("ROLLBACK")
        assert not through.in_transaction and through.autocommit
    finally:
        await through.close()


async def test_scripted_answers_multi_results_and_status(scripted: MySQLServer) -> None:
    client = await connect("127.0.0.1", scripted.port, "app", "app_pw")
    try:
        raw = await client.query_raw("two results")
        assert b"\xfe\x00\x00\x0a\x00" in raw  # the result set ends with MORE_RESULTS_EXISTS
        assert raw.endswith(b"\x00\x03\x00\x02\x00\x00\x00\x04done")  # then the OK
        assert (await client.query("echo héllo")).rows == [("héllo".encode(),)]
        ok = await client.query("anything")
        assert (ok.fields, ok.rows_affected) == ([], 0)
        await client.query("begin")
        assert client.in_transaction
        with pytest.raises(MySQLError) as info:
            await client.query("crash")
        assert (info.value.code, info.value.message) == (1105, "internal error: boom")
        with pytest.raises(MySQLError) as info:
            await client.query("refuse")
        assert info.value.message == "not here"
        assert (await client.query("echo still here")).rows == [(b"still here",)]
    finally:
        await client.close()


async def test_scripted_binary_results_with_decoded_params(scripted: MySQLServer) -> None:
    client = await connect("127.0.0.1", scripted.port, "app", "app_pw")
    try:
        stmt = await client.prepare("CALL x(?, ?, ?)")
        assert (stmt.param_count, [f.name for f in stmt.fields]) == (3, ["p", "n"])
        rows = (await client.execute(stmt, [None, 5, "s"])).rows
        assert rows == [(b"None", b"0"), (b"5", b"1"), (b"'s'", b"2")]
    finally:
        await client.close()


async def test_pipelined_commands_are_answered_in_order(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.writer.write(frame(b"\x03slow", 0)[0] + frame(b"\x03echo second", 0)[0] + frame(b"\x0e", 0)[0])
        payloads = [(await raw.read())[1] for _ in range(5 + 5 + 1)]
        assert payloads[3] == b"\x04done"
        assert payloads[8] == b"\x06second"
        assert payloads[10][0] == 0x00  # the PING's OK comes last
    finally:
        raw.close()


async def test_unknown_command_gets_1047_and_the_connection_stays(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.send(bytes((Command.DAEMON,)))
        seq, payload = await raw.read()
        assert seq == 1 and payload[0] == 0xFF and struct.unpack_from("<H", payload, 1)[0] == 1047
        assert payload[3:9] == b"#08S01"
        raw.send(bytes((Command.PING,)))
        assert (await raw.read())[1][0] == 0x00
    finally:
        raw.close()


async def test_malformed_handshake_gets_1043_and_is_closed(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.read()  # greeting
        raw.send(b"\x00\x01", 1)  # far too short for a HandshakeResponse41
        _, payload = await raw.read()
        assert struct.unpack_from("<H", payload, 1)[0] == 1043
        assert await raw.read_until_closed() == b""
    finally:
        raw.close()


async def test_user_name_that_is_not_utf8_is_refused_with_1045(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.read()  # greeting
        response = HandshakeResponse(int(CAPABILITIES), 1 << 24, 33, "x").build()
        raw.send(response.replace(b"x\0", b"\xff\xfe\0", 1), 1)
        _, payload = await raw.read()
        assert struct.unpack_from("<H", payload, 1)[0] == 1045
        assert await raw.read_until_closed() == b""
    finally:
        raw.close()


async def test_error_quoting_bytes_that_are_not_utf8_reaches_the_client(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.send(b"\x03refuse \xff\xfe")
        _, payload = await raw.read()
        assert payload[0] == 0xFF and payload[9:] == b"not here: ??"
        raw.send(bytes((Command.PING,)))
        assert (await raw.read())[1][0] == 0x00
    finally:
        raw.close()


async def test_a_command_the_server_cannot_answer_closes_the_connection(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.send(b"\x03unencodable error")
        assert await raw.read_until_closed() == b""  # closed at once rather than left waiting
    finally:
        raw.close()
    assert (await _scripted_echo(scripted.port)) == [(b"fine",)]


async def test_incomplete_packet_is_dropped_after_the_read_timeout(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.writer.write(b"\x00\x10\x00\x00\x03SELECT")  # announces 4096 bytes, sends 7
        _, payload = await raw.read()
        assert struct.unpack_from("<H", payload, 1)[0] == 1159
        assert await raw.read_until_closed() == b""
    finally:
        raw.close()


async def test_a_packet_split_over_slow_writes_is_not_timed_out(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        packet = frame(b"\x03echo slow", 0)[0]
        for i in range(0, len(packet), 4):
            raw.writer.write(packet[i : i + 4])
            await asyncio.sleep(0.3)  # 1.2 s in all, more than the read timeout, less between writes
        assert (await raw.read())[1][0] == 1  # a result set with one column
    finally:
        raw.close()


async def _scripted_echo(port: int) -> list[tuple[bytes, ...]]:
    client = await connect("127.0.0.1", port, "app", "app_pw")
    try:
        return (await client.query("echo fine")).rows
    finally:
        await client.close()


async def test_malformed_execute_gets_an_error(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.send(b"\x17\x01")
        _, payload = await raw.read()
        assert payload[0] == 0xFF and struct.unpack_from("<H", payload, 1)[0] == 1835
        raw.send(b"\x17\x63\x00\x00\x00\x00\x01\x00\x00\x00")  # statement 99 was never prepared
        _, payload = await raw.read()
        assert struct.unpack_from("<H", payload, 1)[0] == 1243
    finally:
        raw.close()


async def test_oversized_packet_gets_1153_and_is_closed(scripted: MySQLServer) -> None:
    client = await connect("127.0.0.1", scripted.port, "app", "app_pw")
    with pytest.raises(MySQLError) as info:
        await client.query("echo " + "x" * 5000)
    assert (info.value.code, info.value.sqlstate) == (1153, "08S01")
    with pytest.raises(Unavailable):
        await client.query("echo again")
    other = await connect("127.0.0.1", scripted.port, "app", "app_pw")
    assert (await other.query("echo fine")).rows == [(b"fine",)]
    await other.close()


async def test_silent_client_is_dropped_after_the_connect_timeout(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.read()  # greeting, then say nothing
        assert await asyncio.wait_for(raw.reader.read(), 3) == b""
    finally:
        raw.close()


async def test_abrupt_disconnect_runs_the_close_hook(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    await raw.login()
    raw.send(b"\x03slow")
    await asyncio.sleep(0.05)
    connection_id = max(scripted.connections)
    raw.writer.transport.abort()
    for _ in range(100):
        if connection_id in ScriptedHandler.closed:
            break
        await asyncio.sleep(0.01)
    assert connection_id in ScriptedHandler.closed
    assert connection_id not in scripted.connections


@pytest.mark.parametrize("password", ["app_pw", "wrong"])
async def test_caching_sha2_password_fast_auth(scripted: MySQLServer, password: str) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        _, greeting = await raw.read()
        scramble = Handshake.parse(greeting).scramble
        response = HandshakeResponse(
            int(CAPABILITIES), 1 << 24, 45, "app", auth.caching_sha2_scramble(password, scramble),
            auth_plugin="caching_sha2_password",
        )  # fmt: skip
        raw.send(response.build(), 1)
        if password == "wrong":
            seq, err = await raw.read()
            assert seq == 2 and struct.unpack_from("<H", err, 1)[0] == 1045
            return
        assert await raw.read() == (2, b"\x01\x03")  # fast auth success
        seq, ok = await raw.read()
        assert seq == 3 and ok[0] == 0x00
    finally:
        raw.close()


async def test_other_auth_plugins_are_switched_to_native_password(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        _, greeting = await raw.read()
        response = HandshakeResponse(
            int(CAPABILITIES), 1 << 24, 45, "app", b"whatever", auth_plugin="client_ed25519"
        )
        raw.send(response.build(), 1)
        seq, switch = await raw.read()
        assert seq == 2 and switch.startswith(b"\xfemysql_native_password\x00")
        scramble = switch[len(b"\xfemysql_native_password\x00") : -1]
        assert scramble == Handshake.parse(greeting).scramble
        raw.send(auth.native_password_scramble("app_pw", scramble), 3)
        seq, ok = await raw.read()
        assert seq == 4 and ok[0] == 0x00 and struct.unpack_from("<H", ok, 3)[0] == ServerStatus.AUTOCOMMIT
    finally:
        raw.close()


async def test_send_long_data_is_joined_into_the_parameter(relay: MySQLServer) -> None:
    raw = await RawClient.open(relay.port)
    try:
        await raw.login()
        raw.send(b"\x16SELECT CONCAT(?, '!')")
        payloads = [(await raw.read())[1] for _ in range(1 + 2 + 2)]
        statement_id = struct.unpack_from("<I", payloads[0], 1)[0]
        for chunk in (b"long ", b"data"):
            raw.send(b"\x18" + struct.pack("<IH", statement_id, 0) + chunk)
        raw.send(b"\x17" + struct.pack("<IBI", statement_id, 0, 1) + b"\x00\x01" + struct.pack("<H", 0xFE))
        rows = [(await raw.read())[1] for _ in range(1 + 1 + 1 + 1 + 1)]
        assert rows[3] == b"\x00\x00\x0along data!"
    finally:
        raw.close()


async def test_bad_long_data_and_bad_decimal_answer_the_execution_with_1210(scripted: MySQLServer) -> None:
    raw = await RawClient.open(scripted.port)
    try:
        await raw.login()
        raw.send(b"\x16select ?")  # the scripted handler: one parameter, two result columns
        payloads = [(await raw.read())[1] for _ in range(1 + 2 + 3)]
        statement_id = struct.unpack_from("<I", payloads[0], 1)[0]
        execute = b"\x17" + struct.pack("<IBI", statement_id, 0, 1) + b"\x00\x01"
        raw.send(b"\x18" + struct.pack("<IH", statement_id, 5) + b"x")  # parameter 5 of 1: no answer...
        raw.send(execute + struct.pack("<H", 0xFE) + b"\x02ok")
        _, payload = await raw.read()  # ...until the execution
        assert payload[0] == 0xFF and struct.unpack_from("<H", payload, 1)[0] == 1210, payload
        raw.send(execute + struct.pack("<H", 0xF6) + b"\x03abc")  # NEWDECIMAL 'abc'
        _, payload = await raw.read()
        assert struct.unpack_from("<H", payload, 1)[0] == 1210 and b"'abc'" in payload, payload
        raw.send(execute + struct.pack("<H", 0xF6) + b"\x041.50")
        row = [(await raw.read())[1] for _ in range(1 + 2 + 1 + 1 + 1)][4]  # count, columns, EOF, row, EOF
        assert b"\x0fDecimal('1.50')" in row, row
    finally:
        raw.close()


async def test_reset_connection_forgets_statements_and_session(relay: MySQLServer) -> None:
    client = await connect("127.0.0.1", relay.port, "app", "app_pw", DATABASE)
    try:
        stmt = await client.prepare("SELECT 1")
        await client.query("SET @v = 5")
        await client.reset_connection()
        assert (await client.query("SELECT @v")).rows == [(None,)]
        with pytest.raises(MySQLError) as info:
            await client.execute(stmt)
        assert info.value.code == 1243
    finally:
        await client.close()


async def test_close_leaves_no_tasks_and_no_connections() -> None:
    server = MySQLServer(lambda conn: ScriptedHandler(), users=USERS)
    await server.start()
    clients = [await connect("127.0.0.1", server.port, "app", "app_pw") for _ in range(3)]
    slow = asyncio.ensure_future(clients[0].query("slow"))
    await asyncio.sleep(0.05)
    before = len(ScriptedHandler.closed)
    await server.close()
    assert server.connections == {}
    assert len(ScriptedHandler.closed) == before + 3
    with pytest.raises(Unavailable):
        await slow
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)
    for client in clients:
        await client.close()


async def test_relay_under_uvloop(mysql_db: MysqlInstance) -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        server = MySQLServer(
            lambda conn: RelayHandler(mysql_db.host, mysql_db.port, DBA.user, DBA.password), users=USERS
        )
        await server.start()
        client = await connect("127.0.0.1", server.port, "app", "app_pw", DATABASE)
        text = await client.query("SELECT vc FROM all_types WHERE id = 1")
        binary = await client.execute(await client.prepare("SELECT ? * 2"), [21])
        await client.close()
        await server.close()
        return text.rows, binary.rows

    text, binary = await asyncio.to_thread(uvloop.run, scenario())
    assert text == [("héllo wörld".encode(),)]
    assert binary == [(b"42",)]


async def _sysbench(port: int, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "sysbench", "oltp_point_select", "--db-driver=mysql", "--mysql-host=127.0.0.1", f"--mysql-port={port}",
        f"--mysql-db={DATABASE}", "--tables=1", "--table-size=100", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.slow
@pytest.mark.parametrize("ps_mode", ["auto", "disable"])
async def test_sysbench_point_selects_through_the_relay(
    relay: MySQLServer, mysql_db: MysqlInstance, ps_mode: str
) -> None:
    direct = (f"--mysql-user={DBA.user}", f"--mysql-password={DBA.password}")
    await _sysbench(mysql_db.port, *direct, "cleanup")
    await _sysbench(mysql_db.port, *direct, "prepare")
    out = await _sysbench(
        relay.port, "--mysql-user=app", "--mysql-password=app_pw", "--threads=2", "--events=2000", "--time=0",
        f"--db-ps-mode={ps_mode}", "run",
    )  # fmt: skip
    assert "queries:                             2000 " in out
    assert "ignored errors:                      0 " in out


async def test_clients_on_the_unix_socket_get_the_same_server(tmp_path) -> None:
    path = str(tmp_path / "server.sock")
    server = MySQLServer(lambda conn: ScriptedHandler(), users=USERS, unix_listener=listen_unix(path))
    await server.start()
    try:
        def echo() -> tuple[Any, ...]:
            with pymysql.connect(unix_socket=path, user="app", password="app_pw") as c, c.cursor() as cur:
                cur.execute("echo over the socket")
                return cur.fetchall()

        assert await asyncio.to_thread(echo) == (("over the socket",),)
        with pytest.raises(Unavailable, match="another server listens"):
            listen_unix(path)
    finally:
        await server.close()
    listen_unix(path).close()  # the file the closed server left behind is replaced
    (tmp_path / "plain").write_text("not a socket")
    with pytest.raises(InvalidArgument, match="not a socket"):
        listen_unix(str(tmp_path / "plain"))
    assert (tmp_path / "plain").read_text() == "not a socket"
