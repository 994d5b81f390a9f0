"""The tablet agent's HTTP server: ``POST /rpc/<Method>`` (JSON arguments -> JSON result) and
``GET /health/stream`` (NDJSON health reports: one on connect, or as soon as the agent has started, then on
every change and at least every ``health.RESEND_SECONDS``)."""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shardline.errors import InvalidArgument, NotFound
from shardline.httpserver import HttpListener
from shardline.tablet.agent import TabletAgent
from shardline.tablet.health import RESEND_SECONDS
from shardline.tablet.httpjson import json_handler

RPC_METHODS: dict[str, str] = {
    "SetReadOnly": "set_read_only",
    "SetReadWrite": "set_read_write",
    "ChangeType": "change_type",
    "StartReplication": "start_replication",
    "StopReplication": "stop_replication",
    "SetReplicationSource": "set_replication_source",
    "PrimaryPosition": "primary_position",
    "WaitForPosition": "wait_for_position",
    "ExecuteFetchAsDba": "execute_fetch_as_dba",
    "ReplicationStatus": "replication_status",
    "FullStatus": "full_status",
    "ResetReplication": "reset_replication",
    "InitPrimary": "init_primary",
    "InitReplica": "init_replica",
    "PopulateReparentJournal": "populate_reparent_journal",
}
"""Vitess's TabletManager method names -> TabletAgent methods."""

_JSON_TYPES: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}


@functools.cache
def _argument_types(method: Callable[..., Awaitable[Any]]) -> dict[str, Any]:
    """The annotated types of ``method``'s arguments (evaluating the annotations costs more than the call)."""
    hints = typing.get_type_hints(method)
    hints.pop("return", None)
    return hints


def _checked_call(method: Callable[..., Awaitable[Any]], name: str, args: dict[str, Any]) -> Awaitable[Any]:
    """Calls ``method(**args)`` after checking the argument names and JSON types against its signature."""
    hints = _argument_types(getattr(method, "__func__", method))  # a bound method: cached by its function
    unknown = set(args) - set(hints)
    if unknown:
        raise InvalidArgument(f"{name}: unknown arguments {sorted(unknown)}")
    for arg, value in args.items():
        allowed = _JSON_TYPES.get(hints[arg], ())
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            raise InvalidArgument(f"{name}: argument {arg!r} must be {hints[arg].__name__}, got {value!r}")
    try:
        return method(**args)
    except TypeError as exc:  # a required argument is missing
        raise InvalidArgument(f"{name}: {exc}") from None


def build_app(agent: TabletAgent) -> web.Application:
    """The aiohttp application serving ``agent``."""

    async def rpc(request: web.Request, args: dict[str, Any]) -> Any:
        name = request.match_info["method"]
        if name not in RPC_METHODS:
            raise NotFound(f"unknown tablet manager method {name!r}")
        return await _checked_call(getattr(agent, RPC_METHODS[name]), name, args)

    async def health_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        health = agent.health.current
        try:
            while not agent.health.closed:
                if health is not None:  # None until the agent has started
                    await response.write(json.dumps(health.to_json()).encode() + b"\n")
                health = await agent.health.next(RESEND_SECONDS)
        except ConnectionResetError:  # the subscriber went away
            pass
        return response

    app = web.Application()
    app.router.add_post("/rpc/{method}", json_handler(rpc))
    app.router.add_get("/health/stream", health_stream)
    return app


class TabletServer:
    """A tablet agent behind its HTTP server: :meth:`start` binds ``port`` (0 picks a free one), then starts
    the agent, which publishes the bound port; :meth:`stop` undoes both."""

    def __init__(self, agent: TabletAgent, port: int) -> None:
        self.agent = agent
        self._http = HttpListener(build_app(agent), agent.config.hostname, port, owner=f"tablet {agent.alias}")

    @property
    def port(self) -> int:
        return self._http.port

    async def start(self) -> None:
        await self._http.start()
        try:
            await self.agent.start(self.port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.agent.health.close()
        await self._http.stop()
        await self.agent.stop()
