"""Plan shapes: which primitives a statement becomes and what each route sends, as ``describe()`` shows them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shardline.errors import MySQLError, NotFound, Unsupported
from shardline.gate.planner import Plan, StatementKind, build_plan, normalize
from shardline.vindexes.vschema import VSchema

VSCHEMA = VSchema.from_json(
    {
        "customer": {
            "sharded": True,
            "vindexes": {
                "hash": {"type": "hash"},
                "email_lookup": {
                    "type": "lookup_unique",
                    "params": {"table": "commerce.email_idx", "from": "email", "to": "keyspace_id"},
                },
                "tag_lookup": {
                    "type": "lookup",
                    "params": {"table": "commerce.tag_idx", "from": "tag", "to": "keyspace_id"},
                },
            },
            "tables": {
                "customer": {
                    "column_vindexes": [
                        {"column": "customer_id", "name": "hash"},
                        {"column": "email", "name": "email_lookup"},
                        {"column": "tag", "name": "tag_lookup"},
                    ]
                },
                "corder": {"column_vindexes": [{"column": "customer_id", "name": "hash"}]},
                "country": {"type": "reference"},
            },
        },
        "commerce": {"tables": {"product": {}, "email_idx": {}}},
    }
)


def plan(sql: str, keyspace: str | None = "customer", **kwargs: Any) -> Plan:
    return build_plan(normalize(sql)[0], VSCHEMA, keyspace=keyspace, **kwargs)


def shape(primitive: dict[str, Any]) -> Any:
    """The operator tree as nested (operator, variant, inputs...) tuples."""
    head = (primitive["OperatorType"], primitive.get("Variant", ""))
    return (*head, *(shape(child) for child in primitive.get("Inputs", [])))


def route(sql: str, keyspace: str | None = "customer") -> dict[str, Any]:
    described = plan(sql, keyspace).describe()["Instructions"]
    assert described["OperatorType"] == "Route", described
    return described


@pytest.mark.parametrize(
    ("sql", "variant", "vindex"),
    [
        ("SELECT * FROM customer WHERE customer_id = 5", "EqualUnique", "hash"),
        ("SELECT * FROM customer WHERE 5 = customer_id AND name = 'x'", "EqualUnique", "hash"),
        ("SELECT * FROM customer WHERE customer_id = -5", "EqualUnique", "hash"),
        ("SELECT * FROM customer WHERE customer_id IN (5)", "EqualUnique", "hash"),
        ("SELECT * FROM customer WHERE email = 'a@x'", "EqualUnique", "email_lookup"),
        ("SELECT * FROM customer WHERE email = 'a@x' AND customer_id = 5", "EqualUnique", "hash"),
        ("SELECT * FROM customer WHERE tag = 'red'", "Equal", "tag_lookup"),
        ("SELECT * FROM customer WHERE customer_id IN (1, 2, 3)", "IN", "hash"),
        ("SELECT * FROM customer WHERE customer_id > 5", "Scatter", None),
        ("SELECT * FROM customer WHERE customer_id = 5 OR customer_id = 6", "Scatter", None),
        ("SELECT * FROM customer WHERE tier = 1 AND FALSE", "None", None),
        ("SELECT * FROM customer WHERE (NULL)", "None", None),
        ("SELECT * FROM country", "Reference", None),
        ("SELECT * FROM commerce.product", "Unsharded", None),
        ("SELECT 1", "Reference", None),
    ],
)
def test_route_variant(sql: str, variant: str, vindex: str | None):
    described = route(sql)
    assert described["Variant"] == variant
    assert described.get("Vindex") == vindex


def test_unqualified_tables_resolve_in_any_keyspace_without_a_session_keyspace():
    assert route("SELECT * FROM product", keyspace=None)["Keyspace"] == "commerce"
    assert route("SELECT * FROM corder WHERE customer_id = 1", keyspace=None)["Variant"] == "EqualUnique"


def test_a_single_shard_statement_is_sent_as_the_client_wrote_it():
    sql = "select  Name , tier+1 from customer where customer_id = 42 order by 2 limit 3"
    described = route(sql)
    assert described["Query"] == normalize(sql)[0]
    assert described["Values"] == [":v2"]


def test_unsharded_statements_pass_through_even_with_joins_and_subqueries():
    sql = "select p.sku, (select count(*) from email_idx) from product p join email_idx e on e.email = p.sku"
    described = route(sql, keyspace="commerce")
    assert (described["Variant"], described["Query"]) == ("Unsharded", sql)


def test_a_common_table_expression_passes_through_to_an_unsharded_keyspace():
    sql = "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT * FROM n, product"
    assert (route(sql, keyspace="commerce")["Variant"], route(sql, keyspace="commerce")["Query"]) == (
        "Unsharded",
        normalize(sql)[0],
    )


def test_statements_sqlglot_cannot_parse_pass_through_to_an_unsharded_keyspace():
    sql = "SELECT * FROM product LOCK IN SHARE MODE PARTITION"
    described = route(sql, keyspace="commerce")
    assert described["Query"] == sql
    with pytest.raises(MySQLError) as caught:
        plan(sql, keyspace="customer")
    assert caught.value.code == 1064



def test_a_regenerated_query_keeps_regexp_as_mariadb_writes_it():
    """sqlglot writes ``x REGEXP y`` as ``REGEXP_LIKE(x, y)``, which MariaDB does not have."""
    described = plan("SELECT name FROM customer WHERE name REGEXP '^a' AND NOT email RLIKE 'b' ORDER BY name")
    query = described.describe()["Instructions"]["Inputs"][0]["Query"]
    assert query == ("SELECT name, WEIGHT_STRING(name) FROM customer WHERE (name REGEXP :v1) "
                     "AND NOT (email REGEXP :v2) ORDER BY name")

def test_an_in_route_sends_each_shard_only_its_values():
    described = route("SELECT name FROM customer WHERE customer_id IN (1, 2, 3)")
    assert described["Query"] == "SELECT name FROM customer WHERE customer_id IN (:__vals1)"
    assert described["Values"] == [":v1", ":v2", ":v3"]


def test_co_located_joins_and_reference_tables_stay_in_one_route():
    for sql in [
        "SELECT * FROM customer c JOIN corder o ON c.customer_id = o.customer_id",
        "SELECT * FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id WHERE c.tier = 1",
        "SELECT * FROM corder o JOIN country k ON k.code = o.country",
        "SELECT * FROM customer c WHERE EXISTS (SELECT 1 FROM corder o WHERE o.customer_id = c.customer_id)",
    ]:
        assert route(sql)["Variant"] == "Scatter"
    joined = route(
        "SELECT * FROM customer c JOIN corder o ON c.customer_id = o.customer_id WHERE o.customer_id = 7"
    )
    assert joined["Variant"] == "EqualUnique"


def test_a_multi_shard_order_by_merges_on_weight_strings_and_limits_twice():
    described = plan("SELECT name FROM customer ORDER BY name DESC LIMIT 10 OFFSET 20").describe()
    assert shape(described["Instructions"]) == ("Projection", "", ("Limit", "", ("Route", "Scatter")))
    limit = described["Instructions"]["Inputs"][0]
    assert (limit["Count"], limit["Offset"]) == (":v1", ":v2")
    shard = limit["Inputs"][0]
    assert shard["Query"] == (
        "SELECT name, WEIGHT_STRING(name) FROM customer ORDER BY name DESC LIMIT :__upper_limit1"
    )
    assert shard["OrderBy"] == "(0|1) DESC"



def test_an_ordered_distinct_across_shards_merges_sorted_distinct_rows_then_limits():
    tree = plan("SELECT DISTINCT name, tier FROM customer ORDER BY name LIMIT 5 OFFSET 10").describe()["Instructions"]
    assert shape(tree) == ("Projection", "", ("Limit", "", ("Distinct", "", ("Route", "Scatter"))))
    distinct = tree["Inputs"][0]["Inputs"][0]
    assert distinct["Columns"] == "(0|2), (1|3)"
    shard = distinct["Inputs"][0]
    assert shard["Query"] == ("SELECT DISTINCT name, tier, WEIGHT_STRING(name), WEIGHT_STRING(tier) FROM customer "
                              "ORDER BY name")
    assert shard["OrderBy"] == "(0|2) ASC"
    # Without ORDER BY, or ordered by what is not selected, DISTINCT is grouped at the gate as before.
    assert shape(plan("SELECT DISTINCT name FROM customer").describe()["Instructions"]) == (
        "Projection", "", ("Aggregate", "Hash", ("Route", "Scatter")))

def test_aggregates_are_split_into_partial_aggregates_on_the_shards():
    described = plan("SELECT tier, COUNT(*), AVG(balance) FROM customer GROUP BY tier").describe()
    tree = described["Instructions"]
    assert shape(tree) == ("Projection", "", ("Aggregate", "Hash", ("Route", "Scatter")))
    aggregate = tree["Inputs"][0]
    assert aggregate["Aggregates"] == "sum_count(1), avg_partial(2|4)"
    assert aggregate["GroupBy"] == "(0|3)"
    assert aggregate["Inputs"][0]["Query"] == (
        "SELECT tier, COUNT(*), SUM(balance), WEIGHT_STRING(tier), COUNT(balance) FROM customer GROUP BY tier"
    )


def test_count_distinct_also_groups_on_its_argument_on_the_shards():
    tree = plan("SELECT COUNT(DISTINCT name) FROM customer").describe()["Instructions"]
    query = tree["Inputs"][0]["Inputs"][0]["Query"]
    assert query == "SELECT name, WEIGHT_STRING(name) FROM customer GROUP BY name"
    assert tree["Inputs"][0]["Aggregates"] == "count_distinct(0|1)"


def test_grouping_on_the_sharding_key_runs_entirely_on_the_shards():
    tree = plan(
        "SELECT customer_id, COUNT(*) FROM corder GROUP BY customer_id HAVING COUNT(*) > 1 ORDER BY 2 DESC LIMIT 5"
    ).describe()["Instructions"]
    assert shape(tree) == ("Projection", "", ("Limit", "", ("Route", "Scatter")))
    shard = tree["Inputs"][0]["Inputs"][0]
    assert "HAVING COUNT(*) > :v1" in shard["Query"]
    assert shard["OrderBy"] == "1 DESC"


def test_having_order_and_limit_after_gate_aggregation():
    tree = plan(
        "SELECT tier, SUM(balance) AS s FROM customer GROUP BY tier HAVING s > 10 ORDER BY s DESC LIMIT 2"
    ).describe()["Instructions"]
    assert shape(tree) == (
        "Projection", "", ("Limit", "", ("Sort", "Memory", ("Filter", "", ("Aggregate", "Hash", ("Route", "Scatter")))))
    )  # fmt: skip
    assert tree["Inputs"][0]["Inputs"][0]["Inputs"][0]["Predicate"] == "[COLUMN 1] > :v1"


def test_uncorrelated_subquery_of_another_keyspace_is_pulled_out_and_routes_the_outer_query():
    tree = plan(
        "SELECT * FROM customer WHERE customer_id IN (SELECT customer_id FROM commerce.product)"
    ).describe()["Instructions"]
    assert shape(tree) == ("UncorrelatedSubquery", "PulloutIn", ("Route", "Unsharded"), ("Route", "IN"))
    outer = tree["Inputs"][1]
    assert outer["Values"] == [":__sq1"]
    assert (
        outer["Query"] == "SELECT * FROM customer WHERE (:__sq_has_values2 = 1 AND customer_id IN (:__vals3))"
    )


def test_scalar_and_exists_subqueries_are_pulled_out():
    tree = plan("SELECT * FROM corder WHERE qty > (SELECT MAX(price) FROM commerce.product)").describe()
    assert shape(tree["Instructions"])[:2] == ("UncorrelatedSubquery", "PulloutValue")
    tree = plan("SELECT * FROM corder WHERE NOT EXISTS (SELECT 1 FROM commerce.product)").describe()
    assert shape(tree["Instructions"])[:2] == ("UncorrelatedSubquery", "PulloutExists")
    assert tree["Instructions"]["Inputs"][1]["Query"] == "SELECT * FROM corder WHERE NOT :__sq_has_values2"


def test_a_cross_shard_join_binds_left_values_into_the_right_route():
    tree = plan(
        "SELECT c.name, o.order_id FROM commerce.product p JOIN corder o ON o.customer_id = p.owner "
        "JOIN customer c ON c.customer_id = o.customer_id"
    ).describe()["Instructions"]
    assert shape(tree) == (
        "Projection",
        "",
        ("Join", "Join", ("Route", "Unsharded"), ("Route", "EqualUnique")),
    )
    join = tree["Inputs"][0]
    assert join["JoinVars"] == {"__owner_1": 0}
    right = join["Inputs"][1]
    assert right["Values"] == [":__owner_1"]
    assert right["Query"].endswith("WHERE o.customer_id = :__owner_1 AND c.customer_id = o.customer_id")


def test_a_left_join_across_keyspaces_is_an_outer_nested_loop():
    tree = plan("SELECT c.customer_id, p.sku FROM customer c LEFT JOIN commerce.product p ON p.sku = c.name")
    join = tree.describe()["Instructions"]["Inputs"][0]
    assert (join["OperatorType"], join["Variant"]) == ("Join", "LeftJoin")


def test_union_all_of_plain_selects_is_one_scatter_route_and_union_removes_duplicates_at_the_gate():
    assert route("SELECT name FROM customer UNION ALL SELECT sku FROM corder")["Variant"] == "Scatter"
    tree = plan("SELECT name FROM customer UNION SELECT sku FROM corder").describe()["Instructions"]
    assert shape(tree) == (
        "Projection", "", ("Distinct", "", ("Concatenate", "", ("Route", "Scatter"), ("Route", "Scatter")))
    )  # fmt: skip


def test_a_shard_target_sends_everything_to_that_shard_unparsed():
    described = plan("SELECT anything FROM anywhere", shard="-80").describe()["Instructions"]
    assert (described["Variant"], described["TargetDestination"]) == ("ByDestination", "-80")


def test_plan_metadata():
    built = plan("SELECT c.name FROM customer c JOIN corder o ON c.customer_id = o.customer_id")
    assert built.kind is StatementKind.SELECT
    assert built.tables == ("customer.customer", "customer.corder")
    assert built.describe()["QueryType"] == "SELECT"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT ROW_NUMBER() OVER (ORDER BY name) FROM customer", "window functions"),
        ("SELECT tier, GROUP_CONCAT(name ORDER BY name) FROM customer GROUP BY tier", "GROUP_CONCAT"),
        ("SELECT COUNT(*) + LENGTH(MAX(name)) FROM customer", "cannot evaluate"),
        ("SELECT * FROM (SELECT * FROM customer LIMIT 5) t", "derived table 't'"),
        (
            "SELECT * FROM customer c WHERE c.tier = (SELECT MAX(tier) FROM corder o WHERE o.name = c.name)",
            "correlated subquery",
        ),
        ("SELECT c.name FROM customer c RIGHT JOIN commerce.product p ON p.sku = c.name", "RIGHT JOIN"),
        ("SELECT * FROM customer c JOIN commerce.product p ON p.sku = c.name", "authoritative column list"),
        ("WITH RECURSIVE x AS (SELECT 1) SELECT * FROM customer", "WITH RECURSIVE"),
        ("SHOW TABLES", "SHOW"),
        ("SELECT DISTINCT customer_id FROM corder ORDER BY order_id LIMIT 5", "unselected expression"),
        ("SELECT tier, COUNT(*) FROM customer GROUP BY tier WITH ROLLUP", "WITH ROLLUP"),
        ("SELECT tier, JSON_ARRAYAGG(name) FROM customer GROUP BY tier", "JSON_ARRAYAGG"),
        (
            "SELECT c.tier, COUNT(*) FROM customer c JOIN commerce.product p ON p.sku = c.name GROUP BY c.tier WITH ROLLUP",
            "WITH ROLLUP",
        ),
        ("SELECT name INTO @n FROM customer ORDER BY name LIMIT 1", "SELECT ... INTO"),
        ("SELECT t.name FROM (SELECT SQL_CALC_FOUND_ROWS name FROM customer LIMIT 1) AS t", "SQL_CALC_FOUND_ROWS"),
    ],
)
def test_what_cannot_be_planned_correctly_is_refused(sql: str, message: str):
    with pytest.raises(Unsupported) as caught:
        plan(sql)
    assert caught.value.code == 1235
    assert message in caught.value.message


def test_unknown_tables_and_keyspaces():
    with pytest.raises(NotFound) as caught:
        plan("SELECT * FROM nosuch")
    assert caught.value.code == 1146
    with pytest.raises(NotFound) as caught:
        plan("SELECT * FROM nowhere.t")
    assert caught.value.code == 1049


def test_named_lock_functions_become_a_lock_on_the_keyspaces_lock_shard():
    for keyspace, expected in (("customer", "customer"), (None, "commerce")):  # none selected: the first by name
        sql, _ = normalize("SELECT GET_LOCK('l', 10), RELEASE_LOCK('m') AS r")
        plan = build_plan(sql, VSCHEMA, keyspace=keyspace)
        assert plan.root.describe() == {"OperatorType": "Lock", "Keyspace": expected,
                                        "TargetDestination": "KeyspaceID(00)", "Query": sql}
        assert plan.root.acquires
    sql, _ = normalize("select is_free_lock('l')")
    lock = build_plan(sql, VSCHEMA, keyspace="customer", shard="80-").root
    assert not lock.acquires and lock.describe()["TargetDestination"] == "Shard(80-)"
    for statement in ("SELECT GET_LOCK('l', 1), 2", "SELECT GET_LOCK('l', 1) FROM customer",
                      "DELETE FROM customer WHERE RELEASE_ALL_LOCKS()", "SELECT COALESCE(GET_LOCK('l', 1))",
                      "SELECT product.sku FROM product WHERE IS_USED_LOCK('l')"):
        with pytest.raises(Unsupported, match="named-lock functions"):
            build_plan(normalize(statement)[0], VSCHEMA, keyspace="commerce")


def test_sql_calc_found_rows_runs_the_query_and_a_count_without_its_limit():
    for sql, count in (
            ("SELECT SQL_CALC_FOUND_ROWS name FROM customer WHERE tier = 1 ORDER BY name LIMIT 10",
             "SELECT COUNT(*) FROM customer WHERE tier = :v1"),
            ("SELECT SQL_CALC_FOUND_ROWS tier, COUNT(*) FROM customer GROUP BY tier LIMIT 1",
             "SELECT COUNT(*) FROM (SELECT tier, COUNT(*) FROM customer GROUP BY tier) AS __found_rows")):
        normalized, _ = normalize(sql)
        root = build_plan(normalized, VSCHEMA, keyspace="customer").root
        assert root.describe() == {"OperatorType": "SQL_CALC_FOUND_ROWS"}
        limit, counted = root.inputs()
        assert "SQL_CALC_FOUND_ROWS" not in json.dumps(limit.describe())
        assert build_plan(normalize(count)[0], VSCHEMA, keyspace="customer").root.describe() == counted.describe()
    with pytest.raises(Unsupported, match="SQL_CALC_FOUND_ROWS"):
        build_plan(normalize("SELECT SQL_CALC_FOUND_ROWS name FROM customer UNION SELECT 1")[0], VSCHEMA,
                   keyspace="customer")


def test_a_common_table_expression_is_planned_as_the_derived_table_it_stands_for():
    def described(sql: str) -> dict[str, Any]:
        return json.loads(json.dumps(build_plan(normalize(sql)[0], VSCHEMA, keyspace="customer").describe()))

    with_cte = described("WITH t AS (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) "
                         "SELECT MAX(t.n) FROM t")
    derived = described("SELECT MAX(t.n) FROM (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) "
                        "AS t")
    assert with_cte["Instructions"] == derived["Instructions"]
    point = described("WITH c AS (SELECT * FROM customer WHERE customer_id = 5) SELECT c.name FROM c")["Instructions"]
    assert point["Variant"] == "EqualUnique" and point["Query"].startswith("WITH c AS")  # the client's text
    for sql, message in (("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
                          "SELECT n FROM r", "RECURSIVE"),
                         ("WITH t(a) AS (SELECT name FROM customer) SELECT t.a FROM t", "column list")):
        with pytest.raises(Unsupported, match=message):
            build_plan(normalize(sql)[0], VSCHEMA, keyspace="customer")
