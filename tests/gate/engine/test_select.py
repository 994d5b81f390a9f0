"""SELECT through the planner and the engine on two shards, compared with the same query on one database.

Rows compare as multisets unless the statement fixes their order; ``casefold`` where MySQL may return any of
several case variants of a value (grouping and MIN/MAX over a case-insensitive column).
"""

from __future__ import annotations

import pytest

from tests.gate.conftest import ShardedEnv

ORDERED = [
    # merge-sort across shards: numbers, text under utf8mb4_general_ci (weight strings), NULLs first, mixed
    "SELECT customer_id, name FROM customer ORDER BY customer_id",
    "SELECT customer_id, name FROM customer ORDER BY name, customer_id",
    "SELECT customer_id, name FROM customer ORDER BY name DESC, customer_id DESC",
    "SELECT customer_id, balance FROM customer ORDER BY balance DESC, customer_id LIMIT 7",
    "SELECT customer_id, created FROM customer ORDER BY created, customer_id LIMIT 5 OFFSET 3",
    "SELECT customer_id, tier FROM customer ORDER BY 2 DESC, 1 LIMIT 3, 4",
    "SELECT * FROM customer ORDER BY name, customer_id LIMIT 6",
    "SELECT customer_id, tier AS level FROM customer ORDER BY level, customer_id DESC LIMIT 10",
    "SELECT customer_id FROM customer ORDER BY email, customer_id LIMIT 8",
    "SELECT customer_id, balance * 2 FROM customer WHERE balance > 100 ORDER BY balance * 2, customer_id LIMIT 5",
    "SELECT customer_id FROM customer WHERE tier = 1 ORDER BY customer_id LIMIT 3 LOCK IN SHARE MODE",
    "SELECT customer_id+1, 'lit', CONCAT(name,'!'), -2.50 , x'41' FROM customer ORDER BY customer_id LIMIT 3",
    "SELECT customer_id, (SELECT MAX(price) FROM commerce.product)  mx FROM customer ORDER BY 1 LIMIT 2",
    "SELECT customer_id FROM customer WHERE tier = 2 ORDER BY customer_id LIMIT 3 FOR UPDATE",
    # aggregation at the gate, then ordering
    "SELECT tier, COUNT(*) FROM customer GROUP BY tier ORDER BY tier",
    "SELECT tier, COUNT(*) AS n, SUM(balance) FROM customer GROUP BY tier ORDER BY n DESC, tier",
    "SELECT tier, AVG(balance), MIN(balance), MAX(balance) FROM customer GROUP BY tier ORDER BY tier",
    "SELECT tier, COUNT(DISTINCT name) FROM customer GROUP BY tier ORDER BY tier",
    "SELECT qty, SUM(price), COUNT(price) FROM corder GROUP BY qty HAVING SUM(price) > 1000 ORDER BY qty",
    "SELECT tier, COUNT(*) FROM customer GROUP BY tier HAVING COUNT(*) BETWEEN 30 AND 45 ORDER BY 2, 1",
    "SELECT tier FROM customer GROUP BY tier HAVING MAX(balance) > 4900 ORDER BY tier",
    "SELECT customer_id, COUNT(*) FROM corder GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 5",
    "SELECT DISTINCT tier FROM customer ORDER BY tier DESC",
    # arithmetic over aggregates, computed at the gate with MySQL's result types
    "SELECT tier, SUM(balance) / COUNT(*), COUNT(*) * 2 - 1, -MAX(balance) FROM customer GROUP BY tier ORDER BY tier",
    "SELECT tier, SUM(qty) / 7, SUM(qty) * 1.5, SUM(price) - SUM(price) / 3 FROM customer c JOIN corder o "
    "ON o.customer_id = c.customer_id GROUP BY tier ORDER BY tier",
    "SELECT tier, COUNT(*) FROM customer GROUP BY tier HAVING COUNT(*) * 2 > 70 ORDER BY COUNT(*) + 0 DESC, tier",
    "SELECT MAX(balance) - MIN(balance), COUNT(DISTINCT tier) / COUNT(*) FROM customer",
    "SELECT DISTINCT qty FROM corder WHERE qty > 3 ORDER BY qty LIMIT 4",
    # unions across routes: concatenation, duplicates removed at the gate, ordered and limited at the gate
    "SELECT customer_id FROM customer WHERE tier = 1 UNION SELECT customer_id FROM corder WHERE qty = 3 ORDER BY 1",
    "SELECT name FROM customer WHERE tier = 2 UNION ALL SELECT sku FROM corder WHERE qty = 1 ORDER BY 1 LIMIT 9",
    # joins across shards and keyspaces, ordered at the gate
    "SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id "
    "WHERE c.tier = 3 ORDER BY o.order_id",
    "SELECT o.order_id, p.description FROM corder o JOIN commerce.product p ON p.sku = o.sku ORDER BY o.order_id",
    "SELECT a.customer_id, b.customer_id FROM customer a JOIN customer b ON a.email = b.email "
    "WHERE a.tier = 2 ORDER BY 1, 2",
    "SELECT c.name, COUNT(*) FROM customer c JOIN corder o ON o.sku = c.name GROUP BY c.name ORDER BY c.name",
]

