"""The binary protocol of prepared statements: PREPARE_OK, COM_STMT_EXECUTE, and binary result rows.

Inside shardline a row value is the text-protocol form (see :mod:`shardline.sqltypes`), so binary rows are
converted to that form when decoded and from it when encoded. Statement parameters are Python values:
None, int, float, Decimal, str (character types; undecodable bytes kept with ``surrogateescape``), bytes
(binary types), date, datetime and timedelta; a zero date, which Python cannot hold, stays a str.
"""

from __future__ import annotations

import datetime
import math
import struct
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final

from shardline.errors import InvalidArgument, MalformedPacket, ShardlineError
from shardline.mysql.constants import OK_HEADER, ColumnFlag, Command
from shardline.mysql.wire import Reader, lenenc_bytes
from shardline.sqltypes import BINARY_CHARSET, Field, FieldType, Row

_PREPARE_OK: Final = struct.Struct("<BIHHxH")
_EXECUTE_HEAD: Final = struct.Struct("<BIBI")
_STATEMENT_ID: Final = struct.Struct("<BI")
_UNSIGNED_PARAM: Final = 0x80

# Fixed-size integer and float encodings by type; (signed, unsigned) formats.
_INT_FORMATS: Final[dict[int, tuple[struct.Struct, struct.Struct]]] = {
    FieldType.TINY: (struct.Struct("<b"), struct.Struct("<B")),
    FieldType.SHORT: (struct.Struct("<h"), struct.Struct("<H")),
    FieldType.YEAR: (struct.Struct("<h"), struct.Struct("<H")),
    FieldType.INT24: (struct.Struct("<i"), struct.Struct("<I")),
    FieldType.LONG: (struct.Struct("<i"), struct.Struct("<I")),
    FieldType.LONGLONG: (struct.Struct("<q"), struct.Struct("<Q")),
}
_INF: Final = float("inf")
_LONGLONG: Final = struct.Struct("<q")
_FLOAT: Final = struct.Struct("<f")
_DOUBLE: Final = struct.Struct("<d")
# Parameter types (with the unsigned bit, 0x8000) whose values have a fixed size.
_FIXED_PARAMS: Final[dict[int, struct.Struct]] = {
    **{t: signed for t, (signed, _) in _INT_FORMATS.items()},
    **{t | _UNSIGNED_PARAM << 8: unsigned for t, (_, unsigned) in _INT_FORMATS.items()},
    FieldType.FLOAT: _FLOAT,
    FieldType.DOUBLE: _DOUBLE,
}
_DATE: Final = struct.Struct("<HBB")
_DATETIME: Final = struct.Struct("<HBBBBB")
_DATETIME_MICRO: Final = struct.Struct("<HBBBBBI")
_TIME: Final = struct.Struct("<BIBBB")
_TIME_MICRO: Final = struct.Struct("<BIBBBI")
_DATE_TYPES: Final = frozenset({FieldType.DATE, FieldType.NEWDATE})
_DATETIME_TYPES: Final = frozenset({FieldType.DATETIME, FieldType.TIMESTAMP})
_CHAR_PARAM_TYPES: Final = frozenset(
    {FieldType.VARCHAR, FieldType.VAR_STRING, FieldType.STRING, FieldType.ENUM, FieldType.SET, FieldType.JSON}
)
_DECIMAL_TYPES: Final = frozenset({FieldType.DECIMAL, FieldType.NEWDECIMAL})


# --- COM_STMT_PREPARE response --------------------------------------------------------------------------


def build_prepare_ok(statement_id: int, column_count: int, param_count: int, warnings: int = 0) -> bytes:
    return _PREPARE_OK.pack(OK_HEADER, statement_id, column_count, param_count, warnings)


def parse_prepare_ok(payload: bytes) -> tuple[int, int, int, int]:
    """Returns (statement id, column count, param count, warnings)."""
    if len(payload) < _PREPARE_OK.size or payload[0] != OK_HEADER:
        raise MalformedPacket("malformed packet: bad COM_STMT_PREPARE OK")
    _, statement_id, columns, params, warnings = _PREPARE_OK.unpack_from(payload)
    return statement_id, columns, params, warnings


PARAM_FIELD: Final = Field("?", FieldType.VAR_STRING, charset=BINARY_CHARSET)
"""The definition sent for each parameter of a prepared statement."""


# --- COM_STMT_EXECUTE -----------------------------------------------------------------------------------


