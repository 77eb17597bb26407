"""Research, not part of the package: the bundled calibration profiled over a held price coefficient.

At each alpha given on the command line (0: free, as bundled) the bundled form and targets are fitted
again on ``FIT_HOUSEHOLDS`` households with alpha held, and the script prints, one JSON line per alpha,
the objective over the bundled targets, every target's statistic, the pass-through of a 5% tariff on
Japan-built vehicles (``runs.backtest_2026_early.pass_through``, Feenstra's 0.6 to 1) and the entry
back-test (``runs.backtest_entry``) on the market's 1,000 households. docs/backtests.md, "A free price
coefficient, profiled" (seventeenth session). A few minutes an alpha on a 2-core machine.

    PYTHONPATH=src AUTOPACT_CACHE=off python tools/alpha_profile.py 0 1e-5 2e-5 3e-5 4e-5
"""
from __future__ import annotations

import json
import sys
import time

from autopact.data import load_market
from autopact.fit.calibration import FIT_HOUSEHOLDS, calibrate
from autopact.fit.market import calibrated_model
from autopact.policy.launch import launch_gaps
from autopact.policy.levers import path_inverse
from autopact.runs.backtest_2026_early import pass_through
from autopact.runs.backtest_entry import entry_backtest
from autopact.simulate import solved_baseline


def profile_row(data, alpha: float) -> dict:
    """The fit with alpha held (0: free) and its back-tests."""
    began = time.time()
    cal = calibrate(data, fixed={} if alpha == 0 else {"alpha": alpha}, draws=1000, seed=0, fit_draws=FIT_HOUSEHOLDS)
    market = calibrated_model(data, cal)
    launch_gaps(market)
    solved_baseline(market)
    path_inverse(market)
    rate, entry = pass_through(market), entry_backtest(market)
    return {"alpha": cal.parameters["alpha"], "parameters": cal.parameters,
            "objective": cal.optimizer["objective"],  # the sum of squared weighted relative gaps, as fitted
            "achieved": dict(zip(cal.targets["name"], cal.achieved.tolist())),
            "pass_through": rate["pass_through"], "pass_through_median": rate["median"],
            "entry_median": entry["median_abs_log_error"], "entry_bias": entry["mean_log_error"],
            "entry_beyond_x3": entry["beyond_factor_3"], "entry_within_x1_5": entry["within_factor_1_5"],
            "seconds": time.time() - began}


if __name__ == "__main__":
    market_data = load_market(2025)
    for text in sys.argv[1:] or ["0"]:
        print(json.dumps(profile_row(market_data, float(text))), flush=True)
