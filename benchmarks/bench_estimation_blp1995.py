"""Benchmark: GMM estimation of RC logit demand on BLP 1995 data, autopact against PyBLP, one run.

Run from the repository root with the environment that has autopact and pyblp installed:

    /path/to/venv/bin/python benchmarks/bench_estimation_blp1995.py [--repeats 3]

Specification (demand side; PyBLP's BLP data, weights normalised to one per market):
X1 = 1 + prices + hpwt + air + mpd + space, X2 = 0 + prices + hpwt, agents 0 + I(1 / income),
sigma on hpwt starting at 1, pi on prices x 1/income starting at -10, one-step GMM with PyBLP's
instruments, L-BFGS-B with gtol 1e-8 on both sides, inversion to 1e-14. Prints median times, the
ratio and the largest relative parameter difference. The joint supply side of PyBLP's tutorial is
not implemented in autopact yet, so it is not benchmarked here.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import pyblp

from autopact.fit.estimation import Problem, estimate

X1, X2, AGENTS = "1 + prices + hpwt + air + mpd + space", "0 + prices + hpwt", "0 + I(1 / income)"
SIGMA, PI = np.diag([0.0, 1.0]), np.array([[-10.0], [0.0]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    pyblp.options.verbose = False
    ours_times, theirs_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = estimate(Problem.build(products, X1, X2, agents, AGENTS), sigma=SIGMA, pi=PI, method="1s", gtol=1e-8)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = pyblp.Problem((pyblp.Formulation(X1), pyblp.Formulation(X2)), products,
                                   pyblp.Formulation(AGENTS), agents).solve(
                sigma=SIGMA, pi=PI, method="1s", optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-8}),
                iteration=pyblp.Iteration("squarem", {"atol": 1e-14}))
        theirs_times.append(time.perf_counter() - start)
    reference = np.r_[theirs.sigma[1, 1], theirs.pi[0, 0], theirs.beta.ravel()]
    mine = np.r_[ours.theta, ours.beta]
    print(f"BLP 1995 RC logit demand (sigma hpwt, pi prices x 1/income), 1-step GMM, {args.repeats} repeats")
    print(f"{'implementation':24s} {'median s':>9s} {'min s':>8s}  objective         converged")
    print(f"{'autopact estimate':24s} {statistics.median(ours_times):9.2f} {min(ours_times):8.2f}  "
          f"{ours.objective:.10g}  {ours.converged}")
    print(f"{'pyblp Problem.solve':24s} {statistics.median(theirs_times):9.2f} {min(theirs_times):8.2f}  "
          f"{float(theirs.objective):.10g}  {bool(theirs.converged)}")
    print(f"speed ratio (PyBLP / autopact, medians): {statistics.median(theirs_times) / statistics.median(ours_times):.1f}x")
    print(f"largest relative parameter difference: {np.max(np.abs(mine - reference) / np.abs(reference)):.1e}")
    print(f"objective evaluations: autopact {ours.evaluations}")


if __name__ == "__main__":
    main()
