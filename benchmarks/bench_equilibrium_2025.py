"""Benchmark: equilibrium on the bundled 2025 US market, autopact versus PyBLP's compute_prices.

Run from the repository root with the environment that has autopact and pyblp installed:

    /path/to/venv/bin/python benchmarks/bench_equilibrium_2025.py [--households 1000] [--repeats 7]

Model: RC nested logit by segment on the 2025 market (263 products), income-dependent price
sensitivity and taste draws on BEV and size, at fixed parameters (alpha 2e-5 per dollar, pi 6,
sigma 1.0 and 1.5, rho 0.3), households drawn from the Census income distribution. Marginal costs
from the FOC at observed prices. Timed, each --repeats times, medians reported:
  * merger: Ford and GM merge, both tools start from observed prices (tol 1e-12 on each side's rule);
  * cold start: the full 2025 equilibrium from prices = marginal costs (autopact only);
and the peak memory of a cold-start equilibrium with 10,000 households (tracemalloc).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pyblp

from autopact.fit.calibration import MarketArrays, build_demand
from autopact.data import income_distribution, load_market
from autopact.model.demand import invert_shares
from autopact.model.households import draw_households
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix, solve_prices

PARAMETERS = {"alpha": 2e-5, "pi": 6.0, "sigma_bev": 1.0, "sigma_size": 1.5, "rho": 0.3}


def setup(households: int):
    arrays = MarketArrays.from_market(load_market(2025))
    draws = draw_households(income_distribution(), households, 2, seed=0)
    demand = build_demand(PARAMETERS, arrays, draws)
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand)
    costs, _ = marginal_costs(arrays.prices, delta, demand, ownership_matrix(arrays.owners), Taxes.none(len(delta)))
    return arrays, draws, demand, delta, costs


def timed(function, repeats: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    arrays, draws, demand, delta, costs = setup(args.households)
    xi = delta + demand.alpha * arrays.prices
    merged = arrays.owners.copy()
    merged[merged == arrays.owner_names.index("General Motors")] = arrays.owner_names.index("Ford Motor Co.")
    omega = ownership_matrix(merged)
    taxes = Taxes.none(len(xi))

    product_data = pd.DataFrame({
        "market_ids": 2025, "firm_ids": arrays.owners, "shares": arrays.shares, "prices": arrays.prices,
        "bev": arrays.characteristics[:, 0], "size": arrays.characteristics[:, 1], "nesting_ids": arrays.nests})
    agent_data = pd.DataFrame({"market_ids": 2025, "weights": draws.weights, "income": draws.income,
                               "nodes0": 0.0, "nodes1": draws.nu[:, 0], "nodes2": draws.nu[:, 1]})
    pyblp.options.verbose = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problem = pyblp.Problem((pyblp.Formulation("0 + prices"), pyblp.Formulation("0 + prices + bev + size")),
                                product_data, pyblp.Formulation("0 + I(1 / income)"), agent_data)
        results = problem.solve(sigma=np.diag([0.0, PARAMETERS["sigma_bev"], PARAMETERS["sigma_size"]]),
                                pi=np.array([[-PARAMETERS["pi"]], [0.0], [0.0]]), rho=PARAMETERS["rho"],
                                beta=[-PARAMETERS["alpha"]], method="1s", optimization=pyblp.Optimization("return"),
                                iteration=pyblp.Iteration("squarem", {"atol": 1e-14}), check_optimality="gradient")
        pyblp_costs = results.compute_costs()
        iteration = pyblp.Iteration("simple", {"atol": 1e-12})
        pyblp_times, pyblp_prices = timed(lambda: results.compute_prices(
            firm_ids=merged, costs=pyblp_costs, iteration=iteration), args.repeats)
    ours_times, ours = timed(lambda: solve_prices(costs, xi, demand, omega, taxes, initial=arrays.prices),
                             args.repeats)
    cold_times, cold = timed(lambda: solve_prices(costs, xi, demand, ownership_matrix(arrays.owners), taxes),
                             args.repeats)
    difference = np.max(np.abs(ours.prices / np.asarray(pyblp_prices).ravel() - 1))

    big = setup(10_000)
    tracemalloc.start()
    big_eq = solve_prices(big[4], big[3] + big[2].alpha * big[0].prices, big[2], ownership_matrix(big[0].owners),
                          Taxes.none(len(big[3])))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    print(f"2025 US market: {len(xi)} products, {args.households} households, RC nested logit, {args.repeats} repeats")
    print(f"{'case':44s} {'median s':>10s} {'min s':>9s} {'max s':>9s}")
    for name, times in (("merger Ford+GM, autopact (SQUAREM zeta)", ours_times),
                        ("merger Ford+GM, pyblp compute_prices", pyblp_times),
                        ("full equilibrium from costs, autopact", cold_times)):
        print(f"{name:44s} {statistics.median(times):10.4f} {min(times):9.4f} {max(times):9.4f}")
    print(f"speed ratio on the merger (PyBLP / autopact, medians): "
          f"{statistics.median(pyblp_times) / statistics.median(ours_times):.2f}x")
    print(f"largest relative price difference: {difference:.2e}; map evaluations: merger {ours.iterations}, "
          f"cold start {cold.iterations}")
    print(f"10,000 households: cold-start equilibrium peak traced memory {peak / 2**20:.0f} MiB "
          f"({big_eq.iterations} evaluations)")


if __name__ == "__main__":
    main()
