"""The Newton step of the equilibrium map near a solved equilibrium, for the solves of many draws.

A scenario's draws move costs, taxes and parameters a little; each draw's equilibrium is near the
central one. With F(p) = c + zeta(p) - p (``autopact.model.supply``: F = 0 is the Bertrand FOC), the
matrix H = (I - d zeta/dp)^{-1} at the central equilibrium turns the map into a Newton step,
p + H F(p); ``solve_prices(inverse_jacobian=H)`` starts Broyden's method from it, which updates H
as it goes. d zeta/dp is taken by forward differences, one evaluation of the map per product
(about J + 1 evaluations, once per run), each step 1e-6 of the product's price: enough for a
starting matrix, since the stopping rule is always the FOC's own residual.
"""

from __future__ import annotations

import numpy as np

from autopact.model.demand import Demand
from autopact.model.zeta import FocKernel

RELATIVE_STEP = 1e-6


def inverse_jacobian(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes,
                     prices: np.ndarray) -> np.ndarray:
    """(I - d zeta/dp)^{-1} (J, J) at producer ``prices`` for marginal costs ``costs`` (a shadow cost
    included), from forward differences of c + zeta(p)."""
    kernel = FocKernel(xi, demand, ownership)
    t = 1 + taxes.ad_valorem
    limit_markup = 1.0 / float(demand.weights @ demand.price_sensitivity)

    def mapped(p: np.ndarray) -> np.ndarray:
        s, lam, weighted = kernel.terms(taxes.consumer_prices(p), p - costs)
        live = s > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return costs + np.where(live, (weighted - s / t) / lam, limit_markup)

    prices = np.asarray(prices, float)
    base = mapped(prices)
    derivative = np.empty((len(prices), len(prices)))
    for j in range(len(prices)):
        shifted = prices.copy()
        shifted[j] += RELATIVE_STEP * max(abs(prices[j]), 1.0)
        derivative[:, j] = (mapped(shifted) - base) / (shifted[j] - prices[j])
    return np.linalg.inv(np.eye(len(prices)) - derivative)


class BroydenMatrix:
    """Broyden's inverse matrix carried from one solve to the next: the trials of a shadow-cost
    search differ only in the shadow cost, so the matrix one trial has updated towards the draw's
    equilibrium starts the next one better than the central matrix it came from (the trials near the
    root then converge in fewer evaluations). A solve whose Broyden steps stall hands the central
    matrix to the next, and so does the search's first solve (at zero shadow costs, far from the
    central prices, whose updates made the next trials slower on ford-byd-jv's re-calibrating
    draws: 1,254 map evaluations in 12 draws against 1,050 with the central matrix in every solve,
    1,027 with this reset). ``inverse`` is -H, updated in place by ``solve_prices``."""

    def __init__(self, inverse_jacobian: np.ndarray) -> None:
        self.start = -np.array(inverse_jacobian, float)
        self.inverse = self.start.copy()

    def reset(self) -> None:
        self.inverse = self.start.copy()
