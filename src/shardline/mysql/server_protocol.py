"""Server side of the protocol, sans-IO: the connection phase, command framing, sequence ids, statements.

:class:`ServerProtocol` takes received bytes and returns events (:class:`Send`, :class:`Authenticated`,
:class:`Refused`, :class:`CommandPacket`); its ``build_*`` methods return the framed bytes of a response with
the right sequence ids. It keeps the prepared statements of the connection: their parameter types between
executions and the data of COM_STMT_SEND_LONG_DATA.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from shardline.errors import MalformedPacket, ShardlineError
from shardline.mysql import auth
from shardline.mysql.binary import (
    PARAM_FIELD,
    binary_row_encoder,
    build_prepare_ok,
    parse_execute,
)
from shardline.mysql.constants import (
    CACHING_SHA2_PASSWORD,
    CAPABILITIES,
    NATIVE_PASSWORD,
    REQUIRED_CLIENT_CAPABILITIES,
    Capability,
    ServerStatus,
)
from shardline.mysql.framing import DEFAULT_MAX_PAYLOAD, PacketReader, frame, frame_all, resequence
from shardline.mysql.handshake import (
    Handshake,
    HandshakeResponse,
    build_auth_more_data,
    build_auth_switch_request,
)
from shardline.mysql.responses import build_eof, build_error, build_ok
from shardline.mysql.resultset import build_column, build_text_row, result_set_payloads
from shardline.mysql.users import UserStore
from shardline.sqltypes import UTF8MB4_GENERAL_CI, Field, Result

_FAST_AUTH_SUCCESS: Final = b"\x03"


@dataclass(slots=True)
class Send:
    """Bytes the connection must write (connection-phase replies)."""

    data: bytes


@dataclass(slots=True)
class Authenticated:
    """The client proved its identity; the server still owes it the final OK (``build_ok``) or an error."""

    user: str
    database: str
    capabilities: int
    charset: int
    attributes: dict[str, str]


@dataclass(slots=True)
class Refused:
    """The connection phase failed; ``data`` (an ERR) must be written, then the connection closed."""

    error: ShardlineError
    data: bytes


class CommandPacket:
    """One command from the client: its command byte and the rest of the payload. (Not a dataclass: one is made
    per statement, and a compiled dataclass is built through its interpreted ``__init__``.)"""

    __slots__ = ("kind", "body", "seq")

    def __init__(self, kind: int, body: bytes, seq: int) -> None:
        self.kind = kind
        self.body = body
        self.seq = seq


@dataclass(slots=True, eq=False)
class ServerStatement:
    """A statement prepared by a client on this connection."""

    id: int
    sql: str
    param_count: int
    fields: list[Field]
    bound_types: list[int] | None = None
    long_data: dict[int, bytes] = field(default_factory=dict)
    long_data_error: ShardlineError | None = None  # a bad COM_STMT_SEND_LONG_DATA, reported by the next execute


def _access_denied(user: str, host: str, with_password: bool) -> ShardlineError:
    using = "YES" if with_password else "NO"
    return ShardlineError(
        f"Access denied for user '{user}'@'{host}' (using password: {using})", code=1045, sqlstate="28000"
    )


def _bad_handshake() -> ShardlineError:
    return ShardlineError("Bad handshake", code=1043, sqlstate="08S01")


_HANDSHAKE, _AUTH_SWITCH, _AUTHENTICATED, _COMMAND, _CLOSED = range(5)


class ServerProtocol:
    """One client connection as seen by the server, without I/O."""

    def __init__(
        self,
        connection_id: int,
        server_version: str,
        users: UserStore,
        peer_host: str = "localhost",
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        self.connection_id = connection_id
        self.server_version = server_version
        self.users = users
        self.peer_host = peer_host
        self.status = int(ServerStatus.AUTOCOMMIT)
        self.seq = 0
        self.capabilities = 0
        self.statements: dict[int, ServerStatement] = {}
        self._reader = PacketReader(max_payload)
        self._scramble = auth.new_scramble()
        self._phase = _HANDSHAKE
        self._response: HandshakeResponse | None = None
        self._auth_prefix = b""  # caching_sha2_password's "fast auth success" before the final OK
        self._next_statement_id = 1
        self._raw_pending: bytes | None = None  # a relayed response whose packets were not counted yet

    # --- connection phase -----------------------------------------------------------------------------

    def greeting(self) -> bytes:
        """The Handshake V10 packet that opens the connection."""
        handshake = Handshake(
            self.server_version,
            self.connection_id,
            self._scramble,
            int(CAPABILITIES),
            UTF8MB4_GENERAL_CI,
            self.status,
            NATIVE_PASSWORD,
        )
        data, self.seq = frame(handshake.build(), 0)
        return data

    def receive_data(self, data: bytes) -> list[Send | Authenticated | Refused | CommandPacket]:
        """Takes received bytes; returns what happened. Raises PacketTooLarge for an oversized packet."""
        packets = self._reader.feed(data)
        if self._phase == _COMMAND:
            return [
                CommandPacket(payload[0] if payload else -1, payload[1:], seq) for seq, payload in packets
            ]
        events: list[Send | Authenticated | Refused | CommandPacket] = []
        for seq, payload in packets:
            if self._phase == _COMMAND:
                events.append(CommandPacket(payload[0] if payload else -1, payload[1:], seq))
            elif self._phase in (_HANDSHAKE, _AUTH_SWITCH):
                self.seq = (seq + 1) & 0xFF
                events.append(self._authenticate(payload))
            else:  # bytes after a refusal, or before the server accepted the connection
                events.append(self._refuse(_bad_handshake()))
        return events

    def _authenticate(self, payload: bytes) -> Send | Authenticated | Refused:
        if self._phase == _HANDSHAKE:
            try:
                response = HandshakeResponse.parse(payload)
            except ShardlineError:
                return self._refuse(_bad_handshake())
            if response.ssl_request or (response.capabilities & REQUIRED_CLIENT_CAPABILITIES) != (
                REQUIRED_CLIENT_CAPABILITIES
            ):
                return self._refuse(_bad_handshake())
            self._response = response
            self.capabilities = response.capabilities & CAPABILITIES
            plugin = response.auth_plugin or NATIVE_PASSWORD
            if plugin not in (NATIVE_PASSWORD, CACHING_SHA2_PASSWORD):
                self._phase = _AUTH_SWITCH
                return Send(self._frame(build_auth_switch_request(NATIVE_PASSWORD, self._scramble)))
            return self._check(plugin, response.auth_response)
        return self._check(NATIVE_PASSWORD, payload)

    def _check(self, plugin: str, auth_response: bytes) -> Authenticated | Refused:
        response = self._response
        assert response is not None
        password = self.users.password(response.user)
        verify = auth.native_password_verify if plugin == NATIVE_PASSWORD else auth.caching_sha2_verify
        if password is None or not verify(password, self._scramble, auth_response):
            return self._refuse(_access_denied(response.user, self.peer_host, bool(auth_response)))
        self._phase = _AUTHENTICATED
        if plugin == CACHING_SHA2_PASSWORD:
            self._auth_prefix = self._frame(build_auth_more_data(_FAST_AUTH_SUCCESS))
        return Authenticated(
            response.user,
            response.database if response.capabilities & Capability.CONNECT_WITH_DB else "",
            self.capabilities,
            response.charset,
            response.attributes,
        )

    def partial_packet(self) -> bool:
        """Whether bytes of a packet not yet complete are waiting for the rest."""
        return self._reader.buffered() > 0

    def accept(self) -> bytes:
        """Ends the connection phase with OK; commands follow."""
        data = self._auth_prefix + self._frame(build_ok(0, 0, self.status))
        self._phase = _COMMAND
        return data

    def refuse(self, error: ShardlineError) -> bytes:
        """Ends the connection phase with ``error``; the connection must then be closed."""
        return self._refuse(error).data

    def _refuse(self, error: ShardlineError) -> Refused:
        self._phase = _CLOSED
        return Refused(error, self._frame(build_error(error)))

    # --- responses ------------------------------------------------------------------------------------

    def begin(self, command: CommandPacket) -> None:
        """Starts answering ``command``: responses continue its sequence ids."""
        self.seq = (command.seq + 1) & 0xFF
        self._raw_pending = None

    def _frame(self, payload: bytes) -> bytes:
        if self._raw_pending is not None:
            self._count_raw()
        data, self.seq = frame(payload, self.seq)
        return data

    def _count_raw(self) -> None:
        _, self.seq = resequence(self._raw_pending or b"", self.seq)
        self._raw_pending = None

    def build_ok(
        self,
        affected_rows: int = 0,
        insert_id: int = 0,
        warnings: int = 0,
        info: str = "",
        more: bool = False,
    ) -> bytes:
        status = self.status | ServerStatus.MORE_RESULTS_EXISTS if more else self.status
        return self._frame(build_ok(affected_rows, insert_id, status, warnings, info))

    def build_error(self, error: ShardlineError) -> bytes:
        return self._frame(build_error(error))

    def build_result(self, result: Result, binary: bool = False, more: bool = False) -> bytes:
        """A result set (or an OK when ``result`` has no fields), text or binary rows."""
        if not result.fields:
            return self.build_ok(result.rows_affected, result.insert_id, result.warnings, result.info, more)
        if self._raw_pending is not None:
            self._count_raw()
        fields = result.fields
        if binary:
            encode = binary_row_encoder(fields)
            rows = [encode(row) for row in result.rows]
        else:
            rows = [build_text_row(row) for row in result.rows]
        status = self.status | ServerStatus.MORE_RESULTS_EXISTS if more else self.status
        data, self.seq = frame_all(result_set_payloads(fields, rows, status, result.warnings), self.seq)
        return data

    def build_raw(self, data: bytes) -> bytes:
        """Framed packets of another server's response (sequence ids starting at 1), renumbered if needed."""
        if self._raw_pending is not None:
            self._count_raw()
        if len(data) >= 4 and data[3] == self.seq:
            self._raw_pending = data  # counted only if this command sends more
            return data
        data, self.seq = resequence(data, self.seq)
        return data

    def build_fields(self, fields: Sequence[Field]) -> bytes:
        """The response to COM_FIELD_LIST: the column definitions, then EOF."""
        payloads = [build_column(f) + b"\xfb" for f in fields]  # default value: NULL
        payloads.append(build_eof(self.status))
        if self._raw_pending is not None:
            self._count_raw()
        data, self.seq = frame_all(payloads, self.seq)
        return data

    def build_string(self, text: str) -> bytes:
        """A bare string packet (the response to COM_STATISTICS)."""
        return self._frame(text.encode())

    # --- prepared statements --------------------------------------------------------------------------

    def prepare(self, sql: str, param_count: int, fields: list[Field]) -> tuple[ServerStatement, bytes]:
        """Registers a statement; returns it and the COM_STMT_PREPARE response."""
        statement = ServerStatement(self._next_statement_id, sql, param_count, fields)
        self._next_statement_id = (self._next_statement_id % 0xFFFFFFFF) + 1
        self.statements[statement.id] = statement
        payloads = [build_prepare_ok(statement.id, len(fields), param_count)]
        if param_count:
            payloads.extend([build_column(PARAM_FIELD)] * param_count)
            payloads.append(build_eof(self.status))
        if fields:
            payloads.extend(build_column(f) for f in fields)
            payloads.append(build_eof(self.status))
        data, self.seq = frame_all(payloads, self.seq)
        return statement, data

    def statement(self, body: bytes, command: str) -> ServerStatement:
        """The statement a COM_STMT_* body names; an unknown id raises error 1243."""
        if len(body) < 4:
            raise MalformedPacket(f"malformed packet: {command} too short")
        statement_id = struct.unpack_from("<I", body)[0]
        statement = self.statements.get(statement_id)
        if statement is None:
            raise ShardlineError(
                f"Unknown prepared statement handler ({statement_id}) given to {command}",
                code=1243,
                sqlstate="HY000",
            )
        return statement

    def execute(self, body: bytes) -> tuple[ServerStatement, list[Any]]:
        """Decodes COM_STMT_EXECUTE: the statement and its parameter values (long data included)."""
        statement = self.statement(body, "mysqld_stmt_execute")
        return statement, self.bind(statement, body)

    @staticmethod
    def bind(statement: ServerStatement, body: bytes) -> list[Any]:
        """The parameter values of an execution of ``statement`` (``body`` of its COM_STMT_EXECUTE)."""
        if statement.long_data_error is not None:
            error, statement.long_data_error = statement.long_data_error, None
            statement.long_data = {}
            raise error
        params, statement.bound_types = parse_execute(
            body, statement.param_count, statement.bound_types, statement.long_data
        )
        if statement.long_data:
            statement.long_data = {}
        return params

    def send_long_data(self, body: bytes) -> None:
        """COM_STMT_SEND_LONG_DATA: appends to a parameter's value. It has no response: a bad one is kept and
        answers the statement's next execution, as MariaDB does."""
        statement = self.statement(body, "mysqld_stmt_send_long_data")
        param = struct.unpack_from("<H", body, 4)[0] if len(body) >= 6 else -1
        if not 0 <= param < statement.param_count:
            statement.long_data_error = ShardlineError(
                "Incorrect arguments to mysqld_stmt_send_long_data", code=1210, sqlstate="HY000")
            return
        statement.long_data[param] = statement.long_data.get(param, b"") + body[6:]

    def close_statement(self, body: bytes) -> ServerStatement | None:
        """COM_STMT_CLOSE: forgets the statement (no response); None if it did not exist."""
        if len(body) < 4:
            raise MalformedPacket("malformed packet: COM_STMT_CLOSE too short")
        return self.statements.pop(struct.unpack_from("<I", body)[0], None)

    def reset(self) -> None:
        """COM_RESET_CONNECTION: forgets every prepared statement; back to autocommit, no transaction."""
        self.statements.clear()
        self.status = int(ServerStatus.AUTOCOMMIT)
