"""VSchema parsing, validation, global routing and JSON round trip."""

import copy

import pytest

from shardline.errors import InvalidArgument, NotFound
from shardline.vindexes.hash import Hash
from shardline.vindexes.vschema import KeyspaceVSchema, VSchema, vindex_columns

COMMERCE = {
    "tables": {
        "customer_seq": {"type": "sequence"},
        "order_seq": {"type": "sequence"},
        "product": {"type": "reference"},
    }
}
CUSTOMER = {
    "sharded": True,
    "vindexes": {"hash": {"type": "hash"}, "md5": {"type": "binary_md5"}},
    "tables": {
        "customer": {
            "column_vindexes": [
                {"column": "customer_id", "name": "hash"},
                {"column": "email", "name": "md5"},
            ],
            "auto_increment": {"column": "customer_id", "sequence": "commerce.customer_seq"},
            "columns": [{"name": "customer_id", "type": "INT64"}, {"name": "email", "type": "VARBINARY"}],
        },
        "corder": {
            "column_vindexes": [{"column": "customer_id", "name": "hash"}],
            "auto_increment": {"column": "order_id", "sequence": "order_seq"},
        },
        "product": {"type": "reference", "source": "commerce.product"},
    },
}


def build(**overrides):
    keyspaces = {"commerce": copy.deepcopy(COMMERCE), "customer": copy.deepcopy(CUSTOMER)}
    keyspaces.update(overrides)
    return VSchema.from_json(keyspaces)


def customer_with(**table_overrides):
    data = copy.deepcopy(CUSTOMER)
    data["tables"].update(table_overrides)
    return data


def test_builds_tables_with_primary_vindex_and_sequence():
    vschema = build()
    customer = vschema.find_table("customer", "customer")
    assert customer.keyspace == "customer"
    assert [cv.columns for cv in customer.column_vindexes] == [["customer_id"], ["email"]]
    assert customer.primary_vindex.column == "customer_id"
    assert isinstance(customer.primary_vindex.vindex, Hash)
    assert customer.column_vindexes[0].vindex is vschema.keyspaces["customer"].vindexes["hash"]
    sequence = customer.auto_increment.sequence
    assert sequence is vschema.keyspaces["commerce"].tables["customer_seq"]
    assert sequence.is_sequence and customer.auto_increment.column == "customer_id"
    assert [(c.name, c.type) for c in customer.columns] == [("customer_id", "INT64"), ("email", "VARBINARY")]


def test_unqualified_sequence_resolves_globally():
    order = build().find_table("corder")
    assert order.auto_increment.sequence.qualified_name == "commerce.order_seq"


def test_round_trip_through_json():
    vschema = build()
    again = VSchema.from_json(vschema.to_json())
    assert again.to_json() == vschema.to_json()
    expected = copy.deepcopy(CUSTOMER)
    expected["tables"]["corder"]["auto_increment"]["sequence"] = "commerce.order_seq"
    assert vschema.to_json()["customer"] == expected
    assert vschema.to_json()["commerce"] == COMMERCE


def test_keyspace_from_json_alone_keeps_foreign_sequence_as_named():
    keyspace = KeyspaceVSchema.from_json("customer", copy.deepcopy(CUSTOMER))
    assert keyspace.sharded
    assert keyspace.tables["customer"].auto_increment.sequence.qualified_name == "commerce.customer_seq"
    assert keyspace.to_json() == CUSTOMER


def test_find_table_global_routing_and_errors():
    vschema = build()
    assert vschema.find_table("corder").keyspace == "customer"
    assert vschema.find_table("customer_seq").keyspace == "commerce"
    # product is a reference table copied from commerce.product: the unqualified name routes to the source.
    assert vschema.find_table("product").qualified_name == "commerce.product"
    with pytest.raises(NotFound) as err:
        vschema.find_table("nope")
    assert (str(err.value), err.value.code, err.value.sqlstate) == ("table 'nope' not found", 1146, "42S02")
    with pytest.raises(NotFound) as err:
        vschema.find_table("nope", "customer")
    assert err.value.code == 1146
    with pytest.raises(NotFound) as err:
        vschema.find_table("customer", "nokeyspace")
    assert (str(err.value), err.value.code) == ("Unknown database 'nokeyspace'", 1049)


def test_unsharded_keyspace_serves_unlisted_tables():
    vschema = build()
    table = vschema.find_table("anything", "commerce")
    assert (table.name, table.keyspace, table.column_vindexes) == ("anything", "commerce", [])
    single = VSchema.from_json({"commerce": copy.deepcopy(COMMERCE)})
    assert single.find_table("anything").keyspace == "commerce"


