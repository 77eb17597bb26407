"""Issue 11 item 2: how price sensitivity depends on income, each form re-calibrated to the same
targets and put through every back-test.

For each specification (a price form of ``autopact.fit.price_forms`` with parameters held fixed
or free) this re-calibrates the bundled 2025 market, builds the calibrated market and runs
``autopact validate``'s back-tests on it, then prints one JSON line: the objective, every target's
fit, the incumbents' price rises in no-section-232 and chinese-imports-mfn (``price_signs``), the
entry back-test (median |log error|, bias, worst), the EV-credit and tariff back-tests.

Run: ``python tools/price_specifications.py NAME [NAME ...]`` with names from ``SPECIFICATIONS``
(a few minutes each at 1,000 households). The README's "Known limits of the 2025 calibration"
quotes its output.
"""

from __future__ import annotations

import json
import sys
import time

from autopact.data import load_market
from autopact.fit.calibration import FIT_HOUSEHOLDS, calibrate, load_targets
from autopact.fit.market import calibrated_model
from autopact.runs.validate import validate

SPECIFICATIONS = {
    "income": ("income", {}),
    "income_normal": ("income_normal", {}),
    "income_normal_from_wide": ("income_normal", {}),  # started at sigma_price 3, alpha 0.5 per $10k
    "power": ("power", {}),
    "power_from_bundled": ("power", {}),  # started at lambda 1 with the bundled fit's pi / y_bar and tastes
    "power_0.5": ("power", {"lambda": 0.5}),
    "income_alpha_0.1": ("income", {"alpha": 0.1e-4}),
    "income_alpha_0.2": ("income", {"alpha": 0.2e-4}),
    "income_alpha_0.4": ("income", {"alpha": 0.4e-4}),
    "income_alpha_0.8": ("income", {"alpha": 0.8e-4}),
    "income_without_compact_target": ("income", {}),  # the compact-car elasticity at weight 0
}

# Other starting points, to check that a form's optimum is not a local one: the bundled fit has
# pi = 9.52, sigma_bev 1.20, sigma_size 10.0 and rho 0, so lambda = 1 with alpha = 9.52 / y_bar
# ($115,968 at 1,000 households) starts "power" where it equals the bundled fit.
STARTS = {"income_normal_from_wide": {"sigma_price": 3e-4, "alpha": 0.5e-4, "pi": 5.0},
          "power_from_bundled": {"alpha": 8.21e-5, "lambda": 1.0, "sigma_bev": 1.196, "sigma_size": 10.0, "rho": 0.01}}


def run(name: str) -> dict:
    form, fixed = SPECIFICATIONS[name]
    began = time.perf_counter()
    data = load_market()
    start = STARTS.get(name)
    targets = load_targets()
    if name.endswith("_without_compact_target"):  # what the other targets ask for on their own
        targets.loc[targets["name"] == "own_elasticity_nissan_sentra", "weight"] = 0.0
    cal = calibrate(data, targets=targets, fixed=fixed, form=form, start=start, fit_draws=FIT_HOUSEHOLDS)
    market = calibrated_model(data, cal)
    result = validate(market)
    signs = result["price_signs"]
    entry, credit, tariff = result["entry_backtest"], result["ev_credit_backtest"], result["tariff_backtest"]
    return {
        "specification": name, "form": form, "fixed": fixed, "parameters": cal.parameters,
        "objective": cal.optimizer["objective"],
        "targets": {r.name: [float(r.value), float(a)] for r, a in zip(cal.targets.itertuples(), cal.achieved)},
        "price_signs": {k: {"rising": v["rising"], "of": v["incumbents_same_cost"],
                            "mean_change_usd": v["mean_price_change_usd"],
                            "largest": [(r["name"], round(r["price_change_usd"])) for r in v["largest_rises"][:3]]}
                        for k, v in signs.items()},
        "entry": {"median_abs_log_error": entry["median_abs_log_error"], "mean_log_error": entry["mean_log_error"],
                  "worst": entry["worst"]},
        "ev_credit": {"predicted": credit["predicted_bev_share"], "error_pp": credit["error_pp"]},
        "tariff": {"sales_change": tariff["sales_change"], "price_change": tariff["price_change"]},
        "passed": result["passed"], "warnings": cal.warnings, "seconds": time.perf_counter() - began,
    }


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SPECIFICATIONS):
        print(json.dumps(run(name), default=str), flush=True)
