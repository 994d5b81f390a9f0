"""DML scripts: writes, each followed by reads that check its effect. Script ``n`` works only on its own rows
(customer ids 100000 + 100n.., order ids 1000000 + 100n.., names 'dml<n>-..', skus 'DML-<n>..'), so a script
the gate got wrong cannot disturb the others. ``DML`` maps a template's name to its script count and builder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .query import Params, Query
from .schema import COLUMNS, insert_sql, sql_literal

ScriptTemplate = Callable[[Params, int], list[Query]]
DML: dict[str, tuple[int, ScriptTemplate]] = {}


def script(count: int) -> Callable[[ScriptTemplate], ScriptTemplate]:
    def register(template: ScriptTemplate) -> ScriptTemplate:
        DML[template.__name__] = (count, template)
        return template

    return register


class Rows:
    """The reserved keys and row builders of script ``n``."""

    def __init__(self, p: Params, n: int) -> None:
        self.p = p
        self.n = n
        self.name_like = f"'dml{n}-%'"

    def cid(self, i: int) -> int:
        return 100000 + 100 * self.n + i

    def oid(self, i: int) -> int:
        return 1000000 + 100 * self.n + i

    def email(self, i: int) -> str:
        return f"dml{self.n}.{i}@example.com"

    def customer(self, i: int, *, email: str | None = None, null_email: bool = False) -> tuple[Any, ...]:
        """Customer ``i``: odd ones named in lower case, even ones in upper case."""
        name = f"dml{self.n}-{'abcdefghij'[i % 10]}"
        return (
            self.cid(i),
            name if i % 2 else name.upper(),
            None if null_email else email or self.email(i),
            self.p.rng.randint(0, 5),
            Decimal(self.p.money(-100, 900)),
            "2024-06-01",
        )

    def order(self, i: int, customer: int, sku: str | None = None) -> tuple[Any, ...]:
        qty, price = self.p.rng.randint(1, 9), Decimal(self.p.money(1, 99))
        return (self.oid(i), self.cid(customer), sku or f"DML-{self.n}", qty, price)

    @staticmethod
    def insert(table: str, rows: Sequence[tuple[Any, ...]], verb: str = "INSERT") -> Query:
        sql = insert_sql(table, COLUMNS[table], rows)
        return Query(verb + sql.removeprefix("INSERT"))

    def ids(self, *indexes: int) -> str:
        return ", ".join(str(self.cid(i)) for i in indexes)


def _script_customers(rows: Rows) -> str:
    return f"SELECT customer_id, name, email, tier, balance FROM customer WHERE name LIKE {rows.name_like}"


@script(12)
def dml_customer(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    emails = ", ".join(sql_literal(r.email(i)) for i in range(1, 7))
    return [
        r.insert("customer", [r.customer(1)]),
        r.insert("customer", [r.customer(i, null_email=i == 4) for i in range(2, 7)]),
        Query(f"SELECT * FROM customer WHERE customer_id IN ({r.ids(*range(1, 7))})"),
        Query(f"SELECT customer_id, name FROM customer WHERE email = '{r.email(3)}'"),
        Query(
            f"UPDATE customer SET balance = balance + 10.50, tier = tier + 1 WHERE customer_id = {r.cid(1)}"
        ),
        Query(f"UPDATE customer SET tier = tier WHERE customer_id = {r.cid(3)}"),
        Query(
            f"UPDATE customer SET tier = 7 WHERE name LIKE {r.name_like} AND balance > {p.money(-100, 900)}"
        ),
        Query(f"{_script_customers(r)} ORDER BY customer_id", ordered=True),
        Query(f"DELETE FROM customer WHERE customer_id = {r.cid(2)}"),
        Query(f"DELETE FROM customer WHERE name LIKE {r.name_like} AND tier = 7"),
        Query(f"SELECT COUNT(*), SUM(balance) FROM customer WHERE name LIKE {r.name_like}"),
        Query(f"SELECT customer_id FROM customer WHERE email IN ({emails})"),
    ]


@script(10)
def dml_orders(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    skus = [f"DML-{n}", p.rng.choice(p.data.skus)]
    orders = [r.order(i, customer=1 + i % 4, sku=skus[i % 2]) for i in range(1, 9)]  # customer 4 has no row
    return [
        r.insert("customer", [r.customer(i) for i in range(1, 4)]),
        r.insert("corder", orders),
        Query(
            "SELECT o.order_id, o.qty, c.name FROM corder o JOIN customer c ON o.customer_id = c.customer_id "
            f"WHERE c.name LIKE {r.name_like}"
        ),
        Query(f"UPDATE corder SET qty = qty * 2 WHERE customer_id = {r.cid(1)}"),
        Query(f"UPDATE corder SET price = price - 1 WHERE sku = 'dml-{n}'"),
        Query(f"UPDATE corder SET qty = qty + 1 WHERE customer_id IN ({r.ids(2, 3, 4)})"),
        Query(
            "SELECT c.customer_id, COUNT(o.order_id) AS n, SUM(o.qty * o.price) AS total FROM customer c "
            f"LEFT JOIN corder o ON c.customer_id = o.customer_id WHERE c.name LIKE {r.name_like} "
            "GROUP BY c.customer_id"
        ),
        Query(f"DELETE FROM corder WHERE order_id = {r.oid(2)}"),
        Query(f"DELETE FROM corder WHERE customer_id IN ({r.ids(1, 2)}) AND qty > 6"),
        Query(
            f"SELECT order_id, customer_id, qty, price FROM corder WHERE order_id BETWEEN {r.oid(0)} AND "
            f"{r.oid(99)} ORDER BY order_id",
            ordered=True,
        ),
    ]


@script(8)
def dml_email(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    e1, e2, e3, e4 = (f"'{r.email(i)}'" for i in (1, 2, 3, 4))
    by_email = "SELECT customer_id, name FROM customer WHERE email = {}"
    return [
        r.insert("customer", [r.customer(1)]),
        r.insert("customer", [r.customer(2)]),
        Query(f"UPDATE customer SET email = {e3} WHERE customer_id = {r.cid(1)}"),
        Query(by_email.format(e1)),
        Query(by_email.format(e3)),
        replace(r.insert("customer", [r.customer(3, email=r.email(2))]), expected_error=1062),
        replace(r.insert("customer", [(r.cid(2), f"dml{n}-x", r.email(4), 1, 1, None)]), expected_error=1062),
        Query(_script_customers(r)),
        Query(by_email.format(e4)),
        Query(f"UPDATE customer SET email = NULL WHERE customer_id = {r.cid(2)}"),
        Query(f"SELECT customer_id FROM customer WHERE email IS NULL AND name LIKE {r.name_like}"),
        Query(f"DELETE FROM customer WHERE email = {e3}"),
        Query(f"SELECT COUNT(*) FROM customer WHERE name LIKE {r.name_like}"),
        r.insert("customer", [r.customer(5, email=r.email(3))]),
        Query(by_email.format(e3)),
    ]


@script(6)
def dml_reference(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    category = f"'dml{n}'"
    products = [(f"DML-{n}-{i}", f"dml title {i}", f"dml{n}", p.money(1, 50)) for i in (1, 2)]
    orders = [r.order(i, customer=i % 4, sku=f"DML-{n}-{1 + i % 2}") for i in range(1, 9)]
    return [
        r.insert("product", products),
        r.insert("customer", [r.customer(i) for i in range(4)]),
        r.insert("corder", orders),
        Query(
            "SELECT o.order_id, p.title, p.price FROM corder o JOIN product p ON o.sku = p.sku "
            f"WHERE p.category = {category}"
        ),
        Query(f"UPDATE product SET price = price * 2 WHERE sku = 'DML-{n}-1'"),
        Query(
            "SELECT p.sku, SUM(o.qty * p.price) AS total FROM corder o JOIN product p ON o.sku = p.sku "
            f"WHERE p.category = {category} GROUP BY p.sku"
        ),
        Query(f"DELETE FROM product WHERE sku = 'DML-{n}-2'"),
        Query(
            "SELECT o.order_id, p.sku FROM corder o LEFT JOIN product p ON o.sku = p.sku "
            f"WHERE o.customer_id IN ({r.ids(0, 1, 2, 3)})"
        ),
        Query(f"SELECT COUNT(*) FROM product WHERE category = {category}"),
    ]


@script(6)
def dml_upsert(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    select = Query(
        f"SELECT order_id, customer_id, qty, price FROM corder WHERE sku = 'DML-{n}' ORDER BY order_id",
        ordered=True,
    )
    columns = ", ".join(COLUMNS["corder"])
    return [
        r.insert("corder", [r.order(1, 1), r.order(2, 2)]),
        Query(
            f"INSERT INTO corder ({columns}) VALUES ({r.oid(1)}, {r.cid(1)}, 'DML-{n}', 5, 2.00) "
            "ON DUPLICATE KEY UPDATE qty = qty + VALUES(qty)"
        ),
        r.insert("corder", [r.order(2, 2), r.order(3, 3)], verb="INSERT IGNORE"),
        select,
        r.insert("corder", [r.order(3, 3)], verb="REPLACE"),
        select,
    ]


@script(4)
def dml_move(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    by_customer = "SELECT order_id, customer_id, qty FROM corder WHERE customer_id = {}"
    return [
        r.insert("customer", [r.customer(1), r.customer(2)]),
        r.insert("corder", [r.order(i, 1) for i in range(1, 4)]),
        Query(f"UPDATE corder SET customer_id = {r.cid(2)} WHERE order_id = {r.oid(1)}"),
        Query(by_customer.format(r.cid(1))),
        Query(by_customer.format(r.cid(2))),
        Query(
            "SELECT c.customer_id, COUNT(*) AS n FROM customer c JOIN corder o ON c.customer_id = o.customer_id "
            f"WHERE c.name LIKE {r.name_like} GROUP BY c.customer_id"
        ),
    ]


@script(6)
def dml_transaction(p: Params, n: int) -> list[Query]:
    r = Rows(p, n)
    return [
        Query("BEGIN"),
        r.insert("customer", [r.customer(i) for i in range(1, 4)]),
        r.insert("corder", [r.order(i, i) for i in range(1, 4)]),
        Query(_script_customers(r)),
        Query("ROLLBACK"),
        Query(_script_customers(r)),
        Query("BEGIN"),
        r.insert("customer", [r.customer(4)]),
        Query(f"UPDATE customer SET tier = 9 WHERE customer_id = {r.cid(4)}"),
        Query("COMMIT"),
        Query(_script_customers(r)),
        Query(f"SELECT customer_id FROM customer WHERE email = '{r.email(4)}'"),
    ]


@script(6)
def dml_insert_select(p: Params, n: int) -> list[Query]:
    """INSERT ... SELECT: the gate runs the SELECT, then routes its rows (and writes their lookup rows)."""
    r = Rows(p, n)
    columns = ", ".join(COLUMNS["corder"])
    orders = f"SELECT {columns} FROM corder WHERE sku = 'DML-{n}' ORDER BY order_id"
    return [
        r.insert("customer", [r.customer(i) for i in range(1, 6)]),
        Query(
            f"INSERT INTO corder ({columns}) SELECT customer_id + 900000, customer_id, 'DML-{n}', tier, balance "
            f"FROM customer WHERE name LIKE {r.name_like}"
        ),
        Query(orders, ordered=True),
        Query(
            "INSERT INTO customer (customer_id, name, email, tier, balance, created) SELECT customer_id + 50, "
            f"CONCAT(name, '-copy'), CONCAT('copy.', email), tier, balance, created FROM customer "
            f"WHERE name LIKE {r.name_like} AND tier > 1"
        ),
        Query(f"SELECT customer_id, name, email FROM customer WHERE email LIKE 'copy.dml{n}.%'"),
        Query(f"SELECT customer_id, name FROM customer WHERE email = 'copy.{r.email(1)}'"),
        Query(f"INSERT IGNORE INTO corder ({columns}) SELECT {columns} FROM corder WHERE sku = 'DML-{n}'"),
        Query(f"SELECT COUNT(*), SUM(qty), SUM(price) FROM corder WHERE sku = 'DML-{n}'"),
    ]
