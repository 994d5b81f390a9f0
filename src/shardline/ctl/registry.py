"""Every ctl command by its Vitess name."""

from __future__ import annotations

from shardline.ctl import cells, keyspaces, reparent, schema, tablets
from shardline.ctl.commands import Command

COMMANDS: dict[str, Command] = {
    command.name: command
    for module in (keyspaces, cells, tablets, reparent, schema)
    for command in module.COMMANDS
}
