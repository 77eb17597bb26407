"""Entry on a two-household market against best responses found without the package's solver (audit
#28): an incumbent (one firm, one product) sells to a household at $40k and one at $80k; a cheaper
rival enters. The Bertrand-Nash prices of ``solve_prices``, before and after entry, with price
sensitivity from income (pi / y_i) and with one sensitivity for both (their mean: plain logit), equal
the fixed point of each firm's profit-maximising price found by a grid and scalar search on profits
written out here by the logit formula, household by household.

Here entry lowers the incumbent's price under both forms, by more with income (-$5,670 against -$2,100):
the incumbent's poor buyers are few and the rival takes buyers of both. Which way an incumbent moves
depends on how much more of its price-sensitive buyers an entrant takes (on the 2025 market most
incumbents hold their price and some raise it: ``autopact validate``'s price signs, each explained).
"""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from autopact.model.demand import Demand
from autopact.model.supply import Taxes, ownership_matrix, solve_prices

INCOME = np.array([40_000.0, 80_000.0])
WEIGHTS = np.array([0.5, 0.5])
PI = 3.0
XI = np.array([2.0, 1.0])  # the incumbent, the cheaper entrant
COSTS = np.array([20_000.0, 9_000.0])


def _demand(pi: float, alpha: float, products: int) -> Demand:
    return Demand(alpha=alpha, pi=pi, sigma=np.zeros(1), rho=0.0, characteristics=np.zeros((products, 1)),
                  nests=np.zeros(products, int), weights=WEIGHTS, income=INCOME, nu=np.zeros((2, 1)))


def _shares(prices: np.ndarray, sensitivity: np.ndarray) -> np.ndarray:
    """s_j = sum_i w_i exp(xi_j - a_i p_j) / (1 + sum_k exp(xi_k - a_i p_k)), by hand."""
    v = np.exp(XI[: len(prices)][None, :] - sensitivity[:, None] * prices[None, :])
    return WEIGHTS @ (v / (1.0 + v.sum(axis=1, keepdims=True)))


def _best_responses(sensitivity: np.ndarray, products: int) -> np.ndarray:
    """Nash prices of single-product firms: each firm's profit-maximising price, others held (its global
    peak on a grid from cost to 6 x cost, refined by a bounded scalar search), iterated to a fixed point."""
    prices = COSTS[:products] * 1.3
    for _ in range(200):
        before = prices.copy()
        for j in range(products):
            def loss(p, j=j):
                trial = prices.copy()
                trial[j] = p
                return -(p - COSTS[j]) * _shares(trial, sensitivity)[j]
            grid = np.linspace(COSTS[j], 6 * COSTS[j], 2001)
            best = grid[int(np.argmin([loss(p) for p in grid]))]
            step = grid[1] - grid[0]
            prices[j] = minimize_scalar(loss, bounds=(best - step, best + step), method="bounded",
                                        options={"xatol": 1e-9}).x
        if np.max(np.abs(prices - before)) < 1e-6:
            return prices
    raise AssertionError("best responses did not settle")


@pytest.mark.parametrize("form, rise", [("income", -5669.0), ("logit", -2098.0)])
def test_entry_prices_are_the_fixed_point_of_best_responses_found_by_search(form, rise):
    income_sensitivity = PI / INCOME
    if form == "income":  # alpha at the calibration's lower bound, as bundled
        pi, alpha = PI, 1e-12
        sensitivity = alpha + income_sensitivity
    else:  # one sensitivity for both households, the mean of the income form's
        pi, alpha = 0.0, float(WEIGHTS @ income_sensitivity)
        sensitivity = np.full(2, alpha)
    prices = {}
    for products in (1, 2):
        solved = solve_prices(COSTS[:products], XI[:products], _demand(pi, alpha, products),
                              ownership_matrix(np.arange(products)), Taxes.none(products), tol=1e-13)
        np.testing.assert_allclose(solved.prices, _best_responses(sensitivity, products), rtol=1e-7)
        prices[products] = solved.prices
    assert prices[2][0] - prices[1][0] == pytest.approx(rise, abs=1.0)