def test_ambiguous_unqualified_table_lists_keyspaces():
    other = {
        "sharded": True,
        "vindexes": {"h": {"type": "hash"}},
        "tables": {"corder": {"column_vindexes": [{"column": "id", "name": "h"}]}},
    }
    vschema = build(other=other)
    with pytest.raises(InvalidArgument, match="ambiguous table reference 'corder'.*customer, other"):
        vschema.find_table("corder")
    assert vschema.find_table("corder", "other").keyspace == "other"


def test_require_explicit_routing_hides_tables_from_global_routing():
    other = {"require_explicit_routing": True, "tables": {"corder": {}}}
    vschema = build(other=other)
    assert vschema.find_table("corder").keyspace == "customer"
    assert vschema.find_keyspace("other").require_explicit_routing


def test_vindex_columns_lists_indexed_columns_per_table():
    keyspace = build().find_keyspace("customer")
    assert vindex_columns(keyspace) == {"customer": ["customer_id", "email"], "corder": ["customer_id"]}


@pytest.mark.parametrize(
    ("customer", "message"),
    [
        ({**CUSTOMER, "shardd": True}, r"keyspace 'customer': unknown key 'shardd'"),
        ({**CUSTOMER, "sharded": "yes"}, r"'sharded' must be true or false"),
        (
            {**CUSTOMER, "vindexes": {"hash": {"type": "hashh"}}},
            r"unknown vindex type 'hashh'; known types: .*binary.*xxhash",
        ),
        (
            {**CUSTOMER, "vindexes": {"hash": {"tpye": "hash"}}},
            r"vindex 'hash' of keyspace 'customer': unknown key 'tpye'",
        ),
        ({**CUSTOMER, "vindexes": {"hash": {}}}, r"vindex 'hash' of keyspace 'customer': missing 'type'"),
        (
            customer_with(t={"column_vindexes": [{"column": "id", "name": "nohash"}]}),
            r"table 't' of keyspace 'customer': column_vindexes names undefined vindex 'nohash'",
        ),
        (customer_with(t={}), r"table 't' of keyspace 'customer': .*needs a primary vindex"),
        (customer_with(t={"column_vindexes": []}), r"needs a primary vindex"),
        (
            customer_with(t={"column_vindexes": [{"column": "a", "columns": ["a"], "name": "hash"}]}),
            r"gives both 'column' and 'columns'",
        ),
        (customer_with(t={"column_vindexes": [{"name": "hash"}]}), r"needs a 'column' or a non-empty list"),
        (customer_with(t={"column_vindexes": [{"column": "a"}]}), r"has no vindex 'name'"),
        (
            customer_with(t={"column_vindexes": [{"columns": ["a", "b"], "name": "hash"}]}),
            r"vindex 'hash' \(hash\) takes one column",
        ),
        (
            customer_with(t={"column_vindexes": [{"column": "a", "name": "hash"}], "colums": []}),
            r"table 't' of keyspace 'customer': unknown key 'colums'",
        ),
        (customer_with(t={"type": "refrence"}), r"unknown table type 'refrence'"),
        (
            customer_with(
                t={
                    "column_vindexes": [{"column": "a", "name": "hash"}],
                    "auto_increment": {"column": "a", "sequence": "commerce.product"},
                }
            ),
            r"auto_increment sequence 'commerce.product' is a reference table, not a sequence table",
        ),
        (
            customer_with(
                t={
                    "column_vindexes": [{"column": "a", "name": "hash"}],
                    "auto_increment": {"column": "a", "sequence": "commerce.unlisted"},
                }
            ),
            r"'commerce.unlisted' is a normal table, not a sequence table",
        ),
        (
            customer_with(
                t={
                    "column_vindexes": [{"column": "a", "name": "hash"}],
                    "auto_increment": {"column": "a", "sequence": "nope.seq"},
                }
            ),
            r"cannot resolve auto_increment sequence 'nope.seq': Unknown database 'nope'",
        ),
        (
            customer_with(
                t={"column_vindexes": [{"column": "a", "name": "hash"}], "auto_increment": {"column": "a"}}
            ),
            r"auto_increment needs a 'column' and a 'sequence'",
        ),
        (customer_with(t={"type": "sequence"}), r"sequence table must be in an unsharded keyspace"),
        (
            customer_with(
                t={"source": "commerce.product", "column_vindexes": [{"column": "a", "name": "hash"}]}
            ),
            r"only a reference table",
        ),
        (
            customer_with(t={"type": "reference", "source": "product"}),
            r"source 'product' must be of the form keyspace.table",
        ),
        (customer_with(t={"type": "reference", "source": "customer.x"}), r"must be in another keyspace"),
        (
            customer_with(t={"type": "reference", "column_vindexes": [{"column": "a", "name": "hash"}]}),
            r"a reference table cannot have column_vindexes",
        ),
        (
            customer_with(
                t={
                    "column_vindexes": [{"column": "a", "name": "hash"}],
                    "columns": [{"name": "a", "type": "INTEGER"}],
                }
            ),
            r"column 'a' of table 't' .*unknown type 'INTEGER'",
        ),
        (
            {**CUSTOMER, "vindexes": {"hash": {"type": "hash", "owner": "customer"}}},
            r"only a lookup vindex can have an owner",
        ),
        ({**CUSTOMER, "vindexes": {"hash": {"type": "hash", "params": {"x": 1}}}}, r"unknown param 'x'"),
    ],
)
def test_invalid_vschema_is_rejected_with_a_clear_message(customer, message):
    with pytest.raises(InvalidArgument, match=message):
        build(customer=copy.deepcopy(customer))


