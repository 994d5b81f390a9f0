"""What a local cluster runs and where: keyspaces, shards, tablet uids and every port, from a few options.

Ports follow docs/architecture.md for the default base 15000 (gate MySQL 15306, gate HTTP 15001, ctld 15999,
failover agent 15998,
tablet uid N: agent HTTP 15000+N, MariaDB 17000+N); another base shifts them all by the same amount.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shardline.errors import FailedPrecondition, InvalidArgument

CELL = "zone1"
DEFAULT_SHARDS = 2
DEFAULT_REPLICAS = 1
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

    @classmethod
    def resolve(
        cls, root: Path, shards: int | None, replicas: int | None, port_base: int | None
    ) -> ClusterLayout:
        """The layout of the cluster in ``root``: the options it was created with (given options must match
        them), or for a new root the given options and defaults."""
        saved = cls.load(root)
        if saved is None:
            return cls(
                root.resolve(),
                DEFAULT_SHARDS if shards is None else shards,
                DEFAULT_REPLICAS if replicas is None else replicas,
                DEFAULT_PORT_BASE if port_base is None else port_base,
            )
        for option, given, kept in (
            ("--shards", shards, saved.shards),
            ("--replicas", replicas, saved.replicas),
            ("--port-base", port_base, saved.port_base),
        ):
            if given is not None and given != kept:
                raise FailedPrecondition(
                    f"the cluster in {root} was created with {option} {kept}; leave {option} out, "
                    "or use another --root"
                )
        return saved

    @classmethod
    def load(cls, root: Path) -> ClusterLayout | None:
        """The layout saved in ``root`` by :meth:`save`, or None if there is no cluster there."""
        try:
            data = json.loads((root / "cluster.json").read_text())
            return cls(root.resolve(), int(data["shards"]), int(data["replicas"]), int(data["port_base"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise FailedPrecondition(f"{root / 'cluster.json'} is damaged: {exc!r}") from None

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"shards": self.shards, "replicas": self.replicas, "port_base": self.port_base}
        (self.root / "cluster.json").write_text(json.dumps(data) + "\n")

    @property
    def cell(self) -> str:
        return CELL

    @property
    def durability_policy(self) -> str:
        """Semi-sync when every shard has a replica to acknowledge; none otherwise."""
        return "semi_sync" if self.replicas > 0 else "none"

    @property
    def topo_spec(self) -> str:
        return f"embedded:{self.root / 'topo.db'}"

    @property
    def ctld_port(self) -> int:
        return self.port_base + 999

    @property
    def orc_port(self) -> int:
        return self.port_base + 998

    @property
    def gate_port(self) -> int:
        return self.port_base + 306

    @property
    def gate_http_port(self) -> int:
        return self.port_base + 1

    @property
    def gate_socket(self) -> Path:
        """The gate's Unix socket, for MySQL clients on this machine."""
        return self.root / "gate.sock"

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
