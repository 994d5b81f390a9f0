"""The management path's HTTP/JSON conventions, shared by the tablet agent and ctld on both sides.

A call is ``POST <path>`` with a JSON object of arguments. The answer is ``{"result": ...}`` with status 200,
or ``{"error": {"type": ..., "message": ..., "code": ..., "sqlstate": ...}}`` with a 4xx/5xx status; the
client raises the same ShardlineError subclass the server raised.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from shardline import errors
from shardline.errors import DeadlineExceeded, InvalidArgument, ShardlineError, Unavailable

_STATUS = {
    errors.InvalidArgument: 400,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.FailedPrecondition: 412,
    errors.Unsupported: 501,
    errors.Unavailable: 503,
    errors.DeadlineExceeded: 504,
}
_ERROR_TYPES: dict[str, type[ShardlineError]] = {
    cls.__name__: cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, ShardlineError)
}


def error_to_json(exc: ShardlineError) -> dict[str, Any]:
    """The wire form of an error; subclasses defined elsewhere travel as their nearest shared base."""
    cls = next(base for base in type(exc).__mro__ if base.__name__ in _ERROR_TYPES)
    return {"type": cls.__name__, "message": exc.message, "code": exc.code, "sqlstate": exc.sqlstate}


def error_from_json(data: dict[str, Any]) -> ShardlineError:
    """The error an answer carries, as the ShardlineError subclass named in it."""
    message = str(data.get("message", "unknown error"))
    code, sqlstate = int(data.get("code", 1105)), str(data.get("sqlstate", "HY000"))
    cls = _ERROR_TYPES.get(str(data.get("type")), ShardlineError)
    if cls is errors.MySQLError:
        return errors.MySQLError(code, sqlstate, message)
    return cls(message, code=code, sqlstate=sqlstate)


def error_response(exc: ShardlineError) -> web.Response:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 500)
    return web.json_response({"error": error_to_json(exc)}, status=status)


async def read_args(request: web.Request) -> dict[str, Any]:
    """The JSON object of a call's arguments (an empty body means no arguments)."""
    body = await request.read()
    if not body:
        return {}
    try:
        args = json.loads(body)
    except ValueError as exc:
        raise InvalidArgument(f"request body is not JSON: {exc}") from None
    if not isinstance(args, dict):
        raise InvalidArgument("request body must be a JSON object of arguments")
    return args


def json_handler(call: Callable[[web.Request, dict[str, Any]], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Wraps ``call(request, args) -> result`` into an aiohttp handler speaking the conventions above."""

    async def handler(request: web.Request) -> web.Response:
        try:
            result = await call(request, await read_args(request))
        except ShardlineError as exc:
            return error_response(exc)
        return web.json_response({"result": result})

    return handler


async def post_json(
    session: aiohttp.ClientSession, url: str, args: dict[str, Any], timeout: float | None
) -> Any:
    """Calls ``url`` with ``args``; returns the result or raises the server's error (Unavailable if unreachable)."""
    try:
        async with session.post(url, json=args, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                raise Unavailable(f"{url} answered HTTP {response.status} without JSON") from None
    except TimeoutError:
        raise DeadlineExceeded(f"{url} did not answer within {timeout:g}s") from None
    except aiohttp.ClientError as exc:
        raise Unavailable(f"cannot reach {url}: {exc}") from None
    if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
        raise Unavailable(f"{url} answered HTTP {response.status} with an unexpected body")
    if "error" in answer:
        raise error_from_json(answer["error"])
    return answer["result"]


async def until_terminated() -> None:
    """Returns when the process receives SIGTERM or SIGINT (the servers' shutdown signal)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
