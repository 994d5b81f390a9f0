"""sysbench against direct MariaDB and through the gate, unsharded and on two shards, all in one run.

Brings up a local cluster with ``shardline up`` (2 shards, no replicas, ports shifted by --port-base), loads
``sbtest1`` through the gate into ``commerce`` (unsharded) and ``customer`` (sharded by ``hash(id)``), then runs
oltp_point_select and oltp_read_only, with server-side prepared statements (``--db-ps-mode=auto``) and without
(``disable``), at the same concurrency against (a) the MariaDB of the commerce primary, (b) the gate on
``commerce``, (c) the gate on ``customer``, (d) ``benchmarks/byte_forwarder.py`` in front of (a): a relay
that only copies bytes, the floor of any Python relay here, and (e) ``socat`` in front of (a): a relay in C, one
process per connection, the floor of any relay here. Last, point selects at half of the gate's peak QPS
(``--rate``) give the p99 latency the gate adds, as sysbench sees it and, with one more run per target captured
by tcpdump, on the wire. Prints a Markdown table; --json also writes the numbers as JSON.

    .venv/bin/python benchmarks/sysbench_gate.py [--time 10] [--threads 8] [--table-size 10000] [--root DIR] \\
        [--keep] [--json FILE] [--forwarder-port 21506] [--no-forwarder] [--socat-port 21507] [--no-socat] \\
        [--peak-rounds 3] [--half-load-runs 3] [--no-wire]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wire_latency import WireCapture, tcpdump_missing
from wire_latency import percentile as value_percentile

from shardline.cluster.layout import SHARDED_KEYSPACE, UNSHARDED_KEYSPACE, ClusterLayout
from shardline.mysqlctl.users import APP

TESTS = ("oltp_point_select", "oltp_read_only")
PS_MODES = ("auto", "disable")
DIRECT = "direct"
FORWARDER = "forwarder"  # benchmarks/byte_forwarder.py in front of the direct MariaDB
SOCAT = "socat"  # socat in front of the direct MariaDB
SHARDS = 2
TABLE = "sbtest1"
WARMUP_SECONDS = 2
MAX_ERROR_CHARS = 300  # sysbench quotes whole statements (a prepare INSERT holds 100 rows)
STARTUP_TIMEOUT = 120.0
REPO = Path(__file__).resolve().parent.parent
GATE_USER = "root"  # the local cluster's gate runs without --users: root, no password

_QPS = re.compile(r"queries:\s+\d+\s+\(([\d.]+) per sec")
_BUCKET = re.compile(r"^\s*([\d.]+) \|[* ]*\s(\d+)$", re.MULTILINE)
_ERROR_CODE = re.compile(r"error:? \d+", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """A MySQL endpoint sysbench runs against; ``pid``: the relay process whose CPU use (its own and its ended
    children's) is measured (the gate, the byte forwarder, socat), None for MariaDB itself."""

    name: str
    port: int
    user: str
    password: str
    database: str
    pid: int | None = None
    socket: str = ""  # a Unix socket sysbench connects to instead of 127.0.0.1:port

    def options(self) -> list[str]:
        where = [f"--mysql-socket={self.socket}"] if self.socket else [
            "--mysql-host=127.0.0.1", f"--mysql-port={self.port}"]
        return [
            "--db-driver=mysql", *where,
            f"--mysql-user={self.user}", f"--mysql-password={self.password}", f"--mysql-db={self.database}",
        ]  # fmt: skip


@dataclass
class Result:
    """One sysbench run: its numbers, or the error that stopped it."""

    target: str
    test: str
    ps_mode: str
    rate: int = 0
    round: int = 0  # of a peak's rounds (--peak-rounds), whose ratios to direct pair runs of the same round
    qps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    relay_cpu: float | None = None
    relay_us_per_query: float | None = None
    error: str | None = None
    fatal_lines: list[str] = field(default_factory=list)


@dataclass
class Bench:
    """Settings of one benchmark run and the cluster it runs against."""

    time: int
    threads: int
    table_size: int
    layout: ClusterLayout
    half_load_runs: int = 3
    peak_rounds: int = 3  # of the point select peaks; other tests run once
    wire_dir: Path | None = None  # where the half-load wire captures go; None: no captures
    results: list[Result] = field(default_factory=list)
    prepare_errors: dict[str, Result] = field(default_factory=dict)

    def sysbench(
        self, target: Target, test: str, command: str, extra: list[str], timeout: float
    ) -> tuple[int, str]:
        """Runs sysbench; returns its exit code and its stdout and stderr together (it logs FATAL to stdout)."""
        argv = [
            "sysbench",
            test,
            *target.options(),
            "--tables=1",
            f"--table-size={self.table_size}",
            *extra,
            command,
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            return -1, f"{out}\nFATAL: sysbench did not finish within {timeout:.0f} s (killed)"
        return done.returncode, done.stdout + done.stderr

    def prepare(self, target: Target) -> Result | None:
        """Creates and loads sbtest1 through ``target`` (ids 1..N, no AUTO_INCREMENT); a Result if it failed."""
        code, out = self.sysbench(target, "oltp_point_select", "prepare", ["--auto-inc=off"], 600)
        if code == 0 and "FATAL" not in out:
            return None
        return failure(Result(target.name, "prepare", "-"), code, out)

    def run(self, target: Target, test: str, ps_mode: str, rate: int = 0, round_: int = 0) -> Result:
        """One timed run (``rate`` > 0: at that many events a second); p50/p99 from sysbench's histogram."""
        extra = [
            f"--db-ps-mode={ps_mode}",
            f"--threads={self.threads}",
            f"--time={self.time}",
            "--histogram=on",
        ]
        if rate:
            extra.append(f"--rate={rate}")
        cpu_before = cpu_seconds(target.pid)
        started = time.monotonic()
        code, out = self.sysbench(target, test, "run", extra, self.time + 60)
        children_ended(target.pid)
        elapsed = time.monotonic() - started
        result = Result(target.name, test, ps_mode, rate, round_)
        cpu_after = cpu_seconds(target.pid)
        if cpu_before is not None and cpu_after is not None:
            result.relay_cpu = round((cpu_after - cpu_before) / elapsed, 2)
        qps = _QPS.search(out)
        if code != 0 or "FATAL" in out or qps is None:
            return failure(result, code, out)
        result.qps = float(qps.group(1))
        if result.relay_cpu is not None and result.qps:
            result.relay_us_per_query = round(result.relay_cpu / result.qps * 1e6, 1)
        buckets = [(float(value), int(count)) for value, count in _BUCKET.findall(out)]
        result.p50_ms = percentile(buckets, 50)
        result.p99_ms = percentile(buckets, 99)
        return result


def failure(result: Result, code: int, out: str) -> Result:
    """Fills in the first error line (one with a MySQL error code if there is one) and all FATAL lines."""
    fatal = list(dict.fromkeys(line.strip() for line in out.splitlines() if line.startswith("FATAL")))
    coded = [line for line in fatal if _ERROR_CODE.search(line)]
    last = [line.strip() for line in out.splitlines() if line.strip()][-1:]
    result.error = (coded or fatal or last or [f"sysbench exited with {code}"])[0][:MAX_ERROR_CHARS]
    result.fatal_lines = [line[:MAX_ERROR_CHARS] for line in fatal[:20]]
    return result


def percentile(buckets: list[tuple[float, int]], pct: float) -> float | None:
    """The smallest histogram value with at least ``pct`` % of the events at or below it."""
    total = sum(count for _, count in buckets)
    running = 0
    for value, count in buckets:
        running += count
        if running * 100 >= pct * total:
            return value
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds process ``pid`` and its ended (reaped) children have used, or None if there is
    no process or it cannot be read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children_ended(pid: int | None, timeout: float = 2.0) -> None:
    """Waits (a little) until process ``pid`` has no children left: socat's, one per connection, end just after
    sysbench closes its connections, and their CPU counts only once they are reaped."""
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline:
        try:
            if not Path(f"/proc/{pid}/task/{pid}/children").read_text().strip():
                return
        except OSError:
            return
        time.sleep(0.05)


def gate_pid(root: Path) -> int | None:
    try:
        return int((root / "pids" / "gate.pid").read_text())
    except (OSError, ValueError):
        return None


def shardline(*args: str, timeout: float = 300) -> str:
    """Runs the project's ``shardline`` command; raises SystemExit with its output if it fails."""
    argv = [str(Path(sys.executable).parent / "shardline"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[1:])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def ctl(layout: ClusterLayout, *args: str) -> Any:
    """A ``shardline ctl`` command against the cluster's ctld, its JSON output parsed."""
    out = shardline("ctl", "--server", f"127.0.0.1:{layout.ctld_port}", *args)
    return json.loads(out) if out.strip() else None


def gate_http(layout: ClusterLayout, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{layout.gate_http_port}{path}", timeout=5) as response:
        return json.load(response)


def wait_for(what: str, check: Callable[[], bool], timeout: float = STARTUP_TIMEOUT) -> None:
    """Polls ``check()`` until it returns true; exceptions count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def serving(layout: ClusterLayout) -> bool:
    """True once the gate serves a primary for every shard of both keyspaces."""
    keyspaces = gate_http(layout, "/debug/status")["keyspaces"]
    return all(
        sorted(keyspaces.get(ks, {}).get("primary", [])) == sorted(shards)
        for ks, shards in layout.keyspace_shards.items()
    )


def add_sbtest_to_vschemas(layout: ClusterLayout) -> None:
    """Drops any old sbtest1 and adds it to both keyspaces' VSchemas, sharded by ``hash(id)`` in customer.

    ApplyVSchema checks that vindex columns exist on every shard, so customer gets a stub ``sbtest1(id)`` for
    the check, dropped again after it: sysbench then creates and loads the table through the gate.
    """
    for keyspace in (UNSHARDED_KEYSPACE, SHARDED_KEYSPACE):
        sharded = keyspace == SHARDED_KEYSPACE
        stub = f"; CREATE TABLE {TABLE} (id INT NOT NULL PRIMARY KEY)" if sharded else ""
        ctl(layout, "ApplySchema", "--sql", f"DROP TABLE IF EXISTS {TABLE}{stub}", keyspace)
        vschema = ctl(layout, "GetVSchema", keyspace) or {}
        table: dict[str, Any] = {}
        if sharded:
            vschema["sharded"] = True
            vschema.setdefault("vindexes", {})["hash"] = {"type": "hash"}
            table = {"column_vindexes": [{"column": "id", "name": "hash"}]}
        vschema.setdefault("tables", {})[TABLE] = table
        ctl(layout, "ApplyVSchema", "--vschema", json.dumps(vschema), keyspace)
        if sharded:
            ctl(layout, "ApplySchema", "--sql", f"DROP TABLE {TABLE}", keyspace)

    def applied() -> bool:
        keyspaces = gate_http(layout, "/debug/vschema")
        return all(TABLE in keyspaces[ks].get("tables", {}) for ks in (UNSHARDED_KEYSPACE, SHARDED_KEYSPACE))

    wait_for("the gate to load the sbtest1 VSchema", applied, 30)


def commerce_primary(layout: ClusterLayout) -> dict[str, Any]:
    alias = ctl(layout, "GetShard", f"{UNSHARDED_KEYSPACE}/0")["primary_alias"]
    return ctl(layout, "GetTablet", f"{alias['cell']}-{alias['uid']}")


def direct_target(tablet: dict[str, Any], unix_socket: bool) -> Target:
    """The MariaDB of the commerce primary, as the gate's pools reach it (vt_app, database commerce)."""
    return Target(DIRECT, int(tablet["mysql_port"]), APP.user, APP.password, UNSHARDED_KEYSPACE,
                  socket=tablet["mysql_socket"] if unix_socket else "")


def start_forwarder(tablet: dict[str, Any], port: int) -> subprocess.Popen[bytes]:
    """benchmarks/byte_forwarder.py in front of the commerce primary, reaching it as the gate does."""
    backend = (["--unix-socket", tablet["mysql_socket"]] if tablet.get("mysql_socket")
               else ["--mysql-port", str(tablet["mysql_port"])])
    process = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "byte_forwarder.py"), "--port", str(port),
                                *backend])
    wait_for("the byte forwarder to listen", lambda: _listening(port), 30)
    return process


def start_socat(tablet: dict[str, Any], port: int) -> subprocess.Popen[bytes]:
    """socat in front of the commerce primary, reaching it as the gate does: a relay that costs next to no CPU,
    to tell the latency any extra hop adds on this machine from the latency the gate adds."""
    backend = (f"UNIX-CONNECT:{tablet['mysql_socket']}" if tablet.get("mysql_socket")
               else f"TCP:127.0.0.1:{tablet['mysql_port']},nodelay")
    process = subprocess.Popen(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay", backend])
    wait_for("socat to listen", lambda: _listening(port), 30)
    return process


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run_all(bench: Bench, targets: list[Target]) -> list[dict[str, Any]]:
    """Each test and ps mode against every target in turn, so background load hits all alike (point selects
    ``bench.peak_rounds`` rounds); right after the point select peaks of a ps mode, its half-load runs, while
    conditions are still alike."""
    for target in targets:
        bench.sysbench(target, "oltp_point_select", "run", ["--threads=2", f"--time={WARMUP_SECONDS}"], 60)
    ready = [t for t in targets if t.name not in bench.prepare_errors]
    half_load = []
    for test in TESTS:
        for ps_mode in PS_MODES:
            rounds = bench.peak_rounds if test == "oltp_point_select" else 1
            peaks: dict[str, list[Result]] = {t.name: [] for t in ready}
            for round_ in range(rounds):
                for target in ready:
                    result = report(bench.run(target, test, ps_mode, round_=round_))
                    bench.results.append(result)
                    peaks[target.name].append(result)
            if test == "oltp_point_select":
                half_load += run_half_load(bench, ready, ps_mode, peaks)
    return half_load


def run_half_load(
    bench: Bench, targets: list[Target], ps_mode: str, peaks: dict[str, list[Result]]
) -> list[dict[str, Any]]:
    """Point selects at half of the lower gate peak (the median of its rounds) against every target,
    ``bench.half_load_runs`` rounds (targets interleaved); the median p50 and p99 of each target and the p99 it
    adds to direct's median."""
    gate_peaks = [qps for name, results in peaks.items() if name.startswith("gate/")
                  for qps in [_medians(results)[0]] if qps]
    if not gate_peaks:
        return []
    rate = max(1, int(min(gate_peaks) / 2))
    runs: dict[str, list[Result]] = {t.name: [] for t in targets}
    for _ in range(bench.half_load_runs):
        for target in targets:
            result = report(bench.run(target, "oltp_point_select", ps_mode, rate))
            bench.results.append(result)
            runs[target.name].append(result)
    medians = {name: _medians(results) for name, results in runs.items()}
    direct = medians.get(DIRECT)
    wire = {t.name: run_wire(bench, t, ps_mode, rate) for t in targets} if bench.wire_dir else {}
    direct_wire = wire.get(DIRECT, {}).get("wire_p99_ms")
    rows = []
    for name, (qps, p50, p99, p99s, error) in medians.items():
        if name == DIRECT:
            continue
        added = None
        if direct and direct[2] is not None and p99 is not None:
            added = round(p99 - direct[2], 3)
        rows.append({
            "target": name, "ps_mode": ps_mode, "rate": rate, "gate_qps": qps,
            "direct_p50_ms": direct[1] if direct else None, "gate_p50_ms": p50,
            "direct_p99_ms": direct[2] if direct else None, "gate_p99_ms": p99, "gate_p99_runs_ms": p99s,
            "added_p99_ms": added, "error": error, "direct_wire_p99_ms": direct_wire, **wire.get(name, {}),
        })  # fmt: skip
        if direct_wire is not None and rows[-1].get("wire_p99_ms") is not None:
            rows[-1]["added_wire_p99_ms"] = round(rows[-1]["wire_p99_ms"] - direct_wire, 3)
    return rows


def run_wire(bench: Bench, target: Target, ps_mode: str, rate: int) -> dict[str, Any]:
    """One more half-load run of ``target`` with its port captured (tcpdump): the latency on the wire, from a
    request to the first segment of its response, which leaves out the time sysbench's threads wait to run."""
    assert bench.wire_dir is not None
    path = bench.wire_dir / f"{target.name.replace('/', '_')}-{ps_mode}.pcap"
    try:
        with WireCapture(target.port, path) as capture:
            result = report(bench.run(target, "oltp_point_select", ps_mode, rate))
        latencies = capture.latencies()
    except (RuntimeError, ValueError) as exc:  # tcpdump would not start, or wrote what cannot be read
        return {"wire_error": str(exc)[:MAX_ERROR_CHARS]}
    finally:
        path.unlink(missing_ok=True)
    if result.error or not latencies:
        return {"wire_error": result.error or "no request/response pairs captured"}
    p50, p99 = value_percentile(latencies, 50), value_percentile(latencies, 99)
    assert p50 is not None and p99 is not None
    return {"wire_p50_ms": round(p50 * 1e3, 3), "wire_p99_ms": round(p99 * 1e3, 3),
            "wire_requests": len(latencies), "wire_dropped": capture.dropped}


def _medians(results: list[Result]) -> tuple[float | None, float | None, float | None, list[float], str | None]:
    """Median QPS, p50 and p99 of the runs that worked, their p99s, and the first error."""
    ok = [r for r in results if not r.error]
    errors = [r.error for r in results if r.error]

    def median(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    return (median([r.qps for r in ok]), median([r.p50_ms for r in ok]), median([r.p99_ms for r in ok]),
            [r.p99_ms for r in ok if r.p99_ms is not None], errors[0] if errors else None)


def report(result: Result) -> Result:
    """Prints one line of progress to stderr as each run ends."""
    rate = f" rate={result.rate}" if result.rate else ""
    outcome = (
        f"FAILED: {result.error}"
        if result.error
        else f"{result.qps:.0f} qps p50 {result.p50_ms} p99 {result.p99_ms}"
    )
    print(f"  {result.target:<14} {result.test:<18} ps={result.ps_mode:<8}{rate}: {outcome}", file=sys.stderr)
    return result


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cell(text: str | None) -> str:
    """Text made safe for a Markdown table cell."""
    return (text or "").replace("|", "\\|")


def peak_rows(results: list[Result]) -> list[tuple[tuple[str, str, str], list[float | None], list[Result]]]:
    """The peak runs (no --rate) by target, test and ps mode, in the order they ran, each group with its runs'
    QPS ratios to direct's run of the same round (None where either failed)."""
    groups: dict[tuple[str, str, str], list[Result]] = {}
    for r in results:
        if not r.rate:
            groups.setdefault((r.target, r.test, r.ps_mode), []).append(r)
    direct = {(r.test, r.ps_mode, r.round): r.qps for r in results if r.target == DIRECT and not r.rate}
    rows = []
    for key, runs in groups.items():
        ratios = []
        for r in runs:
            base = direct.get((r.test, r.ps_mode, r.round))
            ratios.append(r.qps / base if r.qps and base else None)
        rows.append((key, ratios, runs))
    return rows


def markdown(bench: Bench, half_load: list[dict[str, Any]]) -> str:
    """The peak table (QPS ratio to direct per test and ps mode) and the half-load p99 table."""
    lines = [
        f"Peaks: medians of {bench.peak_rounds} rounds for oltp_point_select (targets interleaved; the ratio is "
        "the median of each round's ratio to direct's run in that round), one run for oltp_read_only:",
        "",
        "| target | test | ps mode | QPS | p50 ms | p99 ms | QPS / direct | each round | relay CPU (cores) "
        "| relay CPU µs/query |",
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for failed in bench.prepare_errors.values():
        lines.append(f"| {failed.target} | prepare | - | FAILED: {cell(failed.error)} | | | | | | |")
    for (target, test, ps_mode), ratios, runs in peak_rows(bench.results):
        qps, p50, p99, _, error = _medians(runs)
        if qps is None:
            lines.append(f"| {target} | {test} | {ps_mode} | FAILED: {cell(error)} | | | | | | |")
            continue
        ok = [r for r in runs if not r.error]
        cpus = [r.relay_cpu for r in ok if r.relay_cpu is not None]
        per_query = [r.relay_us_per_query for r in ok if r.relay_us_per_query is not None]
        each = ", ".join("FAILED" if ratio is None else fmt(ratio) for ratio in ratios) if len(runs) > 1 else ""
        present = [ratio for ratio in ratios if ratio is not None]
        lines.append(
            f"| {target} | {test} | {ps_mode} | {qps:.0f} | {fmt(p50, 3)} | {fmt(p99, 3)} "
            f"| {fmt(statistics.median(present)) if present else '-'} | {each} "
            f"| {fmt(statistics.median(cpus)) if cpus else '-'} "
            f"| {fmt(statistics.median(per_query), 0) if per_query else '-'} |"
        )
    lines += [
        "",
        f"oltp_point_select at half of the gate's peak QPS (the lower of the two gate targets' peaks), medians of "
        f"{bench.half_load_runs} runs per target:",
        "",
        "| target | ps mode | rate (qps) | QPS reached | p50 ms direct / target | direct p99 ms | target p99 ms "
        "| target p99 of each run | added p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for h in half_load:
        gate = f"FAILED: {cell(h['error'])}" if h["error"] else fmt(h["gate_p99_ms"], 3)
        each = ", ".join(fmt(p99, 3) for p99 in h["gate_p99_runs_ms"])
        lines.append(
            f"| {h['target']} | {h['ps_mode']} | {h['rate']} | {fmt(h['gate_qps'], 0)} "
            f"| {fmt(h['direct_p50_ms'], 3)} / {fmt(h['gate_p50_ms'], 3)} | {fmt(h['direct_p99_ms'], 3)} | {gate} "
            f"| {each} | {fmt(h['added_p99_ms'], 3)} |"
        )
    if bench.wire_dir is None:
        return "\n".join(lines)
    lines += [
        "",
        "The same rate once more per target, latency on the wire (tcpdump on lo: request to first response "
        "segment; leaves out the time the client's threads wait to run):",
        "",
        "| target | ps mode | wire p50 ms | wire p99 ms direct / target | added wire p99 ms | requests (dropped) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for h in half_load:
        if h.get("wire_error"):
            lines.append(f"| {h['target']} | {h['ps_mode']} | FAILED: {cell(h['wire_error'])} | | | |")
            continue
        lines.append(
            f"| {h['target']} | {h['ps_mode']} | {fmt(h.get('wire_p50_ms'), 3)} "
            f"| {fmt(h.get('direct_wire_p99_ms'), 3)} / {fmt(h.get('wire_p99_ms'), 3)} "
            f"| {fmt(h.get('added_wire_p99_ms'), 3)} | {h.get('wire_requests', '-')} ({h.get('wire_dropped', '-')}) |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Facts about the machine and the software measured."""

    def version(*argv: str) -> str:
        done = subprocess.run(argv, capture_output=True, text=True)
        return (done.stdout or done.stderr).strip().splitlines()[0]

    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mariadb": version("mariadbd", "--version"),
        "sysbench": version("sysbench", "--version"),
        "commit": version("git", "-C", str(REPO), "describe", "--always", "--dirty"),
        "loadavg_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--time", type=int, default=10, help="seconds per sysbench run (default 10)")
    parser.add_argument("--threads", type=int, default=8, help="sysbench threads, the same for every run")
    parser.add_argument("--table-size", type=int, default=10000, help="rows in sbtest1")
    parser.add_argument("--half-load-runs", type=int, default=3,
                        help="rounds of the half-load runs; their medians are reported (default 3)")
    parser.add_argument("--peak-rounds", type=int, default=3,
                        help="rounds of the point select peaks; their medians are reported (default 3)")
    parser.add_argument("--root", type=Path, help="cluster root (default: a new temporary directory)")
    parser.add_argument(
        "--port-base", type=int, default=21000, help="shardline up --port-base (default 21000)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the cluster running and its root in place")
    parser.add_argument("--forwarder-port", type=int, default=21506,
                        help="port of the byte forwarder (default 21506)")
    parser.add_argument("--no-forwarder", action="store_true",
                        help="leave out the byte forwarder (the floor of a Python relay)")
    parser.add_argument("--socat-port", type=int, default=21507, help="port of the socat relay (default 21507)")
    parser.add_argument("--no-socat", action="store_true",
                        help="leave out the socat relay (the floor of any relay; left out too if socat is missing)")
    parser.add_argument("--socket", action="store_true",
                        help="sysbench connects to MariaDB and to the gate over their Unix sockets, not TCP "
                             "(the byte forwarder and socat, TCP only, are left out)")
    parser.add_argument("--no-wire", action="store_true",
                        help="leave out the half-load runs whose latency is taken on the wire (tcpdump)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.half_load_runs < 1:
        parser.error("--half-load-runs must be at least 1")
    if args.peak_rounds < 1:
        parser.error("--peak-rounds must be at least 1")

    command = shlex.join([".venv/bin/python", "benchmarks/sysbench_gate.py", *sys.argv[1:]])
    facts = machine()
    root = args.root or Path(tempfile.mkdtemp(prefix="shardline-sysbench-"))
    layout = ClusterLayout(root, shards=SHARDS, replicas=0, port_base=args.port_base)
    started = time.monotonic()
    relays: list[subprocess.Popen[bytes]] = []
    print(f"cluster in {root}, gate on 127.0.0.1:{layout.gate_port}", file=sys.stderr)
    shardline("up", "--root", str(root), "--shards", str(SHARDS), "--replicas", "0",
              "--port-base", str(args.port_base))  # fmt: skip
    try:
        wait_for("the gate to serve every shard", lambda: serving(layout))
        add_sbtest_to_vschemas(layout)
        bench = Bench(args.time, args.threads, args.table_size, layout, args.half_load_runs, args.peak_rounds)
        no_wire = ("--no-wire" if args.no_wire else "--socket: no TCP to capture" if args.socket
                   else tcpdump_missing())
        if no_wire:
            print(f"no wire latencies: {no_wire}", file=sys.stderr)
        else:
            bench.wire_dir = root
        gate = [
            Target(f"gate/{ks}", layout.gate_port, GATE_USER, "", ks, gate_pid(root),
                   socket=str(layout.gate_socket) if args.socket else "")
            for ks in (UNSHARDED_KEYSPACE, SHARDED_KEYSPACE)
        ]  # fmt: skip
        for target in gate:
            print(f"loading {TABLE} through {target.name}", file=sys.stderr)
            failed = bench.prepare(target)
            if failed:
                bench.prepare_errors[target.name] = report(failed)
        primary = commerce_primary(layout)
        targets = [direct_target(primary, args.socket), *gate]
        if not args.no_forwarder and not args.socket:
            relays.append(start_forwarder(primary, args.forwarder_port))
            targets.append(Target(FORWARDER, args.forwarder_port, APP.user, APP.password, UNSHARDED_KEYSPACE,
                                  relays[-1].pid))
        if not args.no_socat and not args.socket:
            if shutil.which("socat"):
                relays.append(start_socat(primary, args.socat_port))
                targets.append(Target(SOCAT, args.socat_port, APP.user, APP.password, UNSHARDED_KEYSPACE,
                                      relays[-1].pid))
            else:
                print("no socat relay: socat is not installed (apt-get install socat)", file=sys.stderr)
        half_load = run_all(bench, targets)
    finally:
        for relay in relays:
            relay.terminate()
            relay.wait(10)
        if args.keep:
            print(f"cluster left running: .venv/bin/shardline down --root {root}", file=sys.stderr)
        else:
            shardline("down", "--root", str(root))
            if args.root is None:
                shutil.rmtree(root, ignore_errors=True)
    facts["loadavg_end"] = os.getloadavg()
    table = markdown(bench, half_load)
    print(table)
    print(f"\n{facts['cpus']} CPUs, {facts['mariadb']}, {facts['sysbench']}, commit {facts['commit']}; load average "
          f"{facts['loadavg_start'][0]:.2f} at start, {facts['loadavg_end'][0]:.2f} at end; "
          f"total {time.monotonic() - started:.0f} s; clients over {'Unix sockets' if args.socket else 'TCP'}")  # fmt: skip
    if args.json:
        settings = {
            "time": args.time,
            "threads": args.threads,
            "table_size": args.table_size,
            "half_load_runs": args.half_load_runs,
            "peak_rounds": args.peak_rounds,
            "shards": SHARDS,
            "unix_sockets": args.socket,
        }
        args.json.write_text(json.dumps({
            "command": command, "machine": facts, "settings": settings,
            "runs": [asdict(r) for r in (*bench.prepare_errors.values(), *bench.results)],
            "half_load": half_load, "table_markdown": table,
        }, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
