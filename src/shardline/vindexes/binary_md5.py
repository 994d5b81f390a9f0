"""``binary_md5``: the keyspace id is the MD5 digest of the value's bytes (case-sensitive)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from shardline.vindexes.base import FunctionalVindex
from shardline.vindexes.convert import to_bytes


class BinaryMD5(FunctionalVindex):
    """Any value -> 16-byte MD5 of its bytes."""

    type_name = "binary_md5"
    cost = 1

    def map(self, values: Sequence[Any]) -> list[bytes | None]:
        return [hashlib.md5(to_bytes(value)).digest() for value in values]
