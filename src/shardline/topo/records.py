"""The records stored in topo, as JSON values: keyspaces, shards, tablets, cells and the per-cell serving graph.
Each record has ``to_json()`` (a JSON-ready dict) and ``from_json(dict)``."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from shardline.errors import InvalidArgument
from shardline.key import KeyRange

NAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,64}")
MAX_TABLET_UID = 2**32 - 1
DURABILITY_POLICIES = ("none", "semi_sync", "cross_cell")


def check_name(kind: str, name: str) -> None:
    """Raises InvalidArgument unless ``name`` is a valid cell or keyspace name (letters, digits, underscore)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidArgument(f"invalid {kind} name {name!r}: use 1-64 letters, digits or underscores")


@dataclass(frozen=True, order=True, slots=True)
class TabletAlias:
    """A tablet's identity: its cell and a uid unique in that cell; printed ``zone1-0000000100``."""

    cell: str
    uid: int

    def __str__(self) -> str:
        return f"{self.cell}-{self.uid:010d}"

    @classmethod
    def parse(cls, text: str) -> TabletAlias:
        """Parses ``zone1-0000000100`` or ``zone1-100``."""
        cell, sep, uid = text.rpartition("-")
        if not sep or not NAME_PATTERN.fullmatch(cell) or not uid.isdigit() or int(uid) > MAX_TABLET_UID:
            raise InvalidArgument(
                f"invalid tablet alias {text!r}: expected '<cell>-<uid>', e.g. 'zone1-0000000100'"
            )
        return cls(cell, int(uid))

    def to_json(self) -> dict[str, Any]:
        return {"cell": self.cell, "uid": self.uid}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TabletAlias:
        return cls(data["cell"], int(data["uid"]))


class TabletType(enum.StrEnum):
    """What a tablet is for; PRIMARY takes writes, REPLICA and RDONLY serve reads."""

    PRIMARY = "PRIMARY"
    REPLICA = "REPLICA"
    RDONLY = "RDONLY"
    SPARE = "SPARE"
    BACKUP = "BACKUP"
    RESTORE = "RESTORE"
    DRAINED = "DRAINED"

    @classmethod
    def parse(cls, text: str) -> TabletType:
        """Parses a tablet type name in any case."""
        try:
            return cls(text.upper())
        except (ValueError, AttributeError):
            names = ", ".join(member.value for member in cls)
            raise InvalidArgument(f"invalid tablet type {text!r}: expected one of {names}") from None


SERVING_TABLET_TYPES = (TabletType.PRIMARY, TabletType.REPLICA, TabletType.RDONLY)


def _optional_alias(data: dict[str, Any] | None) -> TabletAlias | None:
    return TabletAlias.from_json(data) if data else None


@dataclass(frozen=True, slots=True)
class Keyspace:
    """A logical database, split into shards."""

    name: str
    durability_policy: str = "none"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "durability_policy": self.durability_policy}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Keyspace:
        return cls(data["name"], data.get("durability_policy", "none"))


@dataclass(frozen=True, slots=True)
class Shard:
    """A shard of a keyspace: its key range, its current primary, and whether it serves queries."""

    keyspace: str
    name: str
    key_range: KeyRange
    primary_alias: TabletAlias | None = None
    primary_term_start_time: float | None = None
    is_primary_serving: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "keyspace": self.keyspace,
            "name": self.name,
            "key_range": self.key_range.to_json(),
            "primary_alias": self.primary_alias.to_json() if self.primary_alias else None,
            "primary_term_start_time": self.primary_term_start_time,
            "is_primary_serving": self.is_primary_serving,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shard:
        return cls(
            keyspace=data["keyspace"],
            name=data["name"],
            key_range=KeyRange.from_json(data["key_range"]),
            primary_alias=_optional_alias(data.get("primary_alias")),
            primary_term_start_time=data.get("primary_term_start_time"),
            is_primary_serving=bool(data.get("is_primary_serving", True)),
        )


@dataclass(frozen=True, slots=True)
class Tablet:
    """A tablet as published by its agent: where its MariaDB and its agent listen, and what it serves.

    ``mysql_socket`` is MariaDB's Unix socket on the tablet's machine ('' if unknown): clients on that machine
    (a ``mysql_host`` on loopback) may use it instead of TCP.
    """

    alias: TabletAlias
    hostname: str
    mysql_host: str
    mysql_port: int
    port: int
    keyspace: str
    shard: str
    key_range: KeyRange
    type: TabletType
    db_name: str
    primary_term_start_time: float | None = None
    mysql_socket: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias.to_json(),
            "hostname": self.hostname,
            "mysql_host": self.mysql_host,
            "mysql_port": self.mysql_port,
            "port": self.port,
            "keyspace": self.keyspace,
            "shard": self.shard,
            "key_range": self.key_range.to_json(),
            "type": self.type.value,
            "db_name": self.db_name,
            "primary_term_start_time": self.primary_term_start_time,
            "mysql_socket": self.mysql_socket,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tablet:
        return cls(
            alias=TabletAlias.from_json(data["alias"]),
            hostname=data["hostname"],
            mysql_host=data["mysql_host"],
            mysql_port=int(data["mysql_port"]),
            port=int(data["port"]),
            keyspace=data["keyspace"],
            shard=data["shard"],
            key_range=KeyRange.from_json(data["key_range"]),
            type=TabletType(data["type"]),
            db_name=data["db_name"],
            primary_term_start_time=data.get("primary_term_start_time"),
            mysql_socket=data.get("mysql_socket", ""),
        )


@dataclass(frozen=True, slots=True)
class CellInfo:
    """A cell: where its topo data lives (empty ``server_address``: the global backend) and under which root."""

    name: str
    server_address: str = ""
    root: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "server_address": self.server_address, "root": self.root}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellInfo:
        return cls(data["name"], data.get("server_address", ""), data.get("root", ""))


@dataclass(frozen=True, slots=True)
class ShardReference:
    """A serving shard as a gate sees it: its name and key range."""

    name: str
    key_range: KeyRange

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "key_range": self.key_range.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardReference:
        return cls(data["name"], KeyRange.from_json(data["key_range"]))


@dataclass(frozen=True, slots=True)
class SrvKeyspace:
    """A keyspace's serving graph in one cell: for each tablet type, the shards that serve it, by key range."""

    partitions: dict[TabletType, list[ShardReference]]

    def to_json(self) -> dict[str, Any]:
        return {
            "partitions": {
                tablet_type.value: [ref.to_json() for ref in refs]
                for tablet_type, refs in self.partitions.items()
            }
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SrvKeyspace:
        return cls(
            {
                TabletType(tablet_type): [ShardReference.from_json(ref) for ref in refs]
                for tablet_type, refs in data["partitions"].items()
            }
        )


@dataclass(frozen=True, slots=True)
class SrvVSchema:
    """Every keyspace's VSchema (as Vitess writes it in JSON) for the gates of one cell."""

    keyspaces: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"keyspaces": self.keyspaces}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SrvVSchema:
        return cls(dict(data["keyspaces"]))
