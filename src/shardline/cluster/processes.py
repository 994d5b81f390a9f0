"""The processes of a local cluster: one tablet agent per tablet (each owning its MariaDB), ctld, and the gate
when this installation has one."""

from __future__ import annotations

from dataclasses import dataclass

from shardline.cluster.layout import ClusterLayout, TabletPlan
from shardline.cluster.procs import ProcessSlot
from shardline.mysqlctl.instance import MysqlInstance, tablet_instance


@dataclass(frozen=True)
class ClusterProcess:
    """A ``shardline`` subcommand run detached, and the ports it (or the MariaDB it owns) listens on."""

    slot: ProcessSlot
    args: tuple[str, ...]
    ports: tuple[tuple[int, str], ...]
    tablet: TabletPlan | None = None

    @property
    def name(self) -> str:
        return self.slot.name


def cluster_processes(layout: ClusterLayout) -> list[ClusterProcess]:
    """Tablets in uid order, then ctld, the gate and the failover agent: the order of start; stop is reversed."""
    topo = ("--topo", layout.topo_spec)
    processes = [
        ClusterProcess(
            ProcessSlot(layout.root, f"tablet-{plan.alias}"),
            (
                "tablet",
                *topo,
                "--alias", plan.alias,
                "--keyspace", plan.keyspace,
                "--shard", plan.shard,
                "--type", "replica",
                "--mysql-port", str(plan.mysql_port),
                "--port", str(plan.port),
                "--root", str(layout.root),
            ),  # fmt: skip
            ((plan.port, f"tablet {plan.alias} agent"), (plan.mysql_port, f"tablet {plan.alias} MariaDB")),
            plan,
        )
        for plan in layout.tablets
    ]
    processes.append(
        ClusterProcess(
            ProcessSlot(layout.root, "ctld"),
            ("ctld", *topo, "--port", str(layout.ctld_port)),
            ((layout.ctld_port, "ctld"),),
        )
    )
    processes.append(
        ClusterProcess(
            ProcessSlot(layout.root, "gate"),
            (
                "gate",
                *topo,
                "--cell", layout.cell,
                "--port", str(layout.gate_port),
                "--http-port", str(layout.gate_http_port),
                "--socket", str(layout.gate_socket),
            ),  # fmt: skip
            ((layout.gate_port, "gate MySQL"), (layout.gate_http_port, "gate HTTP")),
        )
    )
    processes.append(
        ClusterProcess(
            ProcessSlot(layout.root, "orc"),
            ("orc", *topo, "--cell", layout.cell, "--port", str(layout.orc_port)),
            ((layout.orc_port, "failover agent HTTP"),),
        )
    )
    return processes


def tablet_mysql(layout: ClusterLayout, plan: TabletPlan) -> MysqlInstance:
    """The MariaDB instance a cluster tablet owns."""
    return tablet_instance(layout.root, plan.uid, plan.mysql_port)
