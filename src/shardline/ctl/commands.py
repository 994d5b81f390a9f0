"""The ctl command table: each command's Vitess name, its flags and the coroutine that runs it.

A command is defined once, next to its implementation (one module per area), as a :class:`Command`. The
``shardline ctl`` client parses flags with :meth:`Command.parse` and sends them to ctld as JSON; ctld calls
:meth:`Command.run` with them. In-process callers call the implementation functions directly.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from shardline.ctl.context import CtlContext
from shardline.errors import InvalidArgument


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise InvalidArgument (one line, exit 1) instead of exiting 2."""

    def error(self, message: str) -> NoReturn:
        raise InvalidArgument(f"{self.prog}: {message}")


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: flags or a positional name, and its keyword options."""

    names: tuple[str, ...]
    options: dict[str, Any]

    def __init__(self, *names: str, **options: Any) -> None:
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "options", options)

    @property
    def dest(self) -> str:
        if "dest" in self.options:
            return self.options["dest"]
        name = next((n for n in self.names if n.startswith("--")), self.names[0])
        return name.lstrip("-").replace("-", "_")

    @property
    def required(self) -> bool:
        if self.names[0].startswith("-"):
            return bool(self.options.get("required"))
        return self.options.get("nargs") not in ("?", "*")

    @property
    def default(self) -> Any:
        if self.options.get("action") == "store_true":
            return self.options.get("default", False)
        return self.options.get("default", [] if self.options.get("nargs") == "*" else None)


@dataclass(frozen=True)
class Command:
    """A ctl command: ``impl(ctx, **args)`` returns a JSON-able result (printed as JSON) or None."""

    name: str
    help: str
    impl: Callable[..., Awaitable[Any]]
    args: tuple[Arg, ...] = field(default=())
    one_of: str | None = None
    """A destination that alternative flags (e.g. ``--sql`` / ``--sql-file``) fill; exactly one is required."""

    def parser(self) -> OneLineArgumentParser:
        parser = OneLineArgumentParser(prog=f"shardline ctl {self.name}", description=self.help)
        group = parser.add_mutually_exclusive_group(required=True) if self.one_of else None
        for arg in self.args:
            target = group if group is not None and arg.dest == self.one_of else parser
            target.add_argument(*arg.names, **arg.options)
        return parser

    def parse(self, argv: Sequence[str]) -> dict[str, Any]:
        """The command's arguments from its command line, as the JSON object sent to ctld."""
        return vars(self.parser().parse_args(list(argv)))

    async def run(self, ctx: CtlContext, args: dict[str, Any]) -> Any:
        """Runs the command with arguments as produced by :meth:`parse`; missing optional ones take defaults."""
        unknown = set(args) - {arg.dest for arg in self.args}
        if unknown:
            raise InvalidArgument(f"{self.name}: unknown arguments {sorted(unknown)}")
        required = {arg.dest for arg in self.args if arg.required} | ({self.one_of} if self.one_of else set())
        missing = sorted(required - set(args))
        if missing:
            raise InvalidArgument(f"{self.name}: missing arguments {missing}")
        return await self.impl(ctx, **({arg.dest: arg.default for arg in self.args} | args))


CELLS_ARG = Arg("--cells", help="comma-separated cells (default: all)")
