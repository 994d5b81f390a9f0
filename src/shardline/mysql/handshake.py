"""Connection-phase packets: Handshake V10, HandshakeResponse41, AuthSwitchRequest, AuthMoreData."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from shardline.errors import MalformedPacket
from shardline.mysql.constants import AUTH_MORE_DATA_HEADER, EOF_HEADER, NATIVE_PASSWORD, Capability
from shardline.mysql.wire import Reader, lenenc_bytes, lenenc_str

PROTOCOL_VERSION = 10
_SSL_REQUEST_LENGTH = 32


@dataclass(slots=True)
class Handshake:
    """The server's greeting (Handshake V10)."""

    server_version: str
    connection_id: int
    scramble: bytes
    capabilities: int
    charset: int
    status: int
    auth_plugin: str = NATIVE_PASSWORD

    def build(self) -> bytes:
        caps = self.capabilities
        return b"".join(
            (
                bytes((PROTOCOL_VERSION,)),
                self.server_version.encode() + b"\0",
                struct.pack("<I", self.connection_id),
                self.scramble[:8],
                b"\0",
                struct.pack("<HBHH", caps & 0xFFFF, self.charset, self.status, caps >> 16),
                bytes((len(self.scramble) + 1,)),
                b"\0" * 10,
                self.scramble[8:] + b"\0",
                self.auth_plugin.encode() + b"\0",
            )
        )

    @classmethod
    def parse(cls, payload: bytes) -> Handshake:
        r = Reader(payload)
        version = r.int1()
        if version != PROTOCOL_VERSION:
            raise MalformedPacket(f"unsupported protocol version {version} in server handshake")
        server_version = r.null_terminated().decode(errors="replace")
        connection_id = r.int4()
        scramble = r.fixed(8)
        r.int1()
        caps = r.int2()
        charset = r.int1() if not r.at_end() else 0
        status = r.int2() if not r.at_end() else 0
        caps |= (r.int2() << 16) if not r.at_end() else 0
        plugin_data_len = r.int1() if not r.at_end() else 0
        auth_plugin = NATIVE_PASSWORD
        if not r.at_end():
            r.fixed(10)
            if caps & Capability.SECURE_CONNECTION:
                scramble += r.fixed(max(13, plugin_data_len - 8)).rstrip(b"\0")
            if caps & Capability.PLUGIN_AUTH:
                auth_plugin = r.null_terminated().decode(errors="replace")
        return cls(server_version, connection_id, scramble, caps, charset, status, auth_plugin)


@dataclass(slots=True)
class HandshakeResponse:
    """The client's answer to the greeting (HandshakeResponse41); ``ssl_request`` if it asked for TLS."""

    capabilities: int
    max_packet_size: int
    charset: int
    user: str = ""
    auth_response: bytes = b""
    database: str = ""
    auth_plugin: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    ssl_request: bool = False

    def build(self) -> bytes:
        caps = self.capabilities
        parts = [struct.pack("<IIB", caps, self.max_packet_size, self.charset), b"\0" * 23]
        parts.append(self.user.encode() + b"\0")
        if caps & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA:
            parts.append(lenenc_bytes(self.auth_response))
        else:
            parts.append(bytes((len(self.auth_response),)) + self.auth_response)
        if caps & Capability.CONNECT_WITH_DB:
            parts.append(self.database.encode() + b"\0")
        if caps & Capability.PLUGIN_AUTH:
            parts.append(self.auth_plugin.encode() + b"\0")
        if caps & Capability.CONNECT_ATTRS:
            attrs = b"".join(lenenc_str(k) + lenenc_str(v) for k, v in self.attributes.items())
            parts.append(lenenc_bytes(attrs))
        return b"".join(parts)

    @classmethod
    def parse(cls, payload: bytes) -> HandshakeResponse:
        r = Reader(payload)
        caps = r.int4()
        if not caps & Capability.PROTOCOL_41:
            raise MalformedPacket("client does not speak protocol 4.1")
        max_packet_size = r.int4()
        charset = r.int1()
        r.fixed(23)
        if r.at_end() and caps & Capability.SSL and len(payload) == _SSL_REQUEST_LENGTH:
            return cls(caps, max_packet_size, charset, ssl_request=True)
        user = r.null_terminated().decode(errors="replace")
        if caps & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA:
            auth_response = r.lenenc_bytes()
        elif caps & Capability.SECURE_CONNECTION:
            auth_response = r.fixed(r.int1())
        else:
            auth_response = r.null_terminated()
        database = ""
        if caps & Capability.CONNECT_WITH_DB and not r.at_end():
            database = r.null_terminated().decode(errors="replace")
        auth_plugin = ""
        if caps & Capability.PLUGIN_AUTH and not r.at_end():
            auth_plugin = r.null_terminated().decode(errors="replace")
        attributes: dict[str, str] = {}
        if caps & Capability.CONNECT_ATTRS and not r.at_end():
            attrs = Reader(r.lenenc_bytes())
            while not attrs.at_end():
                key = attrs.lenenc_str()
                attributes[key] = attrs.lenenc_str()
        return cls(caps, max_packet_size, charset, user, auth_response, database, auth_plugin, attributes)


def build_auth_switch_request(plugin: str, data: bytes) -> bytes:
    """AuthSwitchRequest: asks the client to authenticate again with ``plugin`` over ``data``."""
    return bytes((EOF_HEADER,)) + plugin.encode() + b"\0" + data + b"\0"


def parse_auth_switch_request(payload: bytes) -> tuple[str, bytes]:
    """Returns (plugin name, plugin data without the trailing NUL)."""
    r = Reader(payload, 1)
    plugin = r.null_terminated().decode(errors="replace")
    data = r.rest()
    return plugin, data[:-1] if data.endswith(b"\0") else data


def build_auth_more_data(data: bytes) -> bytes:
    """AuthMoreData: extra bytes of an authentication exchange."""
    return bytes((AUTH_MORE_DATA_HEADER,)) + data
