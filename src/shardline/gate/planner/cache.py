"""The plan cache: an LRU of plans keyed by normalized SQL, the session's target and the VSchema version."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from shardline.errors import InvalidArgument
from shardline.gate.planner.plan import Plan

PlanKey = tuple[str, str, Hashable]


class PlanCache:
    """At most ``capacity`` plans; the least recently used one goes first. Not thread-safe (one event loop)."""

    def __init__(self, capacity: int = 5000) -> None:
        if capacity < 1:
            raise InvalidArgument(f"plan cache capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._plans: OrderedDict[PlanKey, Plan] = OrderedDict()

    @staticmethod
    def key(normalized_sql: str, target: str, vschema_version: Hashable) -> PlanKey:
        """``target`` is the session's target as text (``ks``, ``ks@replica``, ``ks:-80``)."""
        return (normalized_sql, target, vschema_version)

    def get(self, key: PlanKey) -> Plan | None:
        """The cached plan, now the most recently used; None on a miss."""
        plan = self._plans.get(key)
        if plan is None:
            self.misses += 1
            return None
        self._plans.move_to_end(key)
        self.hits += 1
        return plan

    def put(self, key: PlanKey, plan: Plan) -> None:
        """Caches a plan, evicting the least recently used beyond capacity."""
        self._plans[key] = plan
        self._plans.move_to_end(key)
        if len(self._plans) > self.capacity:
            self._plans.popitem(last=False)

    def clear(self) -> None:
        self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)
