"""``shardline gate --workers 2``: two processes share the MySQL port; SIGTERM stops both."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pymysql

from tests.e2e.cluster import ClusterThread
from tests.ports import free_port


def test_two_gate_workers_share_one_port(e2e_cluster: ClusterThread):
    port, http_port = free_port(), free_port()
    gate = subprocess.Popen(
        [sys.executable, "-m", "shardline", "gate", "--topo", f"embedded:{e2e_cluster.root / 'topo.db'}",
         "--port", str(port), "--http-port", str(http_port), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        connections = []
        while len(connections) < 6:
            assert time.monotonic() < deadline, "the workers did not start"
            try:
                connections.append(pymysql.connect(host="127.0.0.1", port=port, user="root", database="customer",
                                                   ssl_disabled=True))
            except pymysql.err.OperationalError:
                time.sleep(0.2)
        for conn in connections:
            with conn.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM customer WHERE customer_id = 1")
                assert cursor.fetchone()[0] in (0, 1)
        per_worker = []
        for worker in range(2):  # each worker has its own status page, on http-port + worker
            url = f"http://127.0.0.1:{http_port + worker}/debug/status"
            while True:  # the connections may all have reached the other worker before this one listened
                try:
                    per_worker.append(json.loads(urllib.request.urlopen(url, timeout=5).read())["connections"])
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"worker {worker} serves no status page"
                    time.sleep(0.2)
        assert sum(per_worker) == len(connections)
        ids = [conn.thread_id() for conn in connections]
        assert len(set(ids)) == len(ids)  # worker i of 2 numbers its connections i+1, i+3, ...: ids stay apart
        for conn in connections:
            conn.close()
    finally:
        gate.send_signal(signal.SIGTERM)
        output, _ = gate.communicate(timeout=30)
    assert gate.returncode == 0, output
    assert output.count("serving MySQL") == 2  # both workers started, and both exited cleanly
