"""A gate process: the MySQL listener, the serving graph, the executor, and the HTTP status endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shardline.gate.buffer import DEFAULT_MAX_REQUESTS, DEFAULT_WINDOW
from shardline.gate.executor import Executor
from shardline.gate.handler import GateHandler
from shardline.gate.metrics import GateMetrics
from shardline.gate.pool import DEFAULT_PIPELINE_DEPTH
from shardline.gate.querylog import QueryLog
from shardline.gate.scatter_conn import ScatterConn
from shardline.gate.session import TransactionMode
from shardline.gate.srvtopo import ServingGraph
from shardline.gate.tablet_gateway import TabletGateway
from shardline.httpserver import HttpListener
from shardline.mysql.server import MySQLServer
from shardline.mysql.users import UserStore
from shardline.topo.server import TopoServer

log = logging.getLogger(__name__)


class Gate:
    """Everything one gate runs; ``start`` returns once it accepts MySQL clients."""

    def __init__(self, ts: TopoServer, cell: str, *, host: str = "127.0.0.1", port: int = 15306,
                 http_port: int | None = 15001, users: UserStore | None = None, pool_size: int = 16,
                 max_replica_lag: float = 30.0, transaction_mode: str = "multi", reuse_port: bool = False,
                 buffer_window: float = DEFAULT_WINDOW, buffer_max_requests: int = DEFAULT_MAX_REQUESTS,
                 pipeline_depth: int = DEFAULT_PIPELINE_DEPTH, unix_listener: socket.socket | None = None,
                 worker: tuple[int, int] = (0, 1)) -> None:
        """``unix_listener`` (``mysql.server.listen_unix``): a Unix socket that takes MySQL clients too.
        ``worker`` (index, count): worker i of n gives its clients connection ids i+1, i+1+n, ..., so that an
        id names one connection across the workers."""
        self.transaction_mode = TransactionMode(transaction_mode)
        self.metrics = GateMetrics()
        self.querylog = QueryLog()
        self.gateway = TabletGateway(pool_size=pool_size, max_replica_lag=max_replica_lag,
                                     buffer_window=buffer_window, buffer_max_requests=buffer_max_requests)
        self.serving = ServingGraph(ts, cell, on_tablets_changed=self.gateway.tablets_changed)
        self.gateway.attach(self.serving)
        self.executor = Executor(self.serving, ScatterConn(self.gateway, self.metrics), self.metrics, self.querylog,
                                 pipeline_depth=pipeline_depth)
        self.mysql = MySQLServer(
            lambda conn: GateHandler(self.executor, conn, self.transaction_mode),
            users=users or UserStore({"root": ""}), host=host, port=port, reuse_port=reuse_port,
            unix_listener=unix_listener, connection_ids=(worker[0] + 1, worker[1]))
        self.host = host
        self.http_port = http_port
        self._http: HttpListener | None = None

    @property
    def port(self) -> int:
        return self.mysql.port

    async def start(self) -> None:
        await self.serving.start()
        await self.mysql.start()
        if self.http_port is not None:
            self._http = HttpListener(self._http_app(), self.host, self.http_port, owner="gate")
            await self._http.start()
            self.http_port = self._http.port

    async def close(self) -> None:
        await self.mysql.close()
        if self._http is not None:
            await self._http.stop()
        await self.serving.close()
        await self.gateway.close()

    # -- HTTP ------------------------------------------------------------------------------------------

    def _http_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/debug/querylog", self._querylog)
        app.router.add_get("/debug/status", self._status)
        app.router.add_get("/debug/vschema", self._vschema)
        return app

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _querylog(self, request: web.Request) -> web.StreamResponse:
        """Streams one JSON object per executed statement (NDJSON) until the client disconnects."""
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        queue = self.querylog.subscribe()
        try:
            while True:
                entry = await queue.get()
                await response.write((json.dumps(entry.to_json()) + "\n").encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.querylog.unsubscribe(queue)
        return response

    async def _status(self, request: web.Request) -> web.Response:
        tablets = [{
            "alias": str(v.tablet.alias), "keyspace": v.tablet.keyspace, "shard": v.tablet.shard,
            "type": v.tablet_type, "serving": v.serving, "lag_seconds": v.lag_seconds,
            "mysql": f"{v.tablet.mysql_host}:{v.tablet.mysql_port}",
        } for v in self.serving.tablets()]
        keyspaces = {ks: self.serving.partitions(ks) for ks in self.serving.keyspace_names()}
        return web.json_response({"cell": self.serving.cell, "keyspaces": keyspaces, "tablets": tablets,
                                  "connections": len(self.mysql.connections)})

    async def _vschema(self, request: web.Request) -> web.Response:
        return web.json_response(self.serving.vschema.to_json())
