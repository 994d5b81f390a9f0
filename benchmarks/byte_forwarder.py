"""A byte-for-byte forwarder from a TCP port to MariaDB, on uvloop, with no MySQL parsing at all: the floor of
any relay written in Python on this machine. ``sysbench_gate.py`` runs it beside the gate, so that each run shows
how close the gate comes to it.

    .venv/bin/python benchmarks/byte_forwarder.py --port PORT (--unix-socket PATH | --mysql-port PORT)
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop


class _Backend(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        client = self.client.transport
        if client is not None and not client.is_closing():
            client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.transport is not None:
            self.client.transport.close()


class _Client(asyncio.Protocol):
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.transport: asyncio.Transport | None = None
        self.backend: _Backend | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.pause_reading()  # type: ignore[attr-defined]
        asyncio.get_running_loop().create_task(self._open_backend())

    async def _open_backend(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.transport is not None
        try:
            if self.args.unix_socket:
                _, self.backend = await loop.create_unix_connection(lambda: _Backend(self), self.args.unix_socket)
            else:
                _, self.backend = await loop.create_connection(
                    lambda: _Backend(self), "127.0.0.1", self.args.mysql_port)
        except OSError:
            self.transport.close()
            return
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        backend = self.backend.transport if self.backend is not None else None
        if backend is not None and not backend.is_closing():
            backend.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.backend is not None and self.backend.transport is not None:
            self.backend.transport.close()


async def _serve(args: argparse.Namespace) -> None:
    server = await asyncio.get_running_loop().create_server(lambda: _Client(args), "127.0.0.1", args.port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on (127.0.0.1)")
    backend = parser.add_mutually_exclusive_group(required=True)
    backend.add_argument("--unix-socket", help="MariaDB's Unix socket")
    backend.add_argument("--mysql-port", type=int, help="MariaDB's TCP port on 127.0.0.1")
    uvloop.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
