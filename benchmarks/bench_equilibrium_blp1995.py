"""Benchmark: counterfactual merger equilibrium, autopact's solve_prices versus PyBLP's compute_prices.

Run from the repository root with the environment that has autopact and pyblp installed:

    /path/to/venv/bin/python benchmarks/bench_equilibrium_blp1995.py [--repeats 7] [--tol 1e-12] [--rho 0.4]

Data: PyBLP's bundled BLP (1995) automobile data, 20 markets (1971-1990), 2,217 products, 200
simulated agents per market. Model: random-coefficients nested logit (RC logit with --rho 0) with
an income interaction on price, at fixed parameters (alpha = 0.3, pi = 5, sigma = (1.2, 0.8) on hpwt
and space, nests = hpwt above/below its median). The counterfactual merges firm 19 into firm 18.

Both sides start from observed prices and use the zeta-markup fixed point of Morrow and Skerlos
(2011) without acceleration. Stopping rules differ in kind but use the same number --tol:
autopact stops when max_j |FOC_j / s_j| < tol; PyBLP ('simple' iteration) when the sup-norm change
in prices between iterations is < tol. Timed regions: autopact = solve_prices over all 20 markets
(fresh Demand objects each repeat, so no cached taste matrices carry over); PyBLP =
results.compute_prices(...). Setup (solving the PyBLP problem at fixed parameters, share inversion,
marginal costs) is not timed. Each side is run --repeats times; medians are reported.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import pyblp

from autopact.model.demand import Demand, invert_shares
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix, solve_prices

ALPHA, PI, SIGMA = 0.3, 5.0, np.array([1.2, 0.8])
CHARACTERISTICS = ["hpwt", "space"]
MERGED_FROM, MERGED_INTO = 19, 18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tol", type=float, default=1e-12)
    parser.add_argument("--rho", type=float, default=0.4, help="nesting parameter; 0 gives RC logit")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be positive")

    pyblp.options.verbose = False
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    agents = agents[["market_ids", "weights", "nodes0", "nodes1", "nodes2", "income"]].copy()
    # autopact requires integration weights that sum to one in each market; both sides get the same.
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    nested = args.rho > 0
    if nested:
        products["nesting_ids"] = (products["hpwt"] > products["hpwt"].median()).astype(int)
    merger_ids = products["firm_ids"].replace(MERGED_FROM, MERGED_INTO).to_numpy()

    # --- PyBLP at fixed parameters -------------------------------------------------------------
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BLP agent weights sum to 0.154 per market; PyBLP warns
        problem = pyblp.Problem(
            (pyblp.Formulation("0 + prices + hpwt + air"),
             pyblp.Formulation("0 + prices + " + " + ".join(CHARACTERISTICS))),
            products, pyblp.Formulation("0 + I(1 / income)"), agents)
        solve_args = dict(sigma=np.diag([0.0, *SIGMA]), pi=np.array([[-PI], [0.0], [0.0]]),
                          beta=[-ALPHA, None, None], method="1s",
                          optimization=pyblp.Optimization("return"),
                          iteration=pyblp.Iteration("squarem", {"atol": 1e-14}),
                          check_optimality="gradient")
        if nested:
            solve_args["rho"] = args.rho
        results = problem.solve(**solve_args)
        pyblp_costs = results.compute_costs()

    # --- autopact inputs per market --------------------------------------------------------------
    market_ids = products["market_ids"].to_numpy()
    markets = list(pd.unique(market_ids))
    inputs = []
    for market in markets:
        rows = market_ids == market
        mp = products.loc[rows]
        ma = agents.loc[agents["market_ids"] == market]
        J = len(mp)
        demand_args = dict(alpha=ALPHA, pi=PI, sigma=SIGMA, rho=args.rho,
                           characteristics=mp[CHARACTERISTICS].to_numpy(float),
                           nests=mp["nesting_ids"].to_numpy() if nested else np.zeros(J, int),
                           weights=ma["weights"].to_numpy(float), income=ma["income"].to_numpy(float),
                           nu=ma[["nodes1", "nodes2"]].to_numpy(float))
        demand = Demand(**demand_args)
        prices = mp["prices"].to_numpy(float)
        delta, _ = invert_shares(mp["shares"].to_numpy(float), prices, demand)
        costs, _ = marginal_costs(prices, delta, demand, ownership_matrix(mp["firm_ids"].to_numpy()),
                                  Taxes.none(J))
        inputs.append(dict(rows=rows, demand_args=demand_args, costs=costs, xi=delta + ALPHA * prices,
                           prices=prices, ownership=ownership_matrix(merger_ids[rows]), taxes=Taxes.none(J)))

    def run_ours() -> tuple[np.ndarray, int, float]:
        demands = [Demand(**item["demand_args"]) for item in inputs]  # fresh caches, built untimed
        out = np.empty(len(products))
        iterations = 0
        start = time.perf_counter()
        for item, demand in zip(inputs, demands):
            eq = solve_prices(item["costs"], item["xi"], demand, item["ownership"], item["taxes"],
                              initial=item["prices"], tol=args.tol)
            out[item["rows"]] = eq.prices
            iterations += eq.iterations
        return out, iterations, time.perf_counter() - start

    def run_pyblp() -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        prices = results.compute_prices(firm_ids=merger_ids, costs=pyblp_costs,
                                        iteration=pyblp.Iteration("simple", {"atol": args.tol}))
        return prices.ravel(), time.perf_counter() - start

    ours_times, pyblp_times = [], []
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both sides alike
        ours_prices, iterations, elapsed = run_ours()
        ours_times.append(elapsed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyblp_prices, elapsed = run_pyblp()
        pyblp_times.append(elapsed)

    ours_median, pyblp_median = statistics.median(ours_times), statistics.median(pyblp_times)
    observed = products["prices"].to_numpy(float)
    difference = float(np.max(np.abs(ours_prices - pyblp_prices) / np.abs(pyblp_prices)))
    change = float(np.max(np.abs(ours_prices - observed) / observed))
    model = "RC nested logit" if nested else "RC logit"

    print(f"Merger {MERGED_FROM}->{MERGED_INTO} equilibrium, BLP 1995 data, {model} (rho={args.rho}), "
          f"{len(markets)} markets, {len(products)} products, tol={args.tol:g}, {args.repeats} repeats")
    print(f"{'implementation':<28}{'median s':>10}{'min s':>10}{'max s':>10}")
    print(f"{'autopact solve_prices':<28}{ours_median:>10.4f}{min(ours_times):>10.4f}{max(ours_times):>10.4f}")
    print(f"{'pyblp compute_prices':<28}{pyblp_median:>10.4f}{min(pyblp_times):>10.4f}{max(pyblp_times):>10.4f}")
    print(f"speed ratio (PyBLP / autopact, medians): {pyblp_median / ours_median:.2f}x")
    print(f"largest relative price difference:       {difference:.2e}")
    print(f"largest relative price change by merger: {change:.2e}   "
          f"(autopact iterations, all markets: {iterations})")


if __name__ == "__main__":
    main()
