"""What a local cluster runs and where: keyspaces, shards, tablet uids and every port, from a few options.

Ports follow docs/architecture.md for the default base 15000 (gate MySQL 15306, gate HTTP 15001, ctld 15999,
tablet uid N: agent HTTP 15000+N, MariaDB 17000+N); another base shifts them all by the same amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shardline.errors import InvalidArgument

CELL = "zone1"
DEFAULT_PORT_BASE = 15000
MAX_SHARDS = 16
MAX_REPLICAS = 5  # uids k*100 + 0..5 stay clear of the gate's and ctld's port offsets
UNSHARDED_KEYSPACE = "commerce"
SHARDED_KEYSPACE = "customer"


@dataclass(frozen=True)
class TabletPlan:
    """One tablet of the cluster: its uid, shard and ports."""

    uid: int
    keyspace: str
    shard: str
    port: int
    mysql_port: int

    @property
    def alias(self) -> str:
        return f"{CELL}-{self.uid}"


@dataclass(frozen=True)
class ClusterLayout:
    """Everything ``shardline up`` starts, derived from the root directory, shard/replica counts and port base."""

    root: Path
    shards: int
    replicas: int
    port_base: int

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= MAX_SHARDS:
            raise InvalidArgument(f"--shards must be 1..{MAX_SHARDS}, got {self.shards}")
        if not 0 <= self.replicas <= MAX_REPLICAS:
            raise InvalidArgument(f"--replicas must be 0..{MAX_REPLICAS}, got {self.replicas}")
        highest = self.port_base + 2000 + (self.shards + 2) * 100
        if self.port_base < 1024 or highest > 65535:
            raise InvalidArgument(f"--port-base {self.port_base} puts ports outside 1024..65535")

    @property
    def cell(self) -> str:
        return CELL

    @property
    def topo_spec(self) -> str:
        return f"embedded:{self.root / 'topo.db'}"

    @property
    def ctld_port(self) -> int:
        return self.port_base + 999

    @property
    def gate_port(self) -> int:
        return self.port_base + 306

    @property
    def gate_http_port(self) -> int:
        return self.port_base + 1

    @property
    def keyspace_shards(self) -> dict[str, list[str]]:
        """Shard names per keyspace: ``commerce`` unsharded, ``customer`` split evenly."""
        return {UNSHARDED_KEYSPACE: ["0"], SHARDED_KEYSPACE: even_shard_names(self.shards)}

    @property
    def tablets(self) -> list[TabletPlan]:
        """Tablets in uid order: 100.. for commerce/0, then 200.., 300.. for each customer shard."""
        plans = []
        shard_list = [(ks, shard) for ks, names in self.keyspace_shards.items() for shard in names]
        for index, (keyspace, shard) in enumerate(shard_list):
            for replica in range(self.replicas + 1):
                uid = (index + 1) * 100 + replica
                plans.append(
                    TabletPlan(uid, keyspace, shard, self.port_base + uid, self.port_base + 2000 + uid)
                )
        return plans


def even_shard_names(count: int) -> list[str]:
    """Names of ``count`` shards splitting the key space evenly: 2 -> ``-80``, ``80-``; 1 -> ``0``.

    Bounds are 1-byte hex when ``count`` divides 256 and 2-byte hex otherwise (3 -> ``-5555``, ...).
    """
    if count == 1:
        return ["0"]
    width = 1 if 256 % count == 0 else 2
    space = 256**width
    bounds = [""] + [format(i * space // count, f"0{2 * width}x") for i in range(1, count)] + [""]
    return [f"{start}-{end}" for start, end in zip(bounds, bounds[1:], strict=False)]
