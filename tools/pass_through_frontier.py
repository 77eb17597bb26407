"""Research, not part of the package: how far the demand's pass-through can fall within its family.

Adds a random taste for the luxury indicator whose draws are correlated with log income (sigma_lux,
lux_income: income sorting across products, BLP 1995's Pi on a luxury dummy) to the bundled "income"
form, calibrates to the bundled targets with any parameters held as given on the command line, and
prints the fit, the pass-through of a 5% tariff on Japanese-built vehicles (``runs.backtest_2026_early``),
the demand back-tests and the entry back-test. The package is patched in this process only (``fit.calibration.MarketArrays``,
``build_demand``, ``fit.market.characteristics``). docs/backtests.md, "The first months of 2026".

    PYTHONPATH=src AUTOPACT_CACHE= python tools/pass_through_frontier.py                  # all free
    PYTHONPATH=src AUTOPACT_CACHE= python tools/pass_through_frontier.py alpha=3e-5       # alpha held
    PYTHONPATH=src AUTOPACT_CACHE= python tools/pass_through_frontier.py sigma_lux=0 lux_income=0  # the bundled fit
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

import autopact.fit.calibration as cal
import autopact.fit.market as fm
import autopact.fit.price_forms as pf
from autopact.model.demand import Demand
from autopact.model.households import income_correlated

NAMES = ("alpha", "pi", "sigma_bev", "sigma_size", "rho", "bev_income", "sigma_lux", "lux_income")
# the bundled fit's parameters, where every row starts
START = {k: v for k, v in json.loads((Path(__file__).parents[1] / "src/autopact/data/bundled/calibration_2025.json")
                                      .read_text())["parameters"].items() if k in ("pi", "sigma_bev", "sigma_size", "bev_income")}


def patch() -> None:
    """Add the form "income_lux" (the income form with sigma_lux and lux_income) and the luxury indicator
    as a third random-coefficient characteristic, in this process only."""
    base = pf.FORMS["income"]
    pf.FORMS["income_lux"] = pf.PriceForm("income_lux", NAMES, base.scale + (1.0, 1.0), base.lower + (0.0, -0.95),
                                          base.upper + (20.0, 0.95), base.start + (1.0, 0.5), 1,
                                          "alpha_i = alpha + pi / income_i, with a luxury taste correlated with income")
    from_market = cal.MarketArrays.from_market.__func__

    def with_luxury(cls, market):
        arrays = from_market(cls, market)
        return dataclasses.replace(arrays, characteristics=np.column_stack([arrays.characteristics,
                                                                            arrays.luxury.astype(float)]))

    def build_demand(parameters, arrays, households, form="income"):
        """BEV, size and luxury tastes; the BEV and luxury draws correlated with log income."""
        nu = households.nu[:, :3]
        draws = [income_correlated(nu[:, 0], households.income, households.weights, parameters.get("bev_income", 0.0)),
                 nu[:, 1],
                 income_correlated(nu[:, 2], households.income, households.weights, parameters.get("lux_income", 0.0))]
        sigma = np.array([parameters["sigma_bev"], parameters["sigma_size"], parameters.get("sigma_lux", 0.0)])
        return Demand(alpha=parameters["alpha"], pi=parameters["pi"], sigma=sigma, rho=parameters["rho"],
                      characteristics=arrays.characteristics, nests=arrays.nests, weights=households.weights,
                      income=households.income, nu=np.column_stack(draws))

    characteristics = fm.characteristics

    def with_luxury_column(products):
        luxury = products["luxury"].astype(str).str.lower().isin(("true", "1")).astype(float).to_numpy()
        return np.column_stack([characteristics(products), luxury])

    cal.MarketArrays.from_market = classmethod(with_luxury)
    cal.build_demand = build_demand
    fm.characteristics = with_luxury_column


def main(arguments: list[str]) -> None:
    """Calibrate with the parameters named ``name=value`` held, then print the fit and the back-tests."""
    patch()
    from autopact.data import load_market
    from autopact.fit.market import calibrated_model
    from autopact.runs.backtest_2026_early import pass_through
    from autopact.runs.backtest_demand import demand_backtest

    data = load_market(2025)
    fixed = {name: float(value) for name, value in (argument.split("=") for argument in arguments)}
    began = time.time()
    result = cal.calibrate(data, form="income_lux", fixed=fixed, start=START, fit_draws=cal.FIT_HOUSEHOLDS)
    print(f"calibrated in {time.time() - began:.0f} s", {k: round(v, 6) for k, v in result.parameters.items()},
          "objective", result.optimizer["objective"])
    for row, value in zip(result.targets.itertuples(), result.achieved):
        print(f"  {row.name[:40]:40s} target {row.value:8.3f} achieved {value:8.3f}")
    market = calibrated_model(data, result)
    found = pass_through(market)
    print("pass-through", round(found["pass_through"], 3), "median", round(found["median"], 3), found["lowest"],
          found["highest"])
    demand = demand_backtest(market)
    print("low-income BEV elasticity", round(demand["low_income_bev_elasticity"]["model"], 2), "under 75k",
          round(demand["buyers_income_below_75k"]["model"], 3), "150k+", round(demand["buyers_income_150k_plus"]["model"], 3))
    lerner = result.markups / result.arrays.prices
    print("median Lerner", round(float(np.median(lerner)), 3), "above 0.5:", int(np.sum(lerner > 0.5)))
    from autopact.policy.launch import launch_gaps
    from autopact.runs.backtest_entry import entry_backtest
    launch_gaps(market)
    entry = entry_backtest(market)
    print("entry back-test: median", round(entry["median_abs_log_error"], 3), "bias", round(entry["mean_log_error"], 3),
          "beyond x3", entry["beyond_factor_3"], "within x1.5", round(entry["within_factor_1_5"], 2), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
