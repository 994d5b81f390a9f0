"""``xxhash``: the keyspace id is the xxHash64 of the value's bytes, little-endian (as Vitess writes it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xxhash import xxh64_intdigest

from shardline.vindexes.base import FunctionalVindex
from shardline.vindexes.convert import to_bytes


class XXHash(FunctionalVindex):
    """Any value -> 8 bytes of xxHash64 over its text form (NULL hashes as the empty string, like Vitess)."""

    type_name = "xxhash"
    cost = 1

    def map(self, values: Sequence[Any]) -> list[bytes | None]:
        return [xxh64_intdigest(to_bytes(value)).to_bytes(8, "little") for value in values]
