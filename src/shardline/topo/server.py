"""TopoServer: keyspaces, shards, tablets, VSchemas and the per-cell serving graph, written once on top of the
storage contract.

Global data lives under ``global/`` of the global backend. A cell's data (tablets, SrvKeyspace, SrvVSchema)
lives under ``cells/<cell>/`` of the global backend, or, when its CellInfo names a server_address, under its
root (default ``cells/<cell>``) in that backend. Gates watch only their cell's serving data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from typing import Any, Protocol, Self, TypeVar

from shardline.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from shardline.key import check_partition, parse_shard_name
from shardline.topo import open_topo
from shardline.topo.contract import BadVersion, KVEntry, NodeExists, NoNode, TopoConn, Version
from shardline.topo.locks import lock_keyspace
from shardline.topo.records import (
    DURABILITY_POLICIES,
    SERVING_TABLET_TYPES,
    CellInfo,
    Keyspace,
    Shard,
    ShardReference,
    SrvKeyspace,
    SrvVSchema,
    Tablet,
    TabletAlias,
    check_name,
)

KEYSPACES = "global/keyspaces/"
CELLS = "global/cells/"


class _Record(Protocol):
    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self: ...


R = TypeVar("R", bound=_Record)


def _keyspace_key(keyspace: str) -> str:
    return f"{KEYSPACES}{keyspace}/Keyspace"


def _shards_prefix(keyspace: str) -> str:
    return f"{KEYSPACES}{keyspace}/shards/"


def _shard_key(keyspace: str, shard: str) -> str:
    return f"{_shards_prefix(keyspace)}{shard}/Shard"


def _vschema_key(keyspace: str) -> str:
    return f"{KEYSPACES}{keyspace}/VSchema"


def _cell_info_key(cell: str) -> str:
    return f"{CELLS}{cell}/CellInfo"


def _encode(record: _Record) -> bytes:
    return json.dumps(record.to_json(), sort_keys=True).encode()


def _load(key: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise FailedPrecondition(f"corrupt topo record at {key!r}: {exc}") from None


def _decode(cls: type[R], key: str, data: bytes) -> R:
    try:
        return cls.from_json(_load(key, data))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FailedPrecondition(f"corrupt topo record at {key!r}: {exc!r}") from None


class _CellTopo:
    """Where one cell's data lives: a backend and the key prefix inside it."""

    def __init__(self, conn: TopoConn, root: str) -> None:
        self.conn = conn
        self.root = root.strip("/")

    def tablets_prefix(self) -> str:
        return f"{self.root}/tablets/"

    def tablet_key(self, alias: TabletAlias) -> str:
        return f"{self.root}/tablets/{alias}/Tablet"

    def srv_keyspace_key(self, keyspace: str) -> str:
        return f"{self.root}/SrvKeyspace/{keyspace}"

    def srv_vschema_key(self) -> str:
        return f"{self.root}/SrvVSchema"


