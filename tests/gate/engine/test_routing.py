"""Where the engine sends queries: which shards, which text, and what the executor's fast path learns."""

from __future__ import annotations

import pytest

from shardline.errors import MySQLError
from shardline.gate.planner import build_plan, normalize
from shardline.vindexes.hash import Hash
from tests.gate.conftest import DirectVCursor, ShardedEnv

CUSTOMER_ID = 33  # present in the data


def shard_of(customer_id: int) -> str:
    return "customer/-80" if Hash("hash", {}).map([customer_id])[0] < b"\x80" else "customer/80-"


async def test_a_vindex_equality_runs_the_original_text_on_one_shard(sharded_env: ShardedEnv):
    sql = f"SELECT name,  tier+1 FROM customer WHERE customer_id = {CUSTOMER_ID}"
    result, vcursor = await sharded_env.run(sql)
    assert vcursor.log == [(shard_of(CUSTOMER_ID), sql)]
    assert [f.name for f in result.fields] == ["name", "tier+1"]
    assert len(result.rows) == 1


async def test_single_shard_tells_the_fast_path_the_target_without_running_anything(sharded_env: ShardedEnv):
    normalized, bind_vars = normalize(f"SELECT * FROM customer WHERE customer_id = {CUSTOMER_ID}")
    plan = build_plan(normalized, sharded_env.vschema, keyspace="customer")
    vcursor = DirectVCursor(sharded_env)
    target = await plan.root.single_shard(vcursor, bind_vars)
    assert target is not None and f"customer/{target.name}" == shard_of(CUSTOMER_ID)
    assert vcursor.log == []
    for sql in ["SELECT * FROM customer", "SELECT COUNT(*) FROM customer", "SELECT * FROM corder ORDER BY 1"]:
        normalized, bind_vars = normalize(sql)
        plan = build_plan(normalized, sharded_env.vschema, keyspace="customer")
        assert await plan.root.single_shard(vcursor, bind_vars) is None


async def test_an_in_list_is_split_by_shard(sharded_env: ShardedEnv):
    ids = [1, 2, 3, 4, 5, 6, 7, 8]
    _, vcursor = await sharded_env.run(
        f"SELECT customer_id FROM customer WHERE customer_id IN ({', '.join(map(str, ids))})"
    )
    sent = dict(vcursor.log)
    assert set(sent) == {shard_of(i) for i in ids}
    for shard, sql in sent.items():
        listed = sql.split("IN (")[1].rstrip(")").split(", ")
        assert sorted(map(int, listed)) == [i for i in ids if shard_of(i) == shard]


async def test_a_lookup_vindex_reads_its_table_then_goes_to_one_shard(sharded_env: ShardedEnv):
    rows = await sharded_env.reference_query(f"SELECT email FROM customer WHERE customer_id = {CUSTOMER_ID}")
    email = rows.rows[0][0].decode()
    result, vcursor = await sharded_env.run(f"SELECT customer_id FROM customer WHERE email = '{email}'")
    assert result.rows == [(str(CUSTOMER_ID).encode(),)]
    assert "customer_email_idx" in vcursor.log[0][1]
    assert vcursor.log[-1][0] == shard_of(CUSTOMER_ID)
    assert len(vcursor.log) == 2


async def test_a_value_that_maps_to_no_shard_still_answers_with_fields(sharded_env: ShardedEnv):
    result, vcursor = await sharded_env.run("SELECT customer_id, name FROM customer WHERE customer_id = NULL")
    assert (result.rows, [f.name for f in result.fields]) == ([], ["customer_id", "name"])
    assert len(vcursor.log) == 1
    result, _ = await sharded_env.run(
        "SELECT COUNT(*) FROM customer WHERE customer_id IN (SELECT sku FROM commerce.product WHERE 1 = 0)"
    )
    assert result.rows == [(b"0",)]


async def test_an_impossible_condition_still_answers_from_one_shard(sharded_env: ShardedEnv):
    result, vcursor = await sharded_env.run("SELECT COUNT(*), MAX(name) FROM customer WHERE FALSE")
    assert result.rows == [(b"0", None)]
    assert len(vcursor.log) == 1


async def test_a_reference_table_is_read_on_one_shard(sharded_env: ShardedEnv):
    _, vcursor = await sharded_env.run("SELECT COUNT(*) FROM product")
    assert len(vcursor.log) == 1


async def test_a_cross_shard_join_routes_each_right_query_by_the_bound_value(sharded_env: ShardedEnv):
    result, vcursor = await sharded_env.run(
        f"SELECT o.order_id, c.name FROM corder o JOIN customer c ON c.email = o.sku WHERE o.customer_id = {CUSTOMER_ID}"
    )
    left = vcursor.log[0]
    assert left[0] == shard_of(CUSTOMER_ID)
    assert result.rows == []  # no order's sku is an email


async def test_a_scalar_subquery_with_several_rows_fails_as_in_mysql(sharded_env: ShardedEnv):
    with pytest.raises(MySQLError) as caught:
        await sharded_env.run(
            "SELECT customer_id FROM customer WHERE tier = (SELECT price FROM commerce.product)"
        )
    assert caught.value.code == 1242
    with pytest.raises(MySQLError) as caught:
        await sharded_env.run(
            "SELECT customer_id FROM customer WHERE tier IN (SELECT sku, price FROM commerce.product)"
        )
    assert caught.value.code == 1241


async def test_shard_errors_come_back_as_mysql_errors(sharded_env: ShardedEnv):
    with pytest.raises(MySQLError) as caught:
        await sharded_env.run("SELECT nosuchcolumn FROM customer ORDER BY 1")
    assert caught.value.code == 1054
