"""The ``shardline ctl`` side of ctld: send one command's arguments, get its result."""

from __future__ import annotations

from typing import Any

import aiohttp

from shardline.ctl.commands import Command
from shardline.tablet.httpjson import post_json

DEFAULT_SERVER = "127.0.0.1:15999"


async def call_ctld(server: str, command: Command, args: dict[str, Any], timeout: float) -> Any:
    """Runs ``command`` on the ctld at ``server`` (host:port); returns its result or raises its error."""
    async with aiohttp.ClientSession() as session:
        return await post_json(session, f"http://{server}/api/{command.name}", args, timeout)