class TopoServer:
    """The topology API used by every component; ``conn`` is the global backend."""

    def __init__(self, conn: TopoConn) -> None:
        self.conn = conn
        self._cells: dict[str, _CellTopo] = {}
        self._cells_lock = asyncio.Lock()

    @classmethod
    async def open(cls, spec: str) -> TopoServer:
        """Opens the global backend named by a topo spec (see ``shardline.topo.open_topo``)."""
        return cls(await open_topo(spec))

    async def close(self) -> None:
        """Closes the global backend and the backends of cells that have their own."""
        for cell in self._cells.values():
            if cell.conn is not self.conn:
                await cell.conn.close()
        await self.conn.close()

    # --- records on the contract ---

    async def _get_versioned(self, conn: TopoConn, key: str, cls: type[R], missing: str) -> tuple[R, Version]:
        try:
            data, version = await conn.get(key)
        except NoNode:
            raise NotFound(missing) from None
        return _decode(cls, key, data), version

    async def _get(self, conn: TopoConn, key: str, cls: type[R], missing: str) -> R:
        return (await self._get_versioned(conn, key, cls, missing))[0]

    async def _create(self, conn: TopoConn, key: str, record: _Record, exists: str) -> None:
        try:
            await conn.create(key, _encode(record))
        except NodeExists:
            raise AlreadyExists(exists) from None

    async def _update_fields(
        self, conn: TopoConn, key: str, cls: type[R], fn: Callable[[R], R], missing: str
    ) -> R:
        """Read, apply ``fn``, compare-and-swap; again on a concurrent change. Returns the stored record."""
        while True:
            record, version = await self._get_versioned(conn, key, cls, missing)
            updated = fn(record)
            if updated == record:
                return record
            try:
                await conn.update(key, _encode(updated), version)
            except BadVersion:
                continue
            except NoNode:
                raise NotFound(missing) from None
            return updated

    async def _delete(self, conn: TopoConn, key: str, missing: str) -> None:
        try:
            await conn.delete(key)
        except NoNode:
            raise NotFound(missing) from None

    async def _write_if_changed(self, conn: TopoConn, key: str, data: bytes) -> None:
        """Writes serving data unless it is unchanged, so that watchers see real changes only."""
        try:
            if (await conn.get(key))[0] == data:
                return
        except NoNode:
            pass
        await conn.update(key, data, None)

    # --- cells ---

    async def add_cell(self, cell: str, server_address: str = "", root: str = "") -> CellInfo:
        """Registers a cell. With an empty ``server_address`` its data lives in the global backend under
        ``cells/<cell>``; otherwise in the backend that topo spec names, under ``root`` (default the same)."""
        check_name("cell", cell)
        if root and not server_address:
            raise InvalidArgument(
                f"cell {cell!r}: a root needs a server_address; without one the cell lives under cells/{cell}"
            )
        info = CellInfo(cell, server_address, root)
        conn = await open_topo(server_address) if server_address else self.conn  # a bad spec fails here
        try:
            await self._create(self.conn, _cell_info_key(cell), info, f"cell {cell!r} already exists")
        except BaseException:
            if conn is not self.conn:
                await conn.close()
            raise
        self._cells[cell] = _CellTopo(conn, root or f"cells/{cell}")
        return info

    async def get_cell_info(self, cell: str) -> CellInfo:
        return await self._get(self.conn, _cell_info_key(cell), CellInfo, f"cell {cell!r} does not exist")

    async def get_cells(self) -> list[str]:
        return _names(await self.conn.list(CELLS), "CellInfo")

    async def _cell(self, cell: str) -> _CellTopo:
        """The backend and root of a cell's data, opened once."""
        if cell in self._cells:
            return self._cells[cell]
        async with self._cells_lock:
            if cell not in self._cells:
                info = await self.get_cell_info(cell)
                conn = await open_topo(info.server_address) if info.server_address else self.conn
                self._cells[cell] = _CellTopo(conn, info.root or f"cells/{cell}")
            return self._cells[cell]

    async def _cells_or_all(self, cells: list[str] | None) -> list[_CellTopo]:
        return [await self._cell(cell) for cell in (await self.get_cells() if cells is None else cells)]

    # --- keyspaces ---

    async def create_keyspace(self, keyspace: str, *, durability_policy: str = "none") -> Keyspace:
        check_name("keyspace", keyspace)
        if durability_policy not in DURABILITY_POLICIES:
            raise InvalidArgument(
                f"invalid durability policy {durability_policy!r}: expected one of {', '.join(DURABILITY_POLICIES)}"
            )
        record = Keyspace(keyspace, durability_policy)
        await self._create(
            self.conn, _keyspace_key(keyspace), record, f"keyspace {keyspace!r} already exists"
        )
        return record

    async def get_keyspace(self, keyspace: str) -> Keyspace:
        missing = f"keyspace {keyspace!r} does not exist"
        return await self._get(self.conn, _keyspace_key(keyspace), Keyspace, missing)

    async def update_keyspace_fields(self, keyspace: str, fn: Callable[[Keyspace], Keyspace]) -> Keyspace:
        """Applies ``fn`` (returning the new record) atomically, retrying on concurrent changes."""

        def checked(record: Keyspace) -> Keyspace:
            updated = fn(record)
            if updated.name != record.name:
                raise InvalidArgument(f"keyspace {keyspace!r}: the name cannot change")
            return updated

        missing = f"keyspace {keyspace!r} does not exist"
        return await self._update_fields(self.conn, _keyspace_key(keyspace), Keyspace, checked, missing)

    async def get_keyspace_names(self) -> list[str]:
        return _names(await self.conn.list(KEYSPACES), "Keyspace")

    async def delete_keyspace(self, keyspace: str, *, recursive: bool = False) -> None:
        """Deletes a keyspace, its VSchema and its SrvKeyspace in every cell. A keyspace with shards is refused
        unless ``recursive``, which deletes the shards and their tablets too."""
        shards = await self.get_shard_names(keyspace)
        if shards and not recursive:
            raise FailedPrecondition(
                f"keyspace {keyspace!r} still has shards {', '.join(shards)}; delete them or use recursive"
            )
        for shard in shards:
            await self.delete_shard(keyspace, shard, recursive=True)
        for cell in await self._cells_or_all(None):
            try:
                await cell.conn.delete(cell.srv_keyspace_key(keyspace))
            except NoNode:
                pass
        try:
            await self.conn.delete(_vschema_key(keyspace))
        except NoNode:
            pass
        await self._delete(self.conn, _keyspace_key(keyspace), f"keyspace {keyspace!r} does not exist")

    # --- shards ---

    async def create_shard(self, keyspace: str, shard: str, *, serving: bool = True) -> Shard:
        """Creates a shard named by its key range (``-80``, ``80-``, ``0``). A serving shard may not overlap
        another serving shard; a non-serving one may (the target of a reshard). Takes the keyspace lock, so
        do not call it while holding that lock."""
        key_range = parse_shard_name(shard)
        async with lock_keyspace(self, keyspace, f"CreateShard {shard}"):
            if serving:
                for other in await self.get_shards(keyspace):
                    if other.is_primary_serving and other.key_range.intersects(key_range):
                        raise InvalidArgument(
                            f"shard {keyspace}/{shard} overlaps serving shard {keyspace}/{other.name}; "
                            "create it non-serving"
                        )
            record = Shard(keyspace, shard, key_range, is_primary_serving=serving)
            exists = f"shard {keyspace}/{shard} already exists"
            await self._create(self.conn, _shard_key(keyspace, shard), record, exists)
        return record

    async def get_shard(self, keyspace: str, shard: str) -> Shard:
        missing = f"shard {keyspace}/{shard} does not exist"
        return await self._get(self.conn, _shard_key(keyspace, shard), Shard, missing)

    async def get_shards(self, keyspace: str) -> list[Shard]:
        """Every shard of the keyspace, ordered by key range."""
        await self.get_keyspace(keyspace)
        entries = await self.conn.list(_shards_prefix(keyspace))
        shards = [_decode(Shard, entry.key, entry.value) for entry in entries if entry.key.endswith("/Shard")]
        return sorted(
            shards, key=lambda shard: (shard.key_range.start, not shard.key_range.end, shard.key_range.end)
        )

    async def get_shard_names(self, keyspace: str) -> list[str]:
        return [shard.name for shard in await self.get_shards(keyspace)]

    async def update_shard_fields(self, keyspace: str, shard: str, fn: Callable[[Shard], Shard]) -> Shard:
        """Applies ``fn`` (which returns the new record, e.g. with dataclasses.replace) atomically, retrying on
        concurrent changes; returns the stored record."""

        def checked(record: Shard) -> Shard:
            updated = fn(record)
            identity = (updated.keyspace, updated.name, updated.key_range)
            if identity != (record.keyspace, record.name, record.key_range):
                raise InvalidArgument(f"shard {keyspace}/{shard}: keyspace, name and key range cannot change")
            return updated

        missing = f"shard {keyspace}/{shard} does not exist"
        return await self._update_fields(self.conn, _shard_key(keyspace, shard), Shard, checked, missing)

    async def delete_shard(self, keyspace: str, shard: str, *, recursive: bool = False) -> None:
        """Deletes a shard; one that still has tablets is refused unless ``recursive`` deletes them too."""
        await self.get_shard(keyspace, shard)
        tablets = await self.get_tablets_by_shard(keyspace, shard)
        if tablets and not recursive:
            aliases = ", ".join(str(tablet.alias) for tablet in tablets)
            raise FailedPrecondition(
                f"shard {keyspace}/{shard} still has tablets {aliases}; delete them first"
            )
        for tablet in tablets:
            await self.delete_tablet(tablet.alias)
        await self._delete(self.conn, _shard_key(keyspace, shard), f"shard {keyspace}/{shard} does not exist")

    # --- tablets ---

    async def create_tablet(self, tablet: Tablet) -> None:
        """Publishes a new tablet record; its cell, keyspace and shard must exist."""
        cell = await self._cell(tablet.alias.cell)
        await self.get_keyspace(tablet.keyspace)
        await self.get_shard(tablet.keyspace, tablet.shard)
        exists = f"tablet {tablet.alias} already exists"
        await self._create(cell.conn, cell.tablet_key(tablet.alias), tablet, exists)

    async def get_tablet(self, alias: TabletAlias) -> Tablet:
        cell = await self._cell(alias.cell)
        return await self._get(cell.conn, cell.tablet_key(alias), Tablet, f"tablet {alias} does not exist")

    async def update_tablet_fields(self, alias: TabletAlias, fn: Callable[[Tablet], Tablet]) -> Tablet:
        """Applies ``fn`` (returning the new record) atomically, retrying on concurrent changes."""

        def checked(record: Tablet) -> Tablet:
            updated = fn(record)
            if updated.alias != alias:
                raise InvalidArgument(f"tablet {alias}: the alias cannot change")
            return updated

        cell = await self._cell(alias.cell)
        missing = f"tablet {alias} does not exist"
        return await self._update_fields(cell.conn, cell.tablet_key(alias), Tablet, checked, missing)

    async def delete_tablet(self, alias: TabletAlias) -> None:
        cell = await self._cell(alias.cell)
        await self._delete(cell.conn, cell.tablet_key(alias), f"tablet {alias} does not exist")

    async def get_tablets(
        self, cell: str, keyspace: str | None = None, shard: str | None = None
    ) -> list[Tablet]:
        """The tablets of a cell, optionally only those of a keyspace (and shard), ordered by alias."""
        cell_topo = await self._cell(cell)
        tablets = _decode_tablets(await cell_topo.conn.list(cell_topo.tablets_prefix()))
        return [
            tablet
            for tablet in tablets
            if (keyspace is None or tablet.keyspace == keyspace) and (shard is None or tablet.shard == shard)
        ]

    async def get_tablets_by_shard(self, keyspace: str, shard: str) -> list[Tablet]:
        """The tablets of a shard in every cell."""
        return [
            tablet
            for cell in await self.get_cells()
            for tablet in await self.get_tablets(cell, keyspace, shard)
        ]

    # --- VSchema ---

    async def save_vschema(self, keyspace: str, vschema: dict[str, Any]) -> None:
        """Stores a keyspace's VSchema JSON as given (validation is the caller's job)."""
        await self.get_keyspace(keyspace)
        if not isinstance(vschema, dict):
            raise InvalidArgument(f"VSchema of keyspace {keyspace!r} must be a JSON object")
        try:
            data = json.dumps(vschema, sort_keys=True).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"VSchema of keyspace {keyspace!r} is not JSON: {exc}") from None
        await self.conn.update(_vschema_key(keyspace), data, None)

    async def get_vschema(self, keyspace: str) -> dict[str, Any]:
        try:
            data, _ = await self.conn.get(_vschema_key(keyspace))
        except NoNode:
            await self.get_keyspace(keyspace)
            raise NotFound(f"keyspace {keyspace!r} has no VSchema") from None
        return _load(_vschema_key(keyspace), data)

    # --- serving graph ---

    async def rebuild_srv_keyspace(self, keyspace: str, cells: list[str] | None = None) -> SrvKeyspace:
        """Publishes the keyspace's serving shards to each cell (default: all). Refused unless the serving
        shards cover the key space exactly once."""
        serving = [shard for shard in await self.get_shards(keyspace) if shard.is_primary_serving]
        try:
            check_partition([shard.key_range for shard in serving])
        except InvalidArgument as exc:
            raise FailedPrecondition(
                f"cannot rebuild the serving graph of keyspace {keyspace!r}: {exc}"
            ) from None
        refs = [ShardReference(shard.name, shard.key_range) for shard in serving]
        srv = SrvKeyspace({tablet_type: list(refs) for tablet_type in SERVING_TABLET_TYPES})
        data = _encode(srv)
        for cell in await self._cells_or_all(cells):
            await self._write_if_changed(cell.conn, cell.srv_keyspace_key(keyspace), data)
        return srv

    async def get_srv_keyspace(self, cell: str, keyspace: str) -> SrvKeyspace:
        cell_topo = await self._cell(cell)
        missing = f"keyspace {keyspace!r} has no serving graph in cell {cell!r}"
        return await self._get(cell_topo.conn, cell_topo.srv_keyspace_key(keyspace), SrvKeyspace, missing)

    async def rebuild_srv_vschema(self, cells: list[str] | None = None) -> SrvVSchema:
        """Publishes every keyspace's VSchema (``{}`` for a keyspace without one) to each cell (default: all)."""
        entries = await self.conn.list(KEYSPACES)
        vschemas = {
            entry.key.split("/")[2]: _load(entry.key, entry.value)
            for entry in entries
            if _is_leaf(entry, "VSchema")
        }
        srv = SrvVSchema({name: vschemas.get(name, {}) for name in _names(entries, "Keyspace")})
        data = _encode(srv)
        for cell in await self._cells_or_all(cells):
            await self._write_if_changed(cell.conn, cell.srv_vschema_key(), data)
        return srv

    async def get_srv_vschema(self, cell: str) -> SrvVSchema:
        cell_topo = await self._cell(cell)
        missing = f"cell {cell!r} has no SrvVSchema"
        return await self._get(cell_topo.conn, cell_topo.srv_vschema_key(), SrvVSchema, missing)

    # --- watches (what gates follow) ---

    async def _watch_record(self, conn: TopoConn, key: str, cls: type[R]) -> AsyncIterator[R | None]:
        async with await conn.watch(key) as watch:
            yield _decode(cls, key, watch.current.value) if watch.current else None
            async for event in watch:
                yield None if event.value is None else _decode(cls, key, event.value)

    async def watch_srv_vschema(self, cell: str) -> AsyncIterator[SrvVSchema | None]:
        """Yields the cell's SrvVSchema now (None if not built yet), then again after every change."""
        cell_topo = await self._cell(cell)
        async with aclosing(
            self._watch_record(cell_topo.conn, cell_topo.srv_vschema_key(), SrvVSchema)
        ) as records:
            async for srv in records:
                yield srv

    async def watch_srv_keyspace(self, cell: str, keyspace: str) -> AsyncIterator[SrvKeyspace | None]:
        """Yields the keyspace's SrvKeyspace in the cell now (None if absent), then after every change."""
        cell_topo = await self._cell(cell)
        key = cell_topo.srv_keyspace_key(keyspace)
        async with aclosing(self._watch_record(cell_topo.conn, key, SrvKeyspace)) as records:
            async for srv in records:
                yield srv

    async def watch_srv_keyspaces(self, cell: str) -> AsyncIterator[dict[str, SrvKeyspace]]:
        """Yields every SrvKeyspace of the cell by keyspace now, then all of them again after each change: one
        watch per gate and cell, however many keyspaces there are."""
        cell_topo = await self._cell(cell)
        prefix = cell_topo.srv_keyspace_key("")
        async for entries in self._watch_entries(cell_topo.conn, prefix):
            yield {key[len(prefix):]: _decode(SrvKeyspace, key, entry.value) for key, entry in entries.items()}

    async def watch_tablets(self, cell: str) -> AsyncIterator[list[Tablet]]:
        """Yields every tablet of the cell now, then the whole list again after each tablet change."""
        cell_topo = await self._cell(cell)
        async for entries in self._watch_entries(cell_topo.conn, cell_topo.tablets_prefix()):
            yield _decode_tablets(entries.values())

    @staticmethod
    async def _watch_entries(conn: TopoConn, prefix: str) -> AsyncIterator[dict[str, KVEntry]]:
        """The entries under ``prefix`` by key now, then again after every change."""
        async with await conn.watch_prefix(prefix) as watch:
            entries = {entry.key: entry for entry in watch.current}
            yield entries
            async for event in watch:
                if event.value is None:
                    entries.pop(event.key, None)
                else:
                    entries[event.key] = KVEntry(event.key, event.value, event.version)
                yield entries


def _is_leaf(entry: KVEntry, leaf: str) -> bool:
    """True for ``global/<kind>/<name>/<leaf>``."""
    parts = entry.key.split("/")
    return len(parts) == 4 and parts[3] == leaf


def _names(entries: list[KVEntry], leaf: str) -> list[str]:
    """The names of the ``global/<kind>/<name>/<leaf>`` records among ``entries``."""
    return [entry.key.split("/")[2] for entry in entries if _is_leaf(entry, leaf)]


def _decode_tablets(entries: Iterable[KVEntry]) -> list[Tablet]:
    tablets = [_decode(Tablet, entry.key, entry.value) for entry in entries if entry.key.endswith("/Tablet")]
    return sorted(tablets, key=lambda tablet: tablet.alias)
