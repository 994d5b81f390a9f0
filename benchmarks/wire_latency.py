"""Latency as seen on the loopback wire: from a client's request segment to the server's first response segment,
captured with tcpdump. sysbench's own latencies also hold the time its threads wait for a core and for each
other (with ``--rate``, events queue behind busy threads); on the wire only the server's side counts: waking,
reading, working and writing. ``sysbench_gate.py`` uses it to tell the latency a relay adds from what the client
loses to sharing the machine.

    with WireCapture(port, Path("run.pcap")) as capture:
        ...  # request/response traffic to 127.0.0.1:port
    latencies = capture.latencies()  # seconds, one per request answered
"""

from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import time
from pathlib import Path
from types import TracebackType

SNAPLEN = 128  # headers are enough
_PCAP_MAGIC_US, _PCAP_MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
_LINK_HEADER = {1: 14, 0: 4, 113: 16, 276: 20, 101: 0}  # Ethernet (lo), BSD loopback, SLL, SLL2, raw IP
_STOP_TIMEOUT = 10.0


def tcpdump_missing() -> str | None:
    """Why a capture cannot run here (tcpdump absent), or None."""
    return None if shutil.which("tcpdump") else "tcpdump is not installed (apt-get install tcpdump)"


class WireCapture:
    """tcpdump on ``lo`` of the segments that carry data (PSH) to or from 127.0.0.1:``port``, written to
    ``path`` while the block runs."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self.dropped: int | None = None  # packets the kernel dropped before tcpdump read them
        self._process: subprocess.Popen[str] | None = None
        self._stderr = ""

    def __enter__(self) -> WireCapture:
        self._process = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-nn", "-s", str(SNAPLEN), "-B", "65536", "-w", str(self.path),
             f"tcp port {self.port} and tcp[tcpflags] & tcp-push != 0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + _STOP_TIMEOUT
        while not self.path.exists() and self._process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # tcpdump creates the file once it listens
        if self._process.poll() is not None or not self.path.exists():
            self._stop()
            raise RuntimeError(f"tcpdump did not start: {self._stderr.strip()[-300:]}")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # tcpdump flushes its file and prints its counts
        try:
            _, self._stderr = process.communicate(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            _, self._stderr = process.communicate()
        for line in self._stderr.splitlines():
            if "dropped by kernel" in line:
                self.dropped = int(line.split()[0])

    def latencies(self) -> list[float]:
        """Seconds from each request to its first response segment, over the whole capture."""
        return request_latencies(read_segments(self.path), self.port)


def read_segments(path: Path) -> list[tuple[float, int, int]]:
    """(time, source port, destination port) of each IPv4 TCP segment that carries data in a pcap file (a pure
    ACK is neither a request nor an answer: the server's ACK of a slow request would end its latency early)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) else ">"
    magic = struct.unpack_from(order + "I", data)[0]
    if magic not in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
        raise ValueError(f"{path} is not a pcap file")
    fraction = 1e-9 if magic == _PCAP_MAGIC_NS else 1e-6
    link = struct.unpack_from(order + "I", data, 20)[0] & 0xFFFF
    if link not in _LINK_HEADER:
        raise ValueError(f"{path}: link type {link} is not handled")
    skip = _LINK_HEADER[link]
    segments = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, part, captured, _ = struct.unpack_from(order + "IIII", data, offset)
        offset += 16
        packet = data[offset:offset + captured]
        offset += captured
        ip = packet[skip:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:  # IPv4 carrying TCP
            continue
        ip_header = (ip[0] & 0x0F) * 4
        tcp = ip[ip_header:]
        if len(tcp) < 13:
            continue
        source, destination = struct.unpack_from("!HH", tcp)
        payload = struct.unpack_from("!H", ip, 2)[0] - ip_header - (tcp[12] >> 4) * 4  # from the IP total length
        if payload > 0:
            segments.append((seconds + part * fraction, source, destination))
    return segments


def request_latencies(segments: list[tuple[float, int, int]], server_port: int) -> list[float]:
    """For each client connection, the time from a request's first segment to the server's first segment
    after it (the protocol is request/response: later segments of either belong to the same exchange)."""
    asked: dict[int, float] = {}
    latencies = []
    for at, source, destination in segments:
        if destination == server_port:
            asked.setdefault(source, at)
        elif source == server_port and destination in asked:
            latencies.append(at - asked.pop(destination))
    return latencies


def percentile(values: list[float], pct: float) -> float | None:
    """The value with ``pct`` % of ``values`` at or below it (nearest rank); None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
