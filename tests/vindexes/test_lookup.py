"""lookup and lookup_unique against a real MariaDB lookup table."""

import pytest

from shardline.errors import FailedPrecondition, InvalidArgument
from shardline.key import KeyRange
from shardline.vindexes.registry import create_vindex

K1, K2, K3 = b"\x10" * 8, b"\x80" * 8, b"\xf0\x00"


@pytest.fixture
def unique_table(mariadb, keyspace):
    mariadb.execute(
        f"CREATE TABLE {keyspace}.name_idx (name VARCHAR(64) PRIMARY KEY, keyspace_id VARBINARY(16))"
    )
    return f"{keyspace}.name_idx"


@pytest.fixture
def multi_table(mariadb, keyspace):
    mariadb.execute(
        f"CREATE TABLE {keyspace}.id_idx (id BIGINT, keyspace_id VARBINARY(16), PRIMARY KEY (id, keyspace_id))"
    )
    return f"{keyspace}.id_idx"


def rows(mariadb, table):
    return sorted(mariadb.execute(f"SELECT * FROM {table}"))


def lookup(type_name, table, column, **extra):
    return create_vindex(type_name, "lkp", {"table": table, "from": column, "to": "keyspace_id", **extra})


async def test_lookup_unique_create_map_verify_delete(mariadb, vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name")
    assert (vindex.unique, vindex.needs_vcursor, vindex.cost) == (True, True, 10)
    await vindex.create(vcursor, [["bob"], ["alice"]], [K2, K1])
    await vcursor.commit()
    assert rows(mariadb, unique_table) == [("alice", K1), ("bob", K2)]
    # Strings are looked up one by one, so a case-insensitive match still maps to its value's position.
    assert await vindex.map(vcursor, ["ALICE", "nobody", "bob"]) == [K1, None, K2]
    assert await vindex.verify(vcursor, ["alice", "bob"], [K1, K1]) == [True, False]
    await vindex.delete(vcursor, [["alice"]], K1)
    await vindex.delete(vcursor, [["bob"]], K1)  # wrong keyspace id: the row stays
    await vcursor.commit()
    assert rows(mariadb, unique_table) == [("bob", K2)]


async def test_lookup_batches_integers_in_one_query(mariadb, vcursor, multi_table):
    vindex = lookup("lookup", multi_table, "id")
    assert (vindex.unique, vindex.cost) == (False, 20)
    await vindex.create(vcursor, [[1], [1], [2]], [K1, K2, K3])
    vcursor.log.clear()
    assert await vindex.map(vcursor, [1, 3, 2]) == [[K1, K2], [], [K3]]
    assert [sql for _, sql in vcursor.log] == [f"select id, keyspace_id from {multi_table} where id in ::id"]
    assert await vindex.verify(vcursor, [1, 1, 2], [K2, K3, K3]) == [True, False, True]


async def test_batch_lookup_sends_strings_in_one_query(vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name", batch_lookup="true")
    await vindex.create(vcursor, [["a"], ["b"]], [K1, K2])
    vcursor.log.clear()
    assert await vindex.map(vcursor, ["b", "a", "c"]) == [K2, K1, None]
    assert len(vcursor.log) == 1


async def test_update_moves_the_lookup_row(mariadb, vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name")
    await vindex.create(vcursor, [["old"]], [K1])
    await vindex.update(vcursor, ["old"], K1, ["new"])
    await vcursor.commit()
    assert rows(mariadb, unique_table) == [("new", K1)]


async def test_writes_join_the_session_transaction(mariadb, vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name")
    await vindex.create(vcursor, [["x"]], [K1])
    assert rows(mariadb, unique_table) == []
    await vcursor.rollback()
    assert rows(mariadb, unique_table) == []
    assert {order for order, _ in vcursor.log} == {"normal"}


async def test_autocommit_upserts_and_never_deletes(mariadb, vcursor, unique_table):
    vindex = lookup("lookup", unique_table, "name", autocommit="true")
    await vindex.create(vcursor, [["x"]], [K1])
    assert rows(mariadb, unique_table) == [("x", K1)]  # committed at once
    await vindex.create(vcursor, [["x"]], [K2])  # an upsert, not a duplicate-key error
    await vindex.delete(vcursor, [["x"]], K2)
    await vcursor.rollback()
    assert rows(mariadb, unique_table) == [("x", K2)]
    assert {order for order, _ in vcursor.log} == {"autocommit"}


async def test_ignore_mode_skips_existing_rows(mariadb, vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name")
    await vindex.create(vcursor, [["x"]], [K1])
    await vindex.create(vcursor, [["x"], ["y"]], [K2, K2], ignore_mode=True)
    await vcursor.commit()
    assert rows(mariadb, unique_table) == [("x", K1), ("y", K2)]


async def test_nulls_are_refused_unless_ignored(mariadb, vcursor, unique_table):
    strict = lookup("lookup_unique", unique_table, "name")
    with pytest.raises(InvalidArgument, match="cannot store NULL"):
        await strict.create(vcursor, [["a"], [None]], [K1, K2])
    lenient = lookup("lookup", unique_table, "name", ignore_nulls="true")
    await lenient.create(vcursor, [["a"], [None]], [K1, K2])
    await vcursor.commit()
    assert rows(mariadb, unique_table) == [("a", K1)]
    assert await lenient.map(vcursor, [None]) == [KeyRange()]


async def test_write_only_scatters_and_verifies_everything(vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name", write_only="true")
    assert await vindex.map(vcursor, ["a", "b"]) == [KeyRange(), KeyRange()]
    assert await vindex.verify(vcursor, ["a"], [K1]) == [True]
    assert vcursor.log == []


async def test_no_verify(vcursor, unique_table):
    vindex = lookup("lookup_unique", unique_table, "name", no_verify="true")
    assert await vindex.verify(vcursor, ["absent"], [K1]) == [True]


async def test_unique_lookup_with_two_rows_for_a_value_fails(vcursor, multi_table):
    await lookup("lookup", multi_table, "id").create(vcursor, [[7], [7]], [K1, K2])
    with pytest.raises(FailedPrecondition, match="has 2 rows for 7"):
        await lookup("lookup_unique", multi_table, "id").map(vcursor, [7])


async def test_multi_column_lookup_writes_and_deletes_all_columns(mariadb, vcursor, keyspace):
    table = f"{keyspace}.ab_idx"
    mariadb.execute(
        f"CREATE TABLE {table} (a INT, b VARCHAR(8), keyspace_id VARBINARY(16), PRIMARY KEY (a, b))"
    )
    vindex = lookup("lookup", table, "a, b")
    await vindex.create(vcursor, [[2, "y"], [1, "x"]], [K2, K1])
    await vcursor.commit()
    assert rows(mariadb, table) == [(1, "x", K1), (2, "y", K2)]
    assert await vindex.map(vcursor, [1]) == [[K1]]
    await vindex.delete(vcursor, [[1, "x"], [2, "z"]], K1)
    await vcursor.commit()
    assert rows(mariadb, table) == [(2, "y", K2)]
    with pytest.raises(InvalidArgument, match=r"got 1 values for lookup columns \['a', 'b'\]"):
        await vindex.create(vcursor, [[3]], [K3])


async def test_mysql_errors_pass_through(vcursor, keyspace):
    vindex = lookup("lookup_unique", f"{keyspace}.missing", "name")
    with pytest.raises(Exception, match="doesn't exist") as err:
        await vindex.map(vcursor, ["a"])
    assert err.value.code == 1146


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "a", "to": "k"}, "missing required param 'table'"),
        ({"table": "ks.t", "to": "k"}, "missing required param 'from'"),
        ({"table": "ks.t", "from": "a"}, "missing required param 'to'"),
        ({"table": "t", "from": "a", "to": "k"}, "must be of the form keyspace.table, got 't'"),
        ({"table": "ks.t", "from": "a; drop", "to": "k"}, "'a; drop' is not a valid column name"),
        (
            {"table": "ks.t", "from": "a", "to": "k", "autocommit": "yes"},
            "'autocommit' must be 'true' or 'false'",
        ),
        ({"table": "ks.t", "from": "a", "to": "k", "form": "a"}, "unknown param 'form'"),
    ],
)
def test_bad_params_are_rejected(params, message):
    with pytest.raises(InvalidArgument, match=message):
        create_vindex("lookup", "lkp", params)
