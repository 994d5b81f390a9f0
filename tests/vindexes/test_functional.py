"""Functional vindexes give exactly Vitess's keyspace ids (vectors from Vitess's vindex tests)."""

from decimal import Decimal

import pytest

from shardline.errors import InvalidArgument
from shardline.vindexes.registry import VINDEX_TYPES, create_vindex

HASH_VECTORS = [
    (1, b"\x16k@\xb4J\xbaK\xd6"),
    (2, b'\x06\xe7\xea"\xce\x92p\x8f'),
    (3, b"N\xb1\x90\xc9\xa2\xfa\x16\x9c"),
    (4, b"\xd2\xfd\x88g\xd5\r-\xfe"),
    (5, b"p\xbb\x02<\x81\x0c\xa8z"),
    (6, b"\xf0\x98H\n\xc4\xc4\xbeq"),
]

XXHASH_VECTORS = [
    ("test1", "d01ab7e4d6978f0b"),
    ("test2", "87eb11714c0a0e89"),
    ("testaverylongvaluetomakesurethisworks", "81d8c38e0d850e6a"),
    (1, "d46405367612b4b7"),
    (None, "99e9d85137db46ef"),
    (-1, "d8e2a6a7c8c7623d"),
    (18446744073709551615, "477cfa8d6d8f1f8d"),
    (9223372036854775807, "b37eb01f7bffafd8"),
    (-9223372036854775808, "102c27ddb26a609e"),
]

BINARY_MD5_VECTORS = [
    (b"Test", b"\x0c\xbcf\x11\xf5T\x0b\xd0\x80\x9a8\x8d\xc9Za["),
    (b"TEST", b"\x03;\xd9K\x11h\xd7\xe4\xf0\xd6D\xc3\xc9^5\xbf"),
]


def test_hash_maps_integers_to_vitess_keyspace_ids():
    hash_vindex = create_vindex("hash", "h")
    values = [v for v, _ in HASH_VECTORS]
    assert hash_vindex.map(values) == [ksid for _, ksid in HASH_VECTORS]


def test_hash_maps_null_to_no_keyspace_id():
    assert create_vindex("hash", "h").map([1, None]) == [HASH_VECTORS[0][1], None]


def test_hash_wraps_negative_int64_to_uint64():
    hash_vindex = create_vindex("hash", "h")
    minus_one, max_uint64 = hash_vindex.map([-1, 2**64 - 1])
    assert minus_one == max_uint64
    assert hash_vindex.map([-(2**63) - 1, 2**64]) == [None, None]


def test_hash_takes_numeric_strings_as_mysql_compares_them():
    hash_vindex = create_vindex("hash", "h")
    one = HASH_VECTORS[0][1]
    assert hash_vindex.map(["1", b"1", " 1", "1abc", "1.0", "0.1e1", Decimal("1.00"), 1.0]) == [one] * 8
    assert hash_vindex.map(["-1"]) == hash_vindex.map([-1])
    assert hash_vindex.map(["abc"]) == hash_vindex.map([0])
    assert hash_vindex.map(["1.5", 1.5, Decimal("2.5"), float("nan")]) == [None] * 4


def test_hash_verify():
    hash_vindex = create_vindex("hash", "h")
    one = HASH_VECTORS[0][1]
    assert hash_vindex.verify([1, 2, None], [one, one, one]) == [True, False, False]


def test_xxhash_matches_vitess_vectors():
    xxhash_vindex = create_vindex("xxhash", "x")
    values = [v for v, _ in XXHASH_VECTORS]
    assert [ksid.hex() for ksid in xxhash_vindex.map(values)] == [h for _, h in XXHASH_VECTORS]


def test_xxhash_verify_on_bytes_of_a_hex_literal():
    xxhash_vindex = create_vindex("xxhash", "x")
    one = bytes.fromhex("d46405367612b4b7")
    ksid = xxhash_vindex.map([bytes.fromhex("9efa")])[0]
    assert xxhash_vindex.verify([1, 2, bytes.fromhex("9efa")], [one, one, ksid]) == [True, False, True]


def test_binary_md5_matches_vitess_vectors_and_is_case_sensitive():
    md5_vindex = create_vindex("binary_md5", "m")
    assert md5_vindex.map([v for v, _ in BINARY_MD5_VECTORS]) == [k for _, k in BINARY_MD5_VECTORS]
    assert md5_vindex.map(["Test"]) == [BINARY_MD5_VECTORS[0][1]]
    test_ksid = BINARY_MD5_VECTORS[0][1]
    assert md5_vindex.verify([b"Test", b"TEst"], [test_ksid, test_ksid]) == [True, False]


def test_numeric_is_big_endian_uint64():
    numeric = create_vindex("numeric", "n")
    got = numeric.map([1, 2, 3, 1.1, 4, 8, 2**64 - 1, -1, "7"])
    assert got == [
        b"\x00\x00\x00\x00\x00\x00\x00\x01",
        b"\x00\x00\x00\x00\x00\x00\x00\x02",
        b"\x00\x00\x00\x00\x00\x00\x00\x03",
        None,
        b"\x00\x00\x00\x00\x00\x00\x00\x04",
        b"\x00\x00\x00\x00\x00\x00\x00\x08",
        b"\xff" * 8,
        None,
        b"\x00\x00\x00\x00\x00\x00\x00\x07",
    ]
    one = b"\x00\x00\x00\x00\x00\x00\x00\x01"
    assert numeric.verify([1, 2], [one, one]) == [True, False]


def test_binary_is_identity():
    binary = create_vindex("binary", "b")
    assert binary.map([b"\x01\x02", "abc", 12]) == [b"\x01\x02", b"abc", b"12"]
    assert binary.verify([b"\x01", b"\x02"], [b"\x01", b"\x01"]) == [True, False]


@pytest.mark.parametrize(
    ("type_name", "cost"),
    [("hash", 1), ("xxhash", 1), ("binary", 0), ("binary_md5", 1), ("numeric", 0)],
)
def test_functional_vindex_properties(type_name, cost):
    vindex = create_vindex(type_name, "v")
    assert (vindex.name, vindex.type_name, vindex.cost) == ("v", type_name, cost)
    assert vindex.unique and not vindex.needs_vcursor
    assert vindex.params == {}


def test_unknown_vindex_type_is_named_with_the_known_types():
    with pytest.raises(InvalidArgument) as err:
        create_vindex("hashh", "v")
    assert "unknown vindex type 'hashh'" in str(err.value)
    for known in VINDEX_TYPES:
        assert known in str(err.value)


def test_unknown_param_is_rejected():
    with pytest.raises(InvalidArgument, match="unknown param 'hello'"):
        create_vindex("xxhash", "v", {"hello": "world"})
