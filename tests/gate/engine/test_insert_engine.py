"""INSERT, REPLACE and sequences through the planner and the engine on two real shards: where rows land,
lookup rows written first, auto_increment values from the sequence cache, the insert id, and refusals."""

from __future__ import annotations

import asyncio

import pytest

from shardline.errors import FailedPrecondition, InvalidArgument, MySQLError, Unsupported
from shardline.gate.engine.sequence import SequenceCache
from shardline.gate.planner import build_plan, normalize
from shardline.vindexes.vschema import VSchema
from tests.gate.engine.test_dml_engine import (
    BINARY_MD5,
    DmlEnv,
    dml_vschema,
    ksid,
    lookup_state,
    open_dml_env,
    shard_of,
)


@pytest.fixture(scope="module")
async def dml(mariadb_factory):
    env = await open_dml_env(mariadb_factory, "instest")
    yield env
    await env.env.close()


async def next_id(dml: DmlEnv, sequence: str) -> int:
    target = dml.env.targets[dml.commerce][0]
    result = await dml.env.query(target, f"select next_id from {dml.commerce}.{sequence} where id = 0")
    return int(result.rows[0][0])


async def test_rows_land_on_the_shard_their_hash_picks_in_one_insert_per_shard(dml: DmlEnv):
    customers = list(range(1001, 1011))
    values = ", ".join(f"({cid}, 'land', {cid % 3})" for cid in customers)
    result, cursor = await dml.run(f"insert into corder (customer_id, sku, qty) values {values}")
    assert result.rows_affected == 10
    inserts = [(shard, sql) for shard, sql in cursor.log if sql.startswith("INSERT")]
    assert sorted(shard for shard, _ in inserts) == [f"{dml.customer}/-80", f"{dml.customer}/80-"]
    placed = await dml.rows(dml.customer, "select customer_id from corder where sku = 'land'")
    for shard, rows in placed.items():
        assert sorted(int(r[0]) for r in rows) == [c for c in customers if shard_of(ksid(c)) == shard]


async def test_generated_values_come_from_the_sequence_and_the_first_is_the_insert_id(dml: DmlEnv):
    first = await next_id(dml, "order_seq")
    fresh = dml.cursor(sequences=SequenceCache())  # a gate that has reserved nothing yet
    result, _ = await dml.run(
        "insert into corder (order_id, customer_id, sku) values (null, 1, 'gen'), (7000, 2, 'gen'), (0, 3, 'gen')"
        ", (default, 4, 'gen')",
        cursor=fresh,
    )
    assert result.insert_id == first
    rows = await dml.all_rows(dml.customer, "select order_id, customer_id from corder where sku = 'gen'")
    assert rows == sorted(
        [(str(first).encode(), b"1"), (b"7000", b"2"), (str(first + 1).encode(), b"3"),
         (str(first + 2).encode(), b"4")]
    )  # fmt: skip
    assert await next_id(dml, "order_seq") == first + 3  # one block of cache=3 values
    result, _ = await dml.run("insert into corder (customer_id, sku) values (5, 'gen')", cursor=fresh)
    assert result.insert_id == first + 3  # the next block continues the first
    assert await next_id(dml, "order_seq") == first + 6


async def test_a_statement_with_explicit_ids_only_takes_no_sequence_value(dml: DmlEnv):
    before = await next_id(dml, "order_seq")
    result, _ = await dml.run("insert into corder (order_id, customer_id, sku) values (8000, 1, 'explicit')")
    assert result.insert_id == 0 and await next_id(dml, "order_seq") == before


async def test_concurrent_inserts_through_two_gates_get_unique_ids(dml: DmlEnv):
    gates = [SequenceCache(), SequenceCache()]

    async def insert(n: int) -> int:
        cursor = dml.cursor(sequences=gates[n % 2])
        result, _ = await dml.run(f"insert into customer (name, tier) values ('race', {n})", cursor=cursor)
        return result.insert_id

    ids = await asyncio.gather(*(insert(n) for n in range(24)))
    assert len(set(ids)) == 24
    rows = await dml.all_rows(dml.customer, "select customer_id, tier from customer where name = 'race'")
    assert sorted((int(cid), int(tier)) for cid, tier in rows) == sorted(
        (cid, n) for n, cid in enumerate(ids)
    )
    assert await next_id(dml, "customer_seq") > max(ids)


