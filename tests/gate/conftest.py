"""Engine fixtures: the ``customer`` keyspace split by ``hash(customer_id)`` over two MariaDB instances (shards
-80 and 80-), the unsharded ``commerce`` keyspace, and a reference instance holding all rows in one place.

:class:`ShardedEnv` runs statements through the planner and the engine with :class:`DirectVCursor` (real shards,
no gate) and on the reference, so tests compare both answers. The data is the differential test's
(``tests.e2e.differential.schema``), so its query corpus runs here too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from shardline.gate.engine.sqltemplate import SQLTemplate
from shardline.gate.engine.vcursor import ShardTarget
from shardline.gate.planner import Plan, build_plan, normalize
from shardline.key import KeyRange, parse_shard_name
from shardline.mysql.client import Connection, connect
from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import APP
from shardline.sqltypes import Result
from shardline.vindexes.base import CommitOrder
from shardline.vindexes.binary_md5 import BinaryMD5
from shardline.vindexes.hash import Hash
from shardline.vindexes.vschema import Table, VSchema
from tests.e2e.differential.schema import COLUMNS, SCHEMA, VSCHEMA, generate, insert_sql

SEED = 1
SHARDS = ("-80", "80-")
COMMERCE_SCHEMA = [
    "CREATE TABLE product (sku VARCHAR(32) NOT NULL PRIMARY KEY, description VARCHAR(128), price DECIMAL(10,2))",
    "CREATE TABLE customer_seq (id INT NOT NULL PRIMARY KEY, next_id BIGINT, cache BIGINT)",
    "INSERT INTO customer_seq (id, next_id, cache) VALUES (0, 1, 100)",
]
COMMERCE_VSCHEMA = {"tables": {"product": {}, "customer_seq": {"type": "sequence"}}}
COMMERCE_PRODUCTS = [
    ("SKU-001", "first product", "1.50"),
    ("SKU-002", "second", "20.00"),
    ("sku-003", None, None),
]


@dataclass
class DirectVCursor:
    """The executor's side of execution over direct connections: one per (keyspace, shard), no transactions.

    ``log`` records every (shard, SQL) sent, so tests can assert where a plan went.
    """

    env: ShardedEnv
    original_sql: str = ""
    log: list[tuple[str, str]] = field(default_factory=list)

    def shards(self, keyspace: str) -> list[ShardTarget]:
        return self.env.targets[keyspace]

    def shard_for_keyspace_id(self, keyspace: str, keyspace_id: bytes) -> ShardTarget:
        return next(s for s in self.env.targets[keyspace] if s.key_range.contains(keyspace_id))

    async def execute_on_shards(self, queries: list[tuple[ShardTarget, str]]) -> list[Result]:
        self.log += [(f"{target.keyspace}/{target.name}", sql) for target, sql in queries]
        return list(await asyncio.gather(*(self.env.query(target, sql) for target, sql in queries)))

    async def execute(
        self,
        sql: str,
        bind_vars: dict[str, Any],
        *,
        autocommit: bool = False,
        commit_order: CommitOrder = CommitOrder.NORMAL,
    ) -> Result:
        plan = build_plan(sql, self.env.vschema)
        return await plan.execute(self, bind_vars)

    async def execute_keyspace_id(
        self, keyspace: str, keyspace_id: bytes, sql: str, bind_vars: dict[str, Any]
    ) -> Result:
        target = self.shard_for_keyspace_id(keyspace, keyspace_id)
        return (await self.execute_on_shards([(target, SQLTemplate(sql).render(bind_vars))]))[0]

    async def next_sequence_ids(self, sequence: Table, count: int) -> int:
        target = self.env.targets[sequence.keyspace][0]
        table = sequence.qualified_name
        await self.env.query(target, "BEGIN")
        try:
            result = await self.env.query(target, f"SELECT next_id FROM {table} WHERE id = 0 FOR UPDATE")
            first = int(result.rows[0][0] or 0)
            await self.env.query(target, f"UPDATE {table} SET next_id = {first + count} WHERE id = 0")
        finally:
            await self.env.query(target, "COMMIT")
        return first


@dataclass
class ShardedEnv:
    """The test topology: instances per (keyspace, shard), the VSchema and the reference instance."""

    vschema: VSchema
    instances: dict[tuple[str, str], MysqlInstance]
    reference: MysqlInstance
    targets: dict[str, list[ShardTarget]] = field(default_factory=dict)
    _connections: dict[tuple[str, str], Connection] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for keyspace, shard in self.instances:
            target = ShardTarget(keyspace, shard, parse_shard_name(shard))
            self.targets.setdefault(keyspace, []).append(target)
        for targets in self.targets.values():
            targets.sort(key=lambda t: t.key_range.start)

    async def _connection(self, key: tuple[str, str], instance: MysqlInstance, database: str) -> Connection:
        conn = self._connections.get(key)
        if conn is None or conn.closed:
            conn = await connect(instance.host, instance.port, APP.user, APP.password, database)
            self._connections[key] = conn
        return conn

    async def query(self, target: ShardTarget, sql: str) -> Result:
        key = (target.keyspace, target.name)
        async with self._locks.setdefault(key, asyncio.Lock()):
            conn = await self._connection(key, self.instances[key], target.keyspace)
            return await conn.query(sql)

    async def reference_query(self, sql: str, keyspace: str = "customer") -> Result:
        key = ("reference", keyspace)
        async with self._locks.setdefault(key, asyncio.Lock()):
            conn = await self._connection(key, self.reference, keyspace)
            return await conn.query(sql)

    def plan(self, sql: str, keyspace: str | None = "customer") -> Plan:
        normalized, _ = normalize(sql)
        return build_plan(normalized, self.vschema, keyspace=keyspace)

    async def run(self, sql: str, keyspace: str | None = "customer") -> tuple[Result, DirectVCursor]:
        """Runs the statement through normalize, build_plan and the engine; returns the result and the cursor."""
        normalized, bind_vars = normalize(sql)
        plan = build_plan(normalized, self.vschema, keyspace=keyspace)
        vcursor = DirectVCursor(self, sql)
        return await plan.execute(vcursor, bind_vars), vcursor

    async def compare(
        self, sql: str, *, ordered: bool = False, casefold: bool = False, keyspace: str = "customer"
    ) -> Result:
        """Asserts the engine answers like the reference (rows as a multiset unless ``ordered``); returns it."""
        ours, _ = await self.run(sql, keyspace)
        theirs = await self.reference_query(sql, keyspace)
        assert_same(ours, theirs, ordered=ordered, casefold=casefold, sql=sql)
        return ours

    async def close(self) -> None:
        for conn in self._connections.values():
            await conn.close()


def assert_same(
    ours: Result, theirs: Result, *, ordered: bool = False, casefold: bool = False, sql: str = ""
) -> None:
    """Same column names and the same rows (text-protocol bytes); ``casefold`` for values MySQL may pick among
    case variants (GROUP BY, DISTINCT, MIN/MAX over a case-insensitive column)."""
    assert [f.name for f in ours.fields] == [f.name for f in theirs.fields], sql
    mine, reference = _rows(ours.rows, casefold), _rows(theirs.rows, casefold)
    if not ordered:
        mine, reference = sorted(mine, key=repr), sorted(reference, key=repr)
    assert mine == reference, sql


def _rows(rows: Sequence[tuple], casefold: bool) -> list[tuple]:
    if not casefold:
        return list(rows)
    return [tuple(v.decode().casefold().encode() if isinstance(v, bytes) else v for v in row) for row in rows]


def split_rows(table: str, rows: list[tuple], shard_ranges: dict[str, KeyRange]) -> dict[str, list[tuple]]:
    """The rows of a sharded table per shard, by ``hash(customer_id)``."""
    position = COLUMNS[table].index("customer_id")
    keyspace_ids = Hash("hash", {}).map([row[position] for row in rows])
    out: dict[str, list[tuple]] = {shard: [] for shard in shard_ranges}
    for row, keyspace_id in zip(rows, keyspace_ids, strict=True):
        shard = next(name for name, key_range in shard_ranges.items() if key_range.contains(keyspace_id))
        out[shard].append(row)
    return out


def _load(instance: MysqlInstance, database: str, schema: list[str], inserts: list[str]) -> None:
    with instance.dba_connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        cursor.execute(f"CREATE DATABASE {database}")
        cursor.execute(f"USE {database}")
        for statement in schema + inserts:
            cursor.execute(statement)


def _inserts(table: str, rows: list[tuple]) -> list[str]:
    return [insert_sql(table, COLUMNS[table], rows[i : i + 100]) for i in range(0, len(rows), 100)]


@pytest.fixture(scope="session")
async def sharded_env(mariadb_factory: Callable[[str], MysqlInstance]):
    """The sharded ``customer`` keyspace (with the reference table ``product`` on both shards and the email
    lookup rows), the unsharded ``commerce`` keyspace on the first instance, and the reference instance."""
    first, second = mariadb_factory("engine-customer-80"), mariadb_factory("engine-customer-80-")
    reference = mariadb_factory("engine-reference")
    data = generate(SEED)
    ranges = {shard: parse_shard_name(shard) for shard in SHARDS}
    customers = split_rows("customer", data.customers, ranges)
    orders = split_rows("corder", data.orders, ranges)
    lookup = _email_lookup_rows(data.customers, ranges)
    for instance, shard in ((first, "-80"), (second, "80-")):
        inserts = _inserts("product", data.products) + _inserts("customer", customers[shard])
        inserts += _inserts("corder", orders[shard]) + lookup[shard]
        _load(instance, "customer", SCHEMA, inserts)
    commerce_inserts = [insert_sql("product", ("sku", "description", "price"), COMMERCE_PRODUCTS)]
    _load(first, "commerce", COMMERCE_SCHEMA, commerce_inserts)
    reference_inserts = _inserts("product", data.products) + _inserts("customer", data.customers)
    _load(reference, "customer", SCHEMA, reference_inserts + _inserts("corder", data.orders))
    _load(reference, "commerce", COMMERCE_SCHEMA, commerce_inserts)
    vschema = VSchema.from_json({"customer": VSCHEMA, "commerce": COMMERCE_VSCHEMA})
    env = ShardedEnv(
        vschema,
        {("customer", "-80"): first, ("customer", "80-"): second, ("commerce", "0"): first},
        reference,
    )
    yield env
    await env.close()


def _email_lookup_rows(customers: list[tuple], ranges: dict[str, KeyRange]) -> dict[str, list[str]]:
    """INSERTs of ``customer_email_idx`` (sharded by ``binary_md5(email)``) pointing at each customer's id."""
    with_email = [row for row in customers if row[2] is not None]
    keyspace_ids = Hash("hash", {}).map([row[0] for row in with_email])
    placements = BinaryMD5("binary_md5", {}).map([row[2] for row in with_email])
    values: dict[str, list[str]] = {shard: [] for shard in ranges}
    for row, keyspace_id, placement in zip(with_email, keyspace_ids, placements, strict=True):
        shard = next(name for name, key_range in ranges.items() if key_range.contains(placement))
        values[shard].append(f"('{row[2]}', x'{keyspace_id.hex()}')")
    return {
        shard: [f"INSERT INTO customer_email_idx (email, keyspace_id) VALUES {', '.join(rows)}"]
        if rows
        else []
        for shard, rows in values.items()
    }
