"""Fixtures of the protocol tests: a database with a table of every column type on the shared MariaDB."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shardline.mysql.client import Connection, connect
from shardline.mysqlctl.instance import MysqlInstance
from shardline.mysqlctl.users import DBA

DATABASE = "mysql_protocol_test"

ALL_TYPES_DDL = """
CREATE TABLE all_types (
  id INT PRIMARY KEY,
  t TINYINT, tu TINYINT UNSIGNED, s SMALLINT, su SMALLINT UNSIGNED, m MEDIUMINT, mu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, b BIGINT, bu BIGINT UNSIGNED, y YEAR,
  f FLOAT, d DOUBLE, dec1 DECIMAL(10,2), dec2 DECIMAL(65,30),
  dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME, tm6 TIME(6),
  c CHAR(5), vc VARCHAR(100), bin BINARY(4), vbin VARBINARY(10), tx TEXT, bl BLOB,
  e ENUM('a','b'), st SET('x','y'), bt BIT(10), js JSON
)"""

ALL_TYPES_ROWS = [
    "(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,"
    " 18446744073709551615, 2155, -1.5, 3.141592653589793, -12345678.91,"
    " 12345678901234567890123456789012345.123456789012345678901234567890,"
    " '1000-01-01', '9999-12-31 23:59:59', '2026-11-25 09:08:07.123456', '2038-01-19 03:14:07.999',"
    " '-838:59:59', '-12:34:56.000789', 'ab', 'héllo wörld', x'00ff0102', x'', 'text', x'deadbeef', 'b', 'x,y',"
    " b'1010101010', '{\"k\": [1, 2]}')",
    "(2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1901, 0, 0, 0, 0, '2026-01-02', '2026-01-02 00:00:00',"
    " '2026-01-02 03:04:05', '1970-01-01 00:00:01', '00:00:00', '838:59:59', '', '', x'00000000', x'00', '',"
    " x'', 'a', '', b'0', 'null')",
    "(3" + ", NULL" * 31 + ")",
    "(4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2000, 1e-7, 1e300, 0.01, -0.000000000000000000000000000001,"
    " '2000-02-29', '2000-02-29 12:00:00', '2000-02-29 12:00:00.5', '2000-02-29 12:00:00', '12:00:00',"
    " '00:00:00.5', 'x', 'y', x'01', x'02', 'z', x'03', 'a', 'y', b'1', '[]')",
]


@pytest.fixture(scope="session")
def mysql_db(mariadb: MysqlInstance) -> MysqlInstance:
    """The shared instance with database ``mysql_protocol_test`` and its table ``all_types`` filled."""
    mariadb.execute("SET GLOBAL max_allowed_packet = 67108864")  # for payloads over 16 MiB
    mariadb.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    mariadb.execute(f"CREATE DATABASE {DATABASE}")
    with mariadb.dba_connect() as conn, conn.cursor() as cur:
        cur.execute(f"USE {DATABASE}")
        cur.execute(ALL_TYPES_DDL)
        cur.execute("INSERT INTO all_types VALUES " + ", ".join(ALL_TYPES_ROWS))
        cur.execute("CREATE TABLE seq_test (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20) UNIQUE)")
    return mariadb


@pytest.fixture
async def conn(mysql_db: MysqlInstance) -> AsyncIterator[Connection]:
    """A client connection as the DBA user over TCP, default database ``mysql_protocol_test``."""
    connection = await connect(mysql_db.host, mysql_db.port, DBA.user, DBA.password, DATABASE)
    yield connection
    await connection.close()
