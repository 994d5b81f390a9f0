"""ctld: the ctl commands over HTTP/JSON, ``POST /api/<Command>`` with the command's arguments."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shardline.ctl.context import CtlContext
from shardline.ctl.registry import COMMANDS
from shardline.errors import NotFound
from shardline.httpserver import HttpListener
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


class CtldServer(HttpListener):
    """ctld listening on ``host:port`` (0 picks a free port) until :meth:`stop`."""

    def __init__(self, ctx: CtlContext, host: str, port: int) -> None:
        super().__init__(build_app(ctx), host, port, owner="ctld")
