"""The failover agent's Prometheus metrics, in their own registry (several agents can share a test process)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shardline.orc.analysis import Problem
from shardline.orc.recovery import RecoveryRecord

RECOVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class OrcMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tablets = Gauge("shardline_orc_tablets", "Tablets watched.", registry=self.registry)
        self.detected_problems = Gauge(
            "shardline_orc_detected_problems",
            "Problems seen in the latest analysis (1 while present).",
            ["analysis", "keyspace", "shard", "tablet"],
            registry=self.registry,
        )
        self.recoveries = Counter(
            "shardline_orc_recoveries",
            "Recoveries run, by result: success, failure, resolved (gone before acting), skipped (shard locked).",
            ["recovery", "keyspace", "shard", "result"],
            registry=self.registry,
        )
        self.recovery_seconds = Histogram(
            "shardline_orc_recovery_seconds",
            "Time from taking up a problem to the end of its recovery.",
            ["recovery"],
            buckets=RECOVERY_BUCKETS,
            registry=self.registry,
        )
        self._problem_labels: dict[tuple[str, str], set[tuple[str, str, str, str]]] = {}

    def set_problems(self, keyspace: str, shard: str, problems: Iterable[Problem]) -> None:
        """Replaces the shard's detected problems."""
        labels = {
            (problem.analysis.value, keyspace, shard, str(problem.tablet) if problem.tablet else "")
            for problem in problems
        }
        for gone in self._problem_labels.get((keyspace, shard), set()) - labels:
            self.detected_problems.remove(*gone)
        for present in labels:
            self.detected_problems.labels(*present).set(1)
        self._problem_labels[(keyspace, shard)] = labels

    def observe_recovery(self, record: RecoveryRecord) -> None:
        problem = record.problem
        recovery = problem.analysis.recovery.value if problem.analysis.recovery else ""
        self.recoveries.labels(recovery, problem.keyspace, problem.shard, record.result).inc()
        self.recovery_seconds.labels(recovery).observe(record.seconds)
