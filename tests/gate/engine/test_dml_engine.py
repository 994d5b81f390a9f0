"""UPDATE and DELETE through the planner and the engine on two real shards: routing, rows affected, refusals
that change nothing, and the owned lookup rows kept in step.

:func:`open_dml_env` builds the keyspaces these tests (and the INSERT tests) write to: a sharded one split
``-80``/``80-`` by ``hash(customer_id)`` and an unsharded one with the sequences and a lookup table, as
databases of their own on the engine tests' instances, so writing never disturbs the read tests' data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from shardline.errors import MySQLError, Unsupported
from shardline.gate.engine.sequence import SequenceCache
from shardline.gate.engine.vcursor import ShardTarget
from shardline.gate.planner import build_plan, normalize
from shardline.mysqlctl.instance import MysqlInstance
from shardline.sqltypes import Result
from shardline.vindexes.binary_md5 import BinaryMD5
from shardline.vindexes.hash import Hash
from shardline.vindexes.vschema import Table, VSchema
from tests.gate import conftest as gate_fixtures

SHARDED_SCHEMA = [
    "CREATE TABLE customer (customer_id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(128), name VARCHAR(64), "
    "tier INT, UNIQUE KEY email (email))",
    "CREATE TABLE email_idx (email VARCHAR(128) NOT NULL PRIMARY KEY, keyspace_id VARBINARY(16))",
    "CREATE TABLE corder (order_id BIGINT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL, sku VARCHAR(32), "
    "qty INT)",
]
UNSHARDED_SCHEMA = [
    "CREATE TABLE customer_seq (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'",
    "INSERT INTO customer_seq (id, next_id, cache) VALUES (0, 1, 5)",
    "CREATE TABLE order_seq (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'",
    "INSERT INTO order_seq (id, next_id, cache) VALUES (0, 1000, 3)",
    "CREATE TABLE empty_seq (id INT, next_id BIGINT, cache BIGINT, PRIMARY KEY (id)) COMMENT 'vitess_sequence'",
    "CREATE TABLE name_idx (name VARCHAR(64) NOT NULL, keyspace_id VARBINARY(16) NOT NULL, "
    "PRIMARY KEY (name, keyspace_id))",
    "CREATE TABLE note (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, body VARCHAR(64))",
]
HASH = Hash("hash", {})
BINARY_MD5 = BinaryMD5("binary_md5", {})


def dml_vschema(customer: str, commerce: str) -> dict[str, Any]:
    """``customer`` owns a consistent unique lookup on email (table sharded by binary_md5) and a non-unique
    lookup on name (table in the unsharded keyspace); ``corder`` has only its primary vindex."""
    return {
        commerce: {
            "tables": {
                "customer_seq": {"type": "sequence"},
                "order_seq": {"type": "sequence"},
                "empty_seq": {"type": "sequence"},
                "name_idx": {},
                "note": {},
            }
        },
        customer: {
            "sharded": True,
            "vindexes": {
                "hash": {"type": "hash"},
                "binary_md5": {"type": "binary_md5"},
                "email_lookup": {
                    "type": "consistent_lookup_unique",
                    "params": {"table": f"{customer}.email_idx", "from": "email", "to": "keyspace_id",
                               "ignore_nulls": "true"},
                    "owner": "customer",
                },
                "name_lookup": {
                    "type": "lookup",
                    "params": {"table": f"{commerce}.name_idx", "from": "name", "to": "keyspace_id",
                               "ignore_nulls": "true"},
                    "owner": "customer",
                },
            },
            "tables": {
                "customer": {
                    "column_vindexes": [
                        {"column": "customer_id", "name": "hash"},
                        {"column": "email", "name": "email_lookup"},
                        {"column": "name", "name": "name_lookup"},
                    ],
                    "auto_increment": {"column": "customer_id", "sequence": f"{commerce}.customer_seq"},
                },
                "email_idx": {"column_vindexes": [{"column": "email", "name": "binary_md5"}]},
                "corder": {
                    "column_vindexes": [{"column": "customer_id", "name": "hash"}],
                    "auto_increment": {"column": "order_id", "sequence": f"{commerce}.order_seq"},
                },
            },
        },
    }  # fmt: skip


@dataclass
class GateVCursor(gate_fixtures.DirectVCursor):
    """The test cursor with a gate's sequence cache (``sequences``) instead of a round trip per insert."""

    sequences: SequenceCache = field(default_factory=SequenceCache)

    async def next_sequence_ids(self, sequence: Table, count: int) -> int:
        return await self.sequences.next_ids(self, sequence, count)


