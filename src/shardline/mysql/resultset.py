"""Result sets: column definitions (protocol 4.1), text rows, and whole responses to a query.

A response is an OK, an ERR, or a result set: the column count, the column definitions, an EOF, the rows and a
final EOF (or ERR). When the final EOF/OK carries SERVER_MORE_RESULTS_EXISTS another response follows.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from shardline.errors import MalformedPacket
from shardline.mysql.constants import EOF_HEADER, ERR_HEADER, MAX_PAYLOAD_CHUNK, OK_HEADER, ServerStatus
from shardline.mysql.responses import build_eof, is_eof, parse_eof, parse_error, parse_ok
from shardline.mysql.wire import Reader, lenenc_bytes, lenenc_int, lenenc_str
from shardline.sqltypes import Field, Result, Row

_COLUMN_FIXED: Final = struct.Struct("<BHIBHBxx")  # length of the fixed fields (0x0C), then the fields
_COLUMN_FIELDS: Final = struct.Struct("<HIBHB")
_CATALOG: Final = lenenc_str("def")


def build_column(f: Field) -> bytes:
    """Encodes a Column Definition 41."""
    return b"".join(
        (
            _CATALOG,
            lenenc_str(f.database),
            lenenc_str(f.table),
            lenenc_str(f.org_table),
            lenenc_str(f.name),
            lenenc_str(f.org_name),
            _COLUMN_FIXED.pack(0x0C, f.charset, f.column_length, f.type, f.flags, f.decimals),
        )
    )


def parse_column(payload: bytes) -> Field:
    """Decodes a Column Definition 41."""
    r = Reader(payload)
    r.lenenc_bytes()  # catalog, always "def"
    database = r.lenenc_str()
    table = r.lenenc_str()
    org_table = r.lenenc_str()
    name = r.lenenc_str()
    org_name = r.lenenc_str()
    if r.lenenc_int() < 0x0C or r.remaining() < 0x0C:
        raise MalformedPacket("malformed packet: short column definition")
    charset, column_length, field_type, flags, decimals = _COLUMN_FIELDS.unpack_from(r.data, r.pos)
    return Field(
        name, field_type, table, org_table, database, org_name, charset, column_length, flags, decimals
    )


# The same columns come back with every execution of a query: each definition is decoded once.
_cached_column = functools.lru_cache(maxsize=4096)(parse_column)


_SHORT_LENGTHS: Final = [bytes((n,)) for n in range(0xFB)]


def build_text_row(row: Row) -> bytes:
    """Encodes a text-protocol row: each value a length-encoded string, 0xFB for NULL."""
    parts: list[bytes] = []
    append = parts.append
    for value in row:
        if value is None:
            append(b"\xfb")
        elif len(value) < 0xFB:
            append(_SHORT_LENGTHS[len(value)])
            append(value)
        else:
            append(lenenc_bytes(value))
    return b"".join(parts)


def parse_text_row(payload: bytes, column_count: int) -> Row:
    """Decodes a text-protocol row."""
    values: list[bytes | None] = []
    pos = 0
    end = len(payload)
    for _ in range(column_count):
        if pos >= end:
            raise MalformedPacket("malformed packet: text row shorter than its column count")
        first = payload[pos]
        if first < 0xFB:
            values.append(payload[pos + 1 : pos + 1 + first])
            pos += 1 + first
        elif first == 0xFB:
            values.append(None)
            pos += 1
        else:
            r = Reader(payload, pos)
            values.append(r.lenenc_bytes())
            pos = r.pos
    if pos > end:
        raise MalformedPacket("malformed packet: text row value runs past the end")
    return tuple(values)


def result_set_payloads(
    fields: Sequence[Field], rows: Iterable[bytes], status: int, warnings: int = 0
) -> list[bytes]:
    """The payloads of a result set whose rows are already encoded (text or binary)."""
    payloads = [lenenc_int(len(fields))]
    payloads.extend(build_column(f) for f in fields)
    eof = build_eof(status, warnings)
    payloads.append(eof)
    payloads.extend(rows)
    payloads.append(eof)
    return payloads


def decode_responses(
    payloads: Sequence[bytes], parse_row: Callable[[bytes, Sequence[Field]], Row] | None = None
) -> tuple[list[Result], int]:
    """Decodes the payloads of a complete response (all results of a multi-result response).

    Returns the results and the status flags of the final OK/EOF; an ERR raises :class:`MySQLError`.
    ``parse_row`` decodes binary rows; text rows are decoded by default.
    """
    results: list[Result] = []
    status = 0
    i = 0
    n = len(payloads)
    while i < n:
        payload = payloads[i]
        first = payload[0] if payload else -1
        if first == ERR_HEADER:
            raise parse_error(payload)
        if first == OK_HEADER:
            ok = parse_ok(payload)
            results.append(
                Result(
                    rows_affected=ok.affected_rows, insert_id=ok.insert_id, warnings=ok.warnings, info=ok.info
                )
            )
            status = ok.status
            i += 1
        else:
            count = Reader(payload).lenenc_int()
            fields = [_cached_column(p) for p in payloads[i + 1 : i + 1 + count]]
            i += 1 + count
            if i >= n or not is_eof(payloads[i]):
                raise MalformedPacket("malformed packet: no EOF after the column definitions")
            i += 1
            rows: list[Row] = []
            while True:
                if i >= n:
                    raise MalformedPacket("malformed packet: result set without its final EOF")
                payload = payloads[i]
                i += 1
                first = payload[0]
                if first == EOF_HEADER and len(payload) < 9:
                    break
                if first == ERR_HEADER:  # an error in the middle of the rows
                    raise parse_error(payload)
                rows.append(parse_row(payload, fields) if parse_row else parse_text_row(payload, count))
            status, warnings = parse_eof(payload)
            results.append(Result(fields=fields, rows=rows, warnings=warnings))
        if not status & ServerStatus.MORE_RESULTS_EXISTS:
            break
    return results, status


def concat_result_sets(responses: Sequence[bytes]) -> bytes | None:
    """One framed response with the rows of several servers' answers to the same query, none of them decoded.

    Each response is complete as received (sequence ids from 1). The result has the first response's column
    definitions, every response's rows in turn, and the last one's final EOF with the warnings added up; its
    sequence ids run on from 1. None when a response is not one plain result set (an OK, several results) or
    the responses differ in their number of columns.
    """
    spans: list[tuple[int, int]] = []
    for data in responses:
        span = _rows_span(data)
        if span is None or data[: 4 + data[0]] != responses[0][: 4 + responses[0][0]]:  # the column count packet
            return None
        spans.append(span)
    first_rows = spans[0][0]
    out = bytearray(responses[0][:first_rows])
    warnings = 0
    for data, (rows, final) in zip(responses, spans, strict=True):
        out += data[rows:final]
        warnings += data[final + 5] | data[final + 6] << 8
    final_eof = len(out)
    out += responses[-1][spans[-1][1]:]
    out[final_eof + 5 : final_eof + 7] = min(warnings, 0xFFFF).to_bytes(2, "little")
    seq = responses[0][first_rows + 3]  # the sequence id the first response's rows start with
    pos, end = first_rows, len(out)
    while pos < end:
        out[pos + 3] = seq
        seq = (seq + 1) & 0xFF
        pos += 4 + (out[pos] | out[pos + 1] << 8 | out[pos + 2] << 16)
    return bytes(out)


def count_rows(data: bytes) -> int:
    """The number of rows of one plain result set as received, text or binary (0 for anything else)."""
    span = _rows_span(data)
    if span is None:
        return 0
    pos, final = span
    count = 0
    continued = False
    while pos < final:
        n = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        if not continued:
            count += 1
        continued = n == MAX_PAYLOAD_CHUNK
        pos += 4 + n
    return count


def _rows_span(data: bytes) -> tuple[int, int] | None:
    """Where a single result set's rows start and where its final EOF packet starts; None for anything else."""
    end = len(data)
    if end < 5 or data[4] in (OK_HEADER, ERR_HEADER, 0xFB):
        return None
    count = Reader(data, 4).lenenc_int()
    pos = 0
    for _ in range(count + 2):  # the column count, the column definitions, their EOF
        pos += 4 + (data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16)
    rows = pos
    continued = False
    while pos + 4 <= end:
        n = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        following = pos + 4 + n
        if following > end:
            return None
        if not continued and n == 5 and data[pos + 4] == EOF_HEADER:
            status = data[pos + 7] | data[pos + 8] << 8
            if following != end or status & ServerStatus.MORE_RESULTS_EXISTS:
                return None
            return rows, pos
        continued = n == MAX_PAYLOAD_CHUNK
        pos = following
    return None