def test_unsharded_keyspace_cannot_have_column_vindexes():
    commerce = {
        "vindexes": {"h": {"type": "hash"}},
        "tables": {"t": {"column_vindexes": [{"column": "a", "name": "h"}]}},
    }
    with pytest.raises(InvalidArgument, match="keyspace is unsharded"):
        build(commerce=commerce)


def test_not_an_object_is_rejected():
    with pytest.raises(InvalidArgument, match="expected a JSON object, got list"):
        VSchema.from_json({"customer": []})
    with pytest.raises(InvalidArgument, match="'tables' must be an object"):
        VSchema.from_json({"customer": {"tables": []}})


def lookup_keyspace(**changes):
    data = {
        "sharded": True,
        "vindexes": {
            "hash": {"type": "hash"},
            "name_lookup": {
                "type": "lookup",
                "params": {"table": "customer.name_idx", "from": "name", "to": "keyspace_id"},
                "owner": "customer",
            },
        },
        "tables": {
            "customer": {
                "column_vindexes": [
                    {"column": "customer_id", "name": "hash"},
                    {"column": "name", "name": "name_lookup"},
                ]
            },
            "corder": {
                "column_vindexes": [
                    {"column": "customer_id", "name": "hash"},
                    {"column": "name", "name": "name_lookup"},
                ]
            },
        },
    }
    for key, value in changes.items():
        data["tables" if key in ("customer", "corder") else "vindexes"][key] = value
    return data


def test_owned_lookup_vindex():
    data = lookup_keyspace()
    keyspace = KeyspaceVSchema.from_json("customer", copy.deepcopy(data))
    lookup = keyspace.vindexes["name_lookup"]
    assert (lookup.owner, lookup.owner_keyspace, lookup.owner_columns) == ("customer", "customer", ["name"])
    assert [cv.owned for cv in keyspace.tables["customer"].column_vindexes] == [False, True]
    assert keyspace.tables["customer"].owned_vindexes == keyspace.tables["customer"].column_vindexes[1:]
    assert [cv.owned for cv in keyspace.tables["corder"].column_vindexes] == [False, False]
    assert keyspace.to_json() == data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"corder": {"column_vindexes": [{"column": "name", "name": "name_lookup"}]}},
            r"table 'corder' .*: primary vindex 'name_lookup' is not unique",
        ),
        (
            {
                "name_lookup": {
                    "type": "lookup_unique",
                    "params": {"table": "customer.name_idx", "from": "name", "to": "keyspace_id"},
                    "owner": "customer",
                },
                "customer": {"column_vindexes": [{"column": "name", "name": "name_lookup"}]},
            },
            r"primary vindex 'name_lookup' cannot be owned",
        ),
        (
            {
                "name_lookup": {
                    "type": "lookup",
                    "params": {"table": "name_idx", "from": "name", "to": "keyspace_id"},
                }
            },
            r"param 'table' must be of the form keyspace.table, got 'name_idx'",
        ),
        (
            {
                "name_lookup": {
                    "type": "lookup",
                    "params": {"table": "customer.name_idx", "from": "name", "to": "keyspace_id"},
                    "owner": "nobody",
                }
            },
            r"vindex 'name_lookup' is owned by 'nobody', which is not a table of the keyspace using that vindex",
        ),
        (
            {
                "customer": {
                    "column_vindexes": [
                        {"column": "customer_id", "name": "hash"},
                        {"columns": ["a", "b"], "name": "name_lookup"},
                    ]
                }
            },
            r"owner table 'customer' indexes columns \['a', 'b'\], but the lookup table has from columns \['name'\]",
        ),
    ],
)
def test_invalid_lookup_vschema_is_rejected(changes, message):
    with pytest.raises(InvalidArgument, match=message):
        KeyspaceVSchema.from_json("customer", lookup_keyspace(**changes))
