"""Write tests/fixtures/pyblp_blp1995_supply.json: PyBLP's estimates of BLP (1995) with a supply side.

The expensive PyBLP run (about 10 minutes on a 2-core machine) is cached so that CI can compare
autopact's estimates with PyBLP's without re-running it. Run from the repository root:

    /path/to/venv/bin/python tools/make_pyblp_fixture.py

Specification: PyBLP's tutorial (X1 1 + hpwt + air + mpd + space; X2 1 + prices + hpwt + air +
mpd + space; X3 1 + log(hpwt) + air + log(mpg) + log(space) + trend; agents 0 + I(1 / income);
log costs; starting sigma diag(3.612, 0, 4.628, 1.818, 1.050, 2.056), pi on prices -43.501),
two-step GMM, robust weights and standard errors, L-BFGS-B with gtol 1e-8, SQUAREM inversion to
1e-14, agent weights normalised to one per market (as autopact requires).
"""

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyblp

SPEC = {"x1": "1 + hpwt + air + mpd + space", "x2": "1 + prices + hpwt + air + mpd + space",
        "x3": "1 + log(hpwt) + air + log(mpg) + log(space) + trend", "demographics": "0 + I(1 / income)",
        "sigma": [3.612, 0, 4.628, 1.818, 1.050, 2.056], "pi_prices": -43.501, "method": "2s", "gtol": 1e-8}


def main() -> None:
    pyblp.options.verbose = False
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    problem = pyblp.Problem((pyblp.Formulation(SPEC["x1"]), pyblp.Formulation(SPEC["x2"]), pyblp.Formulation(SPEC["x3"])),
                            products, pyblp.Formulation(SPEC["demographics"]), agents, costs_type="log")
    pi = np.zeros((6, 1))
    pi[1, 0] = SPEC["pi_prices"]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = problem.solve(sigma=np.diag(SPEC["sigma"]), pi=pi, method=SPEC["method"],
                                optimization=pyblp.Optimization("l-bfgs-b", {"gtol": SPEC["gtol"]}),
                                iteration=pyblp.Iteration("squarem", {"atol": 1e-14}))
    seconds = time.perf_counter() - start
    free = np.flatnonzero(SPEC["sigma"])
    record = {
        "spec": SPEC, "pyblp_version": pyblp.__version__, "seconds": seconds, "converged": bool(results.converged),
        "objective": float(results.objective),
        "theta": [float(results.sigma[k, k]) for k in free] + [float(results.pi[1, 0])],
        "theta_se": [float(results.sigma_se[k, k]) for k in free] + [float(results.pi_se[1, 0])],
        "beta": results.beta.ravel().tolist(), "beta_se": results.beta_se.ravel().tolist(),
        "gamma": results.gamma.ravel().tolist(), "gamma_se": results.gamma_se.ravel().tolist(),
    }
    path = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pyblp_blp1995_supply.json"
    path.write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
