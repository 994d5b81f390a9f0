"""The topology service: the storage contract and its backends, the topo records, TopoServer on top of them,
and shard/keyspace locks.

A topo spec names a backend: ``embedded:/path/topo.db`` (a SQLite file shared by the processes of one machine)
or ``etcd:127.0.0.1:2379[,host:port...][/root-prefix]``."""

from __future__ import annotations

from shardline.errors import InvalidArgument
from shardline.topo.contract import (
    BadVersion,
    KVEntry,
    Lock,
    LockInfo,
    LockTimeout,
    NodeExists,
    NoNode,
    TopoConn,
    TopoUnavailable,
    Version,
    Watch,
    WatchEvent,
)
from shardline.topo.embedded import EmbeddedTopo
from shardline.topo.etcd import EtcdTopo

SPEC_HELP = "expected 'embedded:/path/topo.db' or 'etcd:host:port[,host:port...][/root-prefix]'"


def _parse_endpoint(spec: str, endpoint: str) -> str:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"invalid topo spec {spec!r}: bad etcd endpoint {endpoint!r}, {SPEC_HELP}")
    return endpoint


async def open_topo(spec: str) -> TopoConn:
    """Opens the topo backend named by ``spec``; a malformed spec raises InvalidArgument."""
    kind, _, rest = spec.partition(":")
    if kind == "embedded" and rest:
        return await EmbeddedTopo.open(rest)
    if kind == "etcd" and rest:
        addresses, _, root = rest.partition("/")
        endpoints = [_parse_endpoint(spec, endpoint) for endpoint in addresses.split(",")]
        return await EtcdTopo.open(endpoints, root)
    raise InvalidArgument(f"invalid topo spec {spec!r}: {SPEC_HELP}")


__all__ = [
    "BadVersion",
    "KVEntry",
    "Lock",
    "LockInfo",
    "LockTimeout",
    "NoNode",
    "NodeExists",
    "TopoConn",
    "TopoUnavailable",
    "Version",
    "Watch",
    "WatchEvent",
    "open_topo",
]
