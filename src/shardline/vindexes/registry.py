"""Vindex types by their VSchema ``type`` name, and the factory that configures one."""

from __future__ import annotations

from collections.abc import Mapping

from shardline.errors import InvalidArgument
from shardline.vindexes.base import Vindex
from shardline.vindexes.binary import Binary
from shardline.vindexes.binary_md5 import BinaryMD5
from shardline.vindexes.consistent_lookup import ConsistentLookup, ConsistentLookupUnique
from shardline.vindexes.hash import Hash
from shardline.vindexes.lookup import Lookup, LookupUnique
from shardline.vindexes.numeric import Numeric
from shardline.vindexes.unicode_loose_md5 import UnicodeLooseMD5
from shardline.vindexes.xxhash import XXHash

VINDEX_TYPES: dict[str, type[Vindex]] = {
    cls.type_name: cls
    for cls in (
        Hash,
        XXHash,
        Binary,
        BinaryMD5,
        Numeric,
        UnicodeLooseMD5,
        Lookup,
        LookupUnique,
        ConsistentLookup,
        ConsistentLookupUnique,
    )
}


def create_vindex(type_name: str, name: str, params: Mapping[str, str] | None = None) -> Vindex:
    """A vindex of type ``type_name`` named ``name``; InvalidArgument for an unknown type or bad params."""
    cls = VINDEX_TYPES.get(type_name)
    if cls is None:
        known = ", ".join(sorted(VINDEX_TYPES))
        raise InvalidArgument(f"vindex '{name}': unknown vindex type '{type_name}'; known types: {known}")
    return cls(name, params or {})
