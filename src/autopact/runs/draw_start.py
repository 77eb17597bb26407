"""A solved scenario's Newton matrix for the solves of its draws (``autopact.simulate.NewtonStart``):
the matrix (I - d zeta / dp)^{-1} at the scenario's equilibrium, and where plant capacities bind
there, the border of each (``autopact.model.newton``), so that each draw solves by Broyden's method
from its central result instead of the fixed point from the baseline (``autopact.runs.analyses``)."""

from __future__ import annotations

import dataclasses

from autopact.errors import ConvergenceError
from autopact.model.newton import CapacityStart, border, jacobians
from autopact.model.supply import ownership_matrix, solve_prices
from autopact.outcomes.document import SimulationResult
from autopact.simulate import NewtonStart, plant_constraints


def newton_start(result: SimulationResult, free: bool = False, compiled: bool = False) -> NewtonStart:
    """``_newton_start``; with ``compiled``, the draws solve on numba's compiled map where numba is
    installed (``draw_kernel``; ``runs.analyses.COMPILED_JOBS``)."""
    start = _newton_start(result, free)
    return dataclasses.replace(start, compiled=True) if compiled else start


def _newton_start(result: SimulationResult, free: bool = False) -> NewtonStart:
    """The Newton matrix at a result's counterfactual equilibrium (its marginal costs with any shadow
    cost: price minus markup), about J + 1 evaluations of the map. Where plant capacities bind there
    (and no quota does), the ``newton.Border`` of each (one evaluation each), for the joint solve of
    a draw's prices and shadow costs; with ``free``, also the scenario's equilibrium with every shadow
    cost at zero and its Newton matrix (one solve and J + 1 evaluations more), for the draws whose
    capacity leaves the plant slack."""
    market, solved = result.market, result.counterfactual.products
    prices = solved["price"].to_numpy(float)
    costs = prices - solved["markup"].to_numpy(float)
    omega = ownership_matrix(market.owners, market.kappa)
    matrix, share_derivative = jacobians(costs, market.xi, market.demand, omega, market.taxes, prices)
    binding = {c["name"]: c["shadow_cost_usd"] for c in result.counterfactual.constraints if c.get("binding")}
    plants = {c.name: c for c in plant_constraints(market)} if binding or market.capacities else {}
    if not binding and plants and not any(c.get("jump") for c in result.counterfactual.constraints):
        # every plant slack: its border at zero shadow cost, for the draws that take it over capacity
        slack = tuple(border(name, c.products, 0.0, costs, market.xi, market.demand, omega, market.taxes, prices,
                             share_derivative, market.market_size) for name, c in plants.items())
        return NewtonStart(tuple(solved["product_id"]), matrix, CapacityStart(slack, slack=True))
    if not binding or not all(name in plants for name in binding):
        return NewtonStart(tuple(solved["product_id"]), matrix)
    borders = tuple(border(name, plants[name].products, shadow, costs, market.xi, market.demand, omega,
                           market.taxes, prices, share_derivative, market.market_size)
                    for name, shadow in binding.items())
    capacity = CapacityStart(borders)
    if free:
        free_costs = costs.copy()
        for name, shadow in binding.items():
            free_costs[plants[name].products] -= shadow
        try:
            eq = solve_prices(free_costs, market.xi, market.demand, omega, market.taxes, initial=prices,
                              inverse_jacobian=matrix)
        except ConvergenceError:  # no free start: the slack draws take the search, as without ``free``
            return NewtonStart(tuple(solved["product_id"]), matrix, capacity)
        free_matrix = jacobians(eq.prices - eq.markups, market.xi, market.demand, omega, market.taxes, eq.prices)[0]
        capacity = CapacityStart(borders, eq.prices, free_matrix)
    return NewtonStart(tuple(solved["product_id"]), matrix, capacity)
