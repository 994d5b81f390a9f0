"""MariaDB GTID positions: parse, format, compare."""

import pytest

from shardline.errors import InvalidArgument
from shardline.mysqlctl.flavor import MariadbGTID, MariadbGTIDSet


def test_parse_and_format_round_trip_sorted_by_domain():
    position = MariadbGTIDSet.parse("1-200-3,0-100-12")
    assert position.gtids == (MariadbGTID(0, 100, 12), MariadbGTID(1, 200, 3))
    assert str(position) == "0-100-12,1-200-3"
    assert MariadbGTIDSet.parse(str(position)) == position


def test_empty_text_is_the_empty_position():
    assert MariadbGTIDSet.parse("") == MariadbGTIDSet()
    assert str(MariadbGTIDSet()) == ""


def test_whitespace_and_newlines_between_gtids_are_ignored():
    assert str(MariadbGTIDSet.parse(" 0-1-5,\n2-3-4 ")) == "0-1-5,2-3-4"


@pytest.mark.parametrize(
    "text", ["0-1", "a-1-2", "0-1-2-3", "0--2", "-1-1-1", "0-4294967296-1", "0-1-2,0-1-3"]
)
def test_malformed_positions_are_rejected(text):
    with pytest.raises(InvalidArgument):
        MariadbGTIDSet.parse(text)


def test_equality_ignores_text_order_but_not_values():
    assert MariadbGTIDSet.parse("0-1-5,1-1-2") == MariadbGTIDSet.parse("1-1-2,0-1-5")
    assert MariadbGTIDSet.parse("0-1-5") != MariadbGTIDSet.parse("0-1-6")
    assert MariadbGTIDSet.parse("0-1-5") != MariadbGTIDSet.parse("0-2-5")


def test_contains_compares_sequence_per_domain():
    position = MariadbGTIDSet.parse("0-100-12,1-200-3")
    assert position.contains(MariadbGTIDSet.parse("0-100-12"))
    assert position.contains(MariadbGTIDSet.parse("0-101-11,1-200-3"))
    assert position.contains(MariadbGTIDSet())
    assert not position.contains(MariadbGTIDSet.parse("0-100-13"))
    assert not position.contains(MariadbGTIDSet.parse("2-100-1"))
    assert not MariadbGTIDSet().contains(position)


def test_sequence_of_a_domain():
    position = MariadbGTIDSet.parse("0-100-12,1-200-3")
    assert position.sequence(1) == 3
    assert position.sequence(5) is None
