"""Asyncio MySQL server framework: handshake, authentication and command dispatch to a per-connection handler.

The server answers COM_PING, COM_QUIT, COM_STATISTICS, COM_STMT_RESET and COM_STMT_SEND_LONG_DATA itself and
hands every other supported command to the connection's :class:`Handler`, one command at a time, in order.
A handler answers through its :class:`ServerConnection` (``send_result``, ``send_ok``, ``send_error``,
``send_raw``, ``send_fields``); when a handler method returns without answering, the server sends a plain OK;
when it raises a ShardlineError, the server sends that error (any other exception becomes error 1105).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import stat
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

from mypy_extensions import mypyc_attr

from shardline.errors import InvalidArgument, PacketTooLarge, ShardlineError, Unavailable
from shardline.mysql.constants import Command, ServerStatus
from shardline.mysql.framing import DEFAULT_MAX_PAYLOAD
from shardline.mysql.server_protocol import (
    Authenticated,
    CommandPacket,
    Refused,
    Send,
    ServerProtocol,
    ServerStatement,
)
from shardline.mysql.users import UserStore
from shardline.sqltypes import Field, Result

log = logging.getLogger(__name__)

DEFAULT_SERVER_VERSION: Final = "10.11.19-MariaDB-shardline"
_MAX_QUEUED_COMMANDS: Final = 64  # pipelined commands buffered before reading from the client pauses

# Command bytes as plain ints: comparing with IntEnum members costs an attribute lookup on the hot path.
_QUERY: Final = int(Command.QUERY)
_STMT_EXECUTE: Final = int(Command.STMT_EXECUTE)
_STMT_PREPARE: Final = int(Command.STMT_PREPARE)
_PING: Final = int(Command.PING)
_QUIT: Final = int(Command.QUIT)
_INIT_DB: Final = int(Command.INIT_DB)
_FIELD_LIST: Final = int(Command.FIELD_LIST)
_STMT_CLOSE: Final = int(Command.STMT_CLOSE)
_STMT_SEND_LONG_DATA: Final = int(Command.STMT_SEND_LONG_DATA)
_STMT_RESET: Final = int(Command.STMT_RESET)
_RESET_CONNECTION: Final = int(Command.RESET_CONNECTION)
_STATISTICS: Final = int(Command.STATISTICS)


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled (scripts/build_native.py); relays subclass it
class Handler(ABC):
    """What a server does with one client connection's commands; one instance per connection."""

    async def on_connect(self, conn: ServerConnection) -> None:
        """After authentication, before the client gets its OK; raise to refuse (e.g. unknown database)."""
        return None

    @abstractmethod
    async def on_query(self, conn: ServerConnection, sql: str) -> None:
        """COM_QUERY. ``sql.encode("utf-8", "surrogateescape")`` gives back the client's exact bytes."""

    async def on_init_db(self, conn: ServerConnection, database: str) -> None:
        """COM_INIT_DB (``USE db`` of most clients)."""
        conn.database = database

    async def on_field_list(self, conn: ServerConnection, table: str, wildcard: str) -> None:
        """COM_FIELD_LIST; answer with ``conn.send_fields``. By default the table has no columns."""
        conn.send_fields([])

    @abstractmethod
    async def on_prepare(self, conn: ServerConnection, sql: str) -> tuple[int, list[Field]]:
        """COM_STMT_PREPARE: returns (parameter count, result columns). Clients need the columns now."""

    @abstractmethod
    async def on_execute(self, conn: ServerConnection, statement: ServerStatement, params: list[Any]) -> None:
        """COM_STMT_EXECUTE with decoded parameters; answer with ``send_result(binary=True)`` or ``send_raw``."""

    def fast_path(self, conn: ServerConnection, command: CommandPacket) -> bool:
        """Offered each command that arrives while the connection is idle, inside the socket callback: return
        True to take it, and answer it, at once or later from a callback, with ``send_raw``/``send_ok``/
        ``send_error`` followed by ``conn.fast_path_done()``. Return False (having sent nothing) to leave it
        to the ``on_*`` methods."""
        return False

    async def on_close_statement(self, conn: ServerConnection, statement: ServerStatement) -> None:
        """COM_STMT_CLOSE (no response is sent)."""
        return None

    async def on_reset_connection(self, conn: ServerConnection) -> None:
        """COM_RESET_CONNECTION: drop session state (the server already forgot the prepared statements)."""
        return None

    async def on_close(self, conn: ServerConnection) -> None:
        """The client went away (or the server closed): roll back, release resources."""
        return None


