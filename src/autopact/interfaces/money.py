"""How a result document's money is shown: in dollars, converted from the data's unit where it has one.

The 2025 market counts in dollars (``dollars_per_unit`` 1). An estimated market counts in its data's
price unit (BLP 1995: thousands of 1983 dollars, ``dollars_per_unit`` 1000); JSON values stay in that
unit and the tables multiply by ``dollars_per_unit``. A unit without a dollar conversion is shown as
plain numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Totals from $10 million up are shown in billions ($0.01bn), so a column of a headline's change and
# its bands reads in one unit (a band of +$79,554,685 beside +$0.50bn did not); prices per vehicle
# stay in dollars.
BILLIONS_FROM = 1e7


@dataclass(frozen=True)
class Money:
    """A formatter: value in the document's unit -> text ($1.23bn, $12,345, or a plain number)."""

    dollars_per_unit: float | None = 1.0
    note: str = ""

    @classmethod
    def of(cls, document: dict[str, Any]) -> Money:
        money = document.get("market", {}).get("money", {})
        if not money:
            return cls()
        year = money.get("dollar_year")
        note = f"{year} dollars" if year else ""
        return cls(money.get("dollars_per_unit"), note)

    def __call__(self, value: float | None, signed: bool = True, total: bool = False) -> str:
        """``total``: a total of the market (profits, revenue, surplus), always in billions so that a
        column of them reads in one unit; a total under $10 million keeps two significant digits
        (-$0.0021bn, not -$2,089,120 beside +$1.14bn)."""
        if value is None:
            return "n/a"
        if self.dollars_per_unit is None:
            return f"{value:+,.4g}" if signed else f"{value:,.4g}"
        value = value * self.dollars_per_unit
        if abs(value) < 0.5:
            return "$0"
        sign = "-" if value < 0 else ("+" if value > 0 and signed else "")
        value = abs(value)
        if value >= BILLIONS_FROM:
            return f"{sign}${value / 1e9:,.2f}bn"
        if total:
            return f"{sign}${float(f'{value / 1e9:.2g}'):.10f}".rstrip("0") + "bn"
        return f"{sign}${value:,.0f}"