async def test_sequence_cache_hands_out_increasing_values_and_gates_never_overlap(dml: DmlEnv):
    sequence = dml.env.vschema.find_table("customer_seq", dml.commerce)
    first_gate, second_gate = SequenceCache(), SequenceCache()
    sequential = [await first_gate.next_ids(dml.cursor(), sequence, 2) for _ in range(4)]
    assert all(
        b == a + 2 for a, b in zip(sequential, sequential[1:], strict=False)
    )  # one block, then the next
    # The gates ask for different counts at once, so they race to move next_id to different values.
    requests = [(first_gate, 1), (second_gate, 7)] * 8
    starts = await asyncio.gather(*(gate.next_ids(dml.cursor(), sequence, count) for gate, count in requests))
    values = [
        v for start, (_, count) in zip(starts, requests, strict=True) for v in range(start, start + count)
    ]
    values += [v for start in sequential for v in (start, start + 1)]
    assert len(values) == len(set(values))
    assert await next_id(dml, "customer_seq") > max(values)


async def test_next_values_reserves_from_the_sequence(dml: DmlEnv):
    result, _ = await dml.run(f"select next 4 values from {dml.commerce}.customer_seq")
    assert [f.name for f in result.fields] == ["nextval"]
    first = int(result.rows[0][0])
    result, _ = await dml.run(f"select next value from {dml.commerce}.customer_seq")
    assert int(result.rows[0][0]) == first + 4


async def test_a_sequence_table_without_its_row_is_a_clear_error(dml: DmlEnv):
    with pytest.raises(FailedPrecondition, match="has no row with id 0"):
        await dml.run(f"select next value from {dml.commerce}.empty_seq")


async def test_owned_lookup_rows_are_written_with_the_rows_keyspace_id(dml: DmlEnv):
    result, _ = await dml.run(
        "insert into customer (customer_id, email, name) values (2001, 'l1@x', 'lk'), (2002, 'l2@x', 'lk'), "
        "(2003, null, null)"
    )
    assert result.rows_affected == 3
    emails, names = await lookup_state(dml, ["l1@x", "l2@x"], ["lk"])
    assert emails == [(b"l1@x", ksid(2001)), (b"l2@x", ksid(2002))]
    assert names == sorted([(b"lk", ksid(2001)), (b"lk", ksid(2002))])
    on_shard = await dml.rows(dml.customer, "select email from email_idx where email = 'l1@x'")
    assert on_shard[shard_of(BINARY_MD5.map([b"l1@x"])[0])] == [(b"l1@x",)]


async def test_a_taken_lookup_value_fails_the_insert_before_any_owner_row(dml: DmlEnv):
    await dml.run("insert into customer (customer_id, email) values (2101, 'dup@x')")
    with pytest.raises(MySQLError) as failed:
        await dml.run("insert into customer (customer_id, email) values (2102, 'dup@x')")
    assert failed.value.code == 1062
    assert await dml.all_rows(dml.customer, "select customer_id from customer where customer_id = 2102") == []


async def test_insert_ignore_skips_rows_whose_lookup_value_is_taken(dml: DmlEnv):
    await dml.run("insert into customer (customer_id, email) values (2201, 'ign@x')")
    result, _ = await dml.run(
        "insert ignore into customer (customer_id, email) values (2202, 'ign@x'), (2203, 'ign3@x')"
    )
    assert result.rows_affected == 1
    rows = await dml.all_rows(
        dml.customer, "select customer_id from customer where customer_id in (2202, 2203)"
    )
    assert rows == [(b"2203",)]
    emails, _ = await lookup_state(dml, ["ign@x", "ign3@x"], [])
    assert emails == [(b"ign3@x", ksid(2203)), (b"ign@x", ksid(2201))]


