"""Runs each corpus query on the gate and on the reference database and classifies the outcome.

``same``: equal results (rows as multisets unless the query fixes their order; rows-affected for writes) or
the same error code. ``unsupported``: the gate refused with a clear "not supported" error (MySQL 1235, or a
message saying so). ``wrong``: anything else. ``skipped``: not run, after a write of its script went not
``same`` and the databases may have diverged.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pymysql

from .query import Query, Script

ER_NOT_SUPPORTED_YET = 1235
CONNECTION_LOST = frozenset({0, 2006, 2013, 2014, 2055})
_UNSUPPORTED = re.compile(r"\bunsupported\b|\bnot supported\b", re.IGNORECASE)
_REL_TOL, _ABS_TOL = 1e-9, 1e-5  # AVG: MariaDB keeps scale + 4 digits; a gate may divide SUM by COUNT itself
_SHOWN = 5

Row = tuple[Any, ...]
Connect = Callable[[], pymysql.connections.Connection]


class Outcome(StrEnum):
    SAME = "same"
    UNSUPPORTED = "unsupported"
    WRONG = "wrong"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Execution:
    """What one statement returned: column names and rows, rows-affected (writes), or the error."""

    columns: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    affected: int = 0
    error: tuple[int, str] | None = None


@dataclass(frozen=True)
class Verdict:
    query: Query
    outcome: Outcome
    detail: str = ""
    reference: Execution | None = None


def execute(conn: pymysql.connections.Connection, sql: str) -> Execution:
    """Runs ``sql`` and captures its result or its MySQL error."""
    try:
        with conn.cursor() as cursor:
            affected = cursor.execute(sql)
            if cursor.description is None:
                return Execution(affected=affected)
            return Execution(tuple(column[0] for column in cursor.description), tuple(cursor.fetchall()))
    except pymysql.MySQLError as err:
        code = err.args[0] if err.args and isinstance(err.args[0], int) else 0
        return Execution(error=(code, str(err.args[-1]) if err.args else repr(err)))


def is_unsupported(error: tuple[int, str]) -> bool:
    code, message = error
    return code == ER_NOT_SUPPORTED_YET or bool(_UNSUPPORTED.search(message))


def classify(query: Query, gate: Execution, reference: Execution) -> tuple[Outcome, str]:
    """The outcome of ``query`` and, unless ``same``, what differed."""
    if gate.error and reference.error and gate.error[0] == reference.error[0]:
        return Outcome.SAME, ""
    if gate.error and is_unsupported(gate.error):
        return Outcome.UNSUPPORTED, f"{gate.error[0]}: {gate.error[1]}"
    if gate.error or reference.error:
        return Outcome.WRONG, f"error: gate {gate.error}, reference {reference.error}"
    if gate.columns != reference.columns:
        return Outcome.WRONG, f"columns: gate {gate.columns}, reference {reference.columns}"
    if not reference.columns and gate.affected != reference.affected:
        return Outcome.WRONG, f"rows affected: gate {gate.affected}, reference {reference.affected}"
    diff = rows_diff(query, gate.rows, reference.rows)
    return (Outcome.WRONG, diff) if diff else (Outcome.SAME, "")


def rows_diff(query: Query, gate: Sequence[Row], reference: Sequence[Row]) -> str:
    """Empty if the rows match under the query's comparison rules, else a short description of the difference."""
    mine, theirs = [_normalize(query, row) for row in gate], [_normalize(query, row) for row in reference]
    if not query.ordered:
        mine, theirs = sorted(mine, key=_row_key), sorted(theirs, key=_row_key)
    if len(mine) == len(theirs) and all(map(_rows_equal, mine, theirs)):
        return ""
    only_gate, only_reference = Counter(mine) - Counter(theirs), Counter(theirs) - Counter(mine)
    if query.ordered and not only_gate and not only_reference:
        first = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if not _rows_equal(a, b))
        return f"order differs at row {first}: gate {mine[first]}, reference {theirs[first]}"
    return (
        f"{len(gate)} rows vs {len(reference)}; only in gate {_sample(only_gate.elements())}; "
        f"only in reference {_sample(only_reference.elements())}"
    )


def _normalize(query: Query, row: Row) -> Row:
    return tuple(_normalize_value(query, value) for value in row)


