"""DML planning: the variant, the per-row templates and values, the lookup upkeep query, and the statements that
are refused (with Vitess's wording where Vitess has one)."""

from __future__ import annotations

import pytest

from shardline.errors import InvalidArgument, MySQLError, NotFound, Unsupported
from shardline.gate.engine.evalengine import BindVar, Const
from shardline.gate.planner.context import PlanContext
from shardline.gate.planner.dml import plan_dml, plan_replace
from shardline.gate.planner.dml_sequence import plan_next_values
from shardline.gate.planner.normalize import normalize
from shardline.gate.planner.parse import parse
from shardline.vindexes.vschema import VSchema

VSCHEMA = VSchema.from_json(
    {
        "commerce": {"tables": {"customer_seq": {"type": "sequence"}, "product": {}, "email_idx": {}}},
        "customer": {
            "sharded": True,
            "vindexes": {
                "hash": {"type": "hash"},
                "email_lookup": {
                    "type": "consistent_lookup_unique",
                    "params": {"table": "commerce.email_idx", "from": "email", "to": "keyspace_id"},
                    "owner": "customer",
                },
                "code_lookup": {
                    "type": "lookup_unique",
                    "params": {"table": "commerce.code_idx", "from": "code", "to": "keyspace_id"},
                },
                "xx": {"type": "xxhash"},
            },
            "tables": {
                "customer": {
                    "column_vindexes": [
                        {"column": "customer_id", "name": "hash"},
                        {"column": "email", "name": "email_lookup"},
                        {"column": "code", "name": "code_lookup"},
                        {"column": "tag", "name": "xx"},
                    ],
                    "auto_increment": {"column": "customer_id", "sequence": "commerce.customer_seq"},
                },
                "corder": {"column_vindexes": [{"column": "customer_id", "name": "hash"}]},
                "country": {"type": "reference", "source": "commerce.product"},
            },
        },
    }
)


def plan(sql: str, keyspace: str = "customer"):
    normalized, _ = normalize(sql)
    return plan_dml(parse(normalized), PlanContext(VSCHEMA, keyspace, normalized))


def test_sharded_insert_fills_the_auto_increment_column_from_the_sequence():
    insert = plan("insert into customer(email, name) values ('a@x', 'a'), ('b@x', 'b')")
    described = insert.describe()
    assert described["Variant"] == "Sharded"
    assert described["Query"] == (
        "INSERT INTO customer (email, name, `customer_id`) VALUES (:v1, :v2, :__seq0), (:v3, :v4, :__seq1)"
    )
    assert insert.generate.sequence.qualified_name == "commerce.customer_seq"
    assert insert.generate.values == (Const(None), Const(None))
    primary, email = insert.vindex_values[:2]
    assert primary.rows == ((BindVar("__seq0"),), (BindVar("__seq1"),))
    assert email.rows == ((BindVar("v1"),), (BindVar("v3"),))


def test_given_auto_increment_values_are_kept_in_their_slot():
    insert = plan("insert into customer(customer_id, email) values (7, 'a@x'), (null, 'b@x'), (default, 'c')")
    assert [r.text for r in insert.rows] == ["(:__seq0, :v2)", "(:__seq1, :v3)", "(:__seq2, :v4)"]
    assert insert.generate.values == (BindVar("v1"), Const(None), Const(None))


def test_insert_ignore_and_upsert_keep_their_clauses_around_the_rows():
    insert = plan("insert ignore into corder(customer_id, sku) values (1, 'x')")
    assert insert.ignore and insert.prefix == "INSERT IGNORE INTO corder (customer_id, sku) VALUES "
    upsert = plan(
        "insert into corder(customer_id, sku) values (1, 'x') on duplicate key update sku = values(sku)"
    )
    assert upsert.ignore
    assert upsert.suffix.text == " ON DUPLICATE KEY UPDATE sku = VALUES(sku)"


def test_unsharded_insert_is_the_clients_statement():
    insert = plan("insert into commerce.product(id, title) values (1, 'x')")
    assert insert.describe()["Variant"] == "Unsharded"
    assert insert.query.text == "insert into commerce.product(id, title) values (:v1, :v2)"
    select_into = plan("insert into commerce.product(id) select id from commerce.email_idx")
    assert select_into.query.text == "insert into commerce.product(id) select id from commerce.email_idx"


def test_replace_is_planned_as_an_insert_that_says_replace():
    # Normalized by hand: normalize() cannot tokenize REPLACE statements yet.
    ctx = PlanContext(VSCHEMA, "customer", "replace into corder(customer_id, sku) values (:v1, :v2)")
    replace = plan_replace(ctx)
    assert replace.prefix == "REPLACE INTO corder (customer_id, sku) VALUES "
    ctx = PlanContext(VSCHEMA, "customer", "replace into customer(customer_id, email) values (:v1, :v2)")
    with pytest.raises(Unsupported, match="owns lookup vindexes"):
        plan_replace(ctx)


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        (
            "insert into corder(sku) values ('x')",
            InvalidArgument,
            "value must be supplied for column customer_id",
        ),
        ("insert into corder(sku) select 'x'", InvalidArgument, "value must be supplied for column customer_id"),
        (
            "insert into corder(customer_id) values ((select 1 from commerce.product))",
            Unsupported,
            "subqueries",
        ),
        ("insert into corder(customer_id) values (rand())", Unsupported, "cannot compute RAND()"),
        ("insert into corder values (1, 'x')", InvalidArgument, "should name its columns"),
        ("insert into corder(customer_id, sku) values (1)", MySQLError, "Column count doesn't match"),
        ("insert into corder(customer_id, customer_id) values (1, 2)", MySQLError, "specified twice"),
        (
            "insert into customer(customer_id, email) values (1, 'x') on duplicate key update email = 'y'",
            Unsupported,
            "DML cannot update vindex column email",
        ),
        (
            "insert into commerce.product(id) select customer_id from customer.corder",
            Unsupported,
            "of another keyspace",
        ),
    ],
)
def test_inserts_shardline_cannot_run_correctly_are_refused(sql, error, message):
    with pytest.raises(error, match=message):
        plan(sql)


