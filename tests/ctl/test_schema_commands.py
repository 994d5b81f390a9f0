"""ApplySchema runs on every shard's primary; ApplyVSchema validates against the vindex model and the tables
the shards really have, saving nothing on error."""

from __future__ import annotations

import pytest

from shardline.ctl import keyspaces, schema
from shardline.errors import FailedPrecondition, InvalidArgument, MySQLError, NotFound

ITEM_DDL = "CREATE TABLE IF NOT EXISTS item (item_id BIGINT PRIMARY KEY, name VARCHAR(40)); -- items\n"
ITEM_VSCHEMA = {
    "sharded": True,
    "vindexes": {"hash": {"type": "hash"}},
    "tables": {"item": {"column_vindexes": [{"column": "item_id", "name": "hash"}]}},
}


def test_split_statements_ignores_semicolons_in_strings_and_comments():
    sql = "INSERT INTO t VALUES ('a;b'); /* ; */ ;\n-- done;\nUPDATE t SET x = 1"
    assert schema.split_statements(sql) == ["INSERT INTO t VALUES ('a;b')", "UPDATE t SET x = 1"]
    with pytest.raises(InvalidArgument, match="cannot split"):
        schema.split_statements("SELECT 'unterminated")


async def test_apply_schema_reaches_every_shard_and_its_replicas(live):
    result = await schema.apply_schema(live.ctx, live.name, ITEM_DDL + "INSERT IGNORE INTO item VALUES (1, 'x')")
    assert result == {"keyspace": live.name, "shards": ["-80", "80-"], "statements": 2}
    for primary_uid, replica_uid in live.shards.values():
        primary, replica = live.server(primary_uid).agent, live.server(replica_uid).agent
        await replica.wait_for_position(await primary.primary_position(), timeout=10)
        assert replica.mysql.execute(f"SELECT item_id, name FROM {live.name}.item") == [(1, "x")]


async def test_apply_schema_error_names_the_tablet(live):
    with pytest.raises(MySQLError, match=r"tablet zone1-0000000[23]00: .*doesn't exist") as raised:
        await schema.apply_schema(live.ctx, live.name, "ALTER TABLE no_such_table ADD COLUMN c INT")
    assert raised.value.code == 1146


async def test_apply_schema_needs_a_primary_on_every_shard(ctx):
    await keyspaces.create_keyspace(ctx, "ks")
    await keyspaces.create_shard(ctx, "ks/0")
    with pytest.raises(FailedPrecondition, match="shard ks/0 has no primary"):
        await schema.apply_schema(ctx, "ks", "CREATE TABLE t (id INT)")
    with pytest.raises(InvalidArgument, match="no SQL statement"):
        await schema.apply_schema(ctx, "ks", "-- nothing\n;")


async def test_apply_vschema_saves_and_publishes(live):
    await schema.apply_schema(live.ctx, live.name, ITEM_DDL)
    assert await schema.apply_vschema(live.ctx, live.name, ITEM_VSCHEMA) == ITEM_VSCHEMA
    assert await schema.get_vschema(live.ctx, live.name) == ITEM_VSCHEMA
    assert (await schema.get_srv_vschema(live.ctx, "zone1"))["keyspaces"][live.name] == ITEM_VSCHEMA


async def test_apply_vschema_accepts_a_table_not_created_yet(live):
    ghost = {**ITEM_VSCHEMA, "tables": {"ghost": {"column_vindexes": [{"column": "id", "name": "hash"}]}}}
    assert await schema.apply_vschema(live.ctx, live.name, ghost) == ghost
    await schema.apply_vschema(live.ctx, live.name, ITEM_VSCHEMA)


@pytest.mark.parametrize(
    ("vschema", "message"),
    [
        (
            {**ITEM_VSCHEMA, "tables": {"item": {"column_vindexes": [{"column": "sku", "name": "hash"}]}}},
            "table 'item' has no column 'sku' on shard live/-80",
        ),
        ({**ITEM_VSCHEMA, "vindexes": {"hash": {"type": "hashish"}}}, "unknown vindex type 'hashish'"),
        ({**ITEM_VSCHEMA, "tables": {"item": {}}}, "needs a primary vindex"),
        (
            {
                **ITEM_VSCHEMA,
                "tables": {
                    "item": {
                        "column_vindexes": [{"column": "item_id", "name": "hash"}],
                        "auto_increment": {"column": "item_id", "sequence": "nowhere.item_seq"},
                    }
                },
            },
            "cannot resolve auto_increment sequence 'nowhere.item_seq'",
        ),
        ({"sharded": "yes"}, "'sharded' must be true or false"),
    ],
)
async def test_apply_vschema_refuses_bad_vschemas(live, vschema, message):
    await schema.apply_schema(live.ctx, live.name, ITEM_DDL)
    before = await stored_vschema(live)
    srv_before = await live.ctx.ts.get_srv_vschema("zone1")
    with pytest.raises(InvalidArgument, match=message):
        await schema.apply_vschema(live.ctx, live.name, vschema)
    assert await stored_vschema(live) == before
    assert await live.ctx.ts.get_srv_vschema("zone1") == srv_before


async def stored_vschema(live) -> dict | None:
    try:
        return await live.ctx.ts.get_vschema(live.name)
    except NotFound:
        return None


async def test_apply_vschema_to_an_unknown_keyspace(ctx):
    with pytest.raises(NotFound, match="keyspace 'nope' does not exist"):
        await schema.apply_vschema(ctx, "nope", {})
