"""Calling tablet agents: :class:`TabletManagerClient` (one coroutine per management RPC) and
:func:`stream_health`. Tablets are addressed by their topo record (``hostname`` and agent ``port``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp

from shardline.errors import Unavailable
from shardline.tablet.health import RESEND_SECONDS, Health
from shardline.tablet.httpjson import post_json
from shardline.topo.records import Tablet, TabletAlias, TabletType

DEFAULT_TIMEOUT = 30.0
_WAIT_MARGIN = 5.0  # extra HTTP time for calls that wait on the server side


def tablet_url(tablet: Tablet, path: str) -> str:
    return f"http://{tablet.hostname}:{tablet.port}{path}"


class TabletManagerClient:
    """Async client of the tablet agents' management RPCs; use ``async with`` or call :meth:`close`."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> TabletManagerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, tablet: Tablet, method: str, *, rpc_timeout: float | None = None, **args: Any) -> Any:
        """Calls ``POST /rpc/<method>`` with ``args`` on the tablet; returns its result or raises its error.
        ``rpc_timeout`` bounds the HTTP call (default: the client's timeout)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = tablet_url(tablet, f"/rpc/{method}")
        return await post_json(self._session, url, args, self.timeout if rpc_timeout is None else rpc_timeout)

    async def set_read_only(self, tablet: Tablet) -> None:
        await self.call(tablet, "SetReadOnly")

    async def set_read_write(self, tablet: Tablet) -> None:
        await self.call(tablet, "SetReadWrite")

    async def change_type(self, tablet: Tablet, tablet_type: TabletType) -> None:
        await self.call(tablet, "ChangeType", tablet_type=tablet_type.value)

    async def start_replication(self, tablet: Tablet) -> None:
        await self.call(tablet, "StartReplication")

    async def stop_replication(self, tablet: Tablet) -> None:
        await self.call(tablet, "StopReplication")

    async def set_replication_source(
        self, tablet: Tablet, parent: TabletAlias, force_start_replication: bool = True
    ) -> None:
        await self.call(
            tablet, "SetReplicationSource", parent=str(parent), force_start_replication=force_start_replication
        )

    async def primary_position(self, tablet: Tablet) -> str:
        return await self.call(tablet, "PrimaryPosition")

    async def wait_for_position(self, tablet: Tablet, position: str, timeout: float) -> None:
        """Returns once the tablet has applied ``position``; DeadlineExceeded after ``timeout`` seconds."""
        await self.call(
            tablet, "WaitForPosition", rpc_timeout=timeout + _WAIT_MARGIN, position=position, timeout=timeout
        )

    async def execute_fetch_as_dba(
        self, tablet: Tablet, query: str, db_name: str = "", max_rows: int = 10000
    ) -> dict[str, Any]:
        """``{"fields": [names], "rows": [[text or None]], "rows_affected": n}``."""
        return await self.call(tablet, "ExecuteFetchAsDba", query=query, db_name=db_name, max_rows=max_rows)

    async def replication_status(self, tablet: Tablet) -> dict[str, Any] | None:
        return await self.call(tablet, "ReplicationStatus")

    async def full_status(self, tablet: Tablet) -> dict[str, Any]:
        return await self.call(tablet, "FullStatus")

    async def reset_replication(self, tablet: Tablet) -> None:
        await self.call(tablet, "ResetReplication")

    async def init_primary(self, tablet: Tablet) -> str:
        return await self.call(tablet, "InitPrimary")

    async def init_replica(self, tablet: Tablet, parent: TabletAlias, replication_position: str) -> None:
        await self.call(tablet, "InitReplica", parent=str(parent), replication_position=replication_position)

    async def populate_reparent_journal(
        self, tablet: Tablet, time_created_ns: int, action_name: str, primary_alias: TabletAlias, position: str
    ) -> str:
        return await self.call(
            tablet,
            "PopulateReparentJournal",
            time_created_ns=time_created_ns,
            action_name=action_name,
            primary_alias=str(primary_alias),
            replication_position=position,
        )


async def stream_health(tablet: Tablet, session: aiohttp.ClientSession | None = None) -> AsyncIterator[Health]:
    """Yields the tablet's health reports as they arrive (the first at once). Raises Unavailable when the
    tablet cannot be reached or the stream breaks; the iteration ends when the agent shuts down."""
    async with aclosing(stream_health_at(f"{tablet.hostname}:{tablet.port}", session)) as reports:
        async for health in reports:
            yield health


async def stream_health_at(address: str, session: aiohttp.ClientSession | None = None) -> AsyncIterator[Health]:
    """:func:`stream_health` of the agent listening at ``host:port`` (whatever topo says)."""
    own_session = session is None
    session = session or aiohttp.ClientSession()
    url = f"http://{address}/health/stream"
    try:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=4 * RESEND_SECONDS)
        async with session.get(url, timeout=timeout) as response:
            if response.status != 200:
                raise Unavailable(f"{url} answered HTTP {response.status}")
            async for line in response.content:
                if line.strip():
                    yield Health.from_json(json.loads(line))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Unavailable(f"health stream at {url} failed: {exc or type(exc).__name__}") from None
    finally:
        if own_session:
            await session.close()