class ServerConnection(asyncio.Protocol):
    """One client connection: the socket, the protocol state, and the answers a handler sends."""

    def __init__(self, server: MySQLServer, connection_id: int) -> None:
        self.server = server
        self.connection_id = connection_id
        self.user = ""
        self.database = ""
        self.capabilities = 0
        self.charset = 0
        self.attributes: dict[str, str] = {}
        self.peer: tuple[str, int] | None = None
        self.handler: Handler | None = None
        self.protocol: ServerProtocol | None = None
        self.transport: asyncio.Transport | None = None
        self._commands: deque[CommandPacket | Authenticated] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None  # set while the worker waits for a command
        self._answered = False
        self._fast = False  # a command taken by the handler's fast path is in progress
        self._offering = False  # inside the handler's fast_path call
        self._reading_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._read_timer: asyncio.TimerHandle | None = None  # armed while a packet is incomplete
        self._closed = False
        self._handshake_timer: asyncio.TimerHandle | None = None

    # --- status flags ---------------------------------------------------------------------------------

    @property
    def status(self) -> int:
        """Server status flags sent with OK/EOF (the handler keeps IN_TRANS and AUTOCOMMIT right)."""
        assert self.protocol is not None
        return self.protocol.status

    @status.setter
    def status(self, value: int) -> None:
        assert self.protocol is not None
        self.protocol.status = value

    def _set_flag(self, flag: int, on: bool) -> None:
        self.status = self.status | flag if on else self.status & ~flag

    @property
    def in_transaction(self) -> bool:
        return bool(self.status & ServerStatus.IN_TRANS)

    @in_transaction.setter
    def in_transaction(self, value: bool) -> None:
        self._set_flag(ServerStatus.IN_TRANS, value)

    @property
    def autocommit(self) -> bool:
        return bool(self.status & ServerStatus.AUTOCOMMIT)

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._set_flag(ServerStatus.AUTOCOMMIT, value)

    @property
    def closed(self) -> bool:
        return self._closed

    # --- answers --------------------------------------------------------------------------------------

    def _write(self, data: bytes, more: bool = False) -> None:
        self._answered = not more
        if not self._closed:
            assert self.transport is not None
            self.transport.write(data)

    def send_ok(
        self,
        rows_affected: int = 0,
        insert_id: int = 0,
        warnings: int = 0,
        info: str = "",
        more: bool = False,
    ) -> None:
        """An OK packet; ``more`` announces another result (SERVER_MORE_RESULTS_EXISTS)."""
        assert self.protocol is not None
        self._write(self.protocol.build_ok(rows_affected, insert_id, warnings, info, more), more)

    def send_error(self, error: ShardlineError) -> None:
        """An ERR packet with the error's code, SQLSTATE and message."""
        assert self.protocol is not None
        self._write(self.protocol.build_error(error))

    def send_result(self, result: Result, *, binary: bool = False, more: bool = False) -> None:
        """A result set (text rows, or binary rows for COM_STMT_EXECUTE), or an OK when it has no fields."""
        assert self.protocol is not None
        self._write(self.protocol.build_result(result, binary, more), more)

    def send_raw(self, data: bytes, *, more: bool = False) -> None:
        """Relays a complete response another server sent (e.g. ``Connection.query_raw``), unchanged.

        ``more`` says the relayed response ends with SERVER_MORE_RESULTS_EXISTS and the handler sends more.
        """
        assert self.protocol is not None
        self._write(self.protocol.build_raw(data), more)

    def send_fields(self, fields: Sequence[Field]) -> None:
        """The answer to COM_FIELD_LIST."""
        assert self.protocol is not None
        self._write(self.protocol.build_fields(fields))

    def fast_path_done(self) -> None:
        """The handler answered the command its fast path took: the next command may run."""
        self._fast = False
        if self._closed or self._offering:
            return  # an answer given inside fast_path: _next_command goes on with the queue itself
        self._next_command()

    def close(self) -> None:
        """Closes the connection (the handler's ``on_close`` runs)."""
        if self.transport is not None:
            self.transport.close()

    # --- asyncio.Protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if isinstance(peer, tuple) else None
        server = self.server
        self.protocol = ServerProtocol(
            self.connection_id,
            server.server_version,
            server.users,
            self.peer[0] if self.peer else "localhost",
            server.max_payload,
        )
        server.connections[self.connection_id] = self
        self._handshake_timer = asyncio.get_running_loop().call_later(server.connect_timeout, self.transport.abort)
        self._worker = server.spawn(self._serve())
        self.transport.write(self.protocol.greeting())

    def data_received(self, data: bytes) -> None:
        assert self.protocol is not None and self.transport is not None
        try:
            events = self.protocol.receive_data(data)
        except PacketTooLarge as exc:
            self.transport.write(self.protocol.build_error(exc))
            self.transport.close()
            return
        if self.protocol.partial_packet():
            if self._read_timer is not None:
                self._read_timer.cancel()
            self._read_timer = asyncio.get_running_loop().call_later(self.server.read_timeout, self._read_timed_out)
        elif self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        for event in events:
            if type(event) is CommandPacket or type(event) is Authenticated:
                self._commands.append(event)
            elif type(event) is Send:
                self.transport.write(event.data)
            elif type(event) is Refused:
                log.info("connection %d refused: %s", self.connection_id, event.error)
                self.transport.write(event.data)
                self.transport.close()
                return
        if self._commands and not self._fast:
            self._next_command()
        if len(self._commands) > _MAX_QUEUED_COMMANDS and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _read_timed_out(self) -> None:
        """A packet stayed incomplete for ``read_timeout`` (MariaDB's net_read_timeout): drop the client."""
        assert self.protocol is not None and self.transport is not None
        self._read_timer = None
        log.info("connection %d: closed, a packet stayed incomplete for %gs", self.connection_id,
                 self.server.read_timeout)
        self.transport.write(self.protocol.build_error(
            ShardlineError("Got timeout reading communication packets", code=1159, sqlstate="08S01")))
        self.transport.close()

    def _next_command(self) -> None:
        """With the worker idle: the handler's fast path takes the queued commands in turn (going on at once
        with those it answers inside ``fast_path``), until one is left to the worker, which then wakes, or one
        is answered later, or none is left."""
        commands = self._commands
        while commands and self._wakeup is not None and not self._closed:
            command = commands[0]
            if type(command) is not CommandPacket or self.handler is None or self._drain_waiter is not None:
                break
            assert self.protocol is not None
            self.protocol.begin(command)
            self._answered = False
            commands.popleft()
            self._fast = self._offering = True
            try:
                taken = self.handler.fast_path(self, command)
            except Exception:
                log.exception("connection %d: fast path failed on command 0x%02x", self.connection_id,
                              command.kind & 0xFF)
                taken = not self._fast  # it answered before failing: the command is done
            finally:
                self._offering = False
            if not taken:
                self._fast = False
                commands.appendleft(command)
                break
            if command.kind == _QUERY or command.kind == _STMT_EXECUTE:
                self.server.questions += 1
            if self._fast:
                return  # answered later, from a callback, which calls fast_path_done
        else:
            if self._reading_paused and not commands and not self._closed:  # the fast path drained the queue
                self._reading_paused = False
                assert self.transport is not None
                self.transport.resume_reading()
            return
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._commands.clear()
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
        if self._read_timer is not None:
            self._read_timer.cancel()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        if self._worker is not None:
            self._worker.cancel()
        self.server.spawn(self._finish(self._worker))

    def pause_writing(self) -> None:
        self._drain_waiter = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        self._drain_waiter = None

    # --- command processing ---------------------------------------------------------------------------

    async def _finish(self, worker: asyncio.Task[None] | None) -> None:
        """After the socket closed: wait for the command in progress to stop, then the handler's close hook."""
        if worker is not None:
            await asyncio.gather(worker, return_exceptions=True)
        self.server.connections.pop(self.connection_id, None)
        if self.handler is not None:
            try:
                await self.handler.on_close(self)
            except Exception:
                log.exception("on_close of connection %d failed", self.connection_id)

    async def _serve(self) -> None:
        """The connection's worker: runs queued commands one at a time, in order, until cancelled."""
        commands = self._commands
        loop = asyncio.get_running_loop()
        while True:
            if not commands:
                if self._reading_paused and not self._closed:
                    self._reading_paused = False
                    assert self.transport is not None
                    self.transport.resume_reading()
                self._wakeup = wakeup = loop.create_future()
                await wakeup
                continue
            event = commands.popleft()
            try:
                if type(event) is CommandPacket:
                    await self._dispatch(event)
                else:
                    assert isinstance(event, Authenticated)
                    await self._connect(event)
            except Exception:  # a client left waiting for an answer that never comes is worse than a closed one
                log.exception("connection %d: closed after an unexpected error", self.connection_id)
                assert self.transport is not None
                self.transport.abort()
                return
            if self._drain_waiter is not None:
                await self._drain_waiter

    async def _connect(self, event: Authenticated) -> None:
        assert self.protocol is not None and self.transport is not None
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
        self.user = event.user
        self.database = event.database
        self.capabilities = event.capabilities
        self.charset = event.charset
        self.attributes = event.attributes
        try:
            handler = self.server.handler_factory(self)
            await handler.on_connect(self)
        except Exception as exc:
            if not isinstance(exc, ShardlineError):
                log.exception("connection %d: handler setup failed", self.connection_id)
                exc = ShardlineError(f"internal error: {exc}")
            self.transport.write(self.protocol.refuse(exc))
            self.transport.close()
            return
        self.handler = handler
        self.transport.write(self.protocol.accept())

    async def _dispatch(self, command: CommandPacket) -> None:
        protocol = self.protocol
        handler = self.handler
        assert protocol is not None and handler is not None
        protocol.begin(command)
        self._answered = False
        kind = command.kind
        body = command.body
        try:
            if kind == _QUERY:
                self.server.questions += 1
                await handler.on_query(self, body.decode("utf-8", "surrogateescape"))
            elif kind == _STMT_EXECUTE:
                self.server.questions += 1
                statement, params = protocol.execute(body)
                await handler.on_execute(self, statement, params)
            elif kind == _STMT_PREPARE:
                sql = body.decode("utf-8", "surrogateescape")
                param_count, fields = await handler.on_prepare(self, sql)
                self._write(protocol.prepare(sql, param_count, list(fields))[1])
            elif kind == _PING:
                pass
            elif kind == _QUIT:
                self._answered = True
                self.close()
            elif kind == _INIT_DB:
                await handler.on_init_db(self, body.decode("utf-8", "surrogateescape"))
            elif kind == _FIELD_LIST:
                table, _, wildcard = body.partition(b"\0")
                await handler.on_field_list(
                    self, table.decode(errors="replace"), wildcard.decode(errors="replace")
                )
            elif kind == _STMT_CLOSE:
                self._answered = True  # COM_STMT_CLOSE has no response
                closed = protocol.close_statement(body)
                if closed is not None:
                    await handler.on_close_statement(self, closed)
            elif kind == _STMT_SEND_LONG_DATA:
                self._answered = True  # no response; a bad statement id surfaces at execution
                if int.from_bytes(body[:4], "little") in protocol.statements:
                    protocol.send_long_data(body)
            elif kind == _STMT_RESET:
                statement = protocol.statement(body, "mysqld_stmt_reset")
                statement.long_data.clear()
                statement.long_data_error = None
            elif kind == _RESET_CONNECTION:
                protocol.reset()
                await handler.on_reset_connection(self)
            elif kind == _STATISTICS:
                self._write(protocol.build_string(self.server.statistics()))
            else:
                raise ShardlineError("Unknown command", code=1047, sqlstate="08S01")
        except ShardlineError as exc:
            if not self._answered:
                self.send_error(exc)
            else:
                log.warning("connection %d: error after the response was sent: %s", self.connection_id, exc)
        except Exception as exc:
            log.exception("connection %d: handler failed on command 0x%02x", self.connection_id, kind & 0xFF)
            if not self._answered:
                self.send_error(ShardlineError(f"internal error: {exc}"))
        if not self._answered:
            self.send_ok()


