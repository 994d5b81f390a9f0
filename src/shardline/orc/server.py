"""The failover agent's HTTP port: ``/metrics`` (Prometheus) and ``/debug/status`` (JSON: tablets, current
problems, recoveries in progress and the recent ones)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shardline.httpserver import HttpListener
from shardline.orc.agent import Orc


class OrcServer(HttpListener):
    """Serves ``orc`` on ``host:port`` (0 picks a free port) until :meth:`stop`."""

    def __init__(self, orc: Orc, host: str, port: int) -> None:
        self.orc = orc
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/debug/status", self._status)
        super().__init__(app, host, port, owner="orc")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.orc.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.orc.status())
