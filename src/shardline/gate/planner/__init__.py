"""SQL -> plan: normalization, parsing on a plan-cache miss, and plan building.

The executor's per-statement path: ``classify(sql)`` decides who handles the statement; for SELECT and DML,
``normalize(sql)`` gives the plan-cache key and bind variables, ``PlanCache`` holds plans, and on a miss
``build_plan(normalized, vschema, keyspace=...)`` parses and plans.
"""

from shardline.gate.planner.builder import build_plan
from shardline.gate.planner.cache import PlanCache
from shardline.gate.planner.classify import StatementKind, classify
from shardline.gate.planner.normalize import normalize
from shardline.gate.planner.plan import Plan

__all__ = ["Plan", "PlanCache", "StatementKind", "build_plan", "classify", "normalize"]
