"""Outcomes: the headline numbers of one solved state, by firm and by product; changes between two states.

Definitions (all annual, 2025 dollars at the model's price level; a scenario on an estimated
market counts in its data's money unit instead, see ``autopact.fit.estimated``):
- units q_j = M s_j; average price = units-weighted consumer price; BEV share = BEV units / units.
- consumer surplus: M sum_i w_i log(1 + sum_g exp(IV_ig)) / alpha_i (only changes are meaningful);
  by income group the same sum over the households in the group, per household.
- profit of product j: (p_j - c_j) q_j, with c_j including tariffs; split to owners by profit
  shares (joint ventures to their parents), totalled by firm and by the owner's nationality.
- tariff revenue: sum_j (tau_j v_j + T_j) q_j over customs values v_j (plus in-quota rates).
- US-assembled units: q_j times the share of j's listed assembly countries that is the US;
  US assembly jobs = those units / vehicles per assembly worker (policy parameter).
- HHI on owners' unit shares, joint-venture units attributed by profit shares, 0 to 10,000.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.data.tariffs import NOT_STATED
from autopact.fit.market import MarketModel
from autopact.outcomes.state import State


# The entries of a metrics document (``metrics``), each True when it is a group of numbers keyed by a
# name (a nationality, firm, segment, income group, country) and False when it is one number: what
# an outcome path (``units_by_nationality/China``) may name, checked before a run (``runs.uncertainty``).
METRICS: dict[str, bool] = {
    "total_units": False, "average_price_usd": False, "bev_share": False, "consumer_surplus_usd": False,
    "consumer_surplus_per_household_by_income_usd": True, "total_profit_usd": False, "tariff_revenue_usd": False,
    "us_assembled_units": False, "us_assembly_jobs": False, "hhi": False, "units_share_by_nationality": True,
    "units_by_nationality": True, "gm_share": False, "ford_share": False, "average_price_by_segment_usd": True,
    "average_price_by_powertrain_usd": True, "units_by_assembly_country": True, "profit_by_nationality_usd": True,
    "profit_by_firm_usd": True, "units_by_segment": True,
}


# The policy parameters ``metrics`` reads (``outcomes.document.baseline_metrics`` measures a baseline
# again only when one of these changes).
METRIC_PARAMETERS = ("vehicles_per_assembly_worker",)


def metrics(state: State, market: MarketModel, params: dict[str, float]) -> dict[str, Any]:
    """The headline numbers of one state (the JSON contract's baseline/counterfactual objects).

    A number the market cannot define is None: the BEV share without powertrains, a named firm's
    share where it does not sell, jobs without ``vehicles_per_assembly_worker``, US-assembled units
    where the products' assembly is not known (an ``origin`` column ``not stated``), and a share or
    an average price over products that sell no units (all priced out, e.g. by a prohibitive tariff).
    """
    p = state.products
    units = p["units"].to_numpy()
    total = float(units.sum())
    owners = list(state.stakes.columns)
    by_owner = column_sums(state.stakes, units)
    nationality_of = _nationalities(p, owners)
    owner_nationalities = [nationality_of[o] for o in owners]
    by_nationality = group_sums(by_owner, owner_nationalities)
    shares = by_owner / total if total > 0 else by_owner * np.nan
    share_of = dict(zip(owners, shares.tolist()))
    households = market.households
    cs_total = float(market.market_size * households.weights @ state.consumer_surplus)
    by_income = {}
    for low, high, label in market.income_groups:
        members = (households.income >= low) & (households.income < high)
        by_income[label] = (float(np.average(state.consumer_surplus[members], weights=households.weights[members]))
                            if members.any() else None)  # no simulated household in the group
    by_assembly = dict(zip(state.origin.columns, column_sums(state.origin, units).tolist()))
    profit_by_owner = column_sums(state.stakes, p["profit"].to_numpy())
    consumer_price = p["consumer_price"].to_numpy()
    if "operating_cost_wedge" in p.columns:  # a valued change in lifetime fuel cost (autopact.policy.exogenous):
        consumer_price = consumer_price - p["operating_cost_wedge"].to_numpy(float)  # weighed, not paid at purchase

    # numpy arrays and boolean masks, not pandas selections: a draw measures two states, and
    # pandas' per-selection overhead was most of that time
    def weighted(values: np.ndarray, mask: Any = slice(None)) -> float | None:
        weights = units[mask]
        return float(np.average(values[mask], weights=weights)) if weights.sum() > 0 else None

    def by(column: str, value) -> dict[str, float]:
        if column not in p.columns:
            return {}
        labels = p[column].to_numpy()
        return {s: value(labels == s) for s in sorted(p[column].unique())}

    assembled = us_assembled_units(state)
    per_worker = params.get(METRIC_PARAMETERS[0])
    return {
        "total_units": total,
        "average_price_usd": weighted(consumer_price),
        "bev_share": float(units[p["powertrain"].eq("BEV").to_numpy()].sum() / total)
        if "powertrain" in p.columns and total > 0 else None,
        "consumer_surplus_usd": cs_total,
        "consumer_surplus_per_household_by_income_usd": by_income,
        "total_profit_usd": float(p["profit"].sum()),
        "tariff_revenue_usd": float(p["tariff_revenue"].sum()),
        "us_assembled_units": assembled,
        "us_assembly_jobs": None if assembled is None or per_worker is None else assembled / per_worker,
        "hhi": float(10_000 * (shares ** 2).sum()) if total > 0 else None,
        "units_share_by_nationality": {k: float(v / total) if total > 0 else None for k, v in by_nationality.items()},
        "units_by_nationality": {k: float(v) for k, v in by_nationality.items()},
        "gm_share": float(share_of["General Motors"]) if "General Motors" in share_of and total > 0 else None,
        "ford_share": float(share_of["Ford Motor Co."]) if "Ford Motor Co." in share_of and total > 0 else None,
        "average_price_by_segment_usd": by("segment", lambda m: weighted(consumer_price, m)),
        "average_price_by_powertrain_usd": by("powertrain", lambda m: weighted(consumer_price, m)),
        "units_by_assembly_country": {k: float(v) for k, v in by_assembly.items() if v > 0},
        "profit_by_nationality_usd": {k: float(v) for k, v in group_sums(profit_by_owner, owner_nationalities).items()},
        "profit_by_firm_usd": dict(zip(owners, profit_by_owner.tolist())),
        "units_by_segment": by("segment", lambda m: float(units[m].sum())),
    }


def us_assembled_units(state: State) -> float | None:
    """Units assembled in the US; None where the market does not state assembly countries (an
    estimated market) or a state has no such column."""
    if (state.origin is not None and NOT_STATED in state.origin.columns) or "us_assembled_units" not in state.products:
        return None
    return float(state.products["us_assembled_units"].sum())


def _nationalities(products: pd.DataFrame, owners: list[str]) -> dict[str, Any]:
    """Each owner's nationality: from its own products, or China for a maker with no incumbent line."""
    direct: dict[str, Any] = {}  # groupby("owner")["nationality"].first() without pandas' groupby (draws)
    for owner, nationality in zip(products["owner"].tolist(), products["nationality"].tolist()):
        if owner not in direct and not owner.endswith(" JV") and not pd.isna(nationality):
            direct[owner] = nationality
    return {o: direct.get(o, "China") for o in owners}


def column_sums(frame: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
    """``frame.mul(weights, axis=0).sum()`` as an array, the same numbers to the bit without pandas'
    alignment and Series (a draw measures its state with four such sums): the products are taken on
    the frame's own memory (``to_numpy`` of its one block is a view in the block's layout) and
    summed as pandas sums the block, a row of it a column: in the block's layout, or, where some are
    NaN, over a C-ordered copy with NaN set to 0 (``nanops.nansum``), which adds in another order."""
    block = (frame.to_numpy(float) * np.asarray(weights, float)[:, None]).T
    missing = np.isnan(block)
    if missing.any():
        block = block.copy()
        block[missing] = 0.0
    return block.sum(axis=1)


def group_sums(values: np.ndarray, labels: list[Any]) -> dict[Any, float]:
    """``pd.Series(values).groupby(labels).sum()`` as {label: sum}, labels sorted: each group's values
    added in their order with Kahan's compensation, as pandas' ``group_sum`` adds them (so the
    numbers are the same to the bit), NaN left out. A few dozen owners: a loop, not a groupby."""
    sums: dict[Any, list[float]] = {}
    for value, label in zip(values.tolist(), labels):
        if value != value:
            continue
        found = sums.setdefault(label, [0.0, 0.0])  # [sum, compensation]
        y = value - found[1]
        t = found[0] + y
        compensation = t - found[0] - y
        found[1] = 0.0 if compensation != compensation else compensation
        found[0] = t
    for label in set(labels) - set(sums):  # a group of NaN only sums to 0
        sums[label] = [0.0, 0.0]
    return {label: sums[label][0] for label in sorted(sums)}


def firm_table(base: State, cf: State) -> list[dict[str, Any]]:
    """Units and profits by firm (joint-venture profits split to parents), baseline and scenario."""
    owners = sorted(set(base.stakes.columns) | set(cf.stakes.columns))
    nationality = {**_nationalities(base.products, list(base.stakes.columns)),
                   **_nationalities(cf.products, list(cf.stakes.columns))}

    def totals(state: State, column: str) -> pd.Series:
        return state.stakes.mul(state.products[column].to_numpy(), axis=0).sum()

    ub, uc = totals(base, "units"), totals(cf, "units")
    pb, pc = totals(base, "profit"), totals(cf, "profit")
    rows = [{"firm": o, "nationality": nationality.get(o, "China"),
             "units_baseline": float(ub.get(o, 0.0)), "units_counterfactual": float(uc.get(o, 0.0)),
             "profit_baseline_usd": float(pb.get(o, 0.0)), "profit_counterfactual_usd": float(pc.get(o, 0.0))}
            for o in owners]
    return sorted(rows, key=lambda r: -r["units_counterfactual"])


def difference(a: Any, b: Any) -> Any:
    """b - a for numbers and (recursively) dicts of numbers; keys missing on one side count as 0."""
    if isinstance(a, dict) or isinstance(b, dict):
        a, b = a or {}, b or {}
        return {k: difference(a.get(k, 0.0), b.get(k, 0.0)) for k in sorted(set(a) | set(b))}
    if a is None or b is None:
        return None
    return float(b) - float(a)


def product_rows(base: State, cf: State, keep: list[str]) -> list[dict[str, Any]]:
    """The scenario's products (columns ``keep``) with their baseline price and units (None if new)."""
    before = {pid: (float(price), float(units)) for pid, price, units in
              zip(base.products["product_id"], base.products["price"], base.products["units"])}
    rows = []
    for row in cf.products[keep].to_dict(orient="records"):
        price, units = before.get(row["product_id"], (None, None))
        row["price_baseline"], row["units_baseline"] = price, units
        rows.append({k: (bool(v) if isinstance(v, (np.bool_,)) else v) for k, v in row.items()})
    return rows
