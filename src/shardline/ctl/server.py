"""ctld: the ctl commands over HTTP/JSON, ``POST /api/<Command>`` with the command's arguments."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shardline.ctl.context import CtlContext
from shardline.ctl.registry import COMMANDS
from shardline.errors import FailedPrecondition, NotFound
from shardline.tablet.httpjson import json_handler


def build_app(ctx: CtlContext) -> web.Application:
    """The aiohttp application running commands against ``ctx``."""

    async def run(request: web.Request, args: dict[str, Any]) -> Any:
        name = request.match_info["command"]
        command = COMMANDS.get(name)
        if command is None:
            raise NotFound(f"unknown command {name!r}")
        return await command.run(ctx, args)

    app = web.Application()
    app.router.add_post("/api/{command}", json_handler(run))
    return app


class CtldServer:
    """ctld listening on ``host:port`` (0 picks a free port) until :meth:`stop`."""

    def __init__(self, ctx: CtlContext, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._runner = web.AppRunner(build_app(ctx), access_log=None, shutdown_timeout=1.0)

    async def start(self) -> None:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise FailedPrecondition(f"ctld: cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()
