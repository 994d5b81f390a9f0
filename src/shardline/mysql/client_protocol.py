"""Client side of the protocol, sans-IO: the connection phase, and finding where a command's response ends.

:class:`ClientHandshake` turns the server's connection-phase packets into the packets to answer with.
:class:`ResponseScanner` reads only packet headers (and the status of the final OK/EOF) to tell where the
response to a command ends, so a response can be relayed as the exact bytes the server sent.
"""

from __future__ import annotations

from typing import Final

from shardline.errors import MalformedPacket, MySQLError, PacketTooLarge, Unsupported
from shardline.mysql import auth
from shardline.mysql.constants import (
    AUTH_MORE_DATA_HEADER,
    CACHING_SHA2_PASSWORD,
    CAPABILITIES,
    EOF_HEADER,
    ERR_HEADER,
    MAX_PAYLOAD_CHUNK,
    NATIVE_PASSWORD,
    OK_HEADER,
    Capability,
    ServerStatus,
)
from shardline.mysql.framing import DEFAULT_MAX_PAYLOAD
from shardline.mysql.handshake import Handshake, HandshakeResponse, parse_auth_switch_request
from shardline.mysql.responses import parse_error
from shardline.mysql.wire import Reader
from shardline.sqltypes import UTF8MB4_GENERAL_CI

_FAST_AUTH_SUCCESS: Final = 0x03
_PERFORM_FULL_AUTHENTICATION: Final = 0x04


def _auth_response(plugin: str, password: str, scramble: bytes) -> bytes:
    if plugin == NATIVE_PASSWORD:
        return auth.native_password_scramble(password, scramble)
    if plugin == CACHING_SHA2_PASSWORD:
        return auth.caching_sha2_scramble(password, scramble)
    raise Unsupported(f"authentication plugin '{plugin}' is not supported", code=2059, sqlstate="HY000")


class ClientHandshake:
    """The client's connection phase: greeting in, HandshakeResponse out, then auth switches until OK or ERR."""

    def __init__(
        self, user: str, password: str, database: str | None = None, charset: int = UTF8MB4_GENERAL_CI
    ) -> None:
        self.user = user
        self.password = password
        self.database = database
        self.charset = charset
        self.server: Handshake | None = None
        self.done = False
        self._plugin = NATIVE_PASSWORD
        self._scramble = b""

    def receive(self, payload: bytes) -> bytes | None:
        """Takes one server payload; returns the payload to answer with, or None (then check ``done``).

        Raises MySQLError when the server refuses the connection.
        """
        if self.server is None:
            return self._greeting(payload)
        first = payload[0] if payload else -1
        if first == OK_HEADER:
            self.done = True
            return None
        if first == ERR_HEADER:
            raise parse_error(payload)
        if first == EOF_HEADER:
            self._plugin, self._scramble = parse_auth_switch_request(payload)
            return _auth_response(self._plugin, self.password, self._scramble)
        if first == AUTH_MORE_DATA_HEADER and self._plugin == CACHING_SHA2_PASSWORD:
            if payload[1:2] == bytes((_FAST_AUTH_SUCCESS,)):
                return None
            if payload[1:2] == bytes((_PERFORM_FULL_AUTHENTICATION,)):
                raise Unsupported(
                    "caching_sha2_password full authentication needs TLS or RSA, not supported",
                    code=2061,
                    sqlstate="HY000",
                )
        raise MalformedPacket(f"malformed packet: unexpected 0x{first & 0xFF:02x} during authentication")

    def _greeting(self, payload: bytes) -> bytes:
        if payload[:1] == bytes((ERR_HEADER,)):
            raise parse_error(payload)
        server = Handshake.parse(payload)
        if not server.capabilities & Capability.PROTOCOL_41:
            raise MySQLError(2047, "HY000", "server does not speak protocol 4.1")
        self.server = server
        self._scramble = server.scramble
        if server.auth_plugin in (NATIVE_PASSWORD, CACHING_SHA2_PASSWORD):
            self._plugin = server.auth_plugin
        caps = CAPABILITIES & server.capabilities
        if self.database:
            caps |= Capability.CONNECT_WITH_DB
        else:
            caps &= ~Capability.CONNECT_WITH_DB
        return HandshakeResponse(
            capabilities=caps,
            max_packet_size=DEFAULT_MAX_PAYLOAD,
            charset=self.charset,
            user=self.user,
            auth_response=_auth_response(self._plugin, self.password, self._scramble),
            database=self.database or "",
            auth_plugin=self._plugin,
            attributes={"_client_name": "shardline"},
        ).build()


def _ok_status(buf: bytes | bytearray, pos: int) -> int:
    """Status flags of the OK packet whose payload starts at ``pos`` (just after its 0x00 header)."""
    r = Reader(buf, pos + 1)
    r.lenenc_int()
    r.lenenc_int()
    return r.int2()


