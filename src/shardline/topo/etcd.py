"""The etcd v3 topo backend (etcd3aio over gRPC). A key's version is its etcd mod_revision; compare-and-swap
is a transaction on it. A lock is a key attached to a lease, created only if absent and kept alive by its
holder; watches are etcd watches, which deliver changes in revision order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
from etcd3aio import Etcd3Client, EtcdError, SortOrder, SortTarget, prefix_range_end
from etcd3aio._protobuf import Compare, TxnResponse

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
    check_key,
    encode_holder,
)

RPC_TIMEOUT = 5.0
EVENT_DELETE = 1  # mvccpb.Event.EventType


class EtcdTopo(TopoConn):
    """The etcd backend; every key lives under ``root`` (empty: at the top of etcd's key space)."""

    def __init__(self, endpoints: list[str], root: str = "", rpc_timeout: float = RPC_TIMEOUT) -> None:
        super().__init__()
        self.endpoints = endpoints
        self._prefix = f"/{root.strip('/')}/" if root.strip("/") else ""
        self._timeout = rpc_timeout
        self._client = Etcd3Client(endpoints)

    @classmethod
    async def open(cls, endpoints: list[str], root: str = "") -> EtcdTopo:
        """Opens a channel to the etcd cluster; an unreachable cluster shows on the first operation."""
        conn = cls(endpoints, root)
        await conn._client.connect()
        return conn

    @contextlib.contextmanager
    def _unavailable(self, what: str) -> Iterator[None]:
        """Turns client failures into TopoUnavailable naming the cluster and the operation."""
        try:
            yield
        except grpc.aio.AioRpcError as exc:
            raise TopoUnavailable(f"etcd {','.join(self.endpoints)}: {what}: {exc.details()}") from None
        except EtcdError as exc:
            raise TopoUnavailable(f"etcd {','.join(self.endpoints)}: {what}: {exc}") from None
        except TimeoutError:
            raise TopoUnavailable(
                f"etcd {','.join(self.endpoints)}: {what}: no answer within {self._timeout:g}s"
            ) from None

    def _key(self, key: str) -> bytes:
        check_key(key)
        return (self._prefix + key).encode()

    def _unkey(self, raw: bytes) -> str:
        return raw.decode()[len(self._prefix) :]

    async def _cas(self, key: str, version: Version, op: Any) -> TxnResponse:
        """Runs ``op`` if the key's mod_revision is still ``version``; raises NoNode or BadVersion if not."""
        raw = self._key(key)
        kv = self._client.kv
        same = Compare(result=Compare.EQUAL, target=Compare.MOD, key=raw, mod_revision=version)
        with self._unavailable(f"compare-and-swap {key}"):
            resp = await kv.txn([same], [op], [kv.txn_op_get(raw)], timeout=self._timeout)
        if not resp.succeeded:
            found = resp.responses[0].response_range.kvs
            if not found:
                raise NoNode(f"topo key {key!r} does not exist")
            raise BadVersion(f"topo key {key!r} changed: version {found[0].mod_revision}, expected {version}")
        return resp

    async def create(self, key: str, value: bytes) -> Version:
        raw = self._key(key)
        kv = self._client.kv
        with self._unavailable(f"create {key}"):
            resp = await kv.txn(
                [kv.txn_compare_create_revision(raw, 0)],
                [kv.txn_op_put(raw, bytes(value))],
                timeout=self._timeout,
            )
        if not resp.succeeded:
            raise NodeExists(f"topo key {key!r} already exists")
        return resp.header.revision

    async def get(self, key: str) -> tuple[bytes, Version]:
        raw = self._key(key)
        with self._unavailable(f"get {key}"):
            resp = await self._client.kv.get(raw, timeout=self._timeout)
        if not resp.kvs:
            raise NoNode(f"topo key {key!r} does not exist")
        return resp.kvs[0].value, resp.kvs[0].mod_revision

    async def update(self, key: str, value: bytes, version: Version | None) -> Version:
        raw = self._key(key)
        if version is not None:
            resp = await self._cas(key, version, self._client.kv.txn_op_put(raw, bytes(value)))
            return resp.header.revision
        with self._unavailable(f"update {key}"):
            put = await self._client.kv.put(raw, bytes(value), timeout=self._timeout)
        return put.header.revision

    async def delete(self, key: str, version: Version | None = None) -> None:
        raw = self._key(key)
        if version is not None:
            await self._cas(key, version, self._client.kv.txn_op_delete(raw))
            return
        with self._unavailable(f"delete {key}"):
            resp = await self._client.kv.delete(raw, timeout=self._timeout)
        if not resp.deleted:
            raise NoNode(f"topo key {key!r} does not exist")

    def _range(self, prefix: str) -> tuple[bytes, bytes]:
        raw = (self._prefix + prefix).encode()
        return (raw, prefix_range_end(raw)) if raw else (b"\x00", b"\x00")

    async def _list(self, prefix: str) -> tuple[list[KVEntry], Version]:
        start, end = self._range(prefix)
        with self._unavailable(f"list {prefix}"):
            resp = await self._client.kv.get(
                start,
                range_end=end,
                sort_order=SortOrder.ASCEND,
                sort_target=SortTarget.KEY,
                timeout=self._timeout,
            )
        return [
            KVEntry(self._unkey(kv.key), kv.value, kv.mod_revision) for kv in resp.kvs
        ], resp.header.revision

    async def list(self, prefix: str) -> list[KVEntry]:
        return (await self._list(prefix))[0]

    async def watch(self, key: str) -> Watch[KVEntry | None]:
        raw = self._key(key)
        with self._unavailable(f"watch {key}"):
            resp = await self._client.kv.get(raw, timeout=self._timeout)
        current = KVEntry(key, resp.kvs[0].value, resp.kvs[0].mod_revision) if resp.kvs else None
        return self._new_watch(current, self._events(key, raw, None, resp.header.revision + 1))

    async def watch_prefix(self, prefix: str) -> Watch[list[KVEntry]]:
        current, rev = await self._list(prefix)
        start, end = self._range(prefix)
        return self._new_watch(current, self._events(prefix, start, end, rev + 1))

    async def _events(
        self, what: str, start: bytes, end: bytes | None, revision: int
    ) -> AsyncIterator[WatchEvent]:
        with self._unavailable(f"watch {what}"):
            async for resp in self._client.watch.watch(start, range_end=end, start_revision=revision):
                if resp.compact_revision:
                    raise TopoUnavailable(f"watch of {what} fell behind etcd's compaction; watch again")
                if resp.canceled:
                    raise TopoUnavailable(f"etcd cancelled the watch of {what}: {resp.cancel_reason}")
                for event in resp.events:
                    value = None if event.type == EVENT_DELETE else event.kv.value
                    yield WatchEvent(self._unkey(event.kv.key), value, event.kv.mod_revision)

    async def _grant(self, ttl: float) -> tuple[int, float]:
        with self._unavailable("lease grant"):
            lease = await self._client.lease.grant(ttl=math.ceil(ttl), timeout=self._timeout)
        return lease.ID, float(lease.TTL)

    async def _revoke(self, lease_id: int) -> None:
        """Revokes a lease, deleting its lock key; a lease that expired already is fine."""
        with self._unavailable("lease revoke"):
            try:
                await self._client.lease.revoke(lease_id, timeout=self._timeout)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise

    async def _renew(self, lease_id: int) -> bool:
        """Sends one keepalive; False once etcd says the lease is gone."""
        with self._unavailable("lease keepalive"):
            call = self._client.lease.keep_alive(lease_id)
            try:
                async for resp in call:
                    return resp.TTL > 0
            finally:
                call.cancel()
        return False

    async def _wait_deleted(self, raw: bytes, revision: int) -> None:
        with self._unavailable("lock wait"):
            async for resp in self._client.watch.watch(raw, start_revision=revision):
                if any(event.type == EVENT_DELETE for event in resp.events):
                    return

    async def lock(self, key: str, *, holder: dict[str, Any], ttl: float, timeout: float | None) -> Lock:
        raw = self._key(key)
        encode_holder(holder, ttl, timeout)
        kv = self._client.kv
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            lease_id, granted_ttl = await self._grant(ttl)
            lock_id = f"{lease_id:x}"
            value = json.dumps({"id": lock_id, "holder": holder}, sort_keys=True).encode()
            try:
                with self._unavailable(f"lock {key}"):
                    resp = await kv.txn(
                        [kv.txn_compare_create_revision(raw, 0)],
                        [kv.txn_op_put(raw, value, lease=lease_id)],
                        [kv.txn_op_get(raw)],
                        timeout=self._timeout,
                    )
            except BaseException:
                with contextlib.suppress(TopoUnavailable):  # unreachable: the lease expires by itself
                    await asyncio.shield(self._revoke(lease_id))
                raise
            if resp.succeeded:
                break
            await self._revoke(lease_id)
            found = resp.responses[0].response_range.kvs
            if not found:
                continue  # released in between: try again
            current = _lock_info(found[0].value)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise LockTimeout.waiting_for(key, timeout or 0.0, current)
            try:
                async with asyncio.timeout(remaining):
                    await self._wait_deleted(raw, resp.header.revision + 1)
            except TimeoutError:
                raise LockTimeout.waiting_for(key, timeout or 0.0, current) from None

        async def renew() -> bool:
            return await self._renew(lease_id)

        async def release() -> None:
            await self._revoke(lease_id)

        return self._new_lock(key, lock_id, granted_ttl, renew, release)

    async def release_lock(self, key: str, lock_id: str) -> None:
        raw = self._key(key)
        with self._unavailable(f"get lock {key}"):
            resp = await self._client.kv.get(raw, timeout=self._timeout)
        if not resp.kvs or f"{resp.kvs[0].lease:x}" != lock_id:
            raise NoNode(f"lock {key!r} is not held by {lock_id!r}")
        await self._revoke(resp.kvs[0].lease)

    async def get_lock(self, key: str) -> LockInfo | None:
        raw = self._key(key)
        with self._unavailable(f"get lock {key}"):
            resp = await self._client.kv.get(raw, timeout=self._timeout)
        return _lock_info(resp.kvs[0].value) if resp.kvs else None

    async def _close(self) -> None:
        await self._client.close()


def _lock_info(value: bytes) -> LockInfo:
    data = json.loads(value)
    return LockInfo(data["id"], data["holder"])
