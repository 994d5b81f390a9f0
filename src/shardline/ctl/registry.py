"""Every ctl command by its Vitess name."""

from __future__ import annotations

from shardline.ctl import cells, keyspaces, reparent, reparent_commands, schema, tablets
from shardline.ctl.commands import Command

COMMANDS: dict[str, Command] = {
    command.name: command
    for module in (keyspaces, cells, tablets, reparent, reparent_commands, schema)
    for command in module.COMMANDS
}
