"""One way to run an aiohttp application on a port, for the management endpoints of every component
(tablet agents, ctld, the failover agent, the gate's status pages)."""

from __future__ import annotations

from aiohttp import web

from shardline.errors import FailedPrecondition

SHUTDOWN_TIMEOUT = 1.0  # seconds open streams (health, query log) may delay a stop; aiohttp's default is 60


class HttpListener:
    """``app`` on ``host:port`` (0 picks a free port, readable as ``port`` after :meth:`start`)."""

    def __init__(self, app: web.Application, host: str, port: int, *, owner: str) -> None:
        self.host = host
        self.port = port
        self.owner = owner
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)

    async def start(self) -> None:
        """Binds; a port in use (or any bind error) is one clear FailedPrecondition."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise FailedPrecondition(f"{self.owner}: cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()
