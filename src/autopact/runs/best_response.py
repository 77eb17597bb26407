"""Is a solved equilibrium a Nash equilibrium for the entrants? A check of global best responses.

The solver finds prices where every first-order condition holds. Where a firm's profit is not
concave in its own price, a first-order point can be a local maximum that the firm would leave: with
price sensitivity from income (the bundled calibration), the demand a cheap model faces mixes very
price-sensitive low-income buyers with the rest, and its owner's profit can have two peaks, a low
price for many buyers and a high one for few. Then the Nash equilibrium asks for the higher peak.

For each entrant or new product j outside a binding plant or quota (a capacity caps the low-price
deviation, so the unconstrained comparison does not apply), the owner's profit

    pi_f(p_j) = M sum_k Omega_jk (p_k - c_k) s_k(p_j, p_-j)

is evaluated over the grid of p_j the path's start and polish use (``continuation.response_grid``: its
marginal cost times 1.02 to 3, 100 prices; ``continuation.owner_profits``), every other price held at
the equilibrium (a unilateral deviation, Nash's definition), and maximised by a bounded scalar
search between the best grid point's neighbours. A best profit above the equilibrium's by
more than ``TOLERANCE`` (relative) means the solver's point is not a global best response. The check
is a necessary condition only: single-price deviations; a peak narrower than the grid's step could
be missed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from autopact.model.continuation import best_grid_price, owner_profits, response_grid
from autopact.outcomes.state import capped_products, pricing_point

TOLERANCE = 1e-9


def entrant_best_responses(result: Any) -> list[dict[str, Any]]:
    """For each entrant of a ``SimulationResult`` outside a binding plant (and, where a quota is at
    its volume, each US-built one only): its equilibrium
    price and its owner's profit there, the best grid price and the profit there, and whether the
    equilibrium price is a global best response (within ``TOLERANCE``)."""
    market, state = result.market, result.counterfactual
    products = state.products
    prices = products["price"].to_numpy(float)
    capped = capped_products(market, state)
    point = pricing_point(market, state)
    costs = point[0]

    def owner_profits_at(j: int, candidates: Any) -> np.ndarray:
        """The owner's profit at each of ``candidates`` for p_j, others held (``continuation.owner_profits``:
        only product j's utility moves, so the grid takes the sums over households once)."""
        return owner_profits(j, prices, np.atleast_1d(np.asarray(candidates, float)), point, market.demand) \
            * market.market_size

    rows = []
    entrants = products["entrant"].fillna(False).to_numpy(bool) if "entrant" in products.columns else []
    for j in np.flatnonzero(entrants):
        pid = str(products["product_id"].iloc[j])
        if pid in capped:
            continue
        best_price, best, at_equilibrium = best_grid_price(j, prices, point, market.demand)  # profits a household
        best, at_equilibrium = best * market.market_size, at_equilibrium * market.market_size
        grid = response_grid(costs[j])
        k = int(np.argmin(np.abs(grid - best_price)))

        def deviation(candidate: float, j: int = j) -> float:
            return float(owner_profits_at(j, candidate)[0])

        found = minimize_scalar(lambda x: -deviation(x), bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]),
                                method="bounded", options={"xatol": 1.0})
        if -found.fun > best:
            best_price, best = float(found.x), float(-found.fun)
        rows.append({"product_id": pid, "name": str(products["name"].iloc[j]), "price": float(prices[j]),
                     "owner_profit": at_equilibrium, "best_grid_price": best_price, "best_grid_profit": best,
                     "global_best_response": best <= at_equilibrium * (1 + TOLERANCE) + 1e-6})
    return rows
