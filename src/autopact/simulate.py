"""The simulate pipeline: a scenario on a market, solved against its baseline in the same run.

    baseline       = solve(market)
    counterfactual = solve(apply(scenario, market))
    result         = SimulationResult(...)  ->  result_json(result)

``solve`` finds the multiproduct Bertrand-Nash equilibrium of a ``MarketModel`` (profit-weight
ownership, quotas and plant capacities as constraints with shadow costs) and measures what the
outcomes need: units q_j = M s_j, profit (p_j - c_j) q_j, tariff revenue (tau_j v_j + T_j) q_j,
US-assembled units, and consumer surplus per household, log(1 + sum_g exp(IV_ig)) / alpha_i
(Small and Rosen 1981; only changes are meaningful).

A tariff-rate quota is solved by regime: all imports at the in-quota rate if they stay below the
quota, all at the full rate if they exceed it then, otherwise exactly at the quota with a shadow
cost (``autopact.model.constrained.solve_constrained``).
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import pandas as pd

from autopact.data import load_market
from autopact.data.cache import blas_signature, cache_dir, cached, stored, value_digest
from autopact.data.tariffs import US
from autopact.errors import ScenarioError
from autopact.fit.stored_calibration import calibrated_market
from autopact.fit.estimated import estimated_market
from autopact.fit.market import MarketModel, calibrated_model
from autopact.model.demand import log_sum
from autopact.model.newton import CapacityStart
from autopact.model.constrained import CapacityConstraint, before_search, solve_constrained
from autopact.model.continuation import continued_prices
from autopact.model.supply import ownership_matrix, solve_prices
from autopact.outcomes.document import SimulationResult
from autopact.outcomes.state import State
from autopact.policy.launch import launch_gaps
from autopact.policy.levers import apply, check_costs, path_inverse
from autopact.policy.scenario import Scenario


JUMP_NOTE = {"jump": True, "note": ("below capacity at a jump: no shadow cost meets the capacity exactly, because "
                                    "the price game's equilibrium leaps from over the capacity to under it as the "
                                    "shadow cost rises past the one shown (several equilibria; "
                                    "autopact.model.constrained.solve_constrained); the feasible side is reported")}

def market_for(scenario: Scenario, households: int = 1000, household_seed: int = 0) -> MarketModel:
    """The market a scenario runs on: its estimation's market, or the calibrated data-year market
    under the scenario's market assumptions (``households`` simulated households, seeded).

    A calibrated market is kept in the disk cache (``autopact.data.cache``) with what is derived
    from it once, the launch gaps and the solved baseline (``solved_baseline``): a later run of
    the same code and data on the same year, assumptions, households and seed reads it instead of
    loading, re-inverting and solving again (seconds), and gets the same numbers to the bit."""
    if scenario.estimation is not None:
        return estimated_market(scenario.estimation)
    market = cached("calibrated-market", _market_key(scenario, households, household_seed),
                    lambda: _calibrated(scenario, households, household_seed))
    return carried(market, scenario.baseline_year, scenario.paths) if scenario.baseline_year else market


def market_cached(scenario: Scenario, households: int = 1000, household_seed: int = 0) -> bool:
    """Whether ``market_for`` reads the scenario's calibrated market from the disk cache rather than
    calibrating it (seconds to a minute); False for a market of an estimation."""
    return scenario.estimation is None and stored("calibrated-market", _market_key(scenario, households, household_seed))


def _market_key(scenario: Scenario, households: int, household_seed: int) -> dict:
    return {"year": scenario.year, "assumptions": scenario.assumptions, "households": households,
            "household_seed": household_seed, "blas": blas_signature()}  # the baseline's solve rounds by the BLAS


def carried(market: MarketModel, year: int, paths: dict[str, float] | None = None) -> MarketModel:
    """The data year's calibrated market carried to ``year`` by the bundled policy timeline (the
    tariff stack, the EV credit and the rules in force that year, ``autopact.policy.dated``) and
    the exogenous paths at ``paths`` quantiles (default central); the market itself for the data
    year or a market already carried there. Its document says which baseline year it is
    (``baseline_year``, ``baseline_label``, and ``paths`` where not central)."""
    paths = dict(paths or {})
    here = market.document.get("baseline_year", scenario_year(market))
    if here == year and market.document.get("paths", {}) == (paths if year != scenario_year(market) else {}):
        return market
    if market.document.get("baseline_year") is not None:
        raise ScenarioError(f"baseline_year: the market is already carried to {market.document['baseline_year']}")
    if year == scenario_year(market):
        return market
    base = Scenario(name=f"baseline-{year}", policy_year=year, paths=paths)
    moved = apply(base, market)
    label = f"{year} baseline (the {scenario_year(market)} calibration carried by the policy timeline)"
    changes: dict = {"document": {**moved.document, "baseline_year": year, "baseline_label": label,
                                  **({"paths": paths} if paths else {})}}
    if market.data is not None and len(moved.products) != len(market.data.products):  # rows barred by a rule
        kept = market.data.products["product_id"].isin(moved.products["product_id"]).to_numpy()
        changes["data"] = dataclasses.replace(market.data, products=market.data.products[kept].reset_index(drop=True))
    if moved.before is not None:  # the year's prices: the equilibrium the path from the data year's leads to
        changes.update(initial_prices=solved(moved).products["price"].to_numpy(float), before=None)  # disk-cached
    return moved.with_products(**changes)


def scenario_year(market: MarketModel) -> int | None:
    """The data year of a calibrated market, else None."""
    return market.data.facts.year if market.data is not None else None


def _calibrated(scenario: Scenario, households: int, household_seed: int) -> MarketModel:
    data = load_market(scenario.year, assumptions=scenario.assumptions)
    market = calibrated_model(data, calibrated_market(data, draws=households, seed=household_seed))
    if cache_dir() is not None:  # derived now, so the cache entry holds them for every later run
        launch_gaps(market)
        solved_baseline(market)
        path_inverse(market)
    return market


# The fields of a MarketModel that ``solve`` reads (``tests/runs/test_cached_solve.py`` checks that it
# reads no other): the disk-cache key of a solved state (``solve_key``) hashes exactly these.
SOLVE_INPUTS = ("products", "origin", "xi", "costs", "demand", "taxes", "initial_prices", "market_size", "owners",
                "kappa", "capacities", "quotas", "money", "stakes", "before")
SOLVED_KEEP = 64  # solved states kept in the disk cache (about 0.17 MB each): recent scenarios and their variants


def solve_key(market: MarketModel) -> dict[str, Any]:
    """The disk-cache key of ``solve(market)``: the SHA-256 of the ``SOLVE_INPUTS`` pickled without
    a memo, and the BLAS libraries with their thread counts (``blas_signature``: they round the
    solve's products); the package's code and library versions are added by ``autopact.data.cache``.

    Without a memo every object is written out in full wherever it occurs, so the bytes depend on
    the values alone, not on which equal objects happen to be one object: a market freshly
    calibrated and the same market read back from the cache get one key (with the memo they got
    two). Equal bytes load as equal inputs, which give the same equilibrium to the bit."""
    inputs = value_digest(tuple(getattr(market, name) for name in SOLVE_INPUTS))  # cyclic: ValueError, ``solved`` solves
    return {"fields": SOLVE_INPUTS, "inputs": inputs, "blas": blas_signature()}


def solved(market: MarketModel) -> State:
    """``solve(market)``, kept in the disk cache (``autopact.data.cache``) under ``solve_key``.

    A scenario's central equilibrium takes most of a warm ``autopact simulate`` (ford-byd-jv: 65
    evaluations of the map in the plant's shadow-cost search, about half a second), and the same
    scenario on the same market is solved again run after run (a report, the web app, a script).
    The entry holds the State the solve returned, so a run that reads it writes the document a
    run that solves does, to the bit; a changed scenario, market, calibration or code gives
    another key and is solved."""
    try:
        key = solve_key(market)
    except (ValueError, TypeError, pickle.PicklingError, RecursionError):  # inputs that cannot be keyed: solve
        return solve(market)
    return cached("solved-state", key, lambda: solve(market), keep=SOLVED_KEEP)


def solved_baseline(market: MarketModel) -> State:
    """``solve(market)``, once per market (kept in ``market.cache``, so cached markets bring theirs)."""
    if "baseline" not in market.cache:
        market.cache["baseline"] = solve(market)
    return market.cache["baseline"]


@dataclasses.dataclass(frozen=True)
class NewtonStart:
    """A solved scenario's Newton matrix (``autopact.model.newton``), for the solves of its draws:
    it applies to a market with the same products in the same order."""

    product_ids: tuple[str, ...]
    inverse_jacobian: np.ndarray
    capacity: CapacityStart | None = None  # where plant capacities bind there (``newton.at_capacity``)
    # the draws' maps in numba's compiled loops (``draw_kernel``), for runs long enough to pay for loading them
    compiled: bool = False

    def matrix_for(self, market: MarketModel) -> np.ndarray | None:
        same = tuple(market.products["product_id"]) == self.product_ids
        return self.inverse_jacobian if same else None

    def capacity_for(self, constraints: list[CapacityConstraint]) -> CapacityStart | None:
        """The capacity start, where the draw's constraints include each of its borders on the same products."""
        if self.capacity is None:
            return None
        mine = {c.name: c.products for c in constraints}
        same = all(b.name in mine and np.array_equal(mine[b.name], b.products) for b in self.capacity.borders)
        return self.capacity if same else None


def plant_constraints(market: MarketModel) -> list[CapacityConstraint]:
    """The market's plant capacities as constraints of its equilibrium (``solve``)."""
    ids = market.products["product_id"]
    return [CapacityConstraint(f"plant: {plant}", np.flatnonzero(ids.isin(members).to_numpy()), capacity)
            for plant, members, capacity in market.capacities]


def simulate(scenario: Scenario, market: MarketModel | None = None, initial_prices: dict[str, float] | None = None,
             baseline: State | None = None, households: int = 1000, household_seed: int = 0,
             newton: NewtonStart | None = None, cache: bool = False) -> SimulationResult:
    """The scenario's equilibrium and its baseline's, from one market (``market_for`` by default).

    ``initial_prices`` (product_id -> price) starts the scenario's fixed point there; ``baseline``,
    the already solved ``solve(market)``, spares solving it again (variants of one scenario);
    ``newton`` (a draw: its central result's ``newton_start``) solves by Broyden's method from it;
    ``cache`` reads the scenario's equilibrium from the disk cache, or solves and keeps it there
    (``solved``: central results, which runs solve again; draws, each solved once, leave it off).
    """
    if market is None:
        market = market_for(scenario, households, household_seed)
    elif scenario.estimation is not None and market.kind != "estimated":
        raise ScenarioError(f"estimation: scenario {scenario.name!r} runs on a market of {scenario.estimation.result}; "
                            "pass that market (autopact.fit.estimated.estimated_market) or none")
    if scenario.baseline_year is not None and market.kind != "estimated":  # e.g. a draw's re-calibrated market
        moved = carried(market, scenario.baseline_year, scenario.paths)
        if moved is not market:  # a baseline solved on the market given is not this one's
            market, baseline = moved, None
    # a draw solves from its central result's Newton matrix and never takes the equilibrium path, so its
    # market leaves out the path's start (its own Newton matrix, 0.3 s a re-calibrated draw), unless its
    # products differ from the central result's (then no matrix applies and it is solved as a central one)
    counterfactual_market = apply(scenario, market, initial_prices, path=newton is None)
    if newton is not None and newton.matrix_for(counterfactual_market) is None:
        counterfactual_market = apply(scenario, market, initial_prices)
    baseline = baseline if baseline is not None else solve(market)
    counterfactual = solved(counterfactual_market) if cache and newton is None else solve(counterfactual_market, newton)
    return SimulationResult(scenario, market, counterfactual_market, baseline, counterfactual)


def draw_kernel(xi: np.ndarray, demand, ownership: np.ndarray, taxes, costs: np.ndarray,
                compiled: bool = False) -> Any:
    """The kernel of a draw's equilibrium solves (those with a ``NewtonStart``), where SortedKernel
    covers the market (one level of nests, one block of households: the 2025 market): with
    ``compiled``, the map in numba's compiled loops (``model.draw_map.CompiledMap``, an evaluation in
    about 0.45 of FocKernel's time) where numba is installed, else ``SortedKernel`` (about three
    quarters); else None (``FocKernel``). Their numbers are FocKernel's up to rounding (about 1e-15 relative), which moves a
    draw's prices by less than its solver's tolerance; the central results (the golden files) keep
    FocKernel. Each draw makes its own, so a draw depends on (Shared, Job) alone and serial and Dask
    runs agree to the bit."""
    from autopact.model.draw_map import compiled_map
    from autopact.model.sorted_kernel import SortedKernel, supports

    if not supports(demand, len(xi)):
        return None
    kernel = compiled_map(xi, demand, ownership, taxes, costs) if compiled else None
    return SortedKernel(xi, demand, ownership) if kernel is None else kernel


def solve(market: MarketModel, newton: NewtonStart | None = None) -> State:
    """Solve the Bertrand-Nash equilibrium of the market (with its quotas and capacities) and measure it.

    With ``newton`` (a draw), every solve runs Broyden's method from its matrix, and a constrained
    equilibrium starts at the market's initial prices (without, at cost, as the golden results'
    iteration counts record). Shadow costs come from the secant search
    (``autopact.model.constrained.solve_constrained``)."""
    products, origin, xi, costs = market.products, market.origin, market.xi, market.costs
    jacobian = None if newton is None else newton.matrix_for(market)
    demand, taxes, initial, market_size = market.demand, market.taxes, market.initial_prices, market.market_size
    omega = ownership_matrix(market.owners, market.kappa)
    kernel = None if jacobian is None else draw_kernel(xi, demand, omega, taxes, costs, newton.compiled)
    constraints = plant_constraints(market)
    rates = products["tariff_rate"].to_numpy(float).copy()
    jumps: list[float] = []
    ended: list[float] = []
    followed: list[tuple[np.ndarray, Any]] = []  # each path's costs and equilibrium

    def equilibrium(at_costs: np.ndarray) -> Any:
        """The equilibrium at ``at_costs``: by continuation from the market before the scenario where
        there is one and this is not a draw (``autopact.model.continuation``), else from ``initial``.
        A path is followed once for given costs (a quota at its volume asks the in-quota costs again
        after the full costs: its regime's solve, then the path without limits)."""
        if market.before is None or jacobian is not None:
            return solve_prices(at_costs, xi, demand, omega, taxes, initial=initial, inverse_jacobian=jacobian,
                                kernel=kernel)
        for costs_followed, found_before in followed:
            if np.array_equal(costs_followed, at_costs):
                return found_before
        found = continued_prices(at_costs, xi, demand, omega, taxes, market.before, initial)
        jumps.extend(found.jumps)
        if found.ended is not None:
            ended.append(found.ended)
        followed.append((at_costs.copy(), dataclasses.replace(found.equilibrium, iterations=found.evaluations)))
        return followed[-1][1]

    regimes = []
    for quota in market.quotas:
        in_group = (origin.get(quota.origin, pd.Series(0.0, index=origin.index)).to_numpy() == 1.0)
        if quota.powertrain:
            in_group &= products["powertrain"].isin(quota.powertrain).to_numpy()
        value = products["customs_value"].to_numpy(float)
        group = np.flatnonzero(in_group & quota.in_price_band(value))
        full_cost = costs.copy()
        low_cost = costs.copy()
        low_cost[group] = costs[group] + value[group] * (quota.in_quota_pct / 100 - rates[group])
        check_costs(products, low_cost, xi, market.money)
        low = equilibrium(low_cost)
        if market_size * low.shares[group].sum() <= quota.quantity:
            costs, regime = low_cost, "below quota: all imports at the in-quota rate"
            rates[group] = quota.in_quota_pct / 100
        else:
            high = equilibrium(full_cost)
            if market_size * high.shares[group].sum() >= quota.quantity:
                regime = "above quota: the marginal import pays the full rate"
            else:
                costs, regime = low_cost, "at quota: imports equal the quota, rationed by a shadow cost"
                rates[group] = quota.in_quota_pct / 100
                constraints.append(CapacityConstraint(f"quota: {quota.name}", group, quota.quantity))
        regimes.append({"name": quota.name, "products": len(group), "quantity": quota.quantity,
                        "in_quota_pct": quota.in_quota_pct, "regime": regime, "group": group,
                        **{k: getattr(quota, k) for k in ("price_cap_usd", "price_above_usd") if getattr(quota, k)},
                        "full_rates": products["tariff_rate"].to_numpy(float)[group]})
    free = None
    if constraints and jacobian is None and market.before is not None:
        free = equilibrium(costs)  # the path without the limits: where none binds, it is the equilibrium
        if all(c.units(free.shares, market_size) <= c.capacity for c in constraints):
            eq, evaluations = free, free.iterations
            constraint_report = [{"name": c.name, "binding": False, "shadow_cost_usd": 0.0,
                                  "units": c.units(free.shares, market_size), "capacity": c.capacity}
                                 for c in constraints]
            constraints = []
        else:
            initial = free.prices  # the shadow-cost search starts at the path's end
    if constraints:
        start = None if jacobian is None else newton.capacity_for(constraints)
        result, spent = None, 0
        if kernel is not None and initial is not None:  # a draw: its joint solve, or the search's first trial
            result, initial, spent = before_search(costs, xi, demand, omega, taxes, constraints, market_size, initial,
                                                   jacobian, start, kernel)
        if result is None:
            result = solve_constrained(costs, xi, demand, omega, taxes, constraints, market_size,
                                       initial=None if jacobian is None and free is None else initial,
                                       inverse_jacobian=jacobian, search="secant",
                                       capacity_start=start if kernel is None else None,
                                       spent=spent + (0 if free is None else free.iterations))
        eq = result.equilibrium
        evaluations = result.evaluations
        constraint_report = [{"name": c.name, "binding": result.binding[c.name],
                              "shadow_cost_usd": result.shadow_costs[c.name], "units": result.units[c.name],
                              "capacity": c.capacity, **(JUMP_NOTE if result.jumps.get(c.name) else {})}
                             for c in constraints]
    elif free is None:
        eq = equilibrium(costs)
        evaluations = eq.iterations
        constraint_report = []
    for r in regimes:
        report = next((c for c in constraint_report if c["name"] == f"quota: {r['name']}"), None)
        if report is not None:
            r["shadow_cost_usd"] = report["shadow_cost_usd"]
            gap = (r["full_rates"] - r["in_quota_pct"] / 100) * products["customs_value"].to_numpy(float)[r["group"]]
            over = int((gap < report["shadow_cost_usd"]).sum())
            if over:
                r["warning"] = (f"the quota's shadow cost exceeds the full-tariff saving of {over} of its "
                                f"{len(r['group'])} products; their marginal units would rather pay the full "
                                "tariff, which this one-price quota model does not capture (it overstates "
                                "their cost at the margin)")
    units = market_size * eq.shares
    value = products["customs_value"].to_numpy(float)
    revenue = (rates * value + products["tariff_specific"].to_numpy(float)) * units
    quota_rent = np.zeros(len(products))
    for r in regimes:  # above quota: the quota's units pay the in-quota rate (the rent goes to importers)
        if r["regime"].startswith("above"):
            g = r["group"]
            imports = units[g].sum()
            in_share = r["quantity"] / imports if imports > 0 else 0.0
            paid = (in_share * r["in_quota_pct"] / 100 + (1 - in_share) * r["full_rates"]) * value[g] * units[g]
            quota_rent[g] = revenue[g] - paid
            revenue[g] = paid
    us_share = origin[US].to_numpy() if US in origin.columns else np.zeros(len(products))
    # products.assign(...) in one DataFrame: the same frame in a third of the time (a draw solves one)
    solved = pd.DataFrame({**{column: products[column] for column in products.columns}, **dict(
        tariff_rate=rates, price=eq.prices, consumer_price=eq.consumer_prices, units=units, cost=costs,
        markup=eq.markups, profit=(eq.prices - costs) * units + quota_rent, tariff_revenue=revenue,
        us_assembled_units=us_share * units)}, index=products.index)
    per_household = log_sum(xi - demand.alpha * eq.consumer_prices, eq.consumer_prices, demand) / demand.price_sensitivity
    # iterations: the evaluations of the map that found the equilibrium (with a shadow-cost search, all
    # its solves: ford-geely-jv's JV plant 87, its last solve at the shadow cost found 1)
    solver = {"converged": bool(eq.converged), "iterations": int(evaluations),
              "max_foc_residual": float(eq.max_foc_residual), "priced_out": [products["name"].iloc[j] for j in eq.priced_out],
              **({"path_jumps": jumps} if jumps else {}), **({"path_ended": ended} if ended else {})}
    for r in regimes:
        r.pop("group"), r.pop("full_rates")
    return State(solved, per_household, market.stakes, solver, constraint_report + regimes, origin)