def _format_microseconds(micro: int) -> bytes:
    return b"" if not micro else b"." + b"%06d" % micro


def encode_param(value: Any) -> tuple[int, bytes]:
    """Returns (type with its unsigned bit in the high byte, encoded value) for a non-NULL Python value."""
    if isinstance(value, bool):
        return FieldType.TINY, bytes((int(value),))
    if isinstance(value, int):
        if -(1 << 63) <= value < (1 << 63):
            return FieldType.LONGLONG, struct.pack("<q", value)
        if 0 <= value < (1 << 64):
            return FieldType.LONGLONG | _UNSIGNED_PARAM << 8, struct.pack("<Q", value)
        raise InvalidArgument(f"integer parameter out of range: {value}")
    if isinstance(value, float):
        return FieldType.DOUBLE, _DOUBLE.pack(value)
    if isinstance(value, Decimal):
        return FieldType.NEWDECIMAL, lenenc_bytes(str(value).encode())
    if isinstance(value, str):
        return FieldType.VAR_STRING, lenenc_bytes(value.encode("utf-8", "surrogateescape"))
    if isinstance(value, bytes | bytearray | memoryview):
        return FieldType.BLOB, lenenc_bytes(bytes(value))
    if isinstance(value, datetime.datetime):
        return FieldType.DATETIME, _encode_datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond
        )
    if isinstance(value, datetime.date):
        return FieldType.DATE, _encode_datetime(value.year, value.month, value.day, 0, 0, 0, 0)
    if isinstance(value, datetime.timedelta):
        micro = value // datetime.timedelta(microseconds=1)
        negative = micro < 0
        micro = abs(micro)
        seconds, micro = divmod(micro, 1_000_000)
        minutes, second = divmod(seconds, 60)
        hours, minute = divmod(minutes, 60)
        days, hour = divmod(hours, 24)
        return FieldType.TIME, _encode_time(negative, days, hour, minute, second, micro)
    raise InvalidArgument(f"unsupported parameter type {type(value).__name__}")


