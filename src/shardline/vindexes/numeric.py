"""``numeric``: the keyspace id is the unsigned integer value itself, as 8 big-endian bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shardline.vindexes.base import FunctionalVindex
from shardline.vindexes.convert import to_uint64


class Numeric(FunctionalVindex):
    """Unsigned integers -> big-endian uint64; negative or fractional values match no row."""

    type_name = "numeric"
    cost = 0

    def map(self, values: Sequence[Any]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for value in values:
            number = to_uint64(value, wrap_negative=False)
            out.append(None if number is None else number.to_bytes(8, "big"))
        return out
