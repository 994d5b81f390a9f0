"""What the ctl commands run with: the topo server and a tablet manager client; helpers they share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from shardline.errors import InvalidArgument, ShardlineError
from shardline.tablet.client import TabletManagerClient
from shardline.topo.records import Tablet
from shardline.topo.server import TopoServer

R = TypeVar("R")


@dataclass
class CtlContext:
    """The topo server the commands read and write, and the client they reach tablets with."""

    ts: TopoServer
    tmc: TabletManagerClient

    @classmethod
    @asynccontextmanager
    async def open(cls, topo_spec: str) -> AsyncIterator[CtlContext]:
        """A context on the topo named by ``topo_spec``, closed on exit."""
        ts = await TopoServer.open(topo_spec)
        try:
            async with TabletManagerClient() as tmc:
                yield cls(ts, tmc)
        finally:
            await ts.close()


def parse_keyspace_shard(text: str) -> tuple[str, str]:
    """Splits ``keyspace/shard``."""
    keyspace, sep, shard = text.partition("/")
    if not sep or not keyspace or not shard or "/" in shard:
        raise InvalidArgument(f"invalid keyspace/shard {text!r}: expected e.g. 'customer/-80'")
    return keyspace, shard


def split_cells(cells: str | None) -> list[str] | None:
    """``zone1,zone2`` -> a list; None or empty means all cells."""
    return [cell.strip() for cell in cells.split(",") if cell.strip()] if cells else None


async def on_tablets(tablets: Iterable[Tablet], call: Callable[[Tablet], Awaitable[R]]) -> list[R]:
    """Runs ``call`` on every tablet concurrently and waits for all; the first failure is raised with the
    tablet's alias in its message."""
    tablets = list(tablets)
    results = await asyncio.gather(*(call(tablet) for tablet in tablets), return_exceptions=True)
    for tablet, result in zip(tablets, results, strict=True):
        if isinstance(result, ShardlineError):
            result.message = f"tablet {tablet.alias}: {result.message}"
            result.args = (result.message,)
            raise result
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]
