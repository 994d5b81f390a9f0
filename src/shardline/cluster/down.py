"""``shardline down`` and ``shardline status``: stop the local cluster by its recorded PIDs (data is kept), and
list what runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shardline.cluster.layout import ClusterLayout
from shardline.cluster.processes import cluster_processes, tablet_mysql

STOP_TIMEOUT = 90.0  # a tablet agent stops its MariaDB before it exits


def down(layout: ClusterLayout) -> list[str]:
    """Stops the gate and ctld, then every tablet agent (each stops its MariaDB), then any MariaDB that
    outlived its agent. Returns the names of what was running."""
    processes = cluster_processes(layout)
    servers = [process for process in processes if process.tablet is None]
    tablets = [process for process in processes if process.tablet is not None]
    stopped = [process.name for process in reversed(servers) if process.slot.stop(STOP_TIMEOUT)]
    with ThreadPoolExecutor(max_workers=max(1, len(tablets))) as pool:
        agents = list(pool.map(lambda process: process.slot.stop(STOP_TIMEOUT), tablets))
        stopped += [process.name for process, was_running in zip(tablets, agents, strict=True) if was_running]
        instances = [tablet_mysql(layout, process.tablet) for process in tablets if process.tablet is not None]
        leftovers = [instance for instance in instances if instance.status().running]
        list(pool.map(lambda instance: instance.stop(), leftovers))
    stopped += [f"mariadbd {instance.base_dir.name}" for instance in leftovers]
    return stopped


@dataclass(frozen=True)
class ProcessStatus:
    """One process of the cluster: its PID if it runs, and where it listens."""

    name: str
    pid: int | None
    ports: tuple[int, ...]


def status(layout: ClusterLayout) -> list[ProcessStatus]:
    """Every process of the cluster, with each tablet's MariaDB after its agent."""
    rows = []
    for process in cluster_processes(layout):
        if process.tablet is None:
            rows.append(ProcessStatus(process.name, process.slot.running_pid(), tuple(p for p, _ in process.ports)))
            continue
        plan = process.tablet
        rows.append(ProcessStatus(process.name, process.slot.running_pid(), (plan.port,)))
        mysql = tablet_mysql(layout, plan)
        rows.append(ProcessStatus(f"  mariadbd {plan.alias}", mysql.status().pid, (plan.mysql_port,)))
    return rows