async def test_a_row_without_its_primary_vindex_value_is_refused_and_nothing_is_written(dml: DmlEnv):
    with pytest.raises(InvalidArgument, match="value must be supplied for column customer_id"):
        await dml.run("insert into corder (order_id, sku) values (9100, 'nopv')")
    with pytest.raises(InvalidArgument, match="value must be supplied for column customer_id"):
        await dml.run(
            "insert into corder (order_id, customer_id, sku) values (9101, 1, 'nopv'), (9102, null, 'nopv')"
        )
    assert await dml.all_rows(dml.customer, "select order_id from corder where sku = 'nopv'") == []


async def test_upsert_updates_the_row_on_its_shard(dml: DmlEnv):
    statement = "insert into corder (order_id, customer_id, sku, qty) values (9200, 33, 'ups', 1) "
    await dml.run(statement + "on duplicate key update qty = qty + 1")
    result, _ = await dml.run(statement + "on duplicate key update qty = qty + 1")
    assert result.rows_affected == 2  # MySQL counts an updated duplicate as 2
    on_shard = await dml.rows(dml.customer, "select qty from corder where order_id = 9200")
    assert on_shard[shard_of(ksid(33))] == [(b"2",)]


async def test_upsert_that_would_change_a_vindex_column_is_refused(dml: DmlEnv):
    await dml.run("insert into customer (customer_id, email) values (2301, 'u@x')")
    with pytest.raises(Unsupported, match="DML cannot update vindex column email"):
        await dml.run(
            "insert into customer (customer_id, email) values (2301, 'u@x') on duplicate key update email = 'v@x'"
        )
    assert await lookup_state(dml, ["u@x", "v@x"], []) == ([(b"u@x", ksid(2301))], [])


async def test_replace_of_a_table_without_owned_lookups_replaces_on_the_rows_shard(dml: DmlEnv):
    replace = "replace into corder (order_id, customer_id, sku, qty) values (:o, :c, :s, :q)"
    await dml.run(replace, bind_vars={"o": 9300, "c": 44, "s": "rep", "q": 1})
    result, _ = await dml.run(replace, bind_vars={"o": 9300, "c": 44, "s": "rep", "q": 9})
    assert result.rows_affected == 2  # deleted and inserted
    assert await dml.all_rows(dml.customer, "select qty from corder where order_id = 9300") == [(b"9",)]


async def test_unsharded_insert_passes_through_and_reports_mysqls_insert_id(dml: DmlEnv):
    sql = f"insert into {dml.commerce}.note (body) values ('first'), ('second')"
    result, cursor = await dml.run(sql)
    assert cursor.log == [(f"{dml.commerce}/0", sql)]
    assert result.rows_affected == 2
    rows = await dml.all_rows(dml.commerce, f"select id from {dml.commerce}.note where body = 'first'")
    assert result.insert_id == int(rows[0][0])


@pytest.mark.parametrize(
    ("customers", "relayed"),
    [([1], True), ([1, 2], True), ([1, 4], False)],  # hash: 1 and 2 -> -80, 4 -> 80-
)
async def test_an_insert_whose_rows_share_one_shard_is_relayed_as_written(dml: DmlEnv, customers, relayed):
    values = ", ".join(f"({9000 + cid}, {cid}, 'relay', 1)" for cid in customers)
    normalized, binds = normalize(f"insert into corder (order_id, customer_id, sku, qty) values {values}")
    plan = build_plan(normalized, dml.env.vschema, keyspace=dml.customer)
    target = await plan.root.single_shard(dml.cursor(), binds)
    if relayed:
        assert (target.keyspace, target.name) == (dml.customer, shard_of(ksid(customers[0])))
    else:
        assert target is None


