"""Where a route sends its query: the variant (Vitess's route opcode) and the vindex values that pick shards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shardline.errors import InvalidArgument, NotFound
from shardline.gate.engine.base import Primitive
from shardline.gate.engine.evalengine import Env, Expr
from shardline.key import KeyRange
from shardline.vindexes.base import FunctionalVindex, LookupVindex, Vindex

if TYPE_CHECKING:
    from shardline.gate.engine.vcursor import ShardTarget, VCursor


class RouteVariant(StrEnum):
    """How a route picks its shards."""

    UNSHARDED = "Unsharded"  # the one shard of an unsharded keyspace
    EQUAL_UNIQUE = "EqualUnique"  # a unique vindex value: at most one shard
    EQUAL = "Equal"  # a non-unique vindex value: the shards its keyspace ids live on
    IN = "IN"  # several vindex values: the shards of each
    SCATTER = "Scatter"  # every shard
    REFERENCE = "Reference"  # a reference table: any one shard
    BY_DESTINATION = "ByDestination"  # the shard the session targets (``USE ks:shard``)
    NONE = "None"  # no shard can hold a matching row


@dataclass(frozen=True, slots=True)
class Destination:
    """A shard to run on; for IN routes, the values of the IN list that belong to it."""

    shard: ShardTarget
    in_values: list[Any] | None = None


@dataclass(frozen=True)
class Routing:
    """The routing part of a route. ``values``: one expression for Equal/EqualUnique; for IN, one expression per
    list item (an item may evaluate to a list, e.g. a ``::list`` bind variable or a pulled-out subquery)."""

    variant: RouteVariant
    keyspace: str
    vindex: Vindex | None = None
    values: tuple[Expr, ...] = ()
    shard: str = ""

    async def destinations(self, vcursor: VCursor, bind_vars: dict[str, Any]) -> list[Destination]:
        """The shards to run on (possibly none)."""
        variant = self.variant
        if variant is RouteVariant.EQUAL_UNIQUE or variant is RouteVariant.EQUAL:
            value = self.values[0].evaluate(Env(bind_vars))
            vindex = self.vindex
            if isinstance(vindex, FunctionalVindex):
                destination = vindex.map((value,))[0]
            else:
                destination = (await map_values(vindex, vcursor, [value]))[0]
            if type(destination) is bytes:
                return [Destination(vcursor.shard_for_keyspace_id(self.keyspace, destination))]
            return [Destination(s) for s in self._shards_of(vcursor, destination)]
        if variant is RouteVariant.IN:
            env = Env(bind_vars)
            values = [v for e in self.values for v in _items(e.evaluate(env))]
            return await self._in_destinations(vcursor, values)
        if variant is RouteVariant.NONE:
            return []
        shards = vcursor.shards(self.keyspace)
        if variant is RouteVariant.BY_DESTINATION:
            for target in shards:
                if target.name == self.shard:
                    return [Destination(target)]
            raise NotFound(f"no serving shard '{self.keyspace}/{self.shard}'", code=1105)
        if not shards:
            raise NotFound(f"no serving shard for keyspace '{self.keyspace}'", code=1105)
        return [Destination(s) for s in (shards if variant is RouteVariant.SCATTER else shards[:1])]

    async def _in_destinations(self, vcursor: VCursor, values: list[Any]) -> list[Destination]:
        by_shard: dict[str, tuple[ShardTarget, list[Any]]] = {}
        for value, destination in zip(values, await map_values(self.vindex, vcursor, values), strict=True):
            for shard in self._shards_of(vcursor, destination):
                by_shard.setdefault(shard.name, (shard, []))[1].append(value)
        order = {s.name: i for i, s in enumerate(vcursor.shards(self.keyspace))}
        return [
            Destination(shard, in_values)
            for shard, in_values in sorted(by_shard.values(), key=lambda item: order.get(item[0].name, 0))
        ]

    def _shards_of(self, vcursor: VCursor, destination: Any) -> list[ShardTarget]:
        if destination is None:
            return []
        if isinstance(destination, KeyRange):
            return [s for s in vcursor.shards(self.keyspace) if s.key_range.intersects(destination)]
        if isinstance(destination, bytes):
            return [vcursor.shard_for_keyspace_id(self.keyspace, destination)]
        seen: dict[str, ShardTarget] = {}
        for keyspace_id in destination:
            shard = vcursor.shard_for_keyspace_id(self.keyspace, keyspace_id)
            seen.setdefault(shard.name, shard)
        return list(seen.values())

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Variant": self.variant.value, "Keyspace": self.keyspace}
        if self.vindex is not None:
            out["Vindex"] = self.vindex.name
        if self.values:
            out["Values"] = [str(v) for v in self.values]
        if self.shard:
            out["TargetDestination"] = self.shard
        return out


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


async def map_values(vindex: Vindex | None, vcursor: VCursor, values: Sequence[Any]) -> list[Any]:
    """Each value's destination from the vindex: keyspace id bytes, a list of them, a KeyRange, or None."""
    if isinstance(vindex, FunctionalVindex):
        return list(vindex.map(values))
    if isinstance(vindex, LookupVindex):
        return list(await vindex.map(vcursor, values))
    raise InvalidArgument(f"route needs a vindex to map values, got {vindex!r}")


class RoutedPrimitive(Primitive):
    """A primitive whose shards a :class:`Routing` picks (Route, DML): its variant, keyspace and plan type."""

    routing: Routing

    @property
    def variant(self) -> RouteVariant:
        return self.routing.variant

    @property
    def keyspace(self) -> str:
        return self.routing.keyspace

    @property
    def plan_type(self) -> str:
        return self.variant.value
