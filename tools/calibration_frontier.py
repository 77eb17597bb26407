"""Why the 2025 calibration leaves alpha at its lower bound: the fit with alpha held at larger values.

Re-calibrates the bundled 2025 market with the mean price coefficient alpha fixed at each value
(utility per $10,000) and every other parameter free, and prints the objective and the elasticity
targets achieved. Run: ``python tools/calibration_frontier.py [ALPHA_PER_10K ...]`` (about a minute
per value at 1,000 households). The README's "Known limits of the 2025 calibration" quotes its output.
"""

from __future__ import annotations

import sys

from autopact.data import load_market
from autopact.fit.calibration import FIT_HOUSEHOLDS, calibrate

SHOWN = ("own_elasticity_lexus_ls", "own_elasticity_bmw_7_series", "own_elasticity_nissan_sentra", "aggregate_elasticity",
         "bev_second_choice_hybrid", "buyers_income_below_100k")


def main(values: list[float]) -> None:
    market = load_market()
    print("alpha per $10k | objective | " + " | ".join(SHOWN) + " | pi | sigma_size")
    for per_10k in values:
        fixed = {} if per_10k == 0 else {"alpha": per_10k * 1e-4}
        result = calibrate(market, fixed=fixed, fit_draws=FIT_HOUSEHOLDS)
        achieved = dict(zip(result.targets["name"], result.achieved))
        label = "free" if per_10k == 0 else f"{per_10k:g}"
        print(f"{label} | {result.optimizer['objective'] or 0:.3f} | " + " | ".join(f"{achieved[k]:.3f}" for k in SHOWN)
              + f" | {result.parameters['pi']:.2f} | {result.parameters['sigma_size']:.2f}", flush=True)


if __name__ == "__main__":
    main([float(v) for v in sys.argv[1:]] or [0.0, 0.1, 0.2, 0.4])
