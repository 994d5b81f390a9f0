"""Asyncio MySQL client for the gate's backend connections: one awaited command at a time (or pipelined commands
submitted with callbacks), results raw or decoded.

Built on ``asyncio.Protocol`` (no streams): a response is collected by scanning packet headers in
``data_received`` and handed over as one ``bytes`` object, which ``*_raw`` methods return untouched.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

from shardline.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    MalformedPacket,
    ShardlineError,
    Unavailable,
)
from shardline.mysql.binary import build_execute, parse_binary_row, parse_prepare_ok
from shardline.mysql.client_protocol import ClientHandshake, ResponseScanner
from shardline.mysql.constants import MAX_PAYLOAD_CHUNK, Command, ServerStatus
from shardline.mysql.framing import PacketReader, frame, split_packets
from shardline.mysql.resultset import decode_responses, parse_column
from shardline.sqltypes import Field, Result

_LOST: Final = 2013  # CR_SERVER_LOST
_GONE: Final = 2006  # CR_SERVER_GONE_ERROR
_OUT_OF_SYNC: Final = 2014  # CR_COMMANDS_OUT_OF_SYNC
# Errors after which the server closes the connection: a packet above max_allowed_packet, the ER_NET_* read and
# write errors, a server shutting down, KILL CONNECTION. The connection counts as closed at once, before the
# socket's end arrives, so that a pool does not lend it again in between.
_CONNECTION_ENDING: Final = frozenset((1053, *range(1153, 1162), 1927))
_LENGTH_SEQ0: Final = struct.Struct("<I")
_IN_TRANS: Final = int(ServerStatus.IN_TRANS)  # plain ints: IntFlag's & costs a microsecond on the hot path
_AUTOCOMMIT: Final = int(ServerStatus.AUTOCOMMIT)


@dataclass(slots=True)
class PreparedStatement:
    """A statement prepared on the server: ``id``, parameter count and definitions, result columns."""

    id: int
    param_count: int
    params: list[Field]
    fields: list[Field]


class ResponseSink(Protocol):
    """Receives the response of a command sent with :meth:`Connection.submit`, from the socket callback."""

    def set_result(self, response: bytes) -> None:
        """The complete framed response (an ERR response goes to ``set_exception`` instead)."""

    def set_exception(self, exc: BaseException) -> None:
        """The server answered with ERR (a MySQLError), or the connection broke."""


class _ClientProtocol(asyncio.Protocol):
    """Socket callbacks: the connection phase, then the responses of the commands in flight, collected in order."""

    def __init__(self, handshake: ClientHandshake, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.handshake: ClientHandshake | None = handshake
        self.handshake_reader = PacketReader()
        self.scanner = ResponseScanner()
        self.waiter: asyncio.Future[Any] = loop.create_future()
        self.buf = bytearray()
        self.scan_pos = 0
        self.lost: ShardlineError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = Unavailable(
            f"Lost connection to MySQL server ({exc or 'closed by the server'})", code=_LOST, sqlstate="HY000"
        )
        if not self.waiter.done():
            self.waiter.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        if self.handshake is not None:
            self._handshake_data(data)
            return
        waiter = self.waiter
        if waiter.done():
            self._fail(MalformedPacket("malformed packet: data from the server while no command is running"))
            return
        buf: bytes | bytearray
        if self.buf:
            self.buf += data
            buf = self.buf
        else:
            buf = data
        scanner = self.scanner
        start = 0  # where the response being scanned begins (pipelined commands: several in one read)
        pos = self.scan_pos
        while True:
            try:
                pos = scanner.scan(buf, pos)
            except ShardlineError as exc:
                self._fail(exc)
                return
            if not scanner.done:
                if start or buf is data:
                    self.buf = bytearray(buf[start:])
                self.scan_pos = pos - start
                return
            end = len(buf)
            response = data if buf is data and not start and pos == end else bytes(buf[start:pos])
            if scanner.error is not None:
                if scanner.error.code in _CONNECTION_ENDING:
                    self.lost = Unavailable(f"connection closed by the server after: {scanner.error}", code=_GONE)
                waiter.set_exception(scanner.error)
            else:
                waiter.set_result(response)
            if pos == end:
                self.buf = bytearray()
                self.scan_pos = 0
                return
            waiter = self.waiter
            if waiter.done():
                self._fail(MalformedPacket("malformed packet: bytes after the end of a response"))
                return
            start = pos

    def _handshake_data(self, data: bytes) -> None:
        handshake = self.handshake
        assert handshake is not None and self.transport is not None
        try:
            for seq, payload in self.handshake_reader.feed(data):
                reply = handshake.receive(payload)
                if reply is not None:
                    self.transport.write(frame(reply, seq + 1)[0])
                elif handshake.done:
                    self.handshake = None
                    self.waiter.set_result(None)
                    return
        except ShardlineError as exc:
            self._fail(exc)

    def _fail(self, exc: ShardlineError) -> None:
        """Ends the connection: a protocol error leaves it in an unknown state."""
        if not self.waiter.done():
            self.waiter.set_exception(exc)
        self.lost = self.lost or Unavailable(f"connection closed after an error: {exc}", code=_GONE)
        if self.transport is not None:
            self.transport.abort()


class Connection:
    """A client connection to a MySQL/MariaDB server.

    Commands run one at a time; a command cancelled half-way, or a broken socket, makes the connection unusable
    (``closed`` becomes true and further calls raise Unavailable). ``status`` holds the server status flags of
    the last response's final OK/EOF.
    """

    def __init__(self, protocol: _ClientProtocol, handshake: ClientHandshake) -> None:
        assert handshake.server is not None
        self._protocol = protocol
        self._loop = protocol.loop
        self.server_version = handshake.server.server_version
        self.connection_id = handshake.server.connection_id
        self.status = handshake.server.status
        self._busy = False
        self._sink: ResponseSink | None = None  # of the submitted command being answered
        self._pipeline: deque[ResponseSink] = deque()  # of the submitted commands sent after it

    @property
    def closed(self) -> bool:
        """True once the connection can no longer be used."""
        return self._protocol.lost is not None

    @property
    def in_transaction(self) -> bool:
        return bool(self.status & _IN_TRANS)

    @property
    def autocommit(self) -> bool:
        return bool(self.status & _AUTOCOMMIT)

    def _check_usable(self) -> None:
        if self._protocol.lost is not None:
            raise Unavailable(
                f"MySQL server has gone away ({self._protocol.lost})", code=_GONE, sqlstate="HY000"
            )
        if self._busy:
            raise FailedPrecondition(
                "Commands out of sync; another command is running on this connection",
                code=_OUT_OF_SYNC,
                sqlstate="HY000",
            )

    async def _request(self, payload: bytes, prepare: bool = False) -> bytes:
        protocol = self._protocol
        if protocol.lost is not None or self._busy:
            self._check_usable()
        self._busy = True
        protocol.scanner.start(prepare)
        waiter = protocol.waiter = self._loop.create_future()
        assert protocol.transport is not None
        protocol.transport.write(frame(payload, 0)[0])
        try:
            return await waiter
        except asyncio.CancelledError:
            protocol._fail(Unavailable("command cancelled", code=_LOST))
            raise
        finally:
            self.status = protocol.scanner.status
            self._busy = False

    def submit(self, payload: bytes, sink: ResponseSink) -> None:
        """Sends one command (its unframed payload) and returns at once: the socket callback hands the whole
        response to ``sink``, with no task switch (the gate's fast path). A command submitted while earlier
        ones are unanswered is pipelined: MySQL answers commands in order, and so are the sinks called.
        Raises like ``_check_usable`` if the connection cannot take a command; then nothing was sent."""
        protocol = self._protocol
        if self._sink is not None and protocol.lost is None:
            self._pipeline.append(sink)
        else:
            if protocol.lost is not None or self._busy:
                self._check_usable()
            self._busy = True
            self._sink = sink
            protocol.scanner.start(False)
            protocol.waiter = self  # type: ignore[assignment]  # completed through done/set_result/set_exception
        assert protocol.transport is not None
        if len(payload) < MAX_PAYLOAD_CHUNK:
            protocol.transport.write(_LENGTH_SEQ0.pack(len(payload)) + payload)  # 3-byte length, sequence id 0
        else:
            protocol.transport.write(frame(payload, 0)[0])

    @property
    def submitted(self) -> int:
        """Submitted commands not answered yet."""
        return (self._sink is not None) + len(self._pipeline)

    # The protocol's view of submitted commands: the connection stands in for the future _request awaits.

    def done(self) -> bool:
        return self._sink is None

    def set_result(self, response: bytes) -> None:
        sink = self._end_submitted()
        sink.set_result(response)

    def set_exception(self, exc: BaseException) -> None:
        if self._protocol.lost is not None:  # every command still unanswered is lost with the connection
            sinks = [s for s in (self._sink, *self._pipeline) if s is not None]
            self._sink = None
            self._pipeline.clear()
            self._busy = False
            for sink in sinks:
                sink.set_exception(exc)
            return
        sink = self._end_submitted()
        sink.set_exception(exc)

    def _end_submitted(self) -> ResponseSink:
        sink = self._sink
        assert sink is not None
        self.status = self._protocol.scanner.status
        if self._pipeline:
            self._sink = self._pipeline.popleft()
            self._protocol.scanner.start(False)
        else:
            self._sink = None
            self._busy = False
        return sink

    def query_raw(self, sql: str | bytes) -> Coroutine[Any, Any, bytes]:
        """Runs COM_QUERY; returns the complete framed response as received (all results of a multi-result).

        An ERR response raises MySQLError. A str is sent as UTF-8, surrogate escapes as the bytes they stand for.
        (A plain method returning the coroutine: one coroutine frame less on the relay's hot path.)
        """
        return self._request(
            b"\x03" + (sql.encode("utf-8", "surrogateescape") if isinstance(sql, str) else sql)
        )

    async def query(self, sql: str | bytes) -> Result:
        """Runs COM_QUERY and decodes the (first) result; later results of a multi-statement are checked only."""
        results, _ = decode_responses(split_packets(await self.query_raw(sql)))
        return results[0]

    async def prepare(self, sql: str | bytes) -> PreparedStatement:
        """COM_STMT_PREPARE: the statement's id, parameter count and definitions, and result columns."""
        body = sql.encode("utf-8", "surrogateescape") if isinstance(sql, str) else sql
        raw = await self._request(b"\x16" + body, prepare=True)
        payloads = split_packets(raw)
        statement_id, column_count, param_count, _ = parse_prepare_ok(payloads[0])
        params = [parse_column(p) for p in payloads[1 : 1 + param_count]]
        first_column = 1 + param_count + (1 if param_count else 0)
        fields = [parse_column(p) for p in payloads[first_column : first_column + column_count]]
        return PreparedStatement(statement_id, param_count, params, fields)

    def execute_raw(
        self, statement: PreparedStatement, params: Sequence[Any] = ()
    ) -> Coroutine[Any, Any, bytes]:
        """COM_STMT_EXECUTE; returns the complete framed response (binary rows) as received."""
        if len(params) != statement.param_count:
            raise InvalidArgument(
                f"statement {statement.id} takes {statement.param_count} parameters, {len(params)} given",
                code=1210,
            )
        return self._request(build_execute(statement.id, params))

    async def execute(self, statement: PreparedStatement, params: Sequence[Any] = ()) -> Result:
        """COM_STMT_EXECUTE; decodes the (first) result, rows converted to their text-protocol values."""
        results, _ = decode_responses(
            split_packets(await self.execute_raw(statement, params)), parse_binary_row
        )
        return results[0]

    async def close_statement(self, statement: PreparedStatement) -> None:
        """COM_STMT_CLOSE (the server sends no response)."""
        self._check_usable()
        transport = self._protocol.transport
        assert transport is not None
        transport.write(frame(struct.pack("<BI", Command.STMT_CLOSE, statement.id), 0)[0])

    async def _simple(self, command: Command, body: bytes = b"") -> None:
        await self._request(bytes((command,)) + body)

    async def ping(self) -> None:
        """COM_PING."""
        await self._simple(Command.PING)

    async def init_db(self, database: str) -> None:
        """COM_INIT_DB: makes ``database`` the default database."""
        await self._simple(Command.INIT_DB, database.encode())

    async def reset_connection(self) -> None:
        """COM_RESET_CONNECTION: rolls back, drops temporary tables, user variables and prepared statements."""
        await self._simple(Command.RESET_CONNECTION)

    async def close(self) -> None:
        """Sends COM_QUIT and closes the socket."""
        protocol = self._protocol
        if protocol.transport is None or protocol.transport.is_closing():
            return
        if protocol.lost is None and not self._busy:
            protocol.transport.write(frame(bytes((Command.QUIT,)), 0)[0])
        protocol.lost = protocol.lost or Unavailable("connection closed", code=_GONE)
        protocol.transport.close()


async def connect(
    host: str = "127.0.0.1",
    port: int = 3306,
    user: str = "root",
    password: str = "",
    database: str | None = None,
    *,
    unix_socket: str | None = None,
    connect_timeout: float = 10.0,
) -> Connection:
    """Opens a connection over TCP, or over ``unix_socket`` when given, and authenticates."""
    loop = asyncio.get_running_loop()
    handshake = ClientHandshake(user, password, database)
    protocol = _ClientProtocol(handshake, loop)
    where = unix_socket or f"{host}:{port}"
    try:
        async with asyncio.timeout(connect_timeout):
            if unix_socket:
                transport, _ = await loop.create_unix_connection(lambda: protocol, unix_socket)
            else:
                transport, _ = await loop.create_connection(
                    lambda: protocol, host, port
                )  # TCP_NODELAY is set
            try:
                await protocol.waiter
            except BaseException:
                transport.abort()
                raise
    except TimeoutError:
        raise DeadlineExceeded(
            f"Can't connect to MySQL server on '{where}' (timed out after {connect_timeout}s)",
            code=2003,
            sqlstate="HY000",
        ) from None
    except OSError as exc:
        raise Unavailable(
            f"Can't connect to MySQL server on '{where}' ({exc.strerror or exc})",
            code=2002 if unix_socket else 2003,
            sqlstate="HY000",
        ) from None
    return Connection(protocol, handshake)