async def test_an_insert_with_lookup_rows_or_sequence_values_is_never_relayed(dml: DmlEnv):
    for sql in ("insert into corder (customer_id, sku, qty) values (1, 'seq', 1)",  # order_id from the sequence
                "insert into customer (customer_id, email) values (1, 'lookup@example.com')"):  # owned lookup
        normalized, binds = normalize(sql)
        plan = build_plan(normalized, dml.env.vschema, keyspace=dml.customer)
        assert await plan.root.single_shard(dml.cursor(), binds) is None, sql


async def test_explicit_values_for_an_auto_increment_primary_vindex_column_are_relayed(dml: DmlEnv):
    keyspaces = dml_vschema(dml.customer, dml.commerce)
    keyspaces[dml.customer]["tables"]["ticket"] = {  # the sequence fills the primary vindex column itself
        "column_vindexes": [{"column": "ticket_id", "name": "hash"}],
        "auto_increment": {"column": "ticket_id", "sequence": f"{dml.commerce}.order_seq"},
    }
    vschema = VSchema.from_json(keyspaces)
    for sql, shard in (("insert into ticket (ticket_id, note) values (4, 'x')", shard_of(ksid(4))),
                       ("insert into ticket (note) values ('x')", None)):
        normalized, binds = normalize(sql)
        target = await build_plan(normalized, vschema, keyspace=dml.customer).root.single_shard(dml.cursor(), binds)
        assert (target.name if target else None) == shard, sql


async def test_insert_select_routes_the_selected_rows_with_sequence_values_and_lookup_rows(dml: DmlEnv):
    await dml.run("insert into corder (order_id, customer_id, sku, qty) values "
                  "(9101, 3001, 'src', 1), (9102, 3002, 'src', 2), (9103, 3003, 'src', 3)")
    first = await next_id(dml, "customer_seq")
    fresh = dml.cursor(sequences=SequenceCache())
    # customer_id is both the primary vindex and the auto_increment column: each row's shard is its new id's.
    result, _ = await dml.run(
        "insert into customer (email, name, tier) select concat('copy', customer_id, '@x'), 'copied', qty "
        "from corder where sku = 'src'", cursor=fresh)
    assert (result.rows_affected, result.insert_id) == (3, first)
    placed = await dml.rows(dml.customer, "select customer_id, email, tier from customer where name = 'copied'")
    landed = sorted(row for rows in placed.values() for row in rows)
    assert sorted(int(c) for c, _, _ in landed) == [first, first + 1, first + 2]  # in the SELECT's order
    assert sorted((e.decode(), int(t)) for _, e, t in landed) == [("copy3001@x", 1), ("copy3002@x", 2),
                                                                  ("copy3003@x", 3)]
    for shard, rows in placed.items():
        assert all(shard_of(ksid(int(row[0]))) == shard for row in rows)
    emails, names = await lookup_state(dml, [f"copy{c}@x" for c in (3001, 3002, 3003)], ["copied"])
    assert sorted(email for email, _ in emails) == [b"copy3001@x", b"copy3002@x", b"copy3003@x"]
    assert len(names) == 3
    # Selected ids are kept; an empty SELECT inserts nothing; a SELECT of the wrong width is refused.
    result, _ = await dml.run("insert into corder (order_id, customer_id, sku) select order_id + 100, customer_id, "
                              "'moved' from corder where sku = 'src'")
    assert result.rows_affected == 3
    assert await dml.all_rows(dml.customer, "select order_id from corder where sku = 'moved'") == [
        (b"9201",), (b"9202",), (b"9203",)]
    result, _ = await dml.run("insert into corder (customer_id, sku, order_id) select customer_id, 'last', "
                              "order_id + 200 from corder where sku = 'src'")  # the auto_increment column last
    assert result.rows_affected == 3
    assert await dml.all_rows(dml.customer, "select order_id from corder where sku = 'last'") == [
        (b"9301",), (b"9302",), (b"9303",)]
    result, _ = await dml.run("insert into corder (customer_id, sku) select customer_id, sku from corder where 1 = 0")
    assert result.rows_affected == 0
    with pytest.raises(MySQLError, match="Column count doesn't match"):
        await dml.run("insert into corder (customer_id, sku) select customer_id from corder")
