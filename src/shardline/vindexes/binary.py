"""``binary``: the keyspace id is the value's bytes themselves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shardline.vindexes.base import FunctionalVindex
from shardline.vindexes.convert import to_bytes


class Binary(FunctionalVindex):
    """Identity: the value's bytes are its keyspace id."""

    type_name = "binary"
    cost = 0

    def map(self, values: Sequence[Any]) -> list[bytes | None]:
        return [to_bytes(value) for value in values]
