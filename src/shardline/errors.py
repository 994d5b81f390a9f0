"""The error hierarchy: each error carries the MySQL error code and SQLSTATE the gate sends, and reads as one
line in the CLI."""

from __future__ import annotations


class ShardlineError(Exception):
    """Base of every error shardline raises on purpose."""

    code: int = 1105  # ER_UNKNOWN_ERROR
    sqlstate: str = "HY000"

    def __init__(self, message: str, *, code: int | None = None, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if sqlstate is not None:
            self.sqlstate = sqlstate

    def __str__(self) -> str:
        return self.message


class InvalidArgument(ShardlineError):
    """The caller asked for something malformed (bad key range, bad VSchema, bad flag)."""

    code = 1105
    sqlstate = "HY000"


class NotFound(ShardlineError):
    """A named object (keyspace, shard, tablet, table) does not exist."""


class AlreadyExists(ShardlineError):
    """An object with that name exists already."""


class FailedPrecondition(ShardlineError):
    """The system is not in a state that allows the operation (e.g. shards not covering the key space)."""


class Unavailable(ShardlineError):
    """A dependency (topo server, tablet, MySQL) cannot be reached; retrying later may succeed."""

    code = 1105
    sqlstate = "HY000"


class DeadlineExceeded(Unavailable):
    """An operation did not finish in time."""


class Unsupported(ShardlineError):
    """The query or operation is valid MySQL but shardline cannot do it (correctly) here."""

    code = 1235  # ER_NOT_SUPPORTED_YET
    sqlstate = "42000"


class MySQLError(ShardlineError):
    """An error returned by a MySQL server, passed on with its own code and SQLSTATE."""

    def __init__(self, code: int, sqlstate: str, message: str) -> None:
        super().__init__(message, code=code, sqlstate=sqlstate)


class MalformedPacket(ShardlineError):
    """A MySQL packet does not follow the protocol (truncated, bad length, unexpected content)."""

    code = 1835  # ER_MALFORMED_PACKET
    sqlstate = "HY000"


class PacketTooLarge(ShardlineError):
    """A MySQL packet is bigger than the configured maximum."""

    code = 1153  # ER_NET_PACKET_TOO_LARGE
    sqlstate = "08S01"
