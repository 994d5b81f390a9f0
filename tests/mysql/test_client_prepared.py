"""Prepared statements through the client: binary results equal the text protocol's, for every column type."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from shardline.errors import InvalidArgument, MySQLError
from shardline.mysql.client import Connection

FLOAT_VALUES = [
    "0", "-0", "1", "-1.5", "0.1", "1e-7", "1.5e-7", "0.0001", "0.00012345", "123456", "1234567", "1e14",
    "1e15", "123456789012345", "1234567890123456", "3.4e38", "1.17549e-38", "16777217", "0.3", "2.5e-5",
    "9.999999e14", "99999999999999.9", "1.7976931348623157e308", "5e-324", "0.30000000000000004", "100",
    "1e16", "12345.678", "-98765.4321e-10", "1.2345678901234567e-5", "1.2345678901234567e-15", "1.5e-16",
    "-1.5e-15", "1.2345678901234567e100", "123.45678901234567", "1e-5", "-1e15",
]  # fmt: skip


async def test_prepare_reports_params_and_columns(conn: Connection) -> None:
    stmt = await conn.prepare("SELECT id, vc FROM all_types WHERE id = ? AND vc <> ?")
    assert stmt.param_count == 2
    assert len(stmt.params) == 2
    assert [f.name for f in stmt.fields] == ["id", "vc"]
    await conn.close_statement(stmt)
    with pytest.raises(MySQLError) as info:
        await conn.execute(stmt, [1, "x"])
    assert info.value.code == 1243  # unknown prepared statement handler


async def test_binary_rows_of_every_type_equal_text_rows(conn: Connection) -> None:
    text = await conn.query("SELECT * FROM all_types ORDER BY id")
    stmt = await conn.prepare("SELECT * FROM all_types WHERE id >= ? ORDER BY id")
    binary = await conn.execute(stmt, [0])
    assert [f.name for f in binary.fields] == [f.name for f in text.fields]
    assert len(binary.rows) == 4
    for text_row, binary_row in zip(text.rows, binary.rows, strict=True):
        for field, t, b in zip(text.fields, text_row, binary_row, strict=True):
            assert (field.name, b) == (field.name, t)


@pytest.mark.parametrize("column", ["DOUBLE", "FLOAT"])
async def test_binary_floats_print_like_the_text_protocol(conn: Connection, column: str) -> None:
    await conn.query(f"CREATE TEMPORARY TABLE floats (id INT PRIMARY KEY, v {column})")
    values = ", ".join(f"({i}, {v})" for i, v in enumerate(FLOAT_VALUES))
    await conn.query(f"INSERT IGNORE INTO floats VALUES {values}")
    text = await conn.query("SELECT v FROM floats ORDER BY id")
    binary = await conn.execute(await conn.prepare("SELECT v FROM floats ORDER BY id"), [])
    assert binary.rows == text.rows
    await conn.query("DROP TEMPORARY TABLE floats")


async def test_params_of_every_python_type_round_trip(conn: Connection) -> None:
    params = [
        None, 7, -(2**63), 2**64 - 1, 1.25, Decimal("-12.345"), "héllo", b"\x00\xff", True,
        datetime.date(2026, 11, 25), datetime.datetime(2026, 11, 25, 9, 8, 7, 123456),
        datetime.datetime(2026, 11, 25, 9, 8, 7), datetime.timedelta(hours=-30, seconds=-1, microseconds=-5),
        datetime.timedelta(0),
    ]  # fmt: skip
    stmt = await conn.prepare("SELECT " + ", ".join("?" for _ in params))
    row = (await conn.execute(stmt, params)).rows[0]
    assert row == (
        None, b"7", b"-9223372036854775808", b"18446744073709551615", b"1.25", b"-12.345", "héllo".encode(),
        b"\x00\xff", b"1", b"2026-11-25", b"2026-11-25 09:08:07.123456", b"2026-11-25 09:08:07",
        b"-30:00:01.000005", b"00:00:00",
    )  # fmt: skip


async def test_execute_reports_affected_rows_and_errors(conn: Connection) -> None:
    await conn.query("DELETE FROM seq_test WHERE v LIKE 'p%'")
    stmt = await conn.prepare("INSERT INTO seq_test (v) VALUES (?)")
    result = await conn.execute(stmt, ["p1"])
    assert result.rows_affected == 1 and result.insert_id > 0
    with pytest.raises(MySQLError) as info:
        await conn.execute(stmt, ["p1"])
    assert (info.value.code, info.value.sqlstate) == (1062, "23000")
    with pytest.raises(InvalidArgument):
        await conn.execute(stmt, [])
    assert (await conn.execute(stmt, ["p2"])).rows_affected == 1


async def test_execute_raw_relays_binary_rows(conn: Connection) -> None:
    stmt = await conn.prepare("SELECT ? + 1")
    raw = await conn.execute_raw(stmt, [41])
    assert raw[3] == 1
    assert raw.endswith(b"\x05\x00\x00\x05\xfe\x00\x00\x02\x00")  # the final EOF, autocommit
    assert (await conn.execute(stmt, [41])).rows == [(b"42",)]
