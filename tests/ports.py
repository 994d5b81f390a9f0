"""Free TCP ports for test servers.

Ports come from below the kernel's ephemeral range (32768-60999 here), so that the source port of some outgoing
connection cannot take a port between the moment it is picked and the moment a server binds it; a port is never
handed out twice in one test session.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000  # test servers' ports, below the ephemeral range
_handed_out: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now and that this session has not handed out before."""
    for _ in range(1000):
        port = random.randint(LOW, HIGH)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
