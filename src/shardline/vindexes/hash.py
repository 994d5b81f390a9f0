"""``hash``: Vitess's default vindex; the keyspace id is the value as a big-endian uint64, DES-encrypted with an
all-zero key (so ids spread evenly and the mapping is reversible)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

from Crypto.Cipher import DES

from shardline.vindexes.base import FunctionalVindex
from shardline.vindexes.convert import to_uint64

_CIPHER: Final = DES.new(bytes(8), DES.MODE_ECB)


@functools.lru_cache(maxsize=65536)
def _keyspace_id(number: int) -> bytes:
    """One DES block costs ~3 us through pycryptodome; hot keys are looked up instead."""
    return _CIPHER.encrypt(number.to_bytes(8, "big"))


class Hash(FunctionalVindex):
    """Integers (negative int64s as their uint64 two's complement) -> 8-byte DES block."""

    type_name = "hash"
    cost = 1

    def map(self, values: Sequence[Any]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for value in values:
            number = to_uint64(value, wrap_negative=True)
            out.append(None if number is None else _keyspace_id(number))
        return out