@dataclass
class DmlEnv:
    """The two keyspaces (``customer`` sharded, ``commerce`` unsharded) and one gate's sequence cache."""

    env: gate_fixtures.ShardedEnv
    customer: str
    commerce: str
    sequences: SequenceCache = field(default_factory=SequenceCache)

    def cursor(self, sql: str = "", sequences: SequenceCache | None = None) -> GateVCursor:
        return GateVCursor(self.env, sql, sequences=sequences or self.sequences)

    async def run(
        self, sql: str, *, bind_vars: dict[str, Any] | None = None, cursor: GateVCursor | None = None
    ) -> tuple[Result, GateVCursor]:
        """Normalizes (unless ``bind_vars`` are given: ``sql`` is then taken as normalized), plans and runs."""
        normalized, binds = (sql, bind_vars) if bind_vars is not None else normalize(sql)
        plan = build_plan(normalized, self.env.vschema, keyspace=self.customer)
        cursor = cursor or self.cursor(sql)
        return await plan.execute(cursor, binds), cursor

    def target(self, keyspace: str, keyspace_id: bytes = b"") -> ShardTarget:
        return next(t for t in self.env.targets[keyspace] if t.key_range.contains(keyspace_id))

    async def rows(self, keyspace: str, sql: str) -> dict[str, list[tuple]]:
        """The rows ``sql`` reads on each shard of the keyspace, by shard name."""
        out = {}
        for target in self.env.targets[keyspace]:
            out[target.name] = list((await self.env.query(target, sql)).rows)
        return out

    async def all_rows(self, keyspace: str, sql: str) -> list[tuple]:
        return sorted(row for rows in (await self.rows(keyspace, sql)).values() for row in rows)


def shard_of(keyspace_id: bytes) -> str:
    return "-80" if keyspace_id < b"\x80" else "80-"


def ksid(customer_id: int) -> bytes:
    return HASH.map([customer_id])[0]


async def open_dml_env(mariadb_factory: Callable[[str], MysqlInstance], prefix: str) -> DmlEnv:
    """Fresh databases ``<prefix>_customer`` (both shards) and ``<prefix>_commerce`` (first instance)."""
    first, second = mariadb_factory("engine-customer-80"), mariadb_factory("engine-customer-80-")
    customer, commerce = f"{prefix}_customer", f"{prefix}_commerce"
    for instance, database, schema in (
        (first, customer, SHARDED_SCHEMA),
        (second, customer, SHARDED_SCHEMA),
        (first, commerce, UNSHARDED_SCHEMA),
    ):
        with instance.dba_connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
            cursor.execute(f"CREATE DATABASE {database}")
            cursor.execute(f"USE {database}")
            for statement in schema:
                cursor.execute(statement)
    vschema = VSchema.from_json(dml_vschema(customer, commerce))
    instances = {(customer, "-80"): first, (customer, "80-"): second, (commerce, "0"): first}
    return DmlEnv(gate_fixtures.ShardedEnv(vschema, instances, first), customer, commerce)


@pytest.fixture(scope="module")
async def dml(mariadb_factory):
    env = await open_dml_env(mariadb_factory, "dmltest")
    yield env
    await env.env.close()


async def add_customers(dml: DmlEnv, rows: list[tuple[int, str | None, str | None, int]]) -> None:
    values = ", ".join(
        f"({cid}, {'NULL' if email is None else repr(email)}, {'NULL' if name is None else repr(name)}, {tier})"
        for cid, email, name, tier in rows
    )
    await dml.run(f"insert into customer (customer_id, email, name, tier) values {values}")


async def add_orders(dml: DmlEnv, rows: list[tuple[int, int, str, int]]) -> None:
    values = ", ".join(f"({oid}, {cid}, '{sku}', {qty})" for oid, cid, sku, qty in rows)
    await dml.run(f"insert into corder (order_id, customer_id, sku, qty) values {values}")