UNORDERED = [
    # routing: vindex equality, IN, lookup, ranges, impossible values, reference and unsharded tables
    "SELECT * FROM customer WHERE customer_id = 33",
    "SELECT * FROM customer WHERE customer_id = -95",
    "SELECT * FROM customer WHERE customer_id = 999999",
    "SELECT * FROM customer WHERE customer_id = NULL",
    "SELECT * FROM customer WHERE customer_id IN (33, 4108, 3982, 1, 2, 3)",
    "SELECT name FROM customer WHERE customer_id IN (33) AND tier > 1",
    "SELECT * FROM customer WHERE customer_id BETWEEN 100 AND 900",
    "SELECT customer_id FROM customer WHERE name = 'ALICE'",
    "SELECT customer_id FROM customer WHERE email = 'alice.33@example.com'",
    "SELECT customer_id FROM customer WHERE email IN ('nobody@example.com', 'alice.33@example.com')",
    "SELECT * FROM product WHERE price > 100",
    "SELECT * FROM commerce.product",
    "SELECT 1, 'a', 2.50, NULL",
    "SELECT customer_id + 1, -customer_id, CONCAT(name, '!'), 'lit' FROM customer WHERE tier = 4",
    "SELECT customer_id+1 AS next, UPPER(name) FROM customer WHERE customer_id IN (33, 4108)",
    # aggregates: empty input rules, precision of AVG, DISTINCT aggregates
    "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(created), MAX(created) FROM customer",
    "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(name), COUNT(name) FROM customer WHERE tier = 99",
    "SELECT COUNT(*), SUM(qty) FROM corder WHERE customer_id IN (999999, 888888)",
    "SELECT AVG(qty), AVG(price), SUM(qty), COUNT(DISTINCT qty), SUM(DISTINCT qty) FROM corder",
    "SELECT tier, AVG(tier), COUNT(DISTINCT created) FROM customer GROUP BY tier",
    "SELECT COUNT(DISTINCT tier), COUNT(*), MAX(balance) FROM customer",
    "SELECT customer_id, COUNT(*), SUM(qty) FROM corder GROUP BY customer_id HAVING COUNT(*) > 2",
    "SELECT sku, COUNT(*) FROM corder GROUP BY sku HAVING COUNT(*) >= 15",
    "SELECT DISTINCT tier, created IS NULL FROM customer",
    "SELECT COUNT(*) FROM customer c WHERE EXISTS (SELECT 1 FROM corder o WHERE o.customer_id = c.customer_id)",
    # subqueries: co-located ones stay in the route, others are pulled out and bound
    "SELECT customer_id FROM customer WHERE customer_id IN (SELECT customer_id FROM corder WHERE qty = 20)",
    "SELECT customer_id FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM corder)",
    "SELECT customer_id FROM customer WHERE customer_id IN (SELECT customer_id FROM corder WHERE qty = 1000)",
    "SELECT customer_id FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM corder WHERE qty = 1000)",
    "SELECT order_id FROM corder WHERE sku IN (SELECT sku FROM commerce.product)",
    "SELECT customer_id, (SELECT MAX(price) FROM product) FROM customer WHERE tier = 1",
    "SELECT customer_id FROM customer WHERE balance > (SELECT AVG(balance) FROM customer)",
    "SELECT customer_id FROM customer WHERE EXISTS (SELECT 1 FROM commerce.product WHERE price > 10)",
    "SELECT customer_id FROM customer WHERE NOT EXISTS (SELECT 1 FROM commerce.product WHERE price > 1000)",
    "SELECT c.customer_id, (SELECT COUNT(*) FROM corder o WHERE o.customer_id = c.customer_id) FROM customer c",
    "SELECT t.customer_id, t.n FROM (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) AS t "
    "WHERE t.n > 2",
    # derived tables the gate completes (LIMIT, aggregation across shards), alone or joined
    "SELECT COUNT(*) AS n FROM (SELECT customer_id FROM customer WHERE tier = 1 LIMIT 10) AS t",
    "SELECT t.tier, t.n FROM (SELECT tier, COUNT(*) AS n FROM customer GROUP BY tier) AS t WHERE t.n > 40",
    "SELECT tier, n FROM (SELECT tier, COUNT(*) AS n FROM customer GROUP BY tier) AS t WHERE tier IS NOT NULL",
    "SELECT t.qty, MIN(t.sku), COUNT(*) FROM (SELECT DISTINCT qty, sku FROM corder) AS t GROUP BY t.qty",
    "SELECT c.customer_id, t.n FROM customer c JOIN (SELECT customer_id, COUNT(*) AS n FROM corder "
    "GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 3) AS t ON t.customer_id = c.customer_id",
    "SELECT t.customer_id, p.description FROM (SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 5) "
    "AS t JOIN commerce.product p ON p.sku > t.name",
    # joins: co-located in one route, with a reference table, across shards and keyspaces, LEFT JOIN
    "SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id",
    "SELECT c.customer_id, o.order_id FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id",
    "SELECT o.order_id, p.title FROM corder o JOIN product p ON p.sku = o.sku WHERE o.qty > 15",
    "SELECT c.customer_id, p.sku FROM customer c JOIN commerce.product p ON p.price > c.balance "
    "WHERE c.customer_id IN (33, 4108, 3982, 1, 2, 3)",
    "SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON o.qty = c.tier WHERE c.customer_id = 33",
    "SELECT c.customer_id, p.description FROM customer c LEFT JOIN commerce.product p ON p.sku = c.name",
    "SELECT COUNT(*), SUM(o.qty), MIN(c.name) FROM customer c JOIN corder o ON o.qty = c.tier",
    "SELECT DISTINCT c.tier FROM customer c JOIN corder o ON o.qty = c.tier",
    # unions
    "SELECT customer_id FROM customer UNION ALL SELECT customer_id FROM corder",
    "SELECT tier FROM customer UNION SELECT qty FROM corder",
    "SELECT name FROM customer UNION SELECT title FROM product",
    "SELECT customer_id FROM customer WHERE customer_id = 33 UNION SELECT customer_id FROM corder WHERE customer_id = 33",
    "SELECT sku FROM commerce.product UNION SELECT sku FROM product",
]

