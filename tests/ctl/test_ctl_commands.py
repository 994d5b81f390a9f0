"""Topo commands called in-process: results, and bad input refused with topo left unchanged."""

from __future__ import annotations

import pytest

from shardline.ctl import cells, keyspaces, tablets
from shardline.ctl.registry import COMMANDS
from shardline.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


async def topo_dump(ctx) -> list[tuple[str, bytes]]:
    entries = [entry for prefix in ("global/", "cells/") for entry in await ctx.ts.conn.list(prefix)]
    return [(entry.key, entry.value) for entry in entries]


async def test_keyspace_and_shard_commands(ctx):
    assert await keyspaces.create_keyspace(ctx, "ks", "semi_sync") == {"name": "ks", "durability_policy": "semi_sync"}
    assert await keyspaces.get_keyspaces(ctx) == [{"name": "ks", "durability_policy": "semi_sync"}]
    assert (await ctx.ts.get_srv_vschema("zone1")).keyspaces == {"ks": {}}
    for shard in ("-80", "80-"):
        await keyspaces.create_shard(ctx, f"ks/{shard}")
    assert list(await keyspaces.find_all_shards_in_keyspace(ctx, "ks")) == ["-80", "80-"]
    assert (await keyspaces.get_shard(ctx, "ks/80-"))["key_range"] == {"start": "80", "end": ""}
    srv = await keyspaces.rebuild_keyspace_graph(ctx, "ks")
    assert [ref["name"] for ref in srv["partitions"]["PRIMARY"]] == ["-80", "80-"]
    assert await keyspaces.get_srv_keyspace(ctx, "zone1", "ks") == srv
    await keyspaces.delete_keyspace(ctx, "ks", recursive=True)
    assert await keyspaces.get_keyspaces(ctx) == []
    assert (await ctx.ts.get_srv_vschema("zone1")).keyspaces == {}


async def test_cell_commands(ctx):
    assert await cells.add_cell_info(ctx, "zone2") == {"name": "zone2", "server_address": "", "root": ""}
    assert await cells.get_cell_info_names(ctx) == ["zone1", "zone2"]
    assert (await cells.get_cell_info(ctx, "zone2"))["name"] == "zone2"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda ctx: keyspaces.create_keyspace(ctx, "ks"), AlreadyExists, "keyspace 'ks' already exists"),
        (lambda ctx: keyspaces.create_keyspace(ctx, "k-s"), InvalidArgument, "invalid keyspace name"),
        (lambda ctx: keyspaces.create_keyspace(ctx, "k2", "raft"), InvalidArgument, "invalid durability policy"),
        (lambda ctx: keyspaces.get_keyspace(ctx, "nope"), NotFound, "keyspace 'nope' does not exist"),
        (lambda ctx: keyspaces.delete_keyspace(ctx, "ks"), FailedPrecondition, "still has shards -80"),
        (lambda ctx: keyspaces.delete_keyspace(ctx, "nope"), NotFound, "keyspace 'nope' does not exist"),
        (lambda ctx: keyspaces.create_shard(ctx, "ks/-80"), (AlreadyExists, InvalidArgument), "ks/-80"),
        (lambda ctx: keyspaces.create_shard(ctx, "ks/-40"), InvalidArgument, "overlaps serving shard ks/-80"),
        (lambda ctx: keyspaces.create_shard(ctx, "ks/zz-"), InvalidArgument, "invalid shard name"),
        (lambda ctx: keyspaces.create_shard(ctx, "nope/0"), NotFound, "keyspace 'nope' does not exist"),
        (lambda ctx: keyspaces.create_shard(ctx, "ks"), InvalidArgument, "invalid keyspace/shard"),
        (lambda ctx: keyspaces.rebuild_keyspace_graph(ctx, "ks"), FailedPrecondition, "gap in key space after -80"),
        (lambda ctx: keyspaces.get_srv_keyspace(ctx, "zone1", "ks"), NotFound, "has no serving graph"),
        (lambda ctx: keyspaces.get_srv_keyspace(ctx, "zone9", "ks"), NotFound, "cell 'zone9' does not exist"),
        (lambda ctx: cells.add_cell_info(ctx, "zone1"), AlreadyExists, "cell 'zone1' already exists"),
        (lambda ctx: tablets.get_tablets(ctx, cell="zone9"), NotFound, "cell 'zone9' does not exist"),
        (lambda ctx: tablets.get_tablets(ctx, keyspace="nope"), NotFound, "keyspace 'nope' does not exist"),
        (lambda ctx: tablets.get_tablets(ctx, shard="-80"), InvalidArgument, "--shard needs --keyspace"),
        (lambda ctx: tablets.get_tablet(ctx, "zone1-1"), NotFound, "tablet zone1-0000000001 does not exist"),
        (lambda ctx: tablets.get_tablet(ctx, "zone1"), InvalidArgument, "invalid tablet alias"),
    ],
)
async def test_bad_input_leaves_topo_unchanged(ctx, call, error, message):
    await keyspaces.create_keyspace(ctx, "ks")
    await keyspaces.create_shard(ctx, "ks/-80")
    before = await topo_dump(ctx)
    with pytest.raises(error, match=message):
        await call(ctx)
    assert await topo_dump(ctx) == before


async def test_commands_run_with_json_arguments(ctx):
    create = COMMANDS["CreateKeyspace"]
    assert create.parse(["ks", "--durability-policy", "semi_sync"]) == {
        "keyspace": "ks",
        "durability_policy": "semi_sync",
    }
    assert await create.run(ctx, {"keyspace": "ks"}) == {"name": "ks", "durability_policy": "none"}
    with pytest.raises(InvalidArgument, match=r"missing arguments \['keyspace'\]"):
        await create.run(ctx, {})
    with pytest.raises(InvalidArgument, match=r"unknown arguments \['color'\]"):
        await create.run(ctx, {"keyspace": "k2", "color": "red"})
    with pytest.raises(InvalidArgument, match="invalid choice: 'raft'"):
        create.parse(["k2", "--durability-policy", "raft"])
    with pytest.raises(InvalidArgument, match="one of the arguments --sql --sql-file is required"):
        COMMANDS["ApplySchema"].parse(["ks"])
    assert await ctx.ts.get_keyspace_names() == ["ks"]


def test_file_flags_send_the_file_contents(tmp_path):
    (tmp_path / "ddl.sql").write_text("CREATE TABLE t (id INT);")
    (tmp_path / "vschema.json").write_text('{"sharded": false}')
    assert COMMANDS["ApplySchema"].parse(["ks", "--sql-file", str(tmp_path / "ddl.sql")]) == {
        "keyspace": "ks",
        "sql": "CREATE TABLE t (id INT);",
    }
    assert COMMANDS["ApplyVSchema"].parse(["ks", "--vschema-file", str(tmp_path / "vschema.json")]) == {
        "keyspace": "ks",
        "vschema": {"sharded": False},
    }
    with pytest.raises(InvalidArgument, match="cannot read"):
        COMMANDS["ApplyVSchema"].parse(["ks", "--vschema-file", str(tmp_path / "missing.json")])
    with pytest.raises(InvalidArgument, match="not allowed with argument"):
        COMMANDS["ApplySchema"].parse(["ks", "--sql", "x", "--sql-file", str(tmp_path / "ddl.sql")])
