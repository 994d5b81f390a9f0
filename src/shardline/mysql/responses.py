"""The generic response packets: OK, ERR and EOF (protocol 4.1, without session tracking)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shardline.errors import MySQLError, ShardlineError
from shardline.mysql.constants import EOF_HEADER, ERR_HEADER, OK_HEADER
from shardline.mysql.wire import Reader, lenenc_int, lenenc_str

_EOF = struct.Struct("<BHH")
_STATUS_WARNINGS = struct.Struct("<HH")


@dataclass(slots=True)
class OkPacket:
    """An OK packet's fields."""

    affected_rows: int = 0
    insert_id: int = 0
    status: int = 0
    warnings: int = 0
    info: str = ""


def build_ok(affected_rows: int, insert_id: int, status: int, warnings: int = 0, info: str = "") -> bytes:
    return (
        bytes((OK_HEADER,))
        + lenenc_int(affected_rows)
        + lenenc_int(insert_id)
        + _STATUS_WARNINGS.pack(status, warnings)
        + (lenenc_str(info) if info else b"")
    )


def parse_ok(payload: bytes) -> OkPacket:
    r = Reader(payload, 1)
    affected_rows = r.lenenc_int()
    insert_id = r.lenenc_int()
    status = r.int2()
    warnings = r.int2()
    info = r.lenenc_str() if not r.at_end() else ""  # servers send it length-encoded
    return OkPacket(affected_rows, insert_id, status, warnings, info)


def build_eof(status: int, warnings: int = 0) -> bytes:
    return _EOF.pack(EOF_HEADER, warnings, status)


def parse_eof(payload: bytes) -> tuple[int, int]:
    """Returns (status flags, warnings)."""
    r = Reader(payload, 1)
    warnings = r.int2()
    return r.int2(), warnings


def is_eof(payload: bytes) -> bool:
    """True for an EOF packet (a 0xFE header on a payload shorter than 9 bytes)."""
    return len(payload) < 9 and payload[:1] == b"\xfe"


def build_error(error: ShardlineError) -> bytes:
    head = struct.pack("<BH", ERR_HEADER, error.code)
    return head + b"#" + error.sqlstate.encode()[:5].ljust(5, b"0") + error.message.encode(errors="replace")


def parse_error(payload: bytes) -> MySQLError:
    """Returns the server error an ERR packet carries."""
    r = Reader(payload, 1)
    code = r.int2()
    sqlstate = "HY000"
    if not r.at_end() and r.peek() == ord("#"):
        r.int1()
        sqlstate = r.fixed(5).decode(errors="replace")
    return MySQLError(code, sqlstate, r.rest().decode(errors="replace"))
