"""Packet framing: a 3-byte payload length and a 1-byte sequence id before each payload.

A payload of 0xFFFFFF bytes or more travels as several packets of 0xFFFFFF bytes followed by a shorter one
(possibly empty); :class:`PacketReader` puts them back together and refuses payloads above its maximum as soon as
a header announces them, before buffering their bytes.
"""

from __future__ import annotations

import struct
from typing import Final

from shardline.errors import PacketTooLarge
from shardline.mysql.constants import MAX_PAYLOAD_CHUNK

# MariaDB's default max_allowed_packet is 16 MiB; a relay allows more.
DEFAULT_MAX_PAYLOAD: Final = 64 * 1024 * 1024
_HEADER: Final = struct.Struct("<I")  # length (3 bytes) | sequence id << 24


def frame(payload: bytes, seq: int) -> tuple[bytes, int]:
    """Frames ``payload`` starting at sequence id ``seq``; returns the bytes and the next sequence id."""
    n = len(payload)
    if n < MAX_PAYLOAD_CHUNK:
        return n.to_bytes(3, "little") + bytes((seq & 0xFF,)) + payload, (seq + 1) & 0xFF
    parts = []
    pos = 0
    while True:
        chunk = payload[pos : pos + MAX_PAYLOAD_CHUNK]
        parts.append(len(chunk).to_bytes(3, "little") + bytes((seq & 0xFF,)))
        parts.append(chunk)
        seq = (seq + 1) & 0xFF
        pos += MAX_PAYLOAD_CHUNK
        if len(chunk) < MAX_PAYLOAD_CHUNK:
            return b"".join(parts), seq


def frame_all(payloads: list[bytes], seq: int) -> tuple[bytes, int]:
    """Frames consecutive packets; returns the bytes and the next sequence id. (A result set is hundreds of
    small payloads: each header is one ``struct`` call, and one join copies every byte once.)"""
    out: list[bytes] = []
    append = out.append
    header = _HEADER.pack
    for payload in payloads:
        n = len(payload)
        if n < MAX_PAYLOAD_CHUNK:
            append(header(n | (seq & 0xFF) << 24))
            append(payload)
            seq += 1
        else:
            data, seq = frame(payload, seq)
            append(data)
    return b"".join(out), seq & 0xFF


def split_packets(data: bytes) -> list[bytes]:
    """The payloads of complete framed packets, split payloads joined; a truncated last packet is left out."""
    out: list[bytes] = []
    parts: list[bytes] = []
    pos = 0
    end = len(data)
    while end - pos >= 4:
        n = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        start = pos + 4
        pos = start + n
        if pos > end:
            break
        if n == MAX_PAYLOAD_CHUNK:
            parts.append(data[start:pos])
        elif parts:
            parts.append(data[start:pos])
            out.append(b"".join(parts))
            parts = []
        else:
            out.append(data[start:pos])
    return out


def resequence(data: bytes, seq: int) -> tuple[bytes, int]:
    """Rewrites the sequence ids of framed packets to start at ``seq``; returns the bytes and the next id."""
    out = bytearray(data)
    pos = 0
    end = len(out)
    while pos + 4 <= end:
        out[pos + 3] = seq
        seq = (seq + 1) & 0xFF
        pos += 4 + int.from_bytes(out[pos : pos + 3], "little")
    return bytes(out), seq


class PacketReader:
    """Turns a byte stream into payloads, reassembling split payloads and enforcing a maximum size."""

    __slots__ = ("_buf", "_parts", "_parts_len", "max_payload")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self._parts: list[bytes] = []  # chunks of a payload split over several packets
        self._parts_len = 0

    def buffered(self) -> int:
        """Bytes received but not yet returned as a payload."""
        return len(self._buf) + self._parts_len

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Adds received bytes; returns the complete payloads as (sequence id of their last packet, payload)."""
        if not self._buf and not self._parts and len(data) >= 4:
            # Fast path: exactly one small packet, which is what a command usually is.
            n = data[0] | data[1] << 8 | data[2] << 16
            if n + 4 == len(data) and n < MAX_PAYLOAD_CHUNK:
                if n > self.max_payload:
                    raise PacketTooLarge(f"Got a packet bigger than 'max_allowed_packet' bytes ({n})")
                return [(data[3], data[4:])]
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            n = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
            if self._parts_len + n > self.max_payload:
                raise PacketTooLarge(
                    f"Got a packet bigger than 'max_allowed_packet' bytes ({self._parts_len + n})"
                )
            if end - pos < 4 + n:
                break
            seq = buf[pos + 3]
            chunk = bytes(buf[pos + 4 : pos + 4 + n])
            pos += 4 + n
            if n == MAX_PAYLOAD_CHUNK:
                self._parts.append(chunk)
                self._parts_len += n
                continue
            if self._parts:
                self._parts.append(chunk)
                chunk = b"".join(self._parts)
                self._parts.clear()
                self._parts_len = 0
            out.append((seq, chunk))
        del buf[:pos]
        return out
