"""The gate's view of its cell's serving graph: the VSchema, each keyspace's serving shards by tablet type,
and the tablets with their health. Kept current by topo watches and tablet health streams."""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from shardline.errors import NotFound, ShardlineError, Unavailable
from shardline.gate.engine.vcursor import ShardTarget
from shardline.gate.healthcheck import HealthCheck, TabletView
from shardline.topo.records import SrvKeyspace
from shardline.vindexes.vschema import VSchema

if TYPE_CHECKING:
    from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)


class ServingGraph:
    """Follows SrvVSchema, the SrvKeyspace of every keyspace in it, and the cell's tablets."""

    def __init__(self, ts: TopoServer, cell: str, *, on_tablets_changed: Callable[[], None] | None = None) -> None:
        self.ts = ts
        self.cell = cell
        self.vschema = VSchema.from_json({})
        self.vschema_version = 0
        self.health = HealthCheck(on_change=on_tablets_changed)
        # keyspace -> tablet type ("primary"/"replica"/"rdonly") -> shards ordered by key range start
        self._partitions: dict[str, dict[str, list[ShardTarget]]] = {}
        self._starts: dict[tuple[str, str], list[bytes]] = {}
        self._srv_keyspaces: dict[str, SrvKeyspace] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._vschema_loaded = asyncio.Event()
        self._keyspaces_loaded = asyncio.Event()  # the first snapshot of the cell's SrvKeyspaces is applied
        self._last_error: ShardlineError | None = None  # of the SrvVSchema watch, for a clear start-up error

    async def start(self, timeout: float = 10.0) -> None:
        """Starts the watches; returns once the serving VSchema and the keyspaces' serving shards are known
        (or raises Unavailable), so that the gate's first query finds them."""
        self._tasks = [asyncio.create_task(self._watch_vschema()), asyncio.create_task(self._watch_keyspaces()),
                       asyncio.create_task(self._watch_tablets())]
        try:
            async with asyncio.timeout(timeout):
                await self._vschema_loaded.wait()
                await self._keyspaces_loaded.wait()
        except TimeoutError:
            if self._last_error is not None:
                raise Unavailable(f"cannot read the serving graph of cell '{self.cell}': {self._last_error}") from None
            if self._vschema_loaded.is_set():
                raise Unavailable(f"the SrvKeyspaces of cell '{self.cell}' were not read in {timeout}s") from None
            raise Unavailable(f"no SrvVSchema in cell '{self.cell}' after {timeout}s: run "
                              "`shardline ctl RebuildVSchemaGraph`") from None

    async def close(self) -> None:
        tasks = self._tasks
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.health.close()

    # -- queries ----------------------------------------------------------------------------------------

    def keyspace_names(self) -> list[str]:
        return list(self.vschema.keyspaces)

    def shards(self, keyspace: str, tablet_type: str) -> list[ShardTarget]:
        """Serving shards of a keyspace for a tablet type, in key-range order."""
        partitions = self._partitions.get(keyspace)
        if partitions is None:
            self.vschema.find_keyspace(keyspace)  # NotFound 1049 if unknown
            raise Unavailable(f"keyspace '{keyspace}' has no serving graph in cell '{self.cell}'", code=1105)
        return partitions.get(tablet_type, [])

    def partitions(self, keyspace: str) -> dict[str, list[str]]:
        """Shard names per tablet type, as the serving graph has them ({} before it is known)."""
        return {tablet_type: [s.name for s in shards]
                for tablet_type, shards in self._partitions.get(keyspace, {}).items()}

    def shard_for_keyspace_id(self, keyspace: str, keyspace_id: bytes, tablet_type: str) -> ShardTarget:
        shards = self.shards(keyspace, tablet_type)
        starts = self._starts[(keyspace, tablet_type)]
        index = bisect.bisect_right(starts, keyspace_id) - 1
        if index >= 0 and shards[index].key_range.contains(keyspace_id):
            return shards[index]
        raise NotFound(f"no {tablet_type} shard of keyspace '{keyspace}' covers keyspace id {keyspace_id.hex()}",
                       code=1105)

    def tablets(self) -> list[TabletView]:
        return self.health.views()

    # -- watches ----------------------------------------------------------------------------------------

    async def _watch_vschema(self) -> None:
        while True:
            try:
                async for srv in self.ts.watch_srv_vschema(self.cell):
                    self._apply_vschema(srv.keyspaces if srv is not None else {})
            except asyncio.CancelledError:
                raise
            except ShardlineError as exc:
                self._last_error = exc
                log.warning("SrvVSchema watch of cell %s failed, retrying: %s", self.cell, exc)
            await asyncio.sleep(1.0)

    def _apply_vschema(self, keyspaces: dict) -> None:
        try:
            vschema = VSchema.from_json(keyspaces)
        except ShardlineError as exc:
            log.error("ignoring an invalid SrvVSchema in cell %s: %s", self.cell, exc)
            return
        self.vschema = vschema
        self.vschema_version += 1
        self._vschema_loaded.set()

    async def _watch_keyspaces(self) -> None:
        """Follows every SrvKeyspace of the cell through one watch."""
        while True:
            try:
                async for srv_keyspaces in self.ts.watch_srv_keyspaces(self.cell):
                    for keyspace in set(self._srv_keyspaces) | set(srv_keyspaces):
                        srv = srv_keyspaces.get(keyspace)
                        if srv != self._srv_keyspaces.get(keyspace):
                            self._apply_srv_keyspace(keyspace, srv)
                    self._srv_keyspaces = dict(srv_keyspaces)
                    self._keyspaces_loaded.set()
            except asyncio.CancelledError:
                raise
            except ShardlineError as exc:
                self._last_error = exc
                log.warning("SrvKeyspace watch of cell %s failed, retrying: %s", self.cell, exc)
            await asyncio.sleep(1.0)

    def _apply_srv_keyspace(self, keyspace: str, srv: SrvKeyspace | None) -> None:
        if srv is None:
            self._partitions.pop(keyspace, None)
            self.vschema_version += 1
            return
        partitions: dict[str, list[ShardTarget]] = {}
        for tablet_type, refs in srv.partitions.items():
            name = tablet_type.value.lower()
            shards = sorted((ShardTarget(keyspace, ref.name, ref.key_range) for ref in refs),
                            key=lambda s: s.key_range.start)
            partitions[name] = shards
            self._starts[(keyspace, name)] = [s.key_range.start for s in shards]
        self._partitions[keyspace] = partitions
        self.vschema_version += 1  # plans cache shard lists indirectly; a new partition invalidates them

    async def _watch_tablets(self) -> None:
        while True:
            try:
                async for tablets in self.ts.watch_tablets(self.cell):
                    self.health.set_tablets(tablets)
            except asyncio.CancelledError:
                raise
            except ShardlineError as exc:
                log.warning("tablet watch of cell %s failed, retrying: %s", self.cell, exc)
            await asyncio.sleep(1.0)