CASEFOLD = {
    "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(name), COUNT(name) FROM customer WHERE tier = 99",
    "SELECT c.name, COUNT(*) FROM customer c JOIN corder o ON o.sku = c.name GROUP BY c.name ORDER BY c.name",
    "SELECT COUNT(*), SUM(o.qty), MIN(c.name) FROM customer c JOIN corder o ON o.qty = c.tier",
    "SELECT name FROM customer UNION SELECT title FROM product",
    "SELECT name FROM customer WHERE tier = 2 UNION ALL SELECT sku FROM corder WHERE qty = 1 ORDER BY 1 LIMIT 9",
    "SELECT sku, COUNT(*) FROM corder GROUP BY sku HAVING COUNT(*) >= 15",
    "SELECT t.qty, MIN(t.sku), COUNT(*) FROM (SELECT DISTINCT qty, sku FROM corder) AS t GROUP BY t.qty",
}


@pytest.mark.parametrize("sql", ORDERED)
async def test_ordered_results_match_one_database(sharded_env: ShardedEnv, sql: str):
    await sharded_env.compare(sql, ordered=True, casefold=sql in CASEFOLD)


@pytest.mark.parametrize("sql", UNORDERED)
async def test_results_match_one_database(sharded_env: ShardedEnv, sql: str):
    await sharded_env.compare(sql, casefold=sql in CASEFOLD)
