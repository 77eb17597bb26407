"""Low-income buyers of new BEVs: the caveat of a result whose new BEV sells mostly to households
where the model's BEV demand is more price-elastic than measured.

The evidence (docs/backtests.md, "Cheap entrants: the evidence in conflict"): Muehlegger and Rapson (2022)
measure an EV demand elasticity of -2.1 among households at or below 400% of the federal poverty
level (California's EFMP); the calibrated model's BEV demand among households under that income is
far more elastic (-5.5 on the bundled calibration), because price sensitivity pi / y_i comes from
income alone and rises steeply at the bottom. A new BEV priced below the BEVs of 2025 sells to those
households, so its units and its low price are where the model is least trustworthy.

The income limit in the model's 2023 dollars: 400% of the 2018 HHS guideline for a household of
three, by the CPI-U (``backtest_evidence.csv``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.data import backtest_evidence
from autopact.fit.statistics import CalibrationError, group_elasticity
from autopact.model.demand import individual_shares


def poverty_line_multiple() -> float:
    """EFMP's income limit as a multiple of the federal poverty level (``backtest_evidence.csv``)."""
    return float(backtest_evidence()["efmp_income_limit_fpl_multiple"]["value"])


def efmp_income_limit() -> float:
    """The EFMP income limit in 2023 dollars: multiple x 2018 guideline x CPI-U 2023 / CPI-U 2018."""
    evidence = backtest_evidence()
    e = {name: float(evidence[name]["value"]) for name in (
        "efmp_income_limit_fpl_multiple", "hhs_poverty_guideline_2018_household_of_3", "cpi_u_annual_2023",
        "cpi_u_annual_2018")}
    return (e["efmp_income_limit_fpl_multiple"] * e["hhs_poverty_guideline_2018_household_of_3"]
            * e["cpi_u_annual_2023"] / e["cpi_u_annual_2018"])


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The weighted (lower) median of ``values``: the first value, in increasing order, at which the
    cumulative weight reaches half of the total."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def bev_elasticity_among(market: Any, prices: np.ndarray, low: float, high: float,
                         individual: np.ndarray | None = None) -> float:
    """The elasticity of the BEV purchases of households with income in [low, high) to a uniform rise
    in BEV prices, on ``market`` (a ``fit.market.MarketModel``) at consumer ``prices``
    (``fit.statistics.group_elasticity``; ``individual``: the choice probabilities there, if at hand)."""
    demand = market.demand
    bev = market.products["powertrain"].eq("BEV").to_numpy()
    among = (demand.income >= low) & (demand.income < high)
    return group_elasticity(market.xi - demand.alpha * prices, prices, demand, bev, among, individual)


def _baseline_elasticity(market: Any, prices: np.ndarray, limit: float) -> float:
    """``bev_elasticity_among`` households under ``limit`` (the bundled EFMP limit) on the baseline, once
    per market and prices (``market.cache``: every scenario and variant on one market asks the same);
    NaN where the baseline has no BEV or no household under the limit."""
    found = market.cache.get("low_income_bev_elasticity")
    if found is None or not np.array_equal(found[0], prices):
        try:
            value = bev_elasticity_among(market, prices, 0.0, limit)
        except CalibrationError:
            value = float("nan")
        found = market.cache["low_income_bev_elasticity"] = (prices.copy(), value)
    return found[1]


def low_income_bev_buyers(result: Any) -> dict[str, Any] | None:
    """The caveat for a solved result (``outcomes.document.SimulationResult``) with a new BEV (an
    entrant or a new product) whose buyers' median income is under the EFMP limit; None otherwise."""
    base, cf = result.baseline.products, result.counterfactual.products
    if "powertrain" not in cf.columns or result.market.kind != "calibrated":
        return None  # the evidence is on the calibrated US market; the BLP 1995 data have no powertrains
    new = ~cf["product_id"].isin(base["product_id"]).to_numpy() & cf["powertrain"].eq("BEV").to_numpy()
    if not new.any():
        return None
    market, limit = result.market, efmp_income_limit()
    demand, prices = market.demand, cf["consumer_price"].to_numpy(float)
    s = individual_shares(market.xi - demand.alpha * prices, prices, demand)[0]
    rows = []
    for j in np.flatnonzero(new):
        buyers = demand.weights * s[:, j]
        median = weighted_median(demand.income, buyers)
        if median < limit:
            rows.append({"product_id": str(cf["product_id"].iloc[j]), "name": str(cf["name"].iloc[j]),
                         "units": float(cf["units"].iloc[j]), "median_buyer_income_usd": median,
                         "buyers_under_limit": float(buyers[demand.income < limit].sum() / buyers.sum())})
    if not rows:
        return None
    model = _baseline_elasticity(result.baseline_market, base["consumer_price"].to_numpy(float), limit)
    measured = float(backtest_evidence()["mr_low_middle_income_ev_elasticity"]["value"])
    names = "; ".join(f"{r['name']} ({r['units']:,.0f} units, median buyer income ${r['median_buyer_income_usd']:,.0f}, "
                      f"{r['buyers_under_limit']:.0%} of buyers under the limit)" for r in rows)
    elasticity = f"{model:.1f}" if np.isfinite(model) else "unknown (no BEV before)"
    text = (f"new BEVs selling mostly to households under ${limit:,.0f} a year (2023 dollars; "
            f"{poverty_line_multiple():.0%} of the poverty line): {names}. Among those households the model's BEV demand has elasticity {elasticity}, against "
            f"{measured:.1f} measured (Muehlegger and Rapson 2022): the model's price sensitivity rises steeply as "
            "income falls, so a BEV priced below the 2025 ones draws in more of them than the evidence supports; "
            "read these models' units as high and their prices as low (docs/backtests.md, Cheap entrants: the evidence in "
            "conflict).")
    return {"kind": "low_income_bev_buyers", "text": text, "income_limit_usd": limit,
            "model_elasticity": model, "measured_elasticity": measured, "products": rows}
