"""A corpus query, a script of queries, and the random parameters templates draw from the dataset."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .schema import NAMES, Dataset, sql_literal

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN", "COMMIT", "ROLLBACK")


@dataclass(frozen=True)
class Query:
    """One statement and how to compare its results.

    ``ordered``: the statement fixes a total order, so rows are compared in order (else as multisets).
    ``approx``: numbers may differ in the last digits, as MySQL's own AVG precision does.
    ``casefold``: strings compare case-insensitively; grouping, DISTINCT, UNION or MIN/MAX over a
    utf8mb4_general_ci column may return any of the equal values ('alice' or 'Alice').
    ``expected_error``: the MySQL error code the statement must fail with on MariaDB (0: must succeed).
    """

    sql: str
    template: str = ""
    ordered: bool = False
    approx: bool = False
    casefold: bool = False
    expected_error: int = 0

    @property
    def is_write(self) -> bool:
        """Changes data or the transaction state (a wrong outcome may leave the databases diverged)."""
        return self.sql.lstrip().split(None, 1)[0].upper() in WRITE_VERBS


@dataclass(frozen=True)
class Script:
    """Statements run in order on one pair of connections. After a write whose outcome is not ``same`` the two
    databases may have diverged, so the rest of the script is skipped."""

    template: str
    queries: tuple[Query, ...]


class Params:
    """Random parameters for a template: mostly values present in the data, some that match nothing."""

    def __init__(self, rng: random.Random, data: Dataset) -> None:
        self.rng = rng
        self.data = data
        self._customers_with_orders = sorted({row[1] for row in data.orders})

    def choice(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def pick(self, variants: Sequence[Callable[[], Query]]) -> Query:
        """Builds one of ``variants``, chosen at random."""
        return self.rng.choice(variants)()

    def customer_id(self) -> int:
        if self.rng.random() < 0.9:
            return self.rng.choice(self.data.customer_ids)
        return self.rng.choice([self.rng.randint(6001, 9000), -self.rng.randint(201, 900)])

    def customer_with_orders(self) -> int:
        """A customer id that has orders (some of them without a customer row)."""
        return self.rng.choice(self._customers_with_orders)

    def customer_ids(self, low: int = 2, high: int = 6) -> str:
        return ", ".join(str(self.customer_id()) for _ in range(self.rng.randint(low, high)))

    def email(self) -> str:
        if self.rng.random() < 0.85:
            return sql_literal(self.rng.choice(self.data.emails))
        return sql_literal(f"nobody.{self.rng.randint(1, 999)}@example.com")

    def emails(self) -> str:
        return ", ".join(self.email() for _ in range(self.rng.randint(2, 5)))

    def name(self) -> str:
        name = self.rng.choice(NAMES)
        return sql_literal(self.rng.choice([name, name.upper(), name.lower(), "nobody"]))

    def name_prefix(self) -> str:
        return self.rng.choice(NAMES)[: self.rng.randint(1, 3)]

    def sku(self) -> str:
        sku = self.rng.choice(self.data.skus)
        return sql_literal(self.rng.choice([sku, sku, sku.lower(), "SKU-999"]))

    def tier(self) -> int:
        return self.rng.randint(0, 6)  # 6: no customer has it

    def qty(self) -> int:
        return self.rng.randint(-2, 20)

    def money(self, low: int, high: int) -> str:
        return f"{self.rng.randint(low, high)}.{self.rng.randint(0, 99):02d}"

    def date(self) -> str:
        return f"'{self.rng.randint(2020, 2024)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}'"

    def limit(self) -> int:
        return self.rng.choice([1, 2, 3, 5, 10, 25])

    def direction(self) -> str:
        """An ORDER BY direction, with its leading space ("" for the default)."""
        return self.rng.choice([" ASC", " DESC", ""])
