"""Read templates: each builds one SELECT from random parameters; ``READS`` maps a template's name to how many
queries the corpus draws from it and the template itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .query import Params, Query

ReadTemplate = Callable[[Params], Query]
READS: dict[str, tuple[int, ReadTemplate]] = {}


def read(count: int) -> Callable[[ReadTemplate], ReadTemplate]:
    def register(template: ReadTemplate) -> ReadTemplate:
        READS[template.__name__] = (count, template)
        return template

    return register


def q(sql: str, **flags: Any) -> Callable[[], Query]:
    """A variant for :meth:`Params.pick` (its parameters are drawn even when another variant is picked)."""
    return lambda: Query(sql, **flags)


# Routed by a vindex: the primary (hash on customer_id) or the email lookup.


@read(30)
def point_customer(p: Params) -> Query:
    return Query(f"SELECT * FROM customer WHERE customer_id = {p.customer_id()}")


@read(20)
def point_customer_filtered(p: Params) -> Query:
    return Query(
        f"SELECT name, tier, balance FROM customer WHERE customer_id = {p.customer_id()} AND "
        f"(tier >= {p.tier()} OR balance < {p.money(-100, 3000)})"
    )


@read(30)
def in_customer(p: Params) -> Query:
    return Query(f"SELECT customer_id, name, email FROM customer WHERE customer_id IN ({p.customer_ids()})")


@read(30)
def point_orders(p: Params) -> Query:
    return Query(
        f"SELECT order_id, sku, qty, price FROM corder WHERE customer_id = {p.customer_with_orders()}"
    )


@read(20)
def in_orders_ordered(p: Params) -> Query:
    ids = ", ".join(str(p.customer_with_orders()) for _ in range(p.rng.randint(2, 6)))
    return Query(
        f"SELECT order_id, customer_id, qty FROM corder WHERE customer_id IN ({ids}) ORDER BY order_id",
        ordered=True,
    )


@read(25)
def lookup_email(p: Params) -> Query:
    return Query(f"SELECT customer_id, name, tier FROM customer WHERE email = {p.email()}")


@read(15)
def lookup_email_in(p: Params) -> Query:
    return Query(f"SELECT customer_id, email, balance FROM customer WHERE email IN ({p.emails()})")


@read(10)
def not_in_vindex(p: Params) -> Query:
    return Query(
        f"SELECT customer_id FROM customer WHERE customer_id NOT IN ({p.customer_ids()}) AND tier = {p.tier()}"
    )


# Filters on other columns: scatter to every shard.


@read(25)
def filter_eq(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT customer_id, name FROM customer WHERE tier = {p.tier()}"),
            q(f"SELECT customer_id, name, tier FROM customer WHERE name = {p.name()}"),
            q(f"SELECT order_id, customer_id, sku FROM corder WHERE sku = {p.sku()}"),
            q(f"SELECT order_id, price FROM corder WHERE qty = {p.qty()}"),
        ]
    )


@read(10)
def filter_ne(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT customer_id FROM customer WHERE tier <> {p.tier()}"),
            q(f"SELECT order_id FROM corder WHERE qty != {p.qty()} AND price > {p.money(100, 500)}"),
        ]
    )


@read(30)
def filter_range(p: Params) -> Query:
    low, high = sorted(p.customer_id() for _ in range(2))
    return p.pick(
        [
            q(f"SELECT customer_id, balance FROM customer WHERE balance > {p.money(-500, 5000)}"),
            q(f"SELECT customer_id, balance FROM customer WHERE balance <= {p.money(-500, 1000)}"),
            q(f"SELECT customer_id, created FROM customer WHERE created >= {p.date()}"),
            q(f"SELECT customer_id, name FROM customer WHERE customer_id > {low} AND customer_id < {high}"),
            q(f"SELECT order_id, qty FROM corder WHERE qty < {p.qty()} AND customer_id >= {low}"),
            q(f"SELECT order_id, price FROM corder WHERE price >= {p.money(0, 500)}"),
        ]
    )


@read(15)
def filter_between(p: Params) -> Query:
    low, high = sorted([p.rng.randint(-2, 20), p.rng.randint(-2, 20)])
    return p.pick(
        [
            q(f"SELECT order_id, qty FROM corder WHERE qty BETWEEN {low} AND {high}"),
            q(f"SELECT order_id, price FROM corder WHERE price NOT BETWEEN {low * 10} AND {high * 25}"),
            q(f"SELECT customer_id, created FROM customer WHERE created BETWEEN {p.date()} AND '2024-12-31'"),
            q(f"SELECT customer_id FROM customer WHERE customer_id BETWEEN {-low * 10} AND {high * 100}"),
        ]
    )


@read(25)
def filter_like(p: Params) -> Query:
    prefix = p.name_prefix()
    return p.pick(
        [
            q(f"SELECT customer_id, name FROM customer WHERE name LIKE '{prefix}%'"),
            q(f"SELECT customer_id, name FROM customer WHERE name LIKE '%{prefix[-1].upper()}'"),
            q(f"SELECT customer_id FROM customer WHERE name NOT LIKE '{prefix}%'"),
            q(f"SELECT customer_id, email FROM customer WHERE email LIKE '%.{p.rng.randint(1, 9)}%'"),
            q(f"SELECT order_id, sku FROM corder WHERE sku LIKE 'sku-0{p.rng.randint(0, 6)}_'"),
        ]
    )


@read(20)
def filter_null(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT customer_id, name FROM customer WHERE email IS NULL"),
            q("SELECT customer_id FROM customer WHERE tier IS NULL OR balance IS NULL"),
            q("SELECT customer_id, tier FROM customer WHERE balance IS NOT NULL AND created IS NULL"),
            q("SELECT order_id, customer_id FROM corder WHERE qty IS NULL"),
            q("SELECT order_id FROM corder WHERE sku <=> NULL"),
            q(f"SELECT customer_id FROM customer WHERE name IS NULL AND tier = {p.tier()}"),
        ]
    )


@read(15)
def filter_or(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT customer_id, tier FROM customer WHERE customer_id = {p.customer_id()} OR tier = {p.tier()}"
            ),
            q(
                f"SELECT customer_id FROM customer WHERE customer_id IN ({p.customer_ids()}) OR name = {p.name()}"
            ),
            q(f"SELECT order_id FROM corder WHERE customer_id = {p.customer_with_orders()} OR qty > 18"),
        ]
    )


@read(10)
def filter_in_strings(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT customer_id, name FROM customer WHERE name IN ({p.name()}, {p.name()})"),
            q(f"SELECT order_id, sku FROM corder WHERE sku IN ({p.sku()}, {p.sku()}, {p.sku()})"),
        ]
    )


@read(20)
def expressions(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT customer_id, balance * 2 AS double_balance, UPPER(name) AS upper_name, "
                f"COALESCE(tier, -1) AS tier_or, YEAR(created) AS y FROM customer WHERE tier = {p.tier()}"
            ),
            q(
                f"SELECT order_id, qty * price AS total, price - 1.5 AS less FROM corder WHERE qty > {p.qty()}"
            ),
            q(
                "SELECT customer_id, CASE WHEN balance < 0 THEN 'debt' WHEN balance IS NULL THEN 'none' "
                f"ELSE 'ok' END AS state FROM customer WHERE customer_id IN ({p.customer_ids()})"
            ),
            q(
                "SELECT order_id, IF(qty > 10, 'big', 'small') AS size, CONCAT(sku, '/', qty) AS label "
                f"FROM corder WHERE customer_id = {p.customer_with_orders()}"
            ),
        ]
    )


# Ordering and limits: total orders (a unique column last) are compared in order.


@read(40)
def order_limit(p: Params) -> Query:
    column = p.choice(["balance", "created", "tier", "name", "email"])
    where = p.choice(["", f" WHERE tier <> {p.tier()}", f" WHERE balance > {p.money(-500, 2000)}"])
    return Query(
        f"SELECT customer_id, {column} FROM customer{where} "
        f"ORDER BY {column}{p.direction()}, customer_id{p.direction()} LIMIT {p.limit()}",
        ordered=True,
    )


@read(25)
def order_limit_offset(p: Params) -> Query:
    limit, offset = p.limit(), p.rng.randint(0, 30)
    return p.pick(
        [
            q(
                f"SELECT order_id, qty, price FROM corder ORDER BY qty{p.direction()}, order_id "
                f"LIMIT {limit} OFFSET {offset}",
                ordered=True,
            ),
            q(
                f"SELECT customer_id, created FROM customer WHERE tier >= {p.tier()} "
                f"ORDER BY created DESC, customer_id LIMIT {offset}, {limit}",
                ordered=True,
            ),
        ]
    )


@read(15)
def order_all(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT order_id, qty, price FROM corder WHERE qty > {p.qty()} ORDER BY price DESC, order_id",
                ordered=True,
            ),
            q(
                f"SELECT customer_id, name FROM customer WHERE tier = {p.tier()} ORDER BY name, customer_id DESC",
                ordered=True,
            ),
        ]
    )


@read(15)
def order_alias_ordinal(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT customer_id AS id, balance AS b FROM customer ORDER BY b DESC, id LIMIT {p.limit()}",
                ordered=True,
            ),
            q(
                f"SELECT customer_id, tier FROM customer WHERE balance < {p.money(0, 3000)} ORDER BY 2, 1 "
                f"LIMIT {p.limit()}",
                ordered=True,
            ),
        ]
    )


@read(10)
def order_expression(p: Params) -> Query:
    return Query(
        f"SELECT order_id, qty * price AS total FROM corder WHERE qty IS NOT NULL AND price IS NOT NULL "
        f"ORDER BY qty * price{p.direction()}, order_id LIMIT {p.limit()}",
        ordered=True,
    )


@read(15)
def limit_count(p: Params) -> Query:
    return Query(
        f"SELECT COUNT(*) AS n FROM (SELECT customer_id FROM customer WHERE tier = {p.tier()} "
        f"LIMIT {p.limit()}) AS t"
    )


# Aggregates.


@read(25)
def count(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT COUNT(*) FROM customer"),
            q("SELECT COUNT(email), COUNT(tier), COUNT(*) FROM customer"),
            q(f"SELECT COUNT(*) FROM customer WHERE tier = {p.tier()}"),
            q(f"SELECT COUNT(1) AS n FROM corder WHERE qty > {p.qty()}"),
            q(f"SELECT COUNT(*) AS n FROM corder WHERE customer_id = {p.customer_with_orders()}"),
        ]
    )


@read(30)
def aggregates(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT COUNT(*) AS n, SUM(balance) AS s, MIN(balance) AS lo, MAX(balance) AS hi, "
                f"MIN(created) AS first, MAX(created) AS last FROM customer WHERE tier = {p.tier()}"
            ),
            q(
                "SELECT SUM(qty) AS q, SUM(qty * price) AS revenue, MIN(price) AS lo, MAX(qty) AS hi "
                f"FROM corder WHERE price > {p.money(0, 600)}"
            ),
            q(
                f"SELECT MAX(customer_id), MIN(customer_id) FROM customer WHERE balance < {p.money(-500, 500)}"
            ),
            q(f"SELECT SUM(qty) AS q FROM corder WHERE customer_id = {p.customer_with_orders()}"),
        ]
    )


@read(15)
def avg(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT AVG(balance) AS a FROM customer WHERE tier = {p.tier()}", approx=True),
            q("SELECT tier, AVG(balance) AS a, COUNT(*) AS n FROM customer GROUP BY tier", approx=True),
            q(f"SELECT AVG(qty) AS a, AVG(price) AS b FROM corder WHERE qty > {p.qty()}", approx=True),
        ]
    )


@read(35)
def group_by(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT tier, COUNT(*) AS n, SUM(balance) AS total, MIN(customer_id) AS lo, MAX(balance) AS hi "
                f"FROM customer WHERE balance > {p.money(-500, 2000)} GROUP BY tier"
            ),
            q("SELECT YEAR(created) AS y, COUNT(*) AS n FROM customer GROUP BY YEAR(created)"),
            q(f"SELECT qty, COUNT(*) AS n, SUM(price) AS s FROM corder WHERE qty < {p.qty()} GROUP BY qty"),
            q(
                "SELECT tier, COUNT(email) AS with_email FROM customer GROUP BY tier ORDER BY tier",
                ordered=True,
            ),
            q("SELECT tier, YEAR(created) AS y, COUNT(*) AS n FROM customer GROUP BY tier, y"),
        ]
    )


@read(20)
def group_by_string(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT name, COUNT(*) AS n FROM customer GROUP BY name", casefold=True),
            q(f"SELECT sku, SUM(qty) AS q FROM corder WHERE qty > {p.qty()} GROUP BY sku", casefold=True),
            q(
                "SELECT category, COUNT(*) AS n, MAX(price) AS hi FROM product GROUP BY category",
                casefold=True,
            ),
            q(f"SELECT MIN(name), MAX(name) FROM customer WHERE tier = {p.tier()}", casefold=True),
        ]
    )


@read(15)
def group_by_vindex(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT customer_id, COUNT(*) AS n, SUM(qty) AS q FROM corder GROUP BY customer_id"),
            q(
                f"SELECT customer_id, MAX(price) AS hi FROM corder WHERE qty > {p.qty()} GROUP BY customer_id "
                "ORDER BY customer_id",
                ordered=True,
            ),
        ]
    )


@read(25)
def having(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT tier, COUNT(*) AS n FROM customer GROUP BY tier HAVING COUNT(*) > {p.rng.randint(0, 60)}"
            ),
            q(
                f"SELECT tier, SUM(balance) AS s FROM customer GROUP BY tier HAVING SUM(balance) > {p.money(0, 50000)}"
            ),
            q(f"SELECT tier, COUNT(*) AS n FROM customer GROUP BY tier HAVING n >= {p.rng.randint(0, 60)}"),
            q(
                f"SELECT customer_id, SUM(qty) AS q FROM corder GROUP BY customer_id HAVING SUM(qty) > "
                f"{p.rng.randint(0, 40)}"
            ),
            q(
                f"SELECT qty, MAX(price) AS hi FROM corder GROUP BY qty HAVING MAX(price) < {p.money(100, 500)}"
            ),
        ]
    )


@read(20)
def group_order_limit(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT tier, COUNT(*) AS n FROM customer GROUP BY tier ORDER BY n DESC, tier LIMIT {p.limit()}",
                ordered=True,
            ),
            q(
                "SELECT customer_id, SUM(qty) AS q FROM corder WHERE qty IS NOT NULL GROUP BY customer_id "
                f"ORDER BY q DESC, customer_id LIMIT {p.limit()}",
                ordered=True,
            ),
        ]
    )


@read(25)
def distinct(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT DISTINCT tier FROM customer"),
            q(f"SELECT DISTINCT name FROM customer WHERE tier = {p.tier()}", casefold=True),
            q(f"SELECT DISTINCT sku FROM corder WHERE qty > {p.qty()}", casefold=True),
            q("SELECT DISTINCT tier, YEAR(created) AS y FROM customer"),
            q(f"SELECT DISTINCT qty FROM corder WHERE price > {p.money(0, 400)} ORDER BY qty", ordered=True),
            q(f"SELECT DISTINCT name FROM customer WHERE tier <> {p.tier()} ORDER BY name", ordered=True,
              casefold=True),
            q(f"SELECT DISTINCT tier, YEAR(created) AS y FROM customer ORDER BY y DESC, tier LIMIT {p.limit()}",
              ordered=True),
            q(f"SELECT DISTINCT qty FROM corder ORDER BY 1 DESC LIMIT {p.limit()} OFFSET {p.limit()}",
              ordered=True),
        ]
    )


@read(20)
def count_distinct(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT COUNT(DISTINCT tier) AS n FROM customer"),
            q(f"SELECT COUNT(DISTINCT name) AS n FROM customer WHERE tier <> {p.tier()}"),
            q("SELECT COUNT(DISTINCT sku) AS n FROM corder"),
            q("SELECT tier, COUNT(DISTINCT name) AS names FROM customer GROUP BY tier"),
            q(f"SELECT SUM(DISTINCT qty) AS s FROM corder WHERE customer_id > {p.customer_id()}"),
        ]
    )


# Joins.


@read(30)
def join_colocated(p: Params) -> Query:
    return Query(
        "SELECT c.customer_id, c.name, o.order_id, o.qty FROM customer c JOIN corder o "
        f"ON c.customer_id = o.customer_id WHERE c.tier = {p.tier()} AND o.qty > {p.qty()}"
    )


@read(20)
def join_colocated_point(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT c.name, o.order_id, o.price FROM customer c JOIN corder o ON c.customer_id = o.customer_id "
                f"WHERE c.customer_id = {p.customer_with_orders()}"
            ),
            q(
                "SELECT c.customer_id, o.order_id FROM corder o JOIN customer c ON o.customer_id = c.customer_id "
                f"WHERE o.customer_id IN ({p.customer_ids()})"
            ),
        ]
    )


@read(20)
def left_join(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT c.customer_id, o.order_id, o.sku FROM customer c LEFT JOIN corder o "
                f"ON c.customer_id = o.customer_id WHERE c.tier = {p.tier()}"
            ),
            q(
                "SELECT c.customer_id, c.name FROM customer c LEFT JOIN corder o ON c.customer_id = o.customer_id "
                "WHERE o.order_id IS NULL"
            ),
        ]
    )


@read(25)
def join_reference(p: Params) -> Query:
    category = p.choice(["tools", "TOYS", "garden"])
    return p.pick(
        [
            q(
                "SELECT o.order_id, o.qty, p.title, p.category FROM corder o JOIN product p ON o.sku = p.sku "
                f"WHERE o.qty > {p.qty()}"
            ),
            q(
                "SELECT o.order_id, p.sku FROM corder o JOIN product p ON o.sku = p.sku "
                f"WHERE p.category = '{category}'"
            ),
            q(
                "SELECT o.order_id, p.title FROM corder o LEFT JOIN product p ON o.sku = p.sku "
                f"WHERE o.customer_id = {p.customer_with_orders()}"
            ),
            q(
                "SELECT c.name, o.order_id, p.price FROM customer c JOIN corder o ON c.customer_id = o.customer_id "
                f"JOIN product p ON p.sku = o.sku WHERE c.tier = {p.tier()}"
            ),
        ]
    )


@read(25)
def join_cross_shard(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT c.customer_id, c.tier, o.order_id FROM customer c JOIN corder o ON c.tier = o.qty "
                f"WHERE c.customer_id IN ({p.customer_ids(1, 3)})"
            ),
            q(
                "SELECT a.customer_id, b.customer_id AS other FROM customer a JOIN customer b ON a.name = b.name "
                f"WHERE a.customer_id IN ({p.customer_ids(1, 4)}) AND a.customer_id <> b.customer_id"
            ),
            q(
                "SELECT o.order_id, c.customer_id FROM corder o JOIN customer c ON c.balance < o.price "
                f"WHERE o.customer_id = {p.customer_with_orders()} AND c.tier = {p.tier()}"
            ),
        ]
    )


@read(20)
def join_aggregate(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT c.tier, COUNT(*) AS n, SUM(o.qty) AS q FROM customer c JOIN corder o "
                "ON c.customer_id = o.customer_id GROUP BY c.tier"
            ),
            q(
                "SELECT p.category, SUM(o.qty) AS q FROM corder o JOIN product p ON o.sku = p.sku "
                "GROUP BY p.category",
                casefold=True,
            ),
            q(
                "SELECT COUNT(*) AS n, MAX(o.price) AS hi FROM customer c JOIN corder o "
                f"ON c.customer_id = o.customer_id WHERE c.balance > {p.money(-500, 3000)}"
            ),
        ]
    )


@read(15)
def join_order_limit(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON c.customer_id = o.customer_id "
                f"ORDER BY o.order_id LIMIT {p.limit()}",
                ordered=True,
            ),
            q(
                "SELECT o.order_id, o.price, c.name FROM corder o JOIN customer c ON c.customer_id = o.customer_id "
                f"WHERE o.price IS NOT NULL ORDER BY o.price DESC, o.order_id LIMIT {p.limit()}",
                ordered=True,
            ),
        ]
    )


@read(10)
def join_comma(p: Params) -> Query:
    return Query(
        "SELECT c.customer_id, o.order_id FROM customer c, corder o WHERE c.customer_id = o.customer_id "
        f"AND c.customer_id IN ({p.customer_ids()})"
    )


# Unions.


@read(20)
def union_all(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT customer_id FROM customer WHERE tier = {p.tier()} "
                f"UNION ALL SELECT customer_id FROM corder WHERE qty = {p.qty()}"
            ),
            q(
                f"SELECT name FROM customer WHERE customer_id = {p.customer_id()} "
                f"UNION ALL SELECT title FROM product WHERE sku = {p.sku()}"
            ),
        ]
    )


@read(20)
def union_distinct(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT tier FROM customer WHERE balance > {p.money(0, 3000)} UNION SELECT qty FROM corder"),
            q(
                f"SELECT name FROM customer WHERE tier = {p.tier()} "
                f"UNION SELECT name FROM customer WHERE tier = {p.tier()}",
                casefold=True,
            ),
        ]
    )


@read(15)
def union_order_limit(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT customer_id AS id FROM customer WHERE tier = {p.tier()} UNION "
                f"SELECT customer_id FROM corder WHERE qty > {p.qty()} ORDER BY id LIMIT {p.limit()}",
                ordered=True,
            ),
            q(
                f"(SELECT order_id FROM corder WHERE qty > {p.qty()} ORDER BY order_id LIMIT 3) UNION ALL "
                f"(SELECT customer_id FROM customer ORDER BY customer_id DESC LIMIT {p.limit()})"
            ),
        ]
    )


# Subqueries.


@read(20)
def in_subquery(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT customer_id, name FROM customer WHERE customer_id IN "
                f"(SELECT customer_id FROM corder WHERE qty > {p.qty()})"
            ),
            q(
                "SELECT customer_id FROM customer WHERE customer_id NOT IN "
                f"(SELECT customer_id FROM corder WHERE sku = {p.sku()})"
            ),
            q(
                "SELECT order_id, sku FROM corder WHERE sku IN "
                f"(SELECT sku FROM product WHERE category = '{p.choice(['tools', 'toys'])}')"
            ),
        ]
    )


@read(20)
def scalar_subquery(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT customer_id, balance FROM customer WHERE balance > "
                f"(SELECT AVG(balance) FROM customer WHERE tier = {p.tier()})"
            ),
            q(
                "SELECT c.customer_id, (SELECT COUNT(*) FROM corder o WHERE o.customer_id = c.customer_id) AS n "
                f"FROM customer c WHERE c.tier = {p.tier()}"
            ),
            q(
                f"SELECT (SELECT MAX(price) FROM product) AS top, COUNT(*) AS n FROM corder WHERE qty > {p.qty()}"
            ),
        ]
    )


@read(20)
def exists(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT c.customer_id FROM customer c WHERE EXISTS "
                f"(SELECT 1 FROM corder o WHERE o.customer_id = c.customer_id AND o.qty > {p.qty()})"
            ),
            q(
                f"SELECT c.customer_id FROM customer c WHERE c.tier = {p.tier()} AND NOT EXISTS "
                "(SELECT 1 FROM corder o WHERE o.customer_id = c.customer_id)"
            ),
            q(
                f"SELECT o.order_id FROM corder o WHERE o.qty = {p.qty()} AND EXISTS "
                "(SELECT 1 FROM product p WHERE p.sku = o.sku)"
            ),
        ]
    )


@read(20)
def derived_table(p: Params) -> Query:
    return p.pick(
        [
            q(
                "SELECT t.tier, t.n FROM (SELECT tier, COUNT(*) AS n FROM customer GROUP BY tier) AS t "
                f"WHERE t.n > {p.rng.randint(0, 60)}"
            ),
            q(
                "SELECT MAX(t.total) AS top FROM "
                "(SELECT customer_id, SUM(qty * price) AS total FROM corder GROUP BY customer_id) AS t"
            ),
            q(
                f"SELECT t.customer_id, t.name FROM (SELECT customer_id, name FROM customer WHERE tier = {p.tier()}) "
                f"AS t WHERE t.customer_id > {p.customer_id()}"
            ),
        ]
    )


@read(15)
def group_concat_distinct(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT GROUP_CONCAT(DISTINCT tier) AS tiers FROM customer WHERE customer_id < {p.customer_id()}"),
            q("SELECT tier, GROUP_CONCAT(DISTINCT name ORDER BY name DESC SEPARATOR '|') AS names FROM customer "
              "GROUP BY tier", casefold=True),
            q(f"SELECT customer_id, GROUP_CONCAT(DISTINCT sku ORDER BY sku) AS skus, COUNT(*) AS n FROM corder "
              f"WHERE qty > {p.qty()} GROUP BY customer_id"),
        ]
    )


@read(15)
def spread_aggregates(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT STDDEV(balance) AS s, VARIANCE(balance) AS v, STDDEV_SAMP(balance) AS ss, "
              "VAR_SAMP(balance) AS vs FROM customer", approx=True),
            q(f"SELECT tier, STD(qty), VAR_POP(price), COUNT(*) FROM corder JOIN customer USING (customer_id) "
              f"WHERE qty > {p.qty()} GROUP BY tier", approx=True),
            q(f"SELECT customer_id % 3 AS k, STDDEV_POP(qty * price), VAR_SAMP(qty) FROM corder "
              f"WHERE customer_id > {p.customer_id()} GROUP BY k", approx=True),
        ]
    )


@read(10)
def bitwise_aggregates(p: Params) -> Query:
    return p.pick(
        [
            q("SELECT BIT_OR(qty) AS o, BIT_AND(qty) AS a, BIT_XOR(qty) AS x FROM corder"),
            q(f"SELECT BIT_OR(qty), BIT_AND(qty), BIT_XOR(qty) FROM corder WHERE qty > {p.qty() + 100}"),  # none
            q("SELECT tier, BIT_OR(customer_id), BIT_XOR(customer_id) FROM customer GROUP BY tier"),
        ]
    )


@read(20)
def common_table_expression(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"WITH t AS (SELECT customer_id, name FROM customer WHERE tier = {p.tier()}) "
                f"SELECT t.customer_id, t.name FROM t WHERE t.customer_id > {p.customer_id()}"
            ),
            q(
                "WITH totals AS (SELECT customer_id, SUM(qty * price) AS total FROM corder GROUP BY customer_id) "
                "SELECT MAX(totals.total) AS top, COUNT(*) AS n FROM totals"
            ),
            q(f"WITH c AS (SELECT * FROM customer WHERE customer_id = {p.customer_id()}) SELECT c.name FROM c"),
            q(
                f"WITH picked AS (SELECT customer_id FROM customer WHERE tier = {p.tier()}), "
                "again AS (SELECT customer_id FROM picked) "
                "SELECT COUNT(*) AS n FROM corder WHERE customer_id IN (SELECT customer_id FROM again)"
            ),
            q(
                f"WITH big AS (SELECT order_id, customer_id FROM corder WHERE qty > {p.qty()}) "
                "SELECT c.name, big.order_id FROM customer c JOIN big ON big.customer_id = c.customer_id"
            ),
        ]
    )


# The reference table, no table, and errors MariaDB raises.


@read(15)
def reference(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT * FROM product WHERE category = '{p.choice(['tools', 'Toys', 'garden'])}'"),
            q(f"SELECT sku, price FROM product ORDER BY price DESC, sku LIMIT {p.limit()}", ordered=True),
            q("SELECT COUNT(*), SUM(price) FROM product"),
            q(f"SELECT * FROM product WHERE sku = {p.sku()}"),
        ]
    )


@read(10)
def no_table(p: Params) -> Query:
    return p.pick(
        [
            q(f"SELECT {p.qty()} + 1 AS n"),
            q("SELECT CONCAT('a', 'B') AS s, 'x' = 'X' AS ci, NULL AS nothing"),
            q("SELECT CAST('2024-01-02' AS DATE) AS d, 10 / 4 AS q"),
        ]
    )


@read(10)
def errors(p: Params) -> Query:
    return p.pick(
        [
            q(
                f"SELECT no_such_column FROM customer WHERE customer_id = {p.customer_id()}",
                expected_error=1054,
            ),
            q("SELECT no_such_column FROM customer", expected_error=1054),
            q("SELECT * FROM no_such_table", expected_error=1146),
            q(
                f"SELECT customer_id FROM customer WHERE customer_id = {p.customer_id()} AND",
                expected_error=1064,
            ),
        ]
    )