def build_execute(statement_id: int, params: Sequence[Any]) -> bytes:
    """The COM_STMT_EXECUTE payload (no cursor, one iteration, parameter types always sent)."""
    head = _EXECUTE_HEAD.pack(Command.STMT_EXECUTE, statement_id, 0, 1)
    if not params:
        return head
    null_bitmap = bytearray((len(params) + 7) // 8)
    types = []
    values = []
    for i, value in enumerate(params):
        if value is None:
            null_bitmap[i >> 3] |= 1 << (i & 7)
            types.append(FieldType.NULL)
        elif type(value) is int and -(1 << 63) <= value < (1 << 63):
            types.append(FieldType.LONGLONG)
            values.append(_LONGLONG.pack(value))
        else:
            param_type, encoded = encode_param(value)
            types.append(param_type)
            values.append(encoded)
    return b"".join((head, null_bitmap, b"\x01", struct.pack(f"<{len(types)}H", *types), *values))


def retarget_execute(body: bytes, statement_id: int, param_count: int, bound_types: list[int] | None) -> bytes:
    """The COM_STMT_EXECUTE payload that runs a client's execution (``body``, after the command byte) as
    statement ``statement_id`` of another connection, values as the client sent them. The parameter types are
    included where the client relied on types it bound in an earlier execution (``bound_types``)."""
    head = _STATEMENT_ID.pack(Command.STMT_EXECUTE, statement_id)
    if param_count:
        flag = 9 + (param_count + 7) // 8
        if not body[flag] and bound_types is not None:
            return b"".join((head, body[4:flag], b"\x01", struct.pack(f"<{param_count}H", *bound_types),
                             body[flag + 1 :]))
    return head + body[4:]


def parse_execute(
    body: bytes, param_count: int, bound_types: list[int] | None, long_data: dict[int, bytes] | None = None
) -> tuple[list[Any], list[int] | None]:
    """Decodes a COM_STMT_EXECUTE body (after the command byte) into parameter values.

    ``bound_types`` are the types of the previous execution, used when the client does not send them again.
    Returns the values and the types now bound. Values sent with COM_STMT_SEND_LONG_DATA come from ``long_data``.
    """
    if len(body) < 9:
        raise MalformedPacket("malformed packet: COM_STMT_EXECUTE too short")
    if param_count == 0:
        return [], bound_types
    pos = 9 + (param_count + 7) // 8  # after statement id, flags, iteration count, null bitmap
    if len(body) <= pos:
        raise MalformedPacket("malformed packet: COM_STMT_EXECUTE without its parameters")
    null_bitmap = body[9:pos]
    try:
        if body[pos]:
            types = list(struct.unpack_from(f"<{param_count}H", body, pos + 1))
            pos += 1 + 2 * param_count
        elif bound_types is None:
            raise MalformedPacket("malformed packet: COM_STMT_EXECUTE without parameter types")
        else:
            types = bound_types
            pos += 1
        params: list[Any] = []
        for i, param_type in enumerate(types):
            if null_bitmap[i >> 3] & (1 << (i & 7)):
                params.append(None)
                continue
            fixed = _FIXED_PARAMS.get(param_type)
            if long_data and i in long_data:
                params.append(_param_from_bytes(param_type & 0xFF, long_data[i]))
            elif fixed is not None:
                params.append(fixed.unpack_from(body, pos)[0])
                pos += fixed.size
            else:
                r = Reader(body, pos)
                params.append(_decode_param(r, param_type))
                pos = r.pos
    except struct.error as exc:
        raise MalformedPacket(f"malformed packet: COM_STMT_EXECUTE parameters: {exc}") from None
    except ValueError as exc:  # a DECIMAL parameter that is no number (or not even UTF-8)
        raise ShardlineError(f"Incorrect arguments to mysqld_stmt_execute: parameter {len(params) + 1}: {exc}",
                             code=1210, sqlstate="HY000") from None
    return params, types


def _param_from_bytes(field_type: int, data: bytes) -> Any:
    if field_type in _CHAR_PARAM_TYPES or field_type in _DECIMAL_TYPES:
        return data.decode("utf-8", "surrogateescape")
    return data


def _decode_param(r: Reader, param_type: int) -> Any:
    field_type = param_type & 0xFF
    if field_type == FieldType.NULL:
        return None
    fmt = _INT_FORMATS.get(field_type)
    if fmt is not None:
        s = fmt[1] if param_type >> 8 & _UNSIGNED_PARAM else fmt[0]
        return s.unpack(r.fixed(s.size))[0]
    if field_type == FieldType.DOUBLE:
        return _DOUBLE.unpack(r.fixed(8))[0]
    if field_type == FieldType.FLOAT:
        return _FLOAT.unpack(r.fixed(4))[0]
    if field_type in _DECIMAL_TYPES:
        text = r.lenenc_bytes()
        try:
            value = Decimal(text.decode())
        except ArithmeticError:  # decimal.InvalidOperation
            value = Decimal("NaN")
        if not value.is_finite():
            raise ValueError(f"{text!r} is not a DECIMAL number")
        return value
    if field_type in _DATE_TYPES or field_type in _DATETIME_TYPES:
        year, month, day, hour, minute, second, micro = _read_datetime(r)
        try:
            if field_type in _DATE_TYPES:
                return datetime.date(year, month, day)
            return datetime.datetime(year, month, day, hour, minute, second, micro)
        except ValueError:  # a zero date: keep its text form
            text = _datetime_text(
                field_type, 6 if micro else 0, year, month, day, hour, minute, second, micro
            )
            return text.decode()
    if field_type == FieldType.TIME:
        negative, days, hour, minute, second, micro = _read_time(r)
        delta = datetime.timedelta(days=days, hours=hour, minutes=minute, seconds=second, microseconds=micro)
        return -delta if negative else delta
    return _param_from_bytes(field_type, r.lenenc_bytes())


# --- temporal values ------------------------------------------------------------------------------------


def _encode_datetime(
    year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int
) -> bytes:
    if micro:
        return b"\x0b" + _DATETIME_MICRO.pack(year, month, day, hour, minute, second, micro)
    if hour or minute or second:
        return b"\x07" + _DATETIME.pack(year, month, day, hour, minute, second)
    if year or month or day:
        return b"\x04" + _DATE.pack(year, month, day)
    return b"\x00"


def _encode_time(negative: bool, days: int, hour: int, minute: int, second: int, micro: int) -> bytes:
    if micro:
        return b"\x0c" + _TIME_MICRO.pack(negative, days, hour, minute, second, micro)
    if days or hour or minute or second:
        return b"\x08" + _TIME.pack(negative, days, hour, minute, second)
    return b"\x00"


def _read_datetime(r: Reader) -> tuple[int, int, int, int, int, int, int]:
    n = r.int1()
    if n not in (0, 4, 7, 11):
        raise MalformedPacket(f"malformed packet: bad binary DATE/DATETIME length {n}")
    data = r.fixed(n)
    year = month = day = hour = minute = second = micro = 0
    if n >= 4:
        year, month, day = _DATE.unpack_from(data)
    if n >= 7:
        hour, minute, second = data[4], data[5], data[6]
    if n == 11:
        micro = struct.unpack_from("<I", data, 7)[0]
    return year, month, day, hour, minute, second, micro


def _read_time(r: Reader) -> tuple[bool, int, int, int, int, int]:
    n = r.int1()
    if n == 0:
        return False, 0, 0, 0, 0, 0
    if n == 8:
        negative, days, hour, minute, second = _TIME.unpack(r.fixed(8))
        return bool(negative), days, hour, minute, second, 0
    if n == 12:
        negative, days, hour, minute, second, micro = _TIME_MICRO.unpack(r.fixed(12))
        return bool(negative), days, hour, minute, second, micro
    raise MalformedPacket(f"malformed packet: bad binary TIME length {n}")


def _fraction(decimals: int, micro: int) -> bytes:
    """The fractional seconds of a temporal text value: as many digits as the column declares."""
    if 0 < decimals <= 6:
        return b"." + (b"%06d" % micro)[:decimals]
    return _format_microseconds(micro) if decimals > 6 else b""


def _datetime_text(
    field_type: int,
    decimals: int,
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    micro: int,
) -> bytes:
    date = b"%04d-%02d-%02d" % (year, month, day)
    if field_type in _DATE_TYPES:
        return date
    return date + b" %02d:%02d:%02d" % (hour, minute, second) + _fraction(decimals, micro)


def _parse_temporal_text(text: bytes) -> list[int]:
    """Splits '2026-11-25 09:08:07.123' or '-838:59:59.5' into its numbers, the fraction as microseconds."""
    main, _, fraction = text.partition(b".")
    parts = [int(p) for p in main.replace(b" ", b"-").replace(b":", b"-").lstrip(b"-").split(b"-")]
    parts.append(int((fraction + b"000000")[:6]) if fraction else 0)
    return parts


# --- floats as MariaDB prints them ---------------------------------------------------------------------


def _float_text(value: float, single: bool) -> bytes:
    """The text MariaDB's text protocol shows for a FLOAT (``single``) or DOUBLE value.

    A DOUBLE shows the shortest decimal that reads back as the same double, a FLOAT its value rounded to 6
    significant digits, trailing zeros removed; fixed notation while the first digit's decimal exponent is
    from -15 to 14 (or when digits follow the point), otherwise ``1.5e-16`` / ``1e15``.
    """
    if value != value or value in (_INF, -_INF):
        return repr(value).encode()
    if value == 0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    sign, digit_tuple, exponent = Decimal(f"{value:.5e}" if single else repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    exp = exponent + len(digits) - 1  # decimal exponent of the first digit
    minus = "-" if sign else ""
    if exp < -15 or (exp >= 15 and len(digits) <= exp + 1):
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{minus}{body}e{exp}".encode()
    if exp < 0:
        return f"{minus}0.{'0' * (-exp - 1)}{digits}".encode()
    if len(digits) <= exp + 1:
        return f"{minus}{digits}{'0' * (exp + 1 - len(digits))}".encode()
    return f"{minus}{digits[: exp + 1]}.{digits[exp + 1 :]}".encode()


# --- binary result rows --------------------------------------------------------------------------------


def parse_binary_row(payload: bytes, fields: Sequence[Field]) -> Row:
    """Decodes a binary result row into text-protocol values."""
    count = len(fields)
    bitmap_end = 1 + (count + 9) // 8
    if len(payload) < bitmap_end or payload[0] != OK_HEADER:
        raise MalformedPacket("malformed packet: bad binary row header")
    r = Reader(payload, bitmap_end)
    values: list[bytes | None] = []
    for i, f in enumerate(fields):
        bit = i + 2
        if payload[1 + (bit >> 3)] & (1 << (bit & 7)):
            values.append(None)
            continue
        field_type = f.type
        fmt = _INT_FORMATS.get(field_type)
        if fmt is not None:
            s = fmt[1] if f.flags & ColumnFlag.UNSIGNED else fmt[0]
            number = s.unpack(r.fixed(s.size))[0]
            text = b"%d" % number
            if f.flags & ColumnFlag.ZEROFILL or field_type == FieldType.YEAR:
                text = text.zfill(f.column_length)
            values.append(text)
        elif field_type == FieldType.DOUBLE:
            values.append(_float_text(_DOUBLE.unpack(r.fixed(8))[0], single=False))
        elif field_type == FieldType.FLOAT:
            values.append(_float_text(_FLOAT.unpack(r.fixed(4))[0], single=True))
        elif field_type in _DATE_TYPES or field_type in _DATETIME_TYPES:
            values.append(_datetime_text(field_type, f.decimals, *_read_datetime(r)))
        elif field_type == FieldType.TIME:
            negative, days, hour, minute, second, micro = _read_time(r)
            sign = b"-" if negative else b""
            values.append(
                sign + b"%02d:%02d:%02d" % (days * 24 + hour, minute, second) + _fraction(f.decimals, micro)
            )
        else:
            values.append(r.lenenc_bytes())
    return tuple(values)


def binary_row_encoder(fields: Sequence[Field]) -> Callable[[Row], bytes]:
    """Encodes text-protocol rows of ``fields`` as binary result rows; how each column is encoded is decided
    once, not per value (a result set's rows share it). A value that does not fit its column's type raises
    InvalidArgument."""
    encoders = [_value_encoder(f) for f in fields]
    bitmap_size = (len(fields) + 9) // 8
    no_nulls = bytes(1 + bitmap_size)  # the row's 0x00 header and a null bitmap with no bit set
    strings_only = all(encoder is lenenc_bytes for encoder in encoders)  # strings, decimals, ...: as in text

    def encode(row: Row) -> bytes:
        if len(row) != len(encoders):
            raise ValueError(f"a row of {len(row)} values for {len(encoders)} columns")
        try:
            if None not in row:
                if strings_only:
                    return no_nulls + b"".join(map(lenenc_bytes, row))  # type: ignore[arg-type]  # no None in row
                return no_nulls + b"".join(map(_apply, encoders, row))  # type: ignore[arg-type]  # no None in row
            null_bitmap = bytearray(bitmap_size)
            out = []
            for i, value in enumerate(row):
                if value is None:
                    bit = i + 2
                    null_bitmap[bit >> 3] |= 1 << (bit & 7)
                else:
                    out.append(encoders[i](value))
            return b"\x00" + bytes(null_bitmap) + b"".join(out)
        except (ValueError, TypeError, struct.error) as exc:
            for value, f, encoder in zip(row, fields, encoders, strict=False):
                if value is not None and not _fits(encoder, value):
                    raise InvalidArgument(
                        f"value {value[:40]!r} does not fit column '{f.name}' of type {f.type}"
                    ) from exc
            raise

    return encode


def _apply(encoder: Callable[[bytes], bytes], value: bytes) -> bytes:
    return encoder(value)


def _fits(encoder: Callable[[bytes], bytes], value: bytes) -> bool:
    try:
        encoder(value)
    except (ValueError, TypeError, struct.error):
        return False
    return True


def _value_encoder(f: Field) -> Callable[[bytes], bytes]:
    """The binary-protocol encoding of column ``f``'s text values."""
    field_type = f.type
    fmt = _INT_FORMATS.get(field_type)
    if fmt is not None:
        pack_int = (fmt[1] if f.flags & ColumnFlag.UNSIGNED else fmt[0]).pack
        return lambda value: pack_int(int(value))
    if field_type == FieldType.DOUBLE or field_type == FieldType.FLOAT:
        pack_float = (_DOUBLE if field_type == FieldType.DOUBLE else _FLOAT).pack
        return lambda value: pack_float(float(value))
    if field_type in _DATE_TYPES or field_type in _DATETIME_TYPES:
        return _encode_datetime_text
    if field_type == FieldType.TIME:
        return _encode_time_text
    return lenenc_bytes


def _encode_datetime_text(value: bytes) -> bytes:
    numbers = _parse_temporal_text(value)
    micro = numbers.pop()
    year, month, day, hour, minute, second = numbers + [0] * (6 - len(numbers))
    return _encode_datetime(year, month, day, hour, minute, second, micro)


def _encode_time_text(value: bytes) -> bytes:
    hours, minute, second, micro = _parse_temporal_text(value)
    days, hour = divmod(hours, 24)
    return _encode_time(value.startswith(b"-"), days, hour, minute, second, micro)