class MySQLServer:
    """Listens for MySQL clients; each authenticated connection gets a handler from ``handler_factory``."""

    def __init__(
        self,
        handler_factory: Callable[[ServerConnection], Handler],
        *,
        users: UserStore,
        host: str = "127.0.0.1",
        port: int = 0,
        server_version: str = DEFAULT_SERVER_VERSION,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        reuse_port: bool = False,
        unix_listener: socket.socket | None = None,
        connection_ids: tuple[int, int] = (1, 1),
    ) -> None:
        """``reuse_port`` lets several processes listen on one port (SO_REUSEPORT); the kernel spreads the
        connections over them, and ``connection_ids`` (first, step) keeps their connection ids apart.
        ``unix_listener`` (from ``listen_unix``) also takes clients on a Unix socket.
        A client whose packet stays incomplete for ``read_timeout`` seconds is dropped, as MariaDB does after
        net_read_timeout."""
        self.handler_factory = handler_factory
        self.reuse_port = reuse_port
        self.unix_listener = unix_listener
        self._unix_server: asyncio.AbstractServer | None = None
        self.users = users
        self.host = host
        self.port = port
        self.server_version = server_version
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_payload = max_payload
        self.connections: dict[int, ServerConnection] = {}
        self.started_at = time.monotonic()
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(*connection_ids)
        self._tasks: set[asyncio.Task[None]] = set()
        self.questions = 0

    async def start(self) -> None:
        """Starts listening; ``port`` is then the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ServerConnection(self, next(self._ids)), self.host, self.port, reuse_address=True,
            reuse_port=self.reuse_port or None,
        )
        sockets = cast(Any, self._server).sockets  # a list under uvloop
        self.port = sockets[0].getsockname()[1]
        if self.unix_listener is not None:
            self._unix_server = await loop.create_unix_server(
                lambda: ServerConnection(self, next(self._ids)), sock=self.unix_listener)

    async def close(self) -> None:
        """Stops listening, closes every connection and waits for their handlers to finish."""
        if self._unix_server is not None:
            self._unix_server.close()
            self._unix_server = None
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.close()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def spawn(self, coro: Any) -> asyncio.Task[None]:
        """Runs a connection's task, tracked so that ``close`` can wait for it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def statistics(self) -> str:
        """The COM_STATISTICS text."""
        uptime = int(time.monotonic() - self.started_at)
        return f"Uptime: {uptime}  Threads: {len(self.connections)}  Questions: {self.questions}"


def listen_unix(path: str) -> socket.socket:
    """A Unix socket listening at ``path`` for ``MySQLServer(unix_listener=...)``; bound before a server forks
    its workers, it is shared by them. A socket file left by a server that is gone is replaced; one a
    server still listens on is not (Unavailable), nor is a file that is not a socket (InvalidArgument)."""
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise InvalidArgument(f"{path} exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # nobody listens there any more
            else:
                raise Unavailable(f"another server listens on {path}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        os.chmod(path, 0o777)  # like MariaDB's socket: who may connect is the users' passwords' business
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        raise Unavailable(f"cannot listen on {path}: {exc.strerror or exc}") from None
    listener.setblocking(False)
    return listener

