"""The ``customer`` test keyspace: tables, VSchema and a seeded data generator.

``customer`` and ``corder`` are sharded by ``hash(customer_id)``; ``customer.email`` also has a
``consistent_lookup_unique`` vindex backed by ``customer_email_idx`` (itself sharded by ``binary_md5(email)``,
so emails are kept lower case: a case-insensitive match would hash to another shard); ``product`` is a
reference table. Strings use utf8mb4_general_ci, where 'alice' = 'Alice'.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pymysql.converters import escape_string

_TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"

SCHEMA: list[str] = [
    "CREATE TABLE customer (customer_id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64), email VARCHAR(128), "
    f"tier INT, balance DECIMAL(12,2), created DATE, UNIQUE KEY email (email), KEY tier (tier)) {_TABLE_OPTIONS}",
    "CREATE TABLE corder (order_id BIGINT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL, sku VARCHAR(32), "
    f"qty INT, price DECIMAL(10,2), KEY customer_id (customer_id)) {_TABLE_OPTIONS}",
    "CREATE TABLE product (sku VARCHAR(32) NOT NULL PRIMARY KEY, title VARCHAR(64), category VARCHAR(16), "
    f"price DECIMAL(10,2)) {_TABLE_OPTIONS}",
    "CREATE TABLE customer_email_idx (email VARCHAR(128) NOT NULL PRIMARY KEY, keyspace_id VARBINARY(16)) "
    + _TABLE_OPTIONS,
]
"""The tables, for the keyspace and the reference database alike (where the lookup table stays empty)."""

VSCHEMA: dict[str, Any] = {
    "sharded": True,
    "vindexes": {
        "hash": {"type": "hash"},
        "binary_md5": {"type": "binary_md5"},
        "customer_email_lookup": {
            "type": "consistent_lookup_unique",
            "params": {
                "table": "customer.customer_email_idx",
                "from": "email",
                "to": "keyspace_id",
                "ignore_nulls": "true",
            },
            "owner": "customer",
        },
    },
    "tables": {
        "customer": {
            "column_vindexes": [
                {"column": "customer_id", "name": "hash"},
                {"column": "email", "name": "customer_email_lookup"},
            ]
        },
        "corder": {"column_vindexes": [{"column": "customer_id", "name": "hash"}]},
        "customer_email_idx": {"column_vindexes": [{"column": "email", "name": "binary_md5"}]},
        "product": {"type": "reference"},
    },
}
"""The keyspace's VSchema (Vitess JSON)."""

NAMES = [
    "alice", "Alice", "ALICE", "bob", "Bob", "carol", "Carol", "dave", "eve", "Eve", "frank", "grace",
    "Heidi", "heidi", "ivan", "judy", "mallory", "Oscar", "peggy", "trent", "victor", "Walter", "Zoë",
    "o'brien", "li", "Li",
]  # fmt: skip
TITLES = ["Widget", "widget", "WIDGET", "Gadget", "gadget", "Doohickey", "Gizmo", "gizmo", "Thing"]
CATEGORIES = ["tools", "Tools", "TOOLS", "toys", "garden", "Garden", None]
BATCH = 25


@dataclass(frozen=True)
class Dataset:
    """Generated rows, as tuples in the tables' column order."""

    customers: list[tuple[Any, ...]]
    orders: list[tuple[Any, ...]]
    products: list[tuple[Any, ...]]

    @property
    def customer_ids(self) -> list[int]:
        return [row[0] for row in self.customers]

    @property
    def emails(self) -> list[str]:
        return [row[2] for row in self.customers if row[2] is not None]

    @property
    def order_ids(self) -> list[int]:
        return [row[0] for row in self.orders]

    @property
    def skus(self) -> list[str]:
        return [row[0] for row in self.products]


def _maybe(rng: random.Random, value: Any, null_rate: float) -> Any:
    return None if rng.random() < null_rate else value


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def generate(seed: int) -> Dataset:
    """A few hundred rows per table with NULLs, duplicates, mixed case, negative numbers and decimals."""
    rng = random.Random(seed)
    products = [
        (
            f"SKU-{n:03d}",
            _maybe(rng, f"{rng.choice(TITLES)} {rng.choice(['', 'Pro', 'mini'])}".strip(), 0.05),
            rng.choice(CATEGORIES),
            _maybe(rng, _money(rng, 1, 300), 0.05),
        )
        for n in range(1, 61)
    ]
    ids = rng.sample(range(1, 5000), 290) + rng.sample(range(-200, 0), 10)
    first_day = datetime.date(2020, 1, 1)
    customers = []
    for customer_id in ids:
        name = _maybe(rng, rng.choice(NAMES), 0.05)
        email = f"{(name or 'anon').lower().replace(chr(39), '')}.{customer_id}@example.com"
        customers.append(
            (
                customer_id,
                name,
                _maybe(rng, email, 0.1),
                _maybe(rng, rng.randint(0, 5), 0.1),
                _maybe(rng, _money(rng, -500, 5000), 0.08),
                _maybe(rng, first_day + datetime.timedelta(days=rng.randint(0, 1800)), 0.05),
            )
        )
    skus = [product[0] for product in products]
    orders = []
    for order_id in rng.sample(range(1, 100000), 600):
        owner = rng.choice(ids) if rng.random() < 0.95 else rng.randint(5000, 6000)  # some have no customer
        sku = rng.choice(skus) if rng.random() < 0.9 else f"SKU-{rng.randint(900, 999)}"
        orders.append(
            (
                order_id,
                owner,
                _maybe(rng, rng.choice([sku, sku, sku.lower()]), 0.03),
                _maybe(rng, rng.randint(-2, 20), 0.05),
                _maybe(rng, _money(rng, 0, 500), 0.05),
            )
        )
    return Dataset(customers, orders, products)


def sql_literal(value: Any) -> str:
    """``value`` as a MySQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return f"'{escape_string(value)}'"
    if isinstance(value, datetime.date):
        return f"'{value.isoformat()}'"
    return str(value)


def insert_sql(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A multi-row INSERT of ``rows``."""
    values = ", ".join("(" + ", ".join(sql_literal(value) for value in row) + ")" for row in rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


COLUMNS = {
    "customer": ("customer_id", "name", "email", "tier", "balance", "created"),
    "corder": ("order_id", "customer_id", "sku", "qty", "price"),
    "product": ("sku", "title", "category", "price"),
}


REFERENCE_TABLES = ("product",)
"""Tables the gate will not write in a sharded keyspace: load them into every shard (``USE customer:<shard>``)."""
ROUTED_TABLES = ("customer", "corder")
"""Tables the gate loads, routing each row by its vindexes."""


def data_statements(seed: int, tables: Sequence[str] = REFERENCE_TABLES + ROUTED_TABLES) -> list[str]:
    """INSERT statements (batches of 25 rows) loading ``tables`` with ``generate(seed)``."""
    data = generate(seed)
    rows_of = {"product": data.products, "customer": data.customers, "corder": data.orders}
    return [
        insert_sql(table, COLUMNS[table], rows_of[table][start : start + BATCH])
        for table in tables
        for start in range(0, len(rows_of[table]), BATCH)
    ]
