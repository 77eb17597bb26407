"""Benchmark: equilibrium on the bundled 2025 US market, autopact versus PyBLP's compute_prices.

Run from the repository root with the environment that has autopact and pyblp installed:

    /path/to/venv/bin/python benchmarks/bench_equilibrium_2025.py [--households 1000] [--repeats 7]
        [--large 100000] [--pyblp-method squarem] [--pyblp-atol 1e-12] [--blas-threads 1]

Model: RC nested logit by segment on the 2025 market, income-dependent price sensitivity and taste
draws on BEV and size, at fixed parameters (alpha 2e-5 per dollar, pi 6, sigma 1.0 and 1.5, rho 0.3),
households drawn from the Census income distribution. Marginal costs from the FOC at observed
prices. Timed, each --repeats times (interleaved), medians reported:
  * merger: Ford and GM merge, both tools start from observed prices (autopact by FocKernel and, as
    below, by the compiled loops); autopact stops when
    max |FOC_j / s_j| < 1e-12, PyBLP by its own rule (--pyblp-method, --pyblp-atol on the
    Lambda-weighted price change; 'squarem' is the fastest of its documented settings measured on
    the BLP 1995 merger, see bench_equilibrium_blp1995.py); 'simple' (its default) is timed too;
  * cold start: the full 2025 equilibrium from prices = marginal costs (autopact only; goal 20 ms),
    by numpy's FocKernel (``solve_prices``'s default) and, where numba is installed, by its compiled
    loops (``solve_prices(compiled=True)``; the first solve of the process, which imports numba and
    loads the loops from its cache or compiles them, is made before the timed repeats, its time
    printed and not counted);
and, in a fresh process, a cold-start equilibrium with --large households: its time and the peak
resident memory of that process (resource.getrusage, everything included: Python, the market,
the households, share inversion, marginal costs and the solve; goal 2 GB). --blas-threads limits
BLAS threads (both sides, and the --large process): PyBLP's Gamma is a threaded matrix product,
which on a busy two-core machine ran several times slower than on one thread. The processor time
of the autopact cases is printed beside their wall time: on a busy machine the difference is the
time the process waited for a processor.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

from threadpoolctl import threadpool_limits

from autopact.data import income_distribution, load_market
from autopact.fit.calibration import MarketArrays, build_demand
from autopact.model.inversion import invert_shares
from autopact.model.fused import compiled_loops
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


def large(households: int) -> None:
    """One cold-start equilibrium with many households; prints its time and this process's peak RSS."""
    start = time.perf_counter()
    arrays, _, demand, delta, costs = setup(households)
    ready = time.perf_counter()
    eq = solve_prices(costs, delta + demand.alpha * arrays.prices, demand, ownership_matrix(arrays.owners),
                      Taxes.none(len(delta)))
    solved = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux
    print(f"{households:,} households: cold-start equilibrium {solved - ready:.2f} s ({eq.iterations} evaluations, "
          f"max |FOC/s| {eq.max_foc_residual:.1e}); setup (draws, share inversion, costs) {ready - start:.1f} s; "
          f"peak resident memory of the process {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--large", type=int, default=100_000, help="households of the memory run (0: skip it)")
    parser.add_argument("--large-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pyblp-method", default="squarem")
    parser.add_argument("--pyblp-atol", type=float, default=1e-12)
    parser.add_argument("--blas-threads", type=int, default=None)
    args = parser.parse_args()
    if args.blas_threads:
        threadpool_limits(args.blas_threads, user_api="blas")
    if args.large_only:
        large(args.large)
        return
    import pyblp

    arrays, draws, demand, delta, costs = setup(args.households)
    xi = delta + demand.alpha * arrays.prices
    merged = arrays.owners.copy()
    merged[merged == arrays.owner_names.index("General Motors")] = arrays.owner_names.index("Ford Motor Co.")
    omega, own, taxes = ownership_matrix(merged), ownership_matrix(arrays.owners), Taxes.none(len(xi))

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
    settings = {f"pyblp compute_prices ({m})": pyblp.Iteration(m, {"atol": args.pyblp_atol})
                for m in dict.fromkeys([args.pyblp_method, "simple"])}

    started = time.perf_counter()
    solve_prices(costs, xi, demand, own, taxes, compiled=True)  # numba's import and loops, not timed
    if compiled_loops() is None:
        print("autopact: numba is not installed; the compiled cold start solves by numpy (FocKernel)")
    else:
        print(f"autopact: the first compiled solve of the process (numba's import, the loops loaded or compiled) "
              f"took {time.perf_counter() - started:.2f} s; not in the timings below")
    colds = {"autopact cold start": False, "autopact cold start, compiled": True}
    times: dict[str, list[float]] = {name: [] for name in ["autopact merger", "autopact merger, compiled", *settings,
                                                            *colds]}
    cpu: dict[str, list[float]] = {name: [] for name in ["autopact merger", "autopact merger, compiled", *colds]}
    cold_results = {}
    prices: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit every case alike
        start, processor = time.perf_counter(), time.process_time()
        ours = solve_prices(costs, xi, demand, omega, taxes, initial=arrays.prices)
        times["autopact merger"].append(time.perf_counter() - start)
        cpu["autopact merger"].append(time.process_time() - processor)
        start, processor = time.perf_counter(), time.process_time()
        fast_merger = solve_prices(costs, xi, demand, omega, taxes, initial=arrays.prices, compiled=True)
        times["autopact merger, compiled"].append(time.perf_counter() - start)
        cpu["autopact merger, compiled"].append(time.process_time() - processor)
        for name, iteration in settings.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                prices[name] = np.asarray(results.compute_prices(firm_ids=merged, costs=pyblp_costs,
                                                                 iteration=iteration)).ravel()
                times[name].append(time.perf_counter() - start)
        for name, compiled in colds.items():
            start, processor = time.perf_counter(), time.process_time()
            cold_results[name] = solve_prices(costs, xi, demand, own, taxes, compiled=compiled)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - processor)

    print(f"2025 US market: {len(xi)} products, {args.households} households, RC nested logit, "
          f"{args.repeats} repeats (interleaved), BLAS threads {args.blas_threads or 'default'}")
    print(f"{'case':44s} {'median ms':>10s} {'min ms':>9s} {'max ms':>9s} {'median processor ms':>20s}")
    for name, values in times.items():
        used = f"{1e3 * statistics.median(cpu[name]):20.2f}" if name in cpu else ""
        print(f"{name:44s} {1e3 * statistics.median(values):10.2f} {1e3 * min(values):9.2f} {1e3 * max(values):9.2f}"
              f" {used}")
    for mine, result in (("autopact merger", ours), ("autopact merger, compiled", fast_merger)):
        ours_median = statistics.median(times[mine])
        for name in settings:
            difference = np.max(np.abs(result.prices / prices[name] - 1))
            print(f"merger speed ratio, {name} / {mine} (medians): {statistics.median(times[name]) / ours_median:.1f}x;"
                  f" largest relative price difference {difference:.2e}")
    cold, fast = cold_results.values()
    print(f"map evaluations: merger {ours.iterations} (compiled {fast_merger.iterations}), cold start {cold.iterations} (compiled {fast.iterations}); "
          f"cold start median {1e3 * statistics.median(times['autopact cold start']):.1f} ms, compiled "
          f"{1e3 * statistics.median(times['autopact cold start, compiled']):.1f} ms (goal 20 ms); largest relative "
          f"price difference compiled / numpy {np.max(np.abs(fast.prices / cold.prices - 1)):.2e}")
    if args.large:
        threads = ["--blas-threads", str(args.blas_threads)] if args.blas_threads else []
        subprocess.run([sys.executable, __file__, "--large-only", "--large", str(args.large), *threads], check=True)


if __name__ == "__main__":
    main()
