"""consistent_lookup(_unique): write order and duplicate-key repair against a real MariaDB."""

import pytest

from shardline.errors import InvalidArgument, MySQLError
from shardline.vindexes.vschema import KeyspaceVSchema

K1, K2 = b"\x10" * 8, b"\x80" * 8


def owned_vindex(keyspace, type_name="consistent_lookup_unique"):
    vschema = KeyspaceVSchema.from_json(
        keyspace,
        {
            "sharded": True,
            "vindexes": {
                "hash": {"type": "hash"},
                "name_idx": {
                    "type": type_name,
                    "params": {"table": f"{keyspace}.name_idx", "from": "name", "to": "keyspace_id"},
                    "owner": "customer",
                },
            },
            "tables": {
                "customer": {
                    "column_vindexes": [
                        {"column": "id", "name": "hash"},
                        {"column": "cname", "name": "name_idx"},
                    ]
                }
            },
        },
    )
    return vschema.vindexes["name_idx"]


@pytest.fixture
def tables(mariadb, keyspace):
    mariadb.execute(f"CREATE TABLE {keyspace}.customer (id BIGINT PRIMARY KEY, cname VARCHAR(64))")
    mariadb.execute(
        f"CREATE TABLE {keyspace}.name_idx (name VARCHAR(64) PRIMARY KEY, keyspace_id VARBINARY(16))"
    )
    return keyspace


def lookup_rows(mariadb, keyspace):
    return sorted(mariadb.execute(f"SELECT name, keyspace_id FROM {keyspace}.name_idx"))


async def test_rows_are_written_before_and_deleted_after_the_session_transaction(mariadb, vcursor, tables):
    vindex = owned_vindex(tables)
    assert (vindex.owner, vindex.owner_keyspace, vindex.owner_columns) == ("customer", tables, ["cname"])
    await vindex.create(vcursor, [["alice"]], [K1])
    await vcursor.commit()
    await vindex.delete(vcursor, [["alice"]], K1)
    await vcursor.commit()
    assert [order for order, _ in vcursor.log] == ["pre", "post"]
    assert lookup_rows(mariadb, tables) == []


async def test_map_and_verify_read_in_the_pre_transaction(vcursor, tables):
    vindex = owned_vindex(tables)
    await vindex.create(vcursor, [["alice"]], [K1])
    # Not committed yet: only the pre transaction sees the row.
    assert await vindex.map(vcursor, ["alice", "bob"]) == [K1, None]
    assert await vindex.verify(vcursor, ["alice"], [K1]) == [True]
    assert {order for order, _ in vcursor.log} == {"pre"}


async def test_orphan_row_is_repointed_to_the_new_keyspace_id(mariadb, vcursor, tables):
    mariadb.execute(f"INSERT INTO {tables}.name_idx VALUES ('alice', %s)", [K1])
    vindex = owned_vindex(tables)
    await vindex.create(vcursor, [["alice"], ["bob"]], [K2, K2])
    await vcursor.commit()
    assert lookup_rows(mariadb, tables) == [("alice", K2), ("bob", K2)]
    owner_checks = [sql for order, sql in vcursor.log if order == f"keyspace_id {K1.hex()}"]
    assert owner_checks == [f"select cname from {tables}.customer where cname = :name lock in share mode"]


async def test_orphan_row_already_pointing_here_is_kept(mariadb, vcursor, tables):
    mariadb.execute(f"INSERT INTO {tables}.name_idx VALUES ('alice', %s)", [K1])
    await owned_vindex(tables).create(vcursor, [["alice"]], [K1])
    await vcursor.commit()
    assert lookup_rows(mariadb, tables) == [("alice", K1)]
    assert not any(sql.startswith("update") for _, sql in vcursor.log)


async def test_value_owned_by_a_live_row_is_a_duplicate(mariadb, vcursor, tables):
    mariadb.execute(f"INSERT INTO {tables}.customer VALUES (1, 'alice')")
    mariadb.execute(f"INSERT INTO {tables}.name_idx VALUES ('alice', %s)", [K1])
    with pytest.raises(MySQLError) as err:
        await owned_vindex(tables).create(vcursor, [["alice"]], [K2])
    assert err.value.code == 1062
    await vcursor.rollback()
    assert lookup_rows(mariadb, tables) == [("alice", K1)]


async def test_duplicate_values_in_one_insert_are_a_duplicate(vcursor, tables):
    with pytest.raises(MySQLError) as err:
        await owned_vindex(tables).create(vcursor, [["bob"], ["bob"]], [K1, K2])
    assert err.value.code == 1062


async def test_update_to_the_same_value_does_nothing(mariadb, vcursor, tables):
    vindex = owned_vindex(tables)
    await vindex.create(vcursor, [["alice"]], [K1])
    await vcursor.commit()
    vcursor.log.clear()
    await vindex.update(vcursor, ["alice"], K1, ["alice"])
    assert vcursor.log == []
    await vindex.update(vcursor, ["alice"], K1, ["alicia"])
    await vcursor.commit()
    assert [order for order, _ in vcursor.log] == ["post", "pre"]
    assert lookup_rows(mariadb, tables) == [("alicia", K1)]


async def test_non_unique_repairs_an_orphan_of_the_same_keyspace_id(mariadb, vcursor, keyspace):
    mariadb.execute(f"CREATE TABLE {keyspace}.customer (id BIGINT PRIMARY KEY, cname VARCHAR(64))")
    mariadb.execute(
        f"CREATE TABLE {keyspace}.name_idx (name VARCHAR(64), keyspace_id VARBINARY(16), PRIMARY KEY (name, keyspace_id))"
    )
    mariadb.execute(f"INSERT INTO {keyspace}.name_idx VALUES ('alice', %s), ('alice', %s)", [K1, K2])
    vindex = owned_vindex(keyspace, "consistent_lookup")
    await vindex.create(vcursor, [["alice"]], [K2])  # an orphan for K2: accepted
    await vcursor.commit()
    assert await vindex.map(vcursor, ["alice"]) == [[K1, K2]]
    mariadb.execute(f"INSERT INTO {keyspace}.customer VALUES (1, 'alice')")
    with pytest.raises(MySQLError):
        await vindex.create(vcursor, [["alice"]], [K1])


def test_consistent_lookup_needs_an_owner():
    with pytest.raises(InvalidArgument, match="consistent lookup vindex 'c' needs an owner"):
        KeyspaceVSchema.from_json(
            "ks",
            {
                "sharded": True,
                "vindexes": {
                    "c": {"type": "consistent_lookup", "params": {"table": "ks.t", "from": "a", "to": "k"}}
                },
            },
        )


def test_consistent_lookup_has_no_autocommit():
    with pytest.raises(InvalidArgument, match="unknown param 'autocommit'"):
        KeyspaceVSchema.from_json(
            "ks",
            {
                "vindexes": {
                    "c": {
                        "type": "consistent_lookup",
                        "params": {"table": "ks.t", "from": "a", "to": "k", "autocommit": "true"},
                    }
                }
            },
        )
