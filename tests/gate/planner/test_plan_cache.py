"""The plan cache: keyed by normalized text, target and VSchema version; least recently used plans go first."""

from __future__ import annotations

import pytest

from shardline.errors import InvalidArgument
from shardline.gate.planner import PlanCache, build_plan, normalize
from shardline.vindexes.vschema import VSchema

VSCHEMA = VSchema.from_json({"commerce": {"tables": {"product": {}}}})


def plan_of(sql: str):
    return build_plan(normalize(sql)[0], VSCHEMA, keyspace="commerce")


def test_statements_that_differ_only_in_literals_hit_the_same_plan():
    cache = PlanCache(10)
    first, _ = normalize("SELECT * FROM product WHERE sku = 'a'")
    cache.put(PlanCache.key(first, "commerce", 1), plan_of("SELECT * FROM product WHERE sku = 'a'"))
    second, _ = normalize("SELECT * FROM product WHERE sku = 'b'")
    assert cache.get(PlanCache.key(second, "commerce", 1)) is not None
    assert cache.get(PlanCache.key(second, "commerce@replica", 1)) is None
    assert cache.get(PlanCache.key(second, "commerce", 2)) is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_plan_is_evicted():
    cache = PlanCache(2)
    keys = [PlanCache.key(f"SELECT {i} FROM product", "commerce", 1) for i in range(3)]
    for key in keys[:2]:
        cache.put(key, plan_of(key[0]))
    assert cache.get(keys[0]) is not None  # keys[1] is now the least recently used
    cache.put(keys[2], plan_of(keys[2][0]))
    assert len(cache) == 2
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None and cache.get(keys[2]) is not None
    cache.clear()
    assert len(cache) == 0


def test_capacity_must_be_positive():
    with pytest.raises(InvalidArgument):
        PlanCache(0)
