"""Key ranges as Vitess names them: a shard called ``-80`` holds keyspace ids in [0x, 0x80), ``80-`` holds
[0x80, end). A keyspace id is a byte string compared lexicographically; empty start/end means unbounded."""

from __future__ import annotations

from dataclasses import dataclass

from shardline.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class KeyRange:
    """A half-open interval [start, end) of keyspace ids; empty bytes mean unbounded on that side."""

    start: bytes = b""
    end: bytes = b""

    def contains(self, keyspace_id: bytes) -> bool:
        return self.start <= keyspace_id and (not self.end or keyspace_id < self.end)

    def intersects(self, other: KeyRange) -> bool:
        starts_before_other_ends = not other.end or self.start < other.end
        other_starts_before_self_ends = not self.end or other.start < self.end
        return starts_before_other_ends and other_starts_before_self_ends

    @property
    def is_full(self) -> bool:
        return not self.start and not self.end

    @property
    def name(self) -> str:
        """The shard name for this range: ``-80``, ``80-``, ``40-80``; ``-`` for the full range."""
        return f"{self.start.hex()}-{self.end.hex()}"

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.hex(), "end": self.end.hex()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> KeyRange:
        return cls(bytes.fromhex(data.get("start", "")), bytes.fromhex(data.get("end", "")))

    def __str__(self) -> str:
        return self.name


def parse_shard_name(name: str) -> KeyRange:
    """Parses a shard name into its key range; ``0`` and ``-`` name the whole key space (unsharded)."""
    if name in ("0", "-"):
        return KeyRange()
    if name.count("-") != 1:
        raise InvalidArgument(f"invalid shard name {name!r}: expected '<start>-<end>' in hex, e.g. '-80' or '80-'")
    start_hex, end_hex = name.split("-")
    try:
        start, end = bytes.fromhex(start_hex), bytes.fromhex(end_hex)
    except ValueError:
        raise InvalidArgument(f"invalid shard name {name!r}: bounds must be hex with an even number of digits") from None
    if end and start >= end:
        raise InvalidArgument(f"invalid shard name {name!r}: start must be below end")
    return KeyRange(start, end)


def check_partition(ranges: list[KeyRange]) -> None:
    """Raises InvalidArgument unless the ranges cover the whole key space without gap or overlap."""
    if not ranges:
        raise InvalidArgument("no shards: the key space is not covered")
    ordered = sorted(ranges, key=lambda r: r.start)
    if ordered[0].start:
        raise InvalidArgument(f"gap in key space before {ordered[0].name}")
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if not prev.end:
            raise InvalidArgument(f"shards {prev.name} and {cur.name} overlap")
        if cur.start < prev.end:
            raise InvalidArgument(f"shards {prev.name} and {cur.name} overlap")
        if cur.start > prev.end:
            raise InvalidArgument(f"gap in key space between {prev.name} and {cur.name}")
    if ordered[-1].end:
        raise InvalidArgument(f"gap in key space after {ordered[-1].name}")
