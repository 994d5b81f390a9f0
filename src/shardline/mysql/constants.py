"""Protocol constants: capability flags, commands, server status flags, column flags, and the capability policy.

Capability policy: the gate's server side and its backend client side use one fixed capability set
(:data:`CAPABILITIES`). Neither side offers ``CLIENT_DEPRECATE_EOF``, ``CLIENT_SESSION_TRACK``,
``CLIENT_OPTIONAL_RESULTSET_METADATA`` nor MariaDB's extended capabilities (extended metadata, cache metadata,
bulk operations, progress reports), so a result that a MariaDB backend sends to the gate's client has exactly
the packet format the gate's own clients expect and can be relayed without decoding. ``CLIENT_FOUND_ROWS`` is not offered either: affected-row counts always mean
"rows changed", as for clients that do not ask for it.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Capability(IntFlag):
    """Client/server capability flags (the lower 32 bits; MariaDB's extended flags are never used here)."""

    LONG_PASSWORD = 1 << 0  # MariaDB calls it CLIENT_MYSQL: set means "no MariaDB extended capabilities"
    FOUND_ROWS = 1 << 1
    LONG_FLAG = 1 << 2
    CONNECT_WITH_DB = 1 << 3
    NO_SCHEMA = 1 << 4
    COMPRESS = 1 << 5
    ODBC = 1 << 6
    LOCAL_FILES = 1 << 7
    IGNORE_SPACE = 1 << 8
    PROTOCOL_41 = 1 << 9
    INTERACTIVE = 1 << 10
    SSL = 1 << 11
    IGNORE_SIGPIPE = 1 << 12
    TRANSACTIONS = 1 << 13
    RESERVED = 1 << 14
    SECURE_CONNECTION = 1 << 15
    MULTI_STATEMENTS = 1 << 16
    MULTI_RESULTS = 1 << 17
    PS_MULTI_RESULTS = 1 << 18
    PLUGIN_AUTH = 1 << 19
    CONNECT_ATTRS = 1 << 20
    PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
    CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22
    SESSION_TRACK = 1 << 23
    DEPRECATE_EOF = 1 << 24
    OPTIONAL_RESULTSET_METADATA = 1 << 25


# The one capability set both sides of the gate negotiate (see the module docstring).
CAPABILITIES = (
    Capability.LONG_PASSWORD
    | Capability.LONG_FLAG
    | Capability.CONNECT_WITH_DB
    | Capability.PROTOCOL_41
    | Capability.TRANSACTIONS
    | Capability.SECURE_CONNECTION
    | Capability.MULTI_STATEMENTS
    | Capability.MULTI_RESULTS
    | Capability.PS_MULTI_RESULTS
    | Capability.PLUGIN_AUTH
    | Capability.CONNECT_ATTRS
    | Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA
)

# Without these a client cannot talk to the gate at all.
REQUIRED_CLIENT_CAPABILITIES = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION


class Command(IntEnum):
    """Command bytes (first byte of a command packet)."""

    SLEEP = 0x00
    QUIT = 0x01
    INIT_DB = 0x02
    QUERY = 0x03
    FIELD_LIST = 0x04
    CREATE_DB = 0x05
    DROP_DB = 0x06
    REFRESH = 0x07
    SHUTDOWN = 0x08
    STATISTICS = 0x09
    PROCESS_INFO = 0x0A
    CONNECT = 0x0B
    PROCESS_KILL = 0x0C
    DEBUG = 0x0D
    PING = 0x0E
    TIME = 0x0F
    DELAYED_INSERT = 0x10
    CHANGE_USER = 0x11
    BINLOG_DUMP = 0x12
    TABLE_DUMP = 0x13
    CONNECT_OUT = 0x14
    REGISTER_SLAVE = 0x15
    STMT_PREPARE = 0x16
    STMT_EXECUTE = 0x17
    STMT_SEND_LONG_DATA = 0x18
    STMT_CLOSE = 0x19
    STMT_RESET = 0x1A
    SET_OPTION = 0x1B
    STMT_FETCH = 0x1C
    DAEMON = 0x1D
    BINLOG_DUMP_GTID = 0x1E
    RESET_CONNECTION = 0x1F


class ServerStatus(IntFlag):
    """Server status flags carried by OK and EOF packets."""

    IN_TRANS = 0x0001
    AUTOCOMMIT = 0x0002
    MORE_RESULTS_EXISTS = 0x0008
    NO_GOOD_INDEX_USED = 0x0010
    NO_INDEX_USED = 0x0020
    CURSOR_EXISTS = 0x0040
    LAST_ROW_SENT = 0x0080
    DB_DROPPED = 0x0100
    NO_BACKSLASH_ESCAPES = 0x0200
    METADATA_CHANGED = 0x0400
    QUERY_WAS_SLOW = 0x0800
    PS_OUT_PARAMS = 0x1000
    IN_TRANS_READONLY = 0x2000
    SESSION_STATE_CHANGED = 0x4000


class ColumnFlag(IntFlag):
    """Column definition flags."""

    NOT_NULL = 0x0001
    PRI_KEY = 0x0002
    UNIQUE_KEY = 0x0004
    MULTIPLE_KEY = 0x0008
    BLOB = 0x0010
    UNSIGNED = 0x0020
    ZEROFILL = 0x0040
    BINARY = 0x0080
    ENUM = 0x0100
    AUTO_INCREMENT = 0x0200
    TIMESTAMP = 0x0400
    SET = 0x0800
    NO_DEFAULT_VALUE = 0x1000
    ON_UPDATE_NOW = 0x2000
    NUM = 0x8000


# Packet header bytes that start the generic responses.
OK_HEADER = 0x00
EOF_HEADER = 0xFE
ERR_HEADER = 0xFF
LOCAL_INFILE_HEADER = 0xFB
AUTH_MORE_DATA_HEADER = 0x01

MAX_PAYLOAD_CHUNK = 0xFFFFFF  # payloads of this size or more are split over several packets

NATIVE_PASSWORD = "mysql_native_password"
CACHING_SHA2_PASSWORD = "caching_sha2_password"
