"""Topo records: tablet alias format, tablet types, and the JSON round trip of every record."""

from __future__ import annotations

import json

import pytest

from shardline.errors import InvalidArgument
from shardline.key import KeyRange
from shardline.topo.records import (
    CellInfo,
    Keyspace,
    Shard,
    ShardReference,
    SrvKeyspace,
    SrvVSchema,
    Tablet,
    TabletAlias,
    TabletType,
)

ALIAS = TabletAlias("zone1", 100)


def test_tablet_alias_prints_and_parses_in_vitess_format() -> None:
    assert str(ALIAS) == "zone1-0000000100"
    assert TabletAlias.parse("zone1-0000000100") == ALIAS
    assert TabletAlias.parse("zone1-100") == ALIAS
    assert sorted([TabletAlias("zone2", 1), TabletAlias("zone1", 200), ALIAS]) == [
        ALIAS,
        TabletAlias("zone1", 200),
        TabletAlias("zone2", 1),
    ]


@pytest.mark.parametrize(
    "text", ["", "zone1", "zone1-", "-100", "zone1-abc", "zone1--1", "zone1-99999999999"]
)
def test_malformed_tablet_alias_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid tablet alias"):
        TabletAlias.parse(text)


def test_tablet_type_parses_any_case_and_refuses_unknown_names() -> None:
    assert TabletType.parse("replica") is TabletType.REPLICA
    assert TabletType.parse("PRIMARY") is TabletType.PRIMARY
    with pytest.raises(InvalidArgument, match="MASTER.*PRIMARY, REPLICA"):
        TabletType.parse("MASTER")


RECORDS = [
    Keyspace("customer", "semi_sync"),
    Shard("customer", "-80", KeyRange(b"", b"\x80"), ALIAS, 1700000000.5, False),
    Shard("customer", "80-", KeyRange(b"\x80", b"")),
    Tablet(
        ALIAS,
        "host",
        "127.0.0.1",
        17100,
        15100,
        "customer",
        "-80",
        KeyRange(b"", b"\x80"),
        TabletType.RDONLY,
        "customer",
    ),
    CellInfo("zone2", "etcd:127.0.0.1:2379", "/zone2"),
    SrvKeyspace(
        {
            TabletType.PRIMARY: [
                ShardReference("-80", KeyRange(b"", b"\x80")),
                ShardReference("80-", KeyRange(b"\x80")),
            ]
        }
    ),
    SrvVSchema({"customer": {"sharded": True, "vindexes": {"hash": {"type": "hash"}}}, "commerce": {}}),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_record_survives_a_json_round_trip(record) -> None:
    data = json.loads(json.dumps(record.to_json()))
    assert type(record).from_json(data) == record
