"""Basic wire encodings: fixed-size little-endian ints, length-encoded ints and strings, and a payload reader."""

from __future__ import annotations

import struct
from typing import Final

from shardline.errors import MalformedPacket

_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")


def lenenc_int(value: int) -> bytes:
    """Encodes a length-encoded integer."""
    if value < 0xFB:
        return bytes((value,))
    if value < 0x10000:
        return b"\xfc" + _U16.pack(value)
    if value < 0x1000000:
        return b"\xfd" + _U32.pack(value)[:3]
    return b"\xfe" + _U64.pack(value)


def lenenc_bytes(value: bytes) -> bytes:
    """Encodes a length-encoded string."""
    n = len(value)
    if n < 0xFB:
        return bytes((n,)) + value
    return lenenc_int(n) + value


def lenenc_str(value: str) -> bytes:
    """Encodes a str as a UTF-8 length-encoded string."""
    return lenenc_bytes(value.encode())


class Reader:
    """Reads protocol values from a payload, raising MalformedPacket when it runs short."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def _take(self, n: int) -> int:
        pos = self.pos
        end = pos + n
        if end > len(self.data):
            raise MalformedPacket("malformed packet: unexpected end of data")
        self.pos = end
        return pos

    def at_end(self) -> bool:
        """True when every byte has been read."""
        return self.pos >= len(self.data)

    def remaining(self) -> int:
        """Bytes left to read."""
        return len(self.data) - self.pos

    def peek(self) -> int:
        """The next byte, without consuming it."""
        if self.pos >= len(self.data):
            raise MalformedPacket("malformed packet: unexpected end of data")
        return self.data[self.pos]

    def int1(self) -> int:
        return self.data[self._take(1)]

    def int2(self) -> int:
        return _U16.unpack_from(self.data, self._take(2))[0]

    def int3(self) -> int:
        pos = self._take(3)
        return int.from_bytes(self.data[pos : pos + 3], "little")

    def int4(self) -> int:
        return _U32.unpack_from(self.data, self._take(4))[0]

    def int8(self) -> int:
        return _U64.unpack_from(self.data, self._take(8))[0]

    def lenenc_int(self) -> int:
        """Reads a length-encoded integer; 0xFB (NULL) and 0xFF are not valid here."""
        first = self.int1()
        if first < 0xFB:
            return first
        if first == 0xFC:
            return self.int2()
        if first == 0xFD:
            return self.int3()
        if first == 0xFE:
            return self.int8()
        raise MalformedPacket(f"malformed packet: invalid length-encoded integer prefix 0x{first:02x}")

    def lenenc_bytes(self) -> bytes:
        return self.fixed(self.lenenc_int())

    def lenenc_str(self) -> str:
        return self.lenenc_bytes().decode(errors="replace")

    def fixed(self, n: int) -> bytes:
        pos = self._take(n)
        return bytes(self.data[pos : pos + n])

    def null_terminated(self) -> bytes:
        """Reads up to a NUL byte (consumed); the rest of the payload when there is none."""
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            return self.rest()
        value = bytes(self.data[self.pos : end])
        self.pos = end + 1
        return value

    def rest(self) -> bytes:
        value = bytes(self.data[self.pos :])
        self.pos = len(self.data)
        return value
