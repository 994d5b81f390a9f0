"""The VSchema: per keyspace, its vindexes and how each table's columns map to them (Vitess's JSON format).

``VSchema.from_json`` takes the SrvVSchema's keyspaces (``{keyspace: keyspace_vschema_json}``), validates
everything (raising InvalidArgument with the offending keyspace/table/vindex named), resolves sequences across
keyspaces and answers the planner's ``find_table`` with Vitess's global routing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shardline.errors import InvalidArgument, NotFound
from shardline.vindexes.base import IDENTIFIER, FunctionalVindex, LookupVindex, Vindex
from shardline.vindexes.registry import create_vindex

TABLE_TYPES = ("", "reference", "sequence")
COLUMN_TYPES = frozenset(
    "NULL_TYPE INT8 UINT8 INT16 UINT16 INT24 UINT24 INT32 UINT32 INT64 UINT64 FLOAT32 FLOAT64 TIMESTAMP DATE TIME "
    "DATETIME YEAR DECIMAL TEXT BLOB VARCHAR VARBINARY CHAR BINARY BIT ENUM SET TUPLE GEOMETRY JSON EXPRESSION "
    "HEXNUM HEXVAL BITNUM VECTOR RAW".split()
)
_KEYSPACE_KEYS = ("sharded", "vindexes", "tables", "require_explicit_routing")
_VINDEX_KEYS = ("type", "params", "owner")
_TABLE_KEYS = ("type", "column_vindexes", "auto_increment", "columns", "source", "column_list_authoritative")
_COLUMN_VINDEX_KEYS = ("column", "columns", "name")
_AUTO_INCREMENT_KEYS = ("column", "sequence")
_COLUMN_KEYS = (
    "name",
    "type",
    "invisible",
    "default",
    "collation_name",
    "size",
    "scale",
    "nullable",
    "values",
)


@dataclass
class Column:
    """A column the VSchema declares (Vitess's ``columns`` entry); ``type`` is a Vitess type name."""

    name: str
    type: str = ""
    invisible: bool = False
    default: str = ""
    collation_name: str = ""
    size: int = 0
    scale: int = 0
    nullable: bool | None = None
    values: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        defaults = Column(self.name)
        return {
            key: getattr(self, key)
            for key in _COLUMN_KEYS
            if key == "name" or getattr(self, key) != getattr(defaults, key)
        }


@dataclass
class ColumnVindex:
    """Columns of a table indexed by a vindex. ``owned``: the table owns the (lookup) vindex's rows."""

    columns: list[str]
    name: str
    vindex: Vindex
    owned: bool = False

    @property
    def column(self) -> str:
        """The first (for single-column vindexes, the only) column."""
        return self.columns[0]


@dataclass
class AutoIncrement:
    """A column filled from a sequence table when an insert leaves it out or NULL."""

    column: str
    sequence: Table


@dataclass
class Table:
    """A table of a keyspace. ``type`` is "" (normal), "reference" (same rows on every shard) or "sequence".

    ``column_vindexes[0]`` is the primary vindex (unique; decides the shard of each row); ``source`` names the
    ``keyspace.table`` a reference table is copied from.
    """

    name: str
    keyspace: str
    type: str = ""
    column_vindexes: list[ColumnVindex] = field(default_factory=list)
    auto_increment: AutoIncrement | None = None
    columns: list[Column] = field(default_factory=list)
    source: str = ""
    column_list_authoritative: bool = False

    @property
    def primary_vindex(self) -> ColumnVindex | None:
        return self.column_vindexes[0] if self.column_vindexes else None

    @property
    def owned_vindexes(self) -> list[ColumnVindex]:
        """The lookup vindexes whose rows this table's inserts, updates and deletes maintain."""
        return [cv for cv in self.column_vindexes if cv.owned]

    @property
    def is_reference(self) -> bool:
        return self.type == "reference"

    @property
    def is_sequence(self) -> bool:
        return self.type == "sequence"

    @property
    def qualified_name(self) -> str:
        return f"{self.keyspace}.{self.name}" if self.keyspace else self.name

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.type:
            out["type"] = self.type
        if self.column_vindexes:
            out["column_vindexes"] = [
                {"column": cv.column, "name": cv.name}
                if len(cv.columns) == 1
                else {"columns": cv.columns, "name": cv.name}
                for cv in self.column_vindexes
            ]
        if self.auto_increment:
            out["auto_increment"] = {
                "column": self.auto_increment.column,
                "sequence": self.auto_increment.sequence.qualified_name,
            }
        if self.columns:
            out["columns"] = [column.to_json() for column in self.columns]
        if self.source:
            out["source"] = self.source
        if self.column_list_authoritative:
            out["column_list_authoritative"] = True
        return out


@dataclass
class KeyspaceVSchema:
    """One keyspace's VSchema: whether it is sharded, its vindexes by name and its tables by name."""

    name: str
    sharded: bool
    vindexes: dict[str, Vindex] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    require_explicit_routing: bool = False

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> KeyspaceVSchema:
        """Builds and validates one keyspace's VSchema.

        A sequence in another keyspace cannot be checked here: it stands in as a sequence table of that name
        until :meth:`VSchema.from_json` resolves it.
        """
        where = f"keyspace '{name}'"
        _check_keys(data, _KEYSPACE_KEYS, where)
        keyspace = cls(
            name,
            _get(data, "sharded", bool, False, where),
            require_explicit_routing=_get(data, "require_explicit_routing", bool, False, where),
        )
        owners: dict[str, str] = {}
        for vindex_name, vindex_data in _get(data, "vindexes", dict, {}, where).items():
            keyspace.vindexes[vindex_name] = _build_vindex(vindex_name, vindex_data, where, owners)
        for table_name, table_data in _get(data, "tables", dict, {}, where).items():
            keyspace.tables[table_name] = keyspace._build_table(table_name, table_data, owners)
        keyspace._set_owners(owners)
        for table in keyspace.tables.values():
            if table.auto_increment:
                table.auto_increment.sequence = keyspace._local_sequence(table, table.auto_increment.sequence)
        return keyspace

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sharded:
            out["sharded"] = True
        if self.vindexes:
            out["vindexes"] = {name: _vindex_json(vindex) for name, vindex in self.vindexes.items()}
        if self.tables:
            out["tables"] = {name: table.to_json() for name, table in self.tables.items()}
        if self.require_explicit_routing:
            out["require_explicit_routing"] = True
        return out

    def _build_table(self, name: str, data: Any, owners: dict[str, str]) -> Table:
        where = f"table '{name}' of keyspace '{self.name}'"
        _check_keys(data, _TABLE_KEYS, where)
        table = Table(name, self.name, _get(data, "type", str, "", where))
        if table.type not in TABLE_TYPES:
            raise InvalidArgument(
                f"{where}: unknown table type '{table.type}'; known types: reference, sequence"
            )
        for cv_data in _get(data, "column_vindexes", list, [], where):
            table.column_vindexes.append(self._build_column_vindex(name, cv_data, owners, where))
        auto_increment = _get(data, "auto_increment", dict, None, where)
        if auto_increment is not None:
            table.auto_increment = _build_auto_increment(auto_increment, where)
        table.columns = [_build_column(column, where) for column in _get(data, "columns", list, [], where)]
        table.source = _get(data, "source", str, "", where)
        table.column_list_authoritative = _get(data, "column_list_authoritative", bool, False, where)
        self._check_table(table, where)
        return table

    def _build_column_vindex(self, table: str, data: Any, owners: dict[str, str], where: str) -> ColumnVindex:
        _check_keys(data, _COLUMN_VINDEX_KEYS, f"a column_vindexes entry of {where}")
        name = _get(data, "name", str, "", where)
        if not name:
            raise InvalidArgument(f"{where}: a column_vindexes entry has no vindex 'name'")
        vindex = self.vindexes.get(name)
        if vindex is None:
            defined = ", ".join(sorted(self.vindexes)) or "none"
            raise InvalidArgument(
                f"{where}: column_vindexes names undefined vindex '{name}'; defined: {defined}"
            )
        if "column" in data and "columns" in data:
            raise InvalidArgument(f"{where}: vindex '{name}' gives both 'column' and 'columns'; use one")
        if "columns" in data:
            columns = _get(data, "columns", list, [], where)
        else:
            columns = [_get(data, "column", str, "", where)] if data.get("column") else []
        if not columns or not all(isinstance(column, str) and column for column in columns):
            raise InvalidArgument(
                f"{where}: vindex '{name}' needs a 'column' or a non-empty list of 'columns'"
            )
        if isinstance(vindex, FunctionalVindex) and len(columns) != 1:
            raise InvalidArgument(
                f"{where}: vindex '{name}' ({vindex.type_name}) takes one column, got {columns}"
            )
        return ColumnVindex(columns, name, vindex, owned=owners.get(name) == table)

    def _check_table(self, table: Table, where: str) -> None:
        if table.type and (table.column_vindexes or table.auto_increment):
            raise InvalidArgument(
                f"{where}: a {table.type} table cannot have column_vindexes or auto_increment"
            )
        if table.source and not table.is_reference:
            raise InvalidArgument(f"{where}: only a reference table can have a 'source'")
        if table.source:
            source_keyspace, _, source_table = table.source.partition(".")
            if not source_keyspace or not source_table or "." in source_table:
                raise InvalidArgument(f"{where}: source '{table.source}' must be of the form keyspace.table")
            if source_keyspace == self.name:
                raise InvalidArgument(f"{where}: source '{table.source}' must be in another keyspace")
        if table.is_sequence and self.sharded:
            raise InvalidArgument(f"{where}: a sequence table must be in an unsharded keyspace")
        if not self.sharded:
            if table.column_vindexes:
                raise InvalidArgument(
                    f"{where}: keyspace is unsharded, so the table cannot have column_vindexes"
                )
            return
        primary = table.primary_vindex
        if primary is None:
            if not table.type:
                raise InvalidArgument(
                    f"{where}: a table of a sharded keyspace needs a primary vindex (column_vindexes)"
                )
            return
        if not primary.vindex.unique:
            raise InvalidArgument(f"{where}: primary vindex '{primary.name}' is not unique")
        if primary.owned:
            raise InvalidArgument(f"{where}: primary vindex '{primary.name}' cannot be owned by the table")

    def _set_owners(self, owners: dict[str, str]) -> None:
        for vindex_name, owner in owners.items():
            vindex = self.vindexes[vindex_name]
            table = self.tables.get(owner)
            uses = [cv for cv in table.column_vindexes if cv.name == vindex_name] if table else []
            if not uses:
                raise InvalidArgument(
                    f"keyspace '{self.name}': vindex '{vindex_name}' is owned by '{owner}', "
                    "which is not a table of the keyspace using that vindex"
                )
            assert isinstance(vindex, LookupVindex)
            vindex.set_owner(self.name, owner, uses[0].columns)
        for vindex_name, vindex in self.vindexes.items():
            if isinstance(vindex, LookupVindex) and vindex.requires_owner and not vindex.owner:
                raise InvalidArgument(
                    f"keyspace '{self.name}': consistent lookup vindex '{vindex_name}' needs an owner"
                )

    def _local_sequence(self, table: Table, sequence: Table) -> Table:
        if sequence.keyspace not in ("", self.name):
            return sequence
        local = self.tables.get(sequence.name)
        if local is None:
            if sequence.keyspace:
                raise InvalidArgument(
                    f"table '{table.name}' of keyspace '{self.name}': auto_increment sequence "
                    f"'{sequence.qualified_name}' is not a table of the keyspace"
                )
            return sequence
        _check_sequence(table, local)
        return local


@dataclass
class VSchema:
    """The VSchema of all keyspaces (the SrvVSchema), with Vitess's global routing of unqualified tables."""

    keyspaces: dict[str, KeyspaceVSchema] = field(default_factory=dict)
    _global_tables: dict[str, list[Table]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        for keyspace in self.keyspaces.values():
            if not keyspace.require_explicit_routing:
                for table in keyspace.tables.values():
                    self._global_tables.setdefault(table.name, []).append(table)

    @classmethod
    def from_json(cls, keyspaces: dict[str, dict[str, Any]]) -> VSchema:
        """Builds and validates every keyspace, then resolves each auto_increment sequence across keyspaces."""
        if not isinstance(keyspaces, dict):
            raise InvalidArgument(
                f"a VSchema maps keyspace names to keyspace vschemas, got {type(keyspaces).__name__}"
            )
        vschema = cls({name: KeyspaceVSchema.from_json(name, data) for name, data in keyspaces.items()})
        for keyspace in vschema.keyspaces.values():
            for table in keyspace.tables.values():
                if table.auto_increment:
                    table.auto_increment.sequence = vschema._resolve_sequence(
                        table, table.auto_increment.sequence
                    )
        return vschema

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: keyspace.to_json() for name, keyspace in self.keyspaces.items()}

    def find_keyspace(self, name: str) -> KeyspaceVSchema:
        keyspace = self.keyspaces.get(name)
        if keyspace is None:
            raise NotFound(f"Unknown database '{name}'", code=1049, sqlstate="42000")
        return keyspace

    def find_table(self, name: str, keyspace: str | None = None) -> Table:
        """The table ``keyspace.name``, or for an unqualified name the one table of that name in any keyspace.

        An unsharded keyspace serves tables its VSchema does not list (as a table with no vindexes); so does
        an unqualified name when the VSchema has a single, unsharded keyspace.
        """
        if keyspace:
            return self._table_in(self.find_keyspace(keyspace), name)
        candidates = self._global_tables.get(name, [])
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            return self._pick_reference_source(name, candidates)
        if len(self.keyspaces) == 1:
            return self._table_in(next(iter(self.keyspaces.values())), name)
        raise _table_not_found(name)

    def _resolve_sequence(self, table: Table, sequence: Table) -> Table:
        try:
            resolved = self.find_table(sequence.name, sequence.keyspace or None)
        except (NotFound, InvalidArgument) as err:
            raise InvalidArgument(
                f"table '{table.name}' of keyspace '{table.keyspace}': cannot resolve auto_increment sequence "
                f"'{sequence.qualified_name}': {err}"
            ) from None
        _check_sequence(table, resolved)
        return resolved

    def _pick_reference_source(self, name: str, candidates: list[Table]) -> Table:
        """Reference tables copied from one source table route to that source; anything else is ambiguous."""
        sources = {table.source for table in candidates if table.is_reference and table.source}
        if len(sources) == 1:
            (source,) = sources
            chosen = [table for table in candidates if table.qualified_name == source]
            others_copy_it = all(
                table.source == source for table in candidates if table.qualified_name != source
            )
            if chosen and others_copy_it:
                return chosen[0]
        keyspaces = ", ".join(sorted(table.keyspace for table in candidates))
        raise InvalidArgument(
            f"ambiguous table reference '{name}': it exists in keyspaces {keyspaces}; qualify it as keyspace.{name}"
        )

    @staticmethod
    def _table_in(keyspace: KeyspaceVSchema, name: str) -> Table:
        table = keyspace.tables.get(name)
        if table is not None:
            return table
        if not keyspace.sharded:
            return Table(name, keyspace.name)
        raise _table_not_found(name)


def vindex_columns(keyspace: KeyspaceVSchema) -> dict[str, list[str]]:
    """For each table with column vindexes, the columns they index (first use order, no repeats)."""
    out: dict[str, list[str]] = {}
    for name, table in keyspace.tables.items():
        columns = [column for cv in table.column_vindexes for column in cv.columns]
        if columns:
            out[name] = list(dict.fromkeys(columns))
    return out


def _table_not_found(name: str) -> NotFound:
    return NotFound(f"table '{name}' not found", code=1146, sqlstate="42S02")


def _check_sequence(table: Table, sequence: Table) -> None:
    if not sequence.is_sequence:
        kind = f"a {sequence.type} table" if sequence.type else "a normal table"
        raise InvalidArgument(
            f"table '{table.name}' of keyspace '{table.keyspace}': auto_increment sequence "
            f"'{sequence.qualified_name}' is {kind}, not a sequence table"
        )


def _build_vindex(name: str, data: Any, where: str, owners: dict[str, str]) -> Vindex:
    vindex_where = f"vindex '{name}' of {where}"
    _check_keys(data, _VINDEX_KEYS, vindex_where)
    type_name = _get(data, "type", str, "", vindex_where)
    if not type_name:
        raise InvalidArgument(f"{vindex_where}: missing 'type'")
    vindex = create_vindex(type_name, name, _get(data, "params", dict, {}, vindex_where))
    owner = _get(data, "owner", str, "", vindex_where)
    if owner:
        if not isinstance(vindex, LookupVindex):
            raise InvalidArgument(
                f"{vindex_where}: only a lookup vindex can have an owner ({type_name} has none)"
            )
        owners[name] = owner
    return vindex


def _vindex_json(vindex: Vindex) -> dict[str, Any]:
    out: dict[str, Any] = {"type": vindex.type_name}
    if vindex.params:
        out["params"] = dict(vindex.params)
    if isinstance(vindex, LookupVindex) and vindex.owner:
        out["owner"] = vindex.owner
    return out


def _build_auto_increment(data: dict[str, Any], where: str) -> AutoIncrement:
    _check_keys(data, _AUTO_INCREMENT_KEYS, f"auto_increment of {where}")
    column = _get(data, "column", str, "", where)
    sequence = _get(data, "sequence", str, "", where)
    keyspace, _, name = sequence.rpartition(".")
    if not column or not IDENTIFIER.fullmatch(name) or (keyspace and not IDENTIFIER.fullmatch(keyspace)):
        raise InvalidArgument(
            f"{where}: auto_increment needs a 'column' and a 'sequence' (table or keyspace.table), got {data}"
        )
    return AutoIncrement(column, Table(name, keyspace, "sequence"))


def _build_column(data: Any, where: str) -> Column:
    _check_keys(data, _COLUMN_KEYS, f"a columns entry of {where}")
    column_where = f"column {data.get('name')!r} of {where}"
    column = Column(
        name=_get(data, "name", str, "", where),
        type=_get(data, "type", str, "", column_where),
        invisible=_get(data, "invisible", bool, False, column_where),
        default=_get(data, "default", str, "", column_where),
        collation_name=_get(data, "collation_name", str, "", column_where),
        size=_get(data, "size", int, 0, column_where),
        scale=_get(data, "scale", int, 0, column_where),
        nullable=_get(data, "nullable", bool, None, column_where),
        values=_get(data, "values", list, [], column_where),
    )
    if not column.name:
        raise InvalidArgument(f"{where}: a columns entry has no 'name'")
    if column.type and column.type not in COLUMN_TYPES:
        raise InvalidArgument(
            f"{column_where}: unknown type '{column.type}'; known types: {', '.join(sorted(COLUMN_TYPES))}"
        )
    return column


def _check_keys(data: Any, known: tuple[str, ...], where: str) -> None:
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = [key for key in data if key not in known]
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown key {', '.join(map(repr, unknown))}; known keys: {', '.join(known)}"
        )


def _get(data: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgument(f"{where}: '{key}' must be {_KIND_NAMES[kind]}, got {value!r}")
    return value


_KIND_NAMES = {bool: "true or false", str: "a string", int: "an integer", list: "a list", dict: "an object"}
