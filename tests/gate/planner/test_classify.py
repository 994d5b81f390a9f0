"""classify: the statement kind from leading words, for the executor's dispatch."""

from __future__ import annotations

import pytest

from shardline.gate.planner import StatementKind as K
from shardline.gate.planner import classify
from shardline.gate.planner.classify import unwrap_versioned_comments

CASES = [
    ("select 1", K.SELECT),
    ("  /* hint */ SELECT * FROM t", K.SELECT),
    ("(SELECT 1) UNION (SELECT 2)", K.SELECT),
    ("WITH x AS (SELECT 1) SELECT * FROM x", K.SELECT),
    ("-- comment\nINSERT INTO t VALUES (1)", K.INSERT),
    ("# comment\nreplace into t values (1)", K.REPLACE),
    ("update t set a = 1", K.UPDATE),
    ("DELETE FROM t", K.DELETE),
    ("/*!40101 SET NAMES utf8mb4 */", K.SET),
    ("/*M!100101 SET @x = 1 */", K.SET),
    ("/*M!999999\\- enable the sandbox mode */ \n/*!40101 SET @a=@@CHARACTER_SET_CLIENT */", K.SET),
    ("set autocommit=0", K.SET),
    ("USE customer", K.USE),
    ("SHOW TABLES", K.SHOW),
    ("BEGIN", K.BEGIN),
    ("START TRANSACTION READ ONLY", K.BEGIN),
    ("start slave", K.ADMIN),
    ("COMMIT WORK", K.COMMIT),
    ("ROLLBACK", K.ROLLBACK),
    ("ROLLBACK TO SAVEPOINT s1", K.SAVEPOINT_ROLLBACK),
    ("rollback work to s1", K.SAVEPOINT_ROLLBACK),
    ("SAVEPOINT s1", K.SAVEPOINT),
    ("RELEASE SAVEPOINT s1", K.RELEASE),
    ("CREATE TABLE t (a INT)", K.DDL),
    ("alter table t add column b int", K.DDL),
    ("TRUNCATE t", K.DDL),
    ("EXPLAIN SELECT 1", K.EXPLAIN),
    ("describe t", K.EXPLAIN),
    ("VEXPLAIN PLAN SELECT 1", K.VEXPLAIN),
    ("LOCK TABLES t READ", K.LOCK_TABLES),
    ("HANDLER t OPEN", K.HANDLER),
    ("SET STATEMENT max_statement_time = 1 FOR SELECT 1", K.SET_STATEMENT),
    ("UNLOCK TABLES", K.UNLOCK_TABLES),
    ("FLUSH TABLES", K.FLUSH),
    ("KILL QUERY 12", K.KILL),
    ("CALL p()", K.CALL),
    ("PREPARE s FROM 'SELECT 1'", K.PREPARE),
    ("EXECUTE s", K.EXECUTE),
    ("DEALLOCATE PREPARE s", K.DEALLOCATE),
    ("XA START 'x'", K.XA),
    ("LOAD DATA INFILE 'f' INTO TABLE t", K.LOAD),
    ("DO SLEEP(1)", K.DO),
    ("ANALYZE TABLE t", K.ADMIN),
    ("/* only a comment */", K.COMMENT),
    ("", K.COMMENT),
    ("frobnicate the widgets", K.UNKNOWN),
    ("42", K.UNKNOWN),
]


@pytest.mark.parametrize(("sql", "kind"), CASES)
def test_statement_kind(sql: str, kind: K):
    assert classify(sql) is kind


def test_dml_kinds():
    assert [k for k in K if k.is_dml] == [K.INSERT, K.REPLACE, K.UPDATE, K.DELETE]


@pytest.mark.parametrize("sql, unwrapped", [
    ("/*!40101 SET NAMES utf8mb4 */", "SET NAMES utf8mb4"),
    ("/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS */;", "SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS  ;"),
    ("/*!40000 ALTER TABLE `t` DISABLE KEYS */", "ALTER TABLE `t` DISABLE KEYS"),
    ("/*M!100101 SET @x = 1 */", "SET @x = 1"),
    ("/*!SET @y = 2*/", "SET @y = 2"),
    ("SET @z = 3 /*!999999 , @w = 4 */", "SET @z = 3"),  # a later version's code is a comment here
    ("SET /* a plain comment */ @v = 5", "SET /* a plain comment */ @v = 5"),
])
def test_versioned_comments_are_unwrapped_as_mariadb_runs_them(sql: str, unwrapped: str):
    assert unwrap_versioned_comments(sql) == unwrapped
