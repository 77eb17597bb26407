"""Benchmark: counterfactual merger equilibrium, autopact's solve_prices versus PyBLP's compute_prices.

Run from the repository root with the environment that has autopact and pyblp installed:

    /path/to/venv/bin/python benchmarks/bench_equilibrium_blp1995.py [--repeats 7] [--rho 0.4]
        [--blas-threads 1] [--screen]

Data: PyBLP's bundled BLP (1995) automobile data, 20 markets (1971-1990), 2,217 products, 200
simulated agents per market. Model: random-coefficients nested logit (RC logit with --rho 0) with
an income interaction on price, at fixed parameters (alpha = 0.3, pi = 5, sigma = (1.2, 0.8) on hpwt
and space, nests = hpwt above/below its median). The counterfactual merges firm 19 into firm 18.

Both sides solve the zeta-markup fixed point of Morrow and Skerlos (2011) from the observed
(pre-merger, equilibrium) prices, PyBLP's default start. autopact's
solve_prices_markets accelerates it by Anderson's method (its default; also timed with SQUAREM, each
market its own step, as solve_prices) and stops when max_j |FOC_j / s_j| < 1e-12. PyBLP is timed in the settings
of ``PYBLP``: its default ('simple' iteration) and the fastest of its documented settings whose
prices agree with autopact's to 1e-10 (relative) on this problem; --screen times every documented
``Iteration`` method once (the SciPy root finders included, Newton-type 'hybr' and 'lm' with
PyBLP's analytic Jacobian) and prints its time and price difference, which is how ``PYBLP`` was
chosen (about 15 minutes: 'hybr' and 'lm' with PyBLP's analytic Jacobian, built from J x J x J
tensors, take minutes each). Each tolerance is the loosest of 1e-12, 1e-13, 1e-14 that meets the
1e-10 agreement. --loosest applies that rule to both sides in the run: each at the loosest of 1e-10 ...
1e-14 whose prices lie within 1e-10 (relative) of a tight reference (autopact at 1e-14, checked against
PyBLP's SQUAREM at atol 1e-14), chosen by one untimed call each; without it autopact runs at --tol.
Where numba is installed solve_prices_markets evaluates the maps by compiled loops (autopact.model.compiled):
the first call of the process imports numba and loads them from numba's cache (about a second; compiling
them, the first time after an installation or a change to their source, about a minute); that call is
made once before the timed repeats, its time printed, and not counted.
Timed regions: autopact = solve_prices_markets, all 20 markets in one iteration loop (Anderson, and SQUAREM), and
solve_prices market by market (fresh Demand objects each repeat, so no cached taste draws carry
over; the ratio to PyBLP is solve_prices_markets's); PyBLP = results.compute_prices(...). Setup (solving the PyBLP
problem at fixed parameters, share inversion, marginal costs) is not timed. The sides run
interleaved, --repeats times each; medians are reported, of wall time and of processor time (on a
shared machine the wall time also counts waits for a core), and each ratio to PyBLP twice: of the
medians, and the median of the ratios within each repeat (each side's call of the same repeat, made
one after the other). --blas-threads limits BLAS (OpenBLAS)
threads in the whole process (with 1, PyBLP's processor time is its time on one core): PyBLP's
Gamma is a threaded matrix product, which on a busy two-core machine ran several times slower than
on one thread. solve_prices_markets keeps each market's ownership cells from one solve to the next
(``autopact.model.fused``, as draws and sweeps over the same markets meet them again): the timed
repeats find those of the untimed first call; --forget-cells drops them before each timed call.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import pyblp
from threadpoolctl import threadpool_limits

from autopact.model.demand import Demand
from autopact.model.inversion import invert_shares
from autopact.model import fused
from autopact.model.fused import compiled_loops
from autopact.model.markets import solve_prices_markets
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix, solve_prices

ALPHA, PI, SIGMA = 0.3, 5.0, np.array([1.2, 0.8])
CHARACTERISTICS = ["hpwt", "space"]
MERGED_FROM, MERGED_INTO = 19, 18
# PyBLP settings timed by default: its default, and its fastest documented setting (see --screen)
PYBLP = {"simple (default)": ("simple", {"atol": 1e-12}, False),
         "squarem": ("squarem", {"atol": 1e-12}, False)}
SCREEN = [("simple", {"atol": 1e-12}, False), ("squarem", {"atol": 1e-12}, False),
          ("squarem", {"atol": 1e-13}, False), ("df-sane", {"fatol": 1e-14, "maxfev": 600}, False),
          ("hybr", {"xtol": 1e-12}, True), ("hybr", {"xtol": 1e-14}, True), ("lm", {"xtol": 1e-14}, True),
          ("hybr", {"xtol": 1e-12}, False), ("krylov", {"fatol": 1e-12, "maxiter": 40}, False),
          ("broyden1", {"fatol": 1e-12, "maxiter": 40}, False), ("broyden2", {"fatol": 1e-12, "maxiter": 40}, False),
          ("anderson", {"fatol": 1e-12, "maxiter": 40}, False),
          ("diagbroyden", {"fatol": 1e-12, "maxiter": 40}, False)]
# --loosest: tolerances tried, loosest first, and the agreement every side's prices must meet with the
# tight reference (autopact at REFERENCE_TOL, itself checked against PyBLP's SQUAREM at atol REFERENCE_TOL)
LADDER = (1e-10, 1e-11, 1e-12, 1e-13, 1e-14)
AGREEMENT = 1e-10
REFERENCE_TOL = 1e-14


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tol", type=float, default=1e-12, help="autopact's tolerance on max |FOC/s|")
    parser.add_argument("--rho", type=float, default=0.4, help="nesting parameter; 0 gives RC logit")
    parser.add_argument("--blas-threads", type=int, default=None)
    parser.add_argument("--screen", action="store_true", help="time every documented PyBLP Iteration method once")
    parser.add_argument("--loosest", action="store_true",
                        help="each side at the loosest tolerance of LADDER whose prices agree with a tight reference "
                             "to AGREEMENT (relative), chosen in the run: the rule PYBLP's tolerances were chosen by, "
                             "applied to both sides")
    parser.add_argument("--forget-cells", action="store_true",
                        help="drop the ownership cells autopact keeps from one solve to the next before each timed call")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be positive")
    if args.blas_threads:
        threadpool_limits(args.blas_threads, user_api="blas")

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

    def run_ours(batched: bool = True, method: str = "anderson") -> tuple[np.ndarray, int, float, float]:
        demands = [Demand(**item["demand_args"]) for item in inputs]  # fresh caches, built untimed
        if args.forget_cells:
            fused._CELLS.clear()
        out = np.empty(len(products))
        start, cpu = time.perf_counter(), time.process_time()
        if batched:
            found = solve_prices_markets([item["costs"] for item in inputs], [item["xi"] for item in inputs], demands,
                                         [item["ownership"] for item in inputs], [item["taxes"] for item in inputs],
                                         initial=[item["prices"] for item in inputs], tol=args.tol, method=method)
        else:
            found = [solve_prices(item["costs"], item["xi"], demand, item["ownership"], item["taxes"],
                                  initial=item["prices"], tol=args.tol) for item, demand in zip(inputs, demands)]
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        for item, eq in zip(inputs, found):
            out[item["rows"]] = eq.prices
        return out, sum(eq.iterations for eq in found), elapsed, used

    def run_pyblp(method: str, options: dict, jacobian: bool) -> tuple[np.ndarray, float, float]:
        iteration = pyblp.Iteration(method, options, compute_jacobian=jacobian)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start, cpu = time.perf_counter(), time.process_time()
            prices = results.compute_prices(firm_ids=merger_ids, costs=pyblp_costs, iteration=iteration)
            elapsed, used = time.perf_counter() - start, time.process_time() - cpu
            return np.asarray(prices).ravel(), elapsed, used

    model = "RC nested logit" if nested else "RC logit"
    print(f"Merger {MERGED_FROM}->{MERGED_INTO} equilibrium, BLP 1995 data, {model} (rho={args.rho}), "
          f"{len(markets)} markets, {len(products)} products, autopact tol={args.tol:g}, {args.repeats} repeats, "
          f"BLAS threads {args.blas_threads or 'default'}")
    started = time.perf_counter()
    loops = compiled_loops()  # numba's import and the compiled loops, loaded (or compiled) on first use
    ours_prices, iterations, first, _ = run_ours()
    first_call = time.perf_counter() - started
    if loops is None:
        print("autopact: numba is not installed; solve_prices_markets solves by numpy (SortedKernel)")
    else:
        print(f"autopact: compiled loops (numba {loops.numba.__version__}); the first call, which imports numba and "
              f"loads the compiled loops from numba's cache (or compiles them, once per installation), took "
              f"{first_call:.2f} s ({first:.2f} s in the solve: each function loads at its first call) and is NOT "
              "in the timings below")
    reference = loosest_settings(args, run_ours, run_pyblp) if args.loosest else None
    if args.screen:
        print(f"{'PyBLP Iteration (one run each)':<62}{'s':>8}  max relative price difference")
        for method, options, jacobian in SCREEN:
            try:
                prices, elapsed, _ = run_pyblp(method, options, jacobian)
                difference = relative_difference(prices, ours_prices)
                print(f"{method + ' ' + str(options) + (' analytic Jacobian' if jacobian else ''):<62}"
                      f"{elapsed:8.3f}  {difference:.2e}", flush=True)
            except Exception as error:  # a SciPy routine that fails is reported, not fatal
                print(f"{method} {options}: {type(error).__name__}: {error}", flush=True)

    ours = "autopact solve_prices_markets"
    squarem = "autopact solve_prices_markets SQUAREM"
    times: dict[str, list[float]] = {ours: [], squarem: [], "autopact solve_prices, by market": [],
                                     **{name: [] for name in PYBLP}}
    found: dict[str, np.ndarray] = {}
    cpu: dict[str, list[float]] = {name: [] for name in times}
    def record(name: str, elapsed: float, used: float) -> None:
        """One timed call's wall and processor time, under its own name: repeat k of every case is
        element k of its lists, so a ratio of two cases within a repeat pairs calls made back to back."""
        times[name].append(elapsed)
        cpu[name].append(used)

    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit every side alike
        ours_prices, iterations, *timing = run_ours()
        record(ours, *timing)
        found["autopact SQUAREM"], squarem_iterations, *timing = run_ours(method="squarem")
        record(squarem, *timing)
        found["by market"], by_market_iterations, *timing = run_ours(batched=False)
        record("autopact solve_prices, by market", *timing)
        for name, setting in PYBLP.items():
            found[name], *timing = run_pyblp(*setting)
            record(name, *timing)

    # processor time: on a machine shared with other work, wall time also counts the waits for a core
    print(f"{'implementation':<40}{'median s':>10}{'min s':>10}{'max s':>10}{'CPU median s':>14}{'CPU min s':>11}")
    for name, values in times.items():
        print(f"{name:<40}{statistics.median(values):>10.4f}{min(values):>10.4f}{max(values):>10.4f}"
              f"{statistics.median(cpu[name]):>14.4f}{min(cpu[name]):>11.4f}")
    ours_median = statistics.median(times[ours])
    difference = relative_difference(ours_prices, found["by market"])
    print(f"speed ratio, autopact by market / all markets at once (medians): "
          f"{statistics.median(times['autopact solve_prices, by market']) / ours_median:6.1f}x;"
          f" largest relative price difference {difference:.2e}")
    difference = relative_difference(ours_prices, found["autopact SQUAREM"])
    print(f"speed ratio, autopact SQUAREM / Anderson (medians): {statistics.median(times[squarem]) / ours_median:6.1f}x;"
          f" largest relative price difference {difference:.2e}")
    observed = products["prices"].to_numpy(float)
    for name in PYBLP:
        difference = relative_difference(ours_prices, found[name])
        paired = statistics.median(theirs / mine for theirs, mine in zip(times[name], times[ours]))
        paired_cpu = statistics.median(theirs / mine for theirs, mine in zip(cpu[name], cpu[ours]))
        print(f"speed ratio, PyBLP {name} / autopact (medians): {statistics.median(times[name]) / ours_median:6.1f}x"
              f" wall, {statistics.median(cpu[name]) / statistics.median(cpu[ours]):6.1f}x CPU; within each repeat"
              f" (median of {args.repeats}): {paired:6.1f}x wall, {paired_cpu:6.1f}x CPU;"
              f" largest relative price difference {difference:.2e}")
    if reference is not None:
        print("largest relative price difference from the reference: autopact "
              f"{relative_difference(ours_prices, reference):.2e} (SQUAREM "
              f"{relative_difference(found['autopact SQUAREM'], reference):.2e}, by market "
              f"{relative_difference(found['by market'], reference):.2e}), "
              + ", ".join(f"PyBLP {name} {relative_difference(found[name], reference):.2e}" for name in PYBLP))
    change = float(np.max(np.abs(ours_prices - observed) / observed))
    print(f"largest relative price change by merger: {change:.2e}   (autopact iterations, all markets: "
          f"{iterations} at once, {squarem_iterations} at once by SQUAREM, {by_market_iterations} by market)")


def loosest_settings(args: argparse.Namespace, run_ours, run_pyblp) -> np.ndarray:
    """--loosest: sets ``args.tol`` and ``PYBLP``'s tolerances to the loosest of ``LADDER`` whose prices
    agree with the tight reference to ``AGREEMENT`` (one untimed call each) and prints the choices.
    autopact's tolerance bounds max_j |FOC_j / s_j|, PyBLP's the change of the prices between
    iterations: the two ladders mean different things, so only the agreement they reach is compared.
    Returns the reference prices."""
    tol = args.tol
    args.tol = REFERENCE_TOL
    reference = run_ours()[0]
    check = run_pyblp("squarem", {"atol": REFERENCE_TOL}, False)[0]
    if relative_difference(check, reference) > AGREEMENT / 10:  # the reference must be both sides' equilibrium
        raise SystemExit(f"--loosest: PyBLP at atol {REFERENCE_TOL:g} is {relative_difference(check, reference):.1e} "
                         "from autopact's reference: no common equilibrium to measure the tolerances against")
    print(f"--loosest: reference = autopact at tol {REFERENCE_TOL:g}; PyBLP's SQUAREM at atol {REFERENCE_TOL:g} "
          f"agrees to {relative_difference(check, reference):.1e}; each side at the loosest of "
          f"{', '.join(f'{t:g}' for t in LADDER)} within {AGREEMENT:g} of the reference:")

    def loosest(solve) -> tuple[float, float]:
        for candidate in LADDER:
            difference = relative_difference(solve(candidate), reference)
            if difference <= AGREEMENT:
                return candidate, difference
        raise SystemExit(f"--loosest: no tolerance of {LADDER} agrees with the reference to {AGREEMENT:g} "
                         f"({difference:.1e} at the tightest)")

    def ours_at(candidate: float) -> np.ndarray:
        args.tol = candidate
        return run_ours()[0]

    args.tol, difference = loosest(ours_at)
    print(f"  autopact: tol {args.tol:g} (max |FOC/s|), {difference:.1e} from the reference (was {tol:g}); its "
          "SQUAREM and market-by-market solves below take the same tolerance (their distance from the reference "
          "is printed with the ratios)")
    for name, (method, options, jacobian) in list(PYBLP.items()):
        key = "atol" if "atol" in options else next(iter(options))
        chosen, difference = loosest(lambda t: run_pyblp(method, {**options, key: t}, jacobian)[0])
        PYBLP[name] = (method, {**options, key: chosen}, jacobian)
        print(f"  PyBLP {name}: {key} {chosen:g}, {difference:.1e} from the reference (was {options[key]:g})")
    return reference


def relative_difference(prices: np.ndarray, reference: np.ndarray) -> float:
    """The largest relative difference of two price vectors."""
    return float(np.max(np.abs(prices - reference) / np.abs(reference)))


if __name__ == "__main__":
    main()