def shards_in(cursor: GateVCursor, verb: str) -> list[str]:
    return sorted(shard for shard, sql in cursor.log if sql.lower().startswith(verb))


async def test_update_by_primary_vindex_runs_on_its_shard_only(dml: DmlEnv):
    await add_orders(dml, [(1, 11, "up-a", 1), (2, 12, "up-a", 1), (3, 11, "up-b", 1)])
    result, cursor = await dml.run("update corder set qty = qty + 10 where customer_id = 11")
    assert result.rows_affected == 2
    assert shards_in(cursor, "update") == [f"{dml.customer}/{shard_of(ksid(11))}"]
    rows = await dml.all_rows(dml.customer, "select order_id, qty from corder where order_id in (1, 2, 3)")
    assert rows == [(b"1", b"11"), (b"2", b"1"), (b"3", b"11")]


async def test_in_list_update_goes_to_the_shards_of_its_values(dml: DmlEnv):
    ids = [21, 22, 23, 24, 25, 26]
    await add_orders(dml, [(100 + i, i, "in", 0) for i in ids])
    shards = {shard_of(ksid(i)) for i in (21, 22)}
    result, cursor = await dml.run("update corder set qty = 5 where customer_id in (21, 22) and sku = 'in'")
    assert result.rows_affected == 2
    assert shards_in(cursor, "update") == sorted(f"{dml.customer}/{s}" for s in shards)


async def test_scatter_update_and_delete_sum_rows_affected_over_shards(dml: DmlEnv):
    orders = [(200 + i, 30 + i, "scatter", i) for i in range(10)]
    await add_orders(dml, orders)
    per_shard = {s: sum(1 for _, cid, _, _ in orders if shard_of(ksid(cid)) == s) for s in ("-80", "80-")}
    assert all(per_shard.values())  # the rows really are on both shards
    result, cursor = await dml.run("update corder set qty = -1 where sku = 'scatter'")
    assert result.rows_affected == 10
    assert len(shards_in(cursor, "update")) == 2
    counts = await dml.rows(dml.customer, "select count(*) from corder where sku = 'scatter' and qty = -1")
    assert {shard: int(rows[0][0]) for shard, rows in counts.items()} == per_shard
    result, _ = await dml.run("delete from corder where sku = 'scatter' and qty = -1")
    assert result.rows_affected == 10
    assert await dml.all_rows(dml.customer, "select order_id from corder where sku = 'scatter'") == []


async def test_changing_the_primary_vindex_column_is_refused_and_changes_nothing(dml: DmlEnv):
    await add_orders(dml, [(300, 41, "pv", 1)])
    with pytest.raises(
        Unsupported, match="cannot UPDATE primary vindex columns; invalid update on vindex: hash"
    ):
        await dml.run("update corder set customer_id = 42 where order_id = 300")
    assert await dml.all_rows(dml.customer, "select customer_id from corder where order_id = 300") == [
        (b"41",)
    ]


async def test_limit_on_several_shards_is_refused_but_fine_on_one(dml: DmlEnv):
    await add_orders(dml, [(400, 51, "lim", 1), (401, 51, "lim", 2), (402, 52, "lim", 3)])
    with pytest.raises(Unsupported, match="multi shard DELETE with LIMIT") as refused:
        await dml.run("delete from corder where sku = 'lim' order by qty limit 1")
    assert refused.value.code == 1235
    result, _ = await dml.run("delete from corder where customer_id = 51 order by qty desc limit 1")
    assert result.rows_affected == 1
    rows = await dml.all_rows(dml.customer, "select order_id from corder where sku = 'lim'")
    assert rows == [(b"400",), (b"402",)]


async def test_delete_matching_nothing_affects_no_rows(dml: DmlEnv):
    result, cursor = await dml.run("delete from corder where customer_id = 999999")
    assert result.rows_affected == 0
    assert len(shards_in(cursor, "delete")) == 1


