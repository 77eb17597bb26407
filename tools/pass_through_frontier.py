"""Research, not part of the package: how far the demand's pass-through can fall within its family.

Adds a random taste for the luxury indicator whose draws are correlated with log income (sigma_lux,
lux_income: income sorting across products, BLP 1995's Pi on a luxury dummy) to the bundled "income"
form, calibrates to the bundled targets with any parameters held as given on the command line, and
prints the fit, the pass-through of a 5% tariff on Japanese-built vehicles (``runs.backtest_2026_early``)
and the demand back-tests. The package is patched in this process only (``fit.calibration.MarketArrays``,
``build_demand``, ``fit.market.characteristics``). README, "The first months of 2026".

    PYTHONPATH=src AUTOPACT_CACHE= python tools/pass_through_frontier.py                  # all free
    PYTHONPATH=src AUTOPACT_CACHE= python tools/pass_through_frontier.py alpha=3e-5       # alpha held
    PYTHONPATH=src AUTOPACT_CACHE= python tools/pass_through_frontier.py sigma_lux=0 lux_income=0  # the bundled fit
"""
import sys
import time
import numpy as np
import autopact.fit.calibration as cal
import autopact.fit.market as fm
import autopact.fit.price_forms as pf
from autopact.model.demand import Demand
from autopact.model.households import income_correlated

names = ("alpha", "pi", "sigma_bev", "sigma_size", "rho", "bev_income", "sigma_lux", "lux_income")
base = pf.FORMS["income"]
pf.FORMS["income_lux"] = pf.PriceForm("income_lux", names, base.scale + (1.0, 1.0), base.lower + (0.0, -0.95),
                                      base.upper + (20.0, 0.95), base.start + (1.0, 0.5), 1, "income + luxury taste by income")
orig_from_market = cal.MarketArrays.from_market.__func__

def from_market(cls, market):
    arrays = orig_from_market(cls, market)
    import dataclasses
    return dataclasses.replace(arrays, characteristics=np.column_stack([arrays.characteristics, arrays.luxury.astype(float)]))
cal.MarketArrays.from_market = classmethod(from_market)

def build_demand(parameters, arrays, households, form="income"):
    nu = households.nu[:, :3]
    cols = [income_correlated(nu[:, 0], households.income, households.weights, parameters.get("bev_income", 0.0)), nu[:, 1],
            income_correlated(nu[:, 2], households.income, households.weights, parameters.get("lux_income", 0.0))]
    taste = dict(sigma=np.array([parameters["sigma_bev"], parameters["sigma_size"], parameters.get("sigma_lux", 0.0)]),
                 rho=parameters["rho"], characteristics=arrays.characteristics, nests=arrays.nests,
                 weights=households.weights, income=households.income, nu=np.column_stack(cols))
    return Demand(alpha=parameters["alpha"], pi=parameters["pi"], **taste)
cal.build_demand = build_demand

orig_chars = fm.characteristics
def characteristics(products):
    return np.column_stack([orig_chars(products), products["luxury"].astype(str).str.lower().isin(("true", "1")).astype(float).to_numpy()])
fm.characteristics = characteristics

from autopact.data import load_market
from autopact.fit.market import calibrated_model
data = load_market(2025)
fixed = {}
for arg in sys.argv[1:]:
    k, v = arg.split("=")
    fixed[k] = float(v)
t = time.time()
result = cal.calibrate(data, form="income_lux", fixed=fixed, start={"pi": 8.43, "sigma_bev": 1.3, "sigma_size": 9.0, "bev_income": 0.2})
print("calibrated in %.0f s" % (time.time() - t), {k: round(v, 4) for k, v in result.parameters.items()}, "objective", result.optimizer["objective"])
for row, value in zip(result.targets.itertuples(), result.achieved):
    print("  %-40s target %8.3f achieved %8.3f" % (row.name[:40], row.value, value))
market = calibrated_model(data, result)
from autopact.runs.backtest_2026_early import pass_through
from autopact.runs.backtest_demand import demand_backtest
pt = pass_through(market)
print("pass-through", round(pt["pass_through"], 3), "median", round(pt["median"], 3), pt["lowest"], pt["highest"])
d = demand_backtest(market)
print("low-income BEV elasticity", round(d["low_income_bev_elasticity"]["model"], 2), "under 75k", round(d["buyers_income_below_75k"]["model"], 3), "150k+", round(d["buyers_income_150k_plus"]["model"], 3))
print("median Lerner", round(float(np.median(result.markups / result.arrays.prices)), 3), "above 0.5:", int(np.sum(result.markups / result.arrays.prices > 0.5)))
