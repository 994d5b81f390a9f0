"""A shard as a reparent sees it once it holds the lock: the keyspace's durability policy, the Shard record
and the tablets, with the checks that a tablet named by the caller may be promoted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shardline.errors import FailedPrecondition, InvalidArgument, NotFound
from shardline.topo.records import Tablet, TabletAlias, TabletType
from shardline.topo.server import TopoServer


@dataclass(frozen=True)
class ShardInfo:
    keyspace: str
    shard: str
    durability_policy: str
    primary_alias: TabletAlias | None
    tablets: dict[TabletAlias, Tablet]

    @property
    def name(self) -> str:
        return f"{self.keyspace}/{self.shard}"

    @property
    def primary(self) -> Tablet | None:
        """The primary's tablet record; None if the shard has no primary or its record is gone."""
        return self.tablets.get(self.primary_alias) if self.primary_alias is not None else None

    def others(self, alias: TabletAlias | None) -> list[Tablet]:
        """Every tablet but ``alias``."""
        return [tablet for tablet in self.tablets.values() if tablet.alias != alias]


async def load_shard_info(
    ts: TopoServer, keyspace: str, shard: str, tablets: Iterable[Tablet] | None = None
) -> ShardInfo:
    """The shard's records; ``tablets``: its tablets in every cell if the caller has just read them."""
    record = await ts.get_shard(keyspace, shard)
    policy = (await ts.get_keyspace(keyspace)).durability_policy
    if tablets is None:
        tablets = await ts.get_tablets_by_shard(keyspace, shard)
    return ShardInfo(keyspace, shard, policy, record.primary_alias, {tablet.alias: tablet for tablet in tablets})


async def promotable_tablet(ts: TopoServer, info: ShardInfo, alias: TabletAlias) -> Tablet:
    """The tablet ``alias`` if it is a REPLICA of the shard; a clear error naming what it is otherwise."""
    tablet = info.tablets.get(alias)
    if tablet is None:
        try:
            other = await ts.get_tablet(alias)
        except NotFound:
            raise InvalidArgument(f"tablet {alias} does not exist") from None
        raise InvalidArgument(
            f"tablet {alias} belongs to shard {other.keyspace}/{other.shard}, not {info.name}"
        )
    if tablet.type != TabletType.REPLICA:
        raise FailedPrecondition(
            f"tablet {alias} is a {tablet.type.value} tablet; only a REPLICA can become the primary of {info.name}"
        )
    return tablet