def test_update_by_primary_vindex_goes_to_one_shard_and_keeps_the_text():
    update = plan("update corder set sku = 'q' where customer_id = 4 order by sku limit 1")
    described = update.describe()
    assert (described["OperatorType"], described["Variant"], described["Vindex"]) == (
        "Update",
        "EqualUnique",
        "hash",
    )
    assert described["Query"] == "update corder set sku = :v1 where customer_id = :v2 order by sku limit :v3"
    assert "OwnedVindexQuery" not in described


def test_delete_routes_by_in_list_or_scatters():
    assert plan("delete from corder where customer_id in (1, 2)").describe()["Variant"] == "IN"
    scatter = plan("delete from corder where sku = 'x'")
    assert scatter.describe()["Variant"] == "Scatter"
    assert plan("delete from commerce.product where id = 1").describe()["Variant"] == "Unsharded"


def test_delete_of_a_table_with_owned_lookups_reads_the_rows_first():
    delete = plan("delete from customer where customer_id = 1")
    assert delete.describe()["OwnedVindexQuery"] == (
        "SELECT `customer_id`, `email` FROM customer WHERE customer_id = :v1 FOR UPDATE"
    )


def test_update_of_an_owned_lookup_column_selects_old_and_new_values():
    update = plan("update customer as c set c.email = 'n@x' where c.customer_id in (1, 2)")
    described = update.describe()
    assert described["OwnedVindexQuery"] == (
        "SELECT `customer_id`, `email`, :v1, `email` <=> :v1 FROM customer AS c "
        "WHERE c.customer_id IN (:v2, :v3) FOR UPDATE"
    )
    assert described["ChangedVindexValues"] == ["email_lookup:2"]
    assert plan("update customer set name = 'x' where customer_id = 1").upkeep is None


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "update customer set customer_id = 3 where customer_id = 1",
            "you cannot UPDATE primary vindex columns; invalid update on vindex: hash",
        ),
        ("update customer set tag = 'x' where customer_id = 1", "you can only UPDATE lookup vindexes"),
        ("update customer set code = 'x' where customer_id = 1", "you can only UPDATE owned lookup vindexes"),
        (
            "update customer set email = 'a', email = 'b' where customer_id = 1",
            "duplicate set values: 'email'",
        ),
        ("update customer set email = 'a' where customer_id = 1 limit 1", "ORDER BY clause when using LIMIT"),
        ("update corder set sku = 'q' where sku = 'x' limit 1", "multi shard UPDATE with LIMIT"),
        (
            "delete from corder where customer_id in (1, 2) order by sku limit 1",
            "multi shard DELETE with LIMIT",
        ),
        (
            "delete from corder where customer_id in (select id from commerce.product)",
            "one unsharded keyspace",
        ),
        (
            "update corder join commerce.product p on p.id = corder.sku set corder.sku = 1",
            "one unsharded keyspace",
        ),
    ],
)
def test_updates_and_deletes_shardline_cannot_run_correctly_are_refused(sql, message):
    with pytest.raises(Unsupported, match=message) as caught:
        plan(sql)
    assert (caught.value.code, caught.value.sqlstate) == (1235, "42000")


def test_joins_within_one_unsharded_keyspace_pass_through():
    delete = plan(
        "delete a from commerce.product a join commerce.email_idx b on a.id = b.id where b.email = 'x'"
    )
    assert delete.describe()["Variant"] == "Unsharded"
    assert delete.query.text == (
        "delete a from commerce.product a join commerce.email_idx b on a.id = b.id where b.email = :v1"
    )


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("select next 5 values from commerce.customer_seq", BindVar("v1")),
        ("SELECT NEXT VALUE FROM `commerce`.`customer_seq`;", Const(1)),
    ],
)
def test_next_values_of_a_sequence(sql, count):
    normalized, _ = normalize(sql)
    next_values = plan_next_values(PlanContext(VSCHEMA, None, normalized))
    assert next_values is not None
    assert (next_values.sequence.qualified_name, next_values.count) == ("commerce.customer_seq", count)


def test_next_values_needs_a_sequence_table():
    assert plan_next_values(PlanContext(VSCHEMA, None, "select next_id from commerce.customer_seq")) is None
    with pytest.raises(InvalidArgument, match="not one"):
        plan_next_values(PlanContext(VSCHEMA, None, "select next value from commerce.product"))
    with pytest.raises(NotFound):
        plan_next_values(PlanContext(VSCHEMA, None, "select next value from nowhere"))


def test_writes_to_a_reference_table_with_a_source_are_planned_on_the_source():
    for sql, query in (
            ("insert into country(id) values (1)", "INSERT INTO commerce.product (id) VALUES (:v1)"),
            ("delete from country where country.id = 1", "DELETE FROM commerce.product WHERE product.id = :v1"),
            ("update customer.country set name = 'x' where id = 2",
             "UPDATE commerce.product SET name = :v1 WHERE id = :v2")):
        described = plan(sql).describe()
        assert (described["Keyspace"], described["Query"]) == ("commerce", query)
    normalized, _ = normalize("replace into country(id) values (1)")
    assert plan_replace(PlanContext(VSCHEMA, "customer", normalized)).describe()["Query"] == (
        "REPLACE INTO commerce.product (id) VALUES (:v1)")
