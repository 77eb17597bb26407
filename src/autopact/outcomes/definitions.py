"""The headline metrics, defined once: name, unit, what it means, how it is computed, how it is shown.

The CLI tables and the HTML report read this list (and the web app will); each metric's ``key``
is its path in the JSON's metrics documents (``baseline``, ``counterfactual``, ``change``,
``bands``), which ``autopact.outcomes.metrics.metrics`` computes. Money is in the market's unit and shown
through a ``Money`` formatter (``autopact.interfaces.money``), passed in as ``money``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Unit = Literal["vehicles", "price", "money", "share", "jobs", "index"]  # price: money per vehicle
Formatter = Callable[..., str]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: Unit
    description: str
    computation: str
    level_shown: bool = True  # False: only the change is meaningful (consumer surplus)

    def level(self, value: float | None, money: Formatter) -> str:
        """The value of one state, as shown to a reader."""
        if value is None:
            return "n/a"
        if self.unit == "money":
            return money(value, False, total=True)
        if self.unit == "price":
            return money(value, False)
        if self.unit == "share":
            return f"{value:.2%}"
        return f"{value:,.0f}"

    def change(self, value: float | None, money: Formatter) -> str:
        """A change between two states, as shown to a reader (shares in percentage points)."""
        if value is None:
            return "n/a"
        if self.unit == "money":
            return money(value, total=True)
        if self.unit == "price":
            return money(value)
        if self.unit == "share":
            return f"{value * 100:+.2f} pp"
        if self.unit == "index":
            return f"{value:+,.1f}"
        return f"{value:+,.0f}"

    def axis(self) -> tuple[float, str]:
        """(scale, unit) of a chart axis of changes: dollars in billions, shares in percentage points."""
        return {"price": (1.0, "$"), "money": (1e-9, "$ bn"), "share": (100.0, "pp"), "vehicles": (1.0, "units"),
                "jobs": (1.0, "jobs"), "index": (1.0, "points")}[self.unit]


HEADLINE: tuple[Metric, ...] = (
    Metric("total_units", "new vehicles sold a year", "vehicles", "new light vehicles sold in the US in a year",
           "sum over products of q_j = M s_j (M: households, s_j: the model's market share)"),
    Metric("average_price_usd", "average price paid", "price", "units-weighted average price paid by buyers",
           "sum_j q_j p^c_j / sum_j q_j, consumer prices (after any credit or tax wedge)"),
    Metric("bev_share", "BEV share", "share", "battery-electric vehicles' share of new vehicles sold",
           "BEV units / all units; null where the market has no powertrains"),
    Metric("consumer_surplus_usd", "consumer surplus (change)", "money", "buyers' welfare; only its change is meaningful",
           "M sum_i w_i log(1 + sum_g exp(IV_ig)) / alpha_i (Small and Rosen 1981; McFadden 1981)", level_shown=False),
    Metric("total_profit_usd", "variable profit, all firms", "money", "firms' variable profit on US sales",
           "sum_j (p_j - c_j) q_j, costs including tariffs (plus quota rents kept by importers)"),
    Metric("tariff_revenue_usd", "tariff revenue", "money", "US tariff revenue on vehicles (parts not modelled)",
           "sum_j (tau_j v_j + T_j) q_j over customs values v_j (in-quota rates within a quota)"),
    Metric("us_assembled_units", "US-assembled units", "vehicles", "vehicles sold in the US that are assembled in the US",
           "sum_j a_j,US q_j, a_j,US the US share of j's listed assembly countries"),
    Metric("us_assembly_jobs", "US assembly jobs", "jobs", "hourly assembly jobs that the US-assembled units need",
           "US-assembled units / vehicles_per_assembly_worker (policy parameter); supplier jobs not counted"),
    Metric("hhi", "HHI", "index", "Herfindahl-Hirschman index of owners' unit shares (0 to 10,000)",
           "10,000 sum_f (q_f / q)^2, joint-venture units attributed by profit shares"),
    Metric("units_share_by_nationality/China", "China-owned unit share", "share",
           "share of units sold by Chinese-controlled owners", "units by owners' nationality / all units"),
    Metric("gm_share", "GM share of units", "share", "General Motors' share of units", "GM's units / all units"),
    Metric("ford_share", "Ford share of units", "share", "Ford's share of units (its share of joint ventures included)",
           "Ford's units / all units"),
)


def metric(key: str) -> Metric:
    """The headline metric at ``key``; KeyError naming the known keys otherwise."""
    for item in HEADLINE:
        if item.key == key:
            return item
    raise KeyError(f"unknown headline metric {key!r}; known: {', '.join(m.key for m in HEADLINE)}")


def definitions() -> list[dict[str, Any]]:
    """The definitions as JSON rows."""
    return [asdict(m) for m in HEADLINE]
