"""Bind values render as SQL literals that MariaDB reads back as the same values."""

from __future__ import annotations

import datetime
from decimal import Decimal

from shardline.gate.engine.bindvars import Literal, encode_sql
from tests.gate.conftest import ShardedEnv

VALUES = [
    None,
    True,
    42,
    -7,
    Decimal("-12.50"),
    0.1,
    'it\'s \\ a "test"\n\0\x1a',
    "naïve ☃",
    b"\x00\xffbin",
    b"",
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 2, 29, 13, 5, 7, 120),
    datetime.time(23, 59, 1),
    datetime.timedelta(hours=-30, seconds=-5),
    Literal("0x41", b"A"),
]
EXPECTED = [
    None,
    b"1",
    b"42",
    b"-7",
    b"-12.50",
    b"0.1",
    b'it\'s \\ a "test"\n\0\x1a',
    "naïve ☃".encode(),
    b"\x00\xffbin",
    b"",
    b"2024-02-29",
    b"2024-02-29 13:05:07.000120",
    b"23:59:01",
    b"-30:00:05",
    b"A",
]


async def test_rendered_values_read_back_unchanged(sharded_env: ShardedEnv):
    result = await sharded_env.reference_query("SELECT " + ", ".join(encode_sql(v) for v in VALUES))
    assert list(result.rows[0]) == EXPECTED


def test_lists_render_comma_separated():
    assert encode_sql([1, "a", None]) == "1, 'a', NULL"
