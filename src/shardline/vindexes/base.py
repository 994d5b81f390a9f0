"""The vindex contract: a vindex maps a column value to the keyspace id(s) of the rows holding it.

Two kinds, as in Vitess:

- a :class:`FunctionalVindex` computes keyspace ids in process (``hash``, ``xxhash``, ``binary``...); its
  ``map`` is synchronous and cheap because the gate calls it on every query;
- a :class:`LookupVindex` reads a lookup table through a :class:`VCursor` (``lookup``, ``consistent_lookup``...);
  an *owned* lookup vindex also writes that table as its owner table's rows come and go.

A value reaches a vindex as a Python value (int, str, bytes, Decimal, float, None); a keyspace id is ``bytes``.
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from shardline.errors import InvalidArgument

if TYPE_CHECKING:
    from shardline.key import KeyRange
    from shardline.sqltypes import Result

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class CommitOrder(enum.Enum):
    """Which transaction of the session a nested statement joins (Vitess's commit order).

    ``PRE`` statements run in a transaction committed before the session's own one, ``POST`` statements in one
    committed after it: a consistent lookup writes its rows in ``PRE`` and deletes them in ``POST``, so a crash
    between the commits leaves at worst an orphan lookup row, never an owner row its lookup cannot find.
    """

    NORMAL = "normal"
    PRE = "pre"
    POST = "post"


class VCursor(Protocol):
    """What a lookup vindex asks of the gate; the gate implements it per session.

    An error returned by MySQL must surface as :class:`shardline.errors.MySQLError` with the server's code:
    a consistent lookup repairs orphan rows on ER_DUP_ENTRY (1062).
    """

    async def execute(
        self,
        sql: str,
        bind_vars: dict[str, Any],
        *,
        autocommit: bool = False,
        commit_order: CommitOrder = CommitOrder.NORMAL,
    ) -> Result:
        """Runs a statement through the planner.

        ``sql`` may qualify tables as ``keyspace.table``; ``:name`` is a scalar bind variable, ``::name`` a list
        (for ``IN ::name``). ``autocommit`` runs it outside the session's transaction and commits at once.
        """

    async def execute_keyspace_id(
        self, keyspace: str, keyspace_id: bytes, sql: str, bind_vars: dict[str, Any]
    ) -> Result:
        """Runs a statement on the shard of ``keyspace`` that holds ``keyspace_id``, in the session's transaction."""


class Vindex(ABC):
    """A named, configured vindex of a keyspace's VSchema."""

    type_name: ClassVar[str]
    """The registry name (``hash``, ``lookup_unique``...): the VSchema's ``type``."""
    cost: ClassVar[int]
    """Relative cost of a map: the planner prefers the cheapest vindex (0 and 1 computed, 10+ lookups)."""
    unique: ClassVar[bool]
    """True if a value maps to at most one keyspace id; a table's primary vindex must be unique."""
    needs_vcursor: ClassVar[bool]
    known_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, params: Mapping[str, str]) -> None:
        unknown = sorted(set(params) - self.known_params)
        if unknown:
            known = ", ".join(sorted(self.known_params)) or "none"
            raise InvalidArgument(
                f"vindex '{name}' ({self.type_name}): unknown param {', '.join(map(repr, unknown))}; "
                f"known params: {known}"
            )
        for key, value in params.items():
            if not isinstance(value, str):
                raise InvalidArgument(
                    f"vindex '{name}' ({self.type_name}): param '{key}' must be a string, got {value!r}"
                )
        self.name = name
        self.params: dict[str, str] = dict(params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.params!r})"

    def bool_param(self, key: str) -> bool:
        """A ``"true"``/``"false"`` param, false when absent."""
        value = self.params.get(key, "false")
        if value not in ("true", "false"):
            raise InvalidArgument(
                f"vindex '{self.name}': param '{key}' must be 'true' or 'false', got {value!r}"
            )
        return value == "true"

    def required_param(self, key: str) -> str:
        value = self.params.get(key, "").strip()
        if not value:
            raise InvalidArgument(f"vindex '{self.name}' ({self.type_name}): missing required param '{key}'")
        return value


class FunctionalVindex(Vindex):
    """A vindex whose keyspace ids are computed from the value alone."""

    needs_vcursor = False
    unique = True

    @abstractmethod
    def map(self, values: Sequence[Any]) -> list[bytes | None]:
        """One keyspace id per value; None where the value can match no row (e.g. NULL or 'abc' for ``hash``)."""

    def verify(self, values: Sequence[Any], ksids: Sequence[bytes]) -> list[bool]:
        """For each value, whether it maps to the keyspace id at the same position."""
        return [
            mapped is not None and mapped == ksid
            for mapped, ksid in zip(self.map(values), ksids, strict=True)
        ]


class LookupVindex(Vindex):
    """A vindex backed by a lookup table ``from`` column(s) -> ``to`` keyspace id column.

    ``owner`` is the table whose rows this vindex's rows follow ("" if unowned); the VSchema sets it.
    """

    needs_vcursor = True
    requires_owner: ClassVar[bool] = False
    """True for vindexes that only work owned (consistent lookups lock the owner row)."""

    def __init__(self, name: str, params: Mapping[str, str]) -> None:
        super().__init__(name, params)
        self.owner = ""
        self.owner_keyspace = ""
        self.owner_columns: list[str] = []

    def set_owner(self, keyspace: str, table: str, columns: list[str]) -> None:
        """Makes ``keyspace.table`` the owner; ``columns`` are its columns this vindex indexes."""
        self.owner, self.owner_keyspace, self.owner_columns = table, keyspace, list(columns)

    @abstractmethod
    async def map(
        self, vcursor: VCursor, values: Sequence[Any]
    ) -> list[bytes | list[bytes] | KeyRange | None]:
        """The destination of each value.

        A unique vindex gives ``bytes`` or None (no row); a non-unique one a list of keyspace ids (empty if
        none). A full ``KeyRange()`` means "every shard" (a ``write_only`` vindex still being backfilled).
        """

    @abstractmethod
    async def verify(self, vcursor: VCursor, values: Sequence[Any], ksids: Sequence[bytes]) -> list[bool]:
        """For each value, whether the lookup table maps it to the keyspace id at the same position."""

    @abstractmethod
    async def create(
        self, vcursor: VCursor, rows: list[list[Any]], ksids: list[bytes], *, ignore_mode: bool = False
    ) -> None:
        """Adds lookup rows: ``rows[i]`` holds the vindex column values of the owner row with ``ksids[i]``.

        ``ignore_mode`` (``INSERT IGNORE`` on the owner) skips rows whose lookup entry exists already.
        """

    @abstractmethod
    async def delete(self, vcursor: VCursor, rows: list[list[Any]], ksid: bytes) -> None:
        """Removes the lookup rows of owner rows (all with keyspace id ``ksid``) being deleted."""

    @abstractmethod
    async def update(
        self, vcursor: VCursor, old_values: list[Any], ksid: bytes, new_values: list[Any]
    ) -> None:
        """Moves the lookup row of one owner row from ``old_values`` to ``new_values``."""