def _normalize_value(query: Query, value: Any) -> Any:
    if query.casefold and isinstance(value, str):
        return value.casefold()
    if query.approx and isinstance(value, Decimal | float):
        return float(value)
    return value


def _rows_equal(a: Row, b: Row) -> bool:
    return len(a) == len(b) and all(map(_values_equal, a, b))


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)
    return type(a) is type(b) and a == b or _is_number(a) and _is_number(b) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal | float) and not isinstance(value, bool)


def _row_key(row: Row) -> tuple[Any, ...]:
    """A sort key for rows of mixed types (NULL first, then numbers, then everything else by type)."""
    return tuple(
        (0, "", 0)
        if value is None
        else (1, "", value)
        if _is_number(value)
        else (2, type(value).__name__, value)
        for value in row
    )


def _sample(rows: Iterable[Row]) -> str:
    rows = list(rows)
    shown = ", ".join(map(repr, rows[:_SHOWN]))
    return f"[{shown}{', ...' if len(rows) > _SHOWN else ''}] ({len(rows)})"


class _Side:
    """One connection, reopened when the server drops it."""

    def __init__(self, connect: Connect) -> None:
        self.connect = connect
        self.conn = connect()

    def execute(self, sql: str) -> Execution:
        result = execute(self.conn, sql)
        if result.error and result.error[0] in CONNECTION_LOST:
            self.close()
            self.conn = self.connect()
        return result

    def close(self) -> None:
        with contextlib.suppress(pymysql.Error):
            self.conn.close()


@dataclass
class Summary:
    """Every verdict, with counts per outcome and per template."""

    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def counts(self) -> Counter[Outcome]:
        return Counter(verdict.outcome for verdict in self.verdicts)

    @property
    def ran(self) -> int:
        return sum(1 for verdict in self.verdicts if verdict.outcome is not Outcome.SKIPPED)

    def of(self, outcome: Outcome) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if verdict.outcome is outcome]

    def by_template(self) -> dict[str, Counter[Outcome]]:
        out: dict[str, Counter[Outcome]] = {}
        for verdict in self.verdicts:
            out.setdefault(verdict.query.template, Counter())[verdict.outcome] += 1
        return out

    def format(self, examples: int = _SHOWN) -> str:
        counts = self.counts
        lines = [
            f"differential: {len(self.verdicts)} queries, {self.ran} ran: "
            + ", ".join(f"{counts[outcome]} {outcome.value}" for outcome in Outcome),
            f"{'template':<26}" + "".join(f"{outcome.value:>12}" for outcome in Outcome),
        ]
        for template, per in sorted(self.by_template().items()):
            lines.append(f"{template:<26}" + "".join(f"{per[outcome]:>12}" for outcome in Outcome))
        unsupported = Counter(verdict.detail for verdict in self.of(Outcome.UNSUPPORTED))
        if unsupported:
            lines.append("unsupported, most frequent first:")
            lines += [f"  {n} x {detail}" for detail, n in unsupported.most_common(examples)]
        wrong = self.of(Outcome.WRONG)
        if wrong:
            lines.append(f"wrong, first {min(examples, len(wrong))}:")
            for verdict in wrong[:examples]:
                lines += [f"  [{verdict.query.template}] {verdict.query.sql}", f"    {verdict.detail}"]
        return "\n".join(lines)


def run_corpus(scripts: Sequence[Script], gate_connect: Connect, reference_connect: Connect) -> Summary:
    """Runs every script on both sides, one statement at a time, and collects the verdicts."""
    gate, reference = _Side(gate_connect), _Side(reference_connect)
    summary = Summary()
    try:
        for script in scripts:
            diverged = False
            for query in script.queries:
                if diverged:
                    summary.verdicts.append(Verdict(query, Outcome.SKIPPED, "an earlier write was not same"))
                    continue
                ours, theirs = gate.execute(query.sql), reference.execute(query.sql)
                outcome, detail = classify(query, ours, theirs)
                summary.verdicts.append(Verdict(query, outcome, detail, theirs))
                diverged = query.is_write and outcome is not Outcome.SAME
            if diverged:  # do not leave a transaction open for the next script
                gate.execute("ROLLBACK")
                reference.execute("ROLLBACK")
    finally:
        gate.close()
        reference.close()
    return summary
