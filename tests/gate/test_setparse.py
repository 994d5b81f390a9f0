"""SET statements are split into assignments by tokens, keeping each value's original text."""

import pytest

from shardline.errors import InvalidArgument
from shardline.gate.setparse import Scope, parse_set


def test_session_variables_in_every_spelling():
    items = parse_set("SET autocommit=0, @@sql_mode='A,B', SESSION wait_timeout = 10, @@local.x=1, LOCAL y=2")
    assert [(a.scope, a.name, a.value) for a in items] == [
        (Scope.SESSION, "autocommit", "0"),
        (Scope.SESSION, "sql_mode", "'A,B'"),
        (Scope.SESSION, "wait_timeout", "10"),
        (Scope.SESSION, "x", "1"),
        (Scope.SESSION, "y", "2"),
    ]
    assert items[1].text == "@@session.sql_mode = 'A,B'"


def test_global_and_user_variables_are_told_apart():
    items = parse_set("set @@global.max_connections = 5, GLOBAL read_only=1, @Total := (SELECT 1, 2)")
    assert [(a.scope, a.name) for a in items] == [
        (Scope.GLOBAL, "max_connections"), (Scope.GLOBAL, "read_only"), (Scope.USER, "Total")]
    assert items[2].value == "(SELECT 1, 2)"
    assert items[2].text == "@Total = (SELECT 1, 2)"


def test_names_charset_and_transaction_keep_their_text():
    names, charset = parse_set("SET NAMES utf8mb4 COLLATE utf8mb4_general_ci, CHARACTER SET latin1")
    assert (names.name, names.value) == ("names", "utf8mb4 COLLATE utf8mb4_general_ci")
    assert (charset.name, charset.value) == ("character set", "latin1")
    (nxt,) = parse_set("SET TRANSACTION READ ONLY")
    assert (nxt.name, nxt.value) == ("next transaction", "READ ONLY")


def test_session_transaction_characteristics_become_the_variables_they_set():
    """So that they combine with other settings in the one SET replayed on pooled connections."""
    level, read_only = parse_set("SET SESSION TRANSACTION ISOLATION LEVEL  read committed, READ ONLY")
    assert (level.scope, level.name, level.text) == (
        Scope.SESSION, "tx_isolation", "@@session.tx_isolation = 'READ-COMMITTED'")
    assert (read_only.name, read_only.text) == ("tx_read_only", "@@session.tx_read_only = 1")
    (glob,) = parse_set("set global transaction read write")
    assert (glob.scope, glob.name, glob.value) == (Scope.GLOBAL, "tx_read_only", "0")
    with pytest.raises(InvalidArgument):
        parse_set("SET SESSION TRANSACTION ISOLATION LEVEL SOMETIMES")


def test_commas_inside_quotes_and_parentheses_do_not_split():
    items = parse_set("SET @a = 'x,y', @b = concat('(', \"q,\"), @c = `weird,name`")
    assert [a.value for a in items] == ["'x,y'", "concat('(', \"q,\")", "`weird,name`"]


@pytest.mark.parametrize("sql", ["SET", "SET x", "SET @a = 'unterminated", "SET a b = 1", "SELECT 1"])
def test_malformed_set_is_a_syntax_error(sql):
    with pytest.raises(InvalidArgument) as info:
        parse_set(sql)
    assert info.value.code == 1064
