"""The gate's Prometheus metrics: query counts and latency histograms per plan type and per shard."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Sub-millisecond resolution matters: a point select through the gate takes a few hundred microseconds.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)


class GateMetrics:
    """One gate's metrics in its own registry, so several gates can live in one test process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queries = Counter(
            "shardline_gate_queries", "Queries executed, by plan type and keyspace.",
            ["plan", "keyspace"], registry=self.registry,
        )
        self.query_errors = Counter(
            "shardline_gate_query_errors", "Queries that ended in an error, by MySQL error code.",
            ["code"], registry=self.registry,
        )
        self.query_seconds = Histogram(
            "shardline_gate_query_seconds", "Query latency at the gate, by plan type.",
            ["plan"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.shard_query_seconds = Histogram(
            "shardline_gate_shard_query_seconds", "Latency of the queries the gate sends to each shard.",
            ["keyspace", "shard", "tablet_type"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self._children: dict[tuple, object] = {}

    def observe_query(self, plan: str, keyspace: str, seconds: float) -> None:
        key = ("q", plan, keyspace)
        children = self._children.get(key)
        if children is None:
            children = (self.queries.labels(plan, keyspace), self.query_seconds.labels(plan))
            self._children[key] = children
        children[0].inc()  # type: ignore[index]
        children[1].observe(seconds)  # type: ignore[index]

    def observe_shard_query(self, keyspace: str, shard: str, tablet_type: str, seconds: float) -> None:
        key = ("s", keyspace, shard, tablet_type)
        child = self._children.get(key)
        if child is None:
            child = self.shard_query_seconds.labels(keyspace, shard, tablet_type)
            self._children[key] = child
        child.observe(seconds)  # type: ignore[attr-defined]

    def count_error(self, code: int) -> None:
        self.query_errors.labels(str(code)).inc()