async def lookup_state(dml: DmlEnv, emails: list[str], names: list[str]) -> tuple[list[tuple], list[tuple]]:
    """The email_idx and name_idx rows of those values, sorted."""
    email_rows = await dml.all_rows(
        dml.customer, f"select email, keyspace_id from email_idx where {_in('email', emails)}"
    )
    name_rows = await dml.all_rows(
        dml.commerce, f"select name, keyspace_id from name_idx where {_in('name', names)}"
    )
    return email_rows, name_rows


def _in(column: str, values: list[str]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})" if values else "false"


async def test_delete_removes_the_owned_lookup_rows_of_deleted_rows_only(dml: DmlEnv):
    await add_customers(
        dml, [(61, "del61@x", "del-ann", 1), (62, "del62@x", "del-ann", 1), (63, None, "del-bo", 1)]
    )
    result, cursor = await dml.run("delete from customer where customer_id in (61, 63)")
    assert result.rows_affected == 2
    assert any("for update" in sql.lower() for _, sql in cursor.log)
    emails, names = await lookup_state(dml, ["del61@x", "del62@x"], ["del-ann", "del-bo"])
    assert emails == [(b"del62@x", ksid(62))]
    assert names == [(b"del-ann", ksid(62))]


async def test_scatter_delete_cleans_the_lookups_of_every_shard(dml: DmlEnv):
    rows = [(70 + i, f"sc{i}@x", f"sc-{i}", 77) for i in range(8)]
    await add_customers(dml, rows)
    result, _ = await dml.run("delete from customer where tier = 77")
    assert result.rows_affected == 8
    assert await lookup_state(dml, [r[1] for r in rows], [r[2] for r in rows]) == ([], [])


async def test_update_of_an_owned_lookup_column_moves_its_lookup_row(dml: DmlEnv):
    await add_customers(dml, [(81, "old81@x", "mv-a", 1), (82, "old82@x", "mv-b", 1)])
    result, _ = await dml.run("update customer set email = 'new81@x', name = 'mv-c' where customer_id = 81")
    assert result.rows_affected == 1
    emails, names = await lookup_state(dml, ["old81@x", "new81@x", "old82@x"], ["mv-a", "mv-b", "mv-c"])
    assert emails == [(b"new81@x", ksid(81)), (b"old82@x", ksid(82))]
    assert names == [(b"mv-b", ksid(82)), (b"mv-c", ksid(81))]
    new_shard = shard_of(BINARY_MD5.map([b"new81@x"])[0])
    on_shard = await dml.rows(dml.customer, "select email from email_idx where email = 'new81@x'")
    assert on_shard[new_shard] == [(b"new81@x",)]


async def test_update_to_the_same_value_keeps_the_lookup_rows(dml: DmlEnv):
    await add_customers(dml, [(91, "same91@x", "same", 1)])
    _, cursor = await dml.run("update customer set email = 'same91@x', tier = 2 where customer_id = 91")
    assert not [sql for _, sql in cursor.log if "email_idx" in sql]
    assert await lookup_state(dml, ["same91@x"], []) == ([(b"same91@x", ksid(91))], [])


async def test_update_to_an_email_another_customer_has_fails(dml: DmlEnv):
    await add_customers(dml, [(95, "taken95@x", "t", 1), (96, "free96@x", "t", 1)])
    with pytest.raises(MySQLError) as failed:
        await dml.run("update customer set email = 'taken95@x' where customer_id = 96")
    assert failed.value.code == 1062


async def test_unsharded_update_and_delete_pass_through(dml: DmlEnv):
    await dml.run(f"insert into {dml.commerce}.note (body) values ('a'), ('b'), ('c')")
    plan = build_plan(
        normalize(f"update {dml.commerce}.note set body = 'z' where body <> 'a'")[0], dml.env.vschema
    )
    assert plan.describe()["Instructions"]["Variant"] == "Unsharded"
    result, cursor = await dml.run(f"update {dml.commerce}.note set body = 'z' where body <> 'a'")
    assert result.rows_affected == 2
    assert cursor.log == [
        (f"{dml.commerce}/0", f"update {dml.commerce}.note set body = 'z' where body <> 'a'")
    ]
    result, _ = await dml.run(f"delete from {dml.commerce}.note where body = 'z'")
    assert result.rows_affected == 2