_MORE_RESULTS: Final = int(ServerStatus.MORE_RESULTS_EXISTS)

# Scanner states.
_FIRST, _COLUMNS, _COLUMNS_EOF, _ROWS, _PREPARE_OK, _PREPARE_DEFS, _DONE = range(7)


class ResponseScanner:
    """Finds the end of one command's response in a byte stream by reading packet headers.

    ``start()`` before each command, then ``scan(buf, pos)`` over the growing buffer until ``done``.
    ``status`` is the status of the final OK/EOF (SERVER_STATUS_IN_TRANS, AUTOCOMMIT, ...), ``error`` the
    ERR that ended the response, if any.
    """

    __slots__ = ("state", "status", "error", "max_payload", "_remaining", "_continuation", "_packet_total")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self.state = _DONE
        self.status = 0
        self.error: MySQLError | None = None
        self._remaining = 0
        self._continuation = False
        self._packet_total = 0

    @property
    def done(self) -> bool:
        return self.state == _DONE

    def start(self, prepare: bool = False) -> None:
        """Expects the response to a new command (``prepare`` for COM_STMT_PREPARE)."""
        self.state = _PREPARE_OK if prepare else _FIRST
        self._remaining = 0
        self.error = None
        self._continuation = False
        self._packet_total = 0

    def scan(self, buf: bytes | bytearray, pos: int) -> int:
        """Scans complete packets from ``pos``; returns the position after the last packet consumed."""
        end = len(buf)
        state = self.state
        max_payload = self.max_payload
        while state != _DONE and end - pos >= 4:
            n = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
            if n > max_payload:
                raise PacketTooLarge(f"Got a packet bigger than 'max_allowed_packet' bytes ({n})")
            start = pos + 4
            if end - start < n:
                break
            pos = start + n
            if n == MAX_PAYLOAD_CHUNK or self._continuation:
                if self._split_packet(n):
                    continue
            first = buf[start] if n else -1
            if state == _ROWS:
                if first == EOF_HEADER and n < 9:
                    self.status = status = buf[start + 3] | buf[start + 4] << 8
                    state = _FIRST if status & _MORE_RESULTS else _DONE
                elif first == ERR_HEADER:
                    self.error = parse_error(bytes(buf[start:pos]))
                    state = _DONE
            elif state == _COLUMNS:
                self._remaining -= 1
                if self._remaining == 0:
                    state = _COLUMNS_EOF
            elif state == _FIRST:
                if first == OK_HEADER:
                    self.status = status = _ok_status(buf, start)
                    state = _FIRST if status & _MORE_RESULTS else _DONE
                elif first == ERR_HEADER:
                    self.error = parse_error(bytes(buf[start:pos]))
                    state = _DONE
                elif first == 0xFB or first < 0:
                    raise MalformedPacket("malformed packet: unexpected LOCAL INFILE request or empty packet")
                else:
                    self._remaining = first if first < 0xFB else Reader(buf, start).lenenc_int()
                    state = _COLUMNS
            elif state == _COLUMNS_EOF:
                if not (first == EOF_HEADER and n < 9):
                    raise MalformedPacket("malformed packet: no EOF after the column definitions")
                state = _ROWS
            else:
                state = self._scan_prepare(buf, start, n, first, state)
        self.state = state
        return pos

    def _split_packet(self, n: int) -> bool:
        """Tracks a payload of 16 MiB or more; True for its continuation packets, which carry no header byte."""
        continuation = self._continuation
        self._packet_total += n
        if self._packet_total > self.max_payload:
            raise PacketTooLarge(
                f"Got a packet bigger than 'max_allowed_packet' bytes ({self._packet_total})"
            )
        self._continuation = n == MAX_PAYLOAD_CHUNK
        if not self._continuation:
            self._packet_total = 0
        return continuation

    def _scan_prepare(self, buf: bytes | bytearray, start: int, n: int, first: int, state: int) -> int:
        """COM_STMT_PREPARE response: PREPARE_OK, then params + EOF if any, then columns + EOF if any."""
        if state == _PREPARE_DEFS:
            self._remaining -= 1
            return _DONE if self._remaining == 0 else state
        if first == ERR_HEADER:
            self.error = parse_error(bytes(buf[start : start + n]))
            return _DONE
        if first != OK_HEADER or n < 12:
            raise MalformedPacket("malformed packet: bad COM_STMT_PREPARE response")
        columns = buf[start + 5] | buf[start + 6] << 8
        params = buf[start + 7] | buf[start + 8] << 8
        self._remaining = (params + 1 if params else 0) + (columns + 1 if columns else 0)
        return _DONE if self._remaining == 0 else _PREPARE_DEFS
