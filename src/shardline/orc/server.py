"""The failover agent's HTTP port: ``/metrics`` (Prometheus) and ``/debug/status`` (JSON: tablets, current
problems, recoveries in progress and the recent ones)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shardline.errors import FailedPrecondition
from shardline.orc.agent import Orc


class OrcServer:
    """Serves ``orc`` on ``host:port`` (0 picks a free port) until :meth:`stop`."""

    def __init__(self, orc: Orc, host: str, port: int) -> None:
        self.orc = orc
        self.host = host
        self.port = port
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/debug/status", self._status)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)

    async def start(self) -> None:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise FailedPrecondition(f"orc: cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.orc.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.orc.status())
