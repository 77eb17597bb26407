"""A scenario's equilibrium by continuation from the market before it: the equilibrium selection rule.

With price sensitivity from income a cheap model's owner can have two profit peaks, and the 2025
price game has several Nash equilibria (README, "Several equilibria"). A fixed-point search started
at today's prices need not stay near them: on the ninth session's calibration an imported BYD Dolphin
selling 200 cars moved the Elantra hybrid -$3,260 and the K4 +$2,294 by SQUAREM on the zeta map (today's
equilibrium repels that map there), and in ford-byd-jv GM's Trax rose $4,100 while its Envista fell
$4,700. The outcome of a policy is then a jump to another equilibrium, not the policy's effect.

The rule here selects the equilibrium the scenario's changes lead to continuously from today's:
the homotopy (Garcia and Zangwill 1981; the path-following of Besanko, Doraszelski, Kryukov and
Satterthwaite 2010 for dynamic games) between the market before the scenario (tau = 0) and after it
(tau = 1),

    c(tau) = (1 - tau) c_0 + tau c_1,   Omega(tau) = (1 - tau) Omega_0 + tau Omega_1,
    t(tau) = (1 - tau) t_0 + tau t_1,   xi_j(tau) = (1 - tau) xi_0j + tau xi_1j  (products before it),
    xi_j(tau) = xi_1j + ln tau  (a product new to the market: its demand scaled by about tau),

followed by Newton-type steps: each point's equilibrium is solved by Broyden's method (Broyden
1965, the inverse updated in place and carried along the path) from the last one, starting from
(I - d zeta / dp)^{-1} at today's prices (``newton.inverse_jacobian``, new products' rows and columns
the identity: at a small share a new product's markup hardly moves with prices). A new product starts
at its owner's global best response over a grid of prices (a cheap model's owner can have two profit
peaks, and Newton's method finds the nearer one). A step whose Broyden iterations do not converge
is halved; where halving reaches ``MIN_STEP`` even with Newton's matrix afresh, the path has ended at
a fold (the equilibrium it followed ceases to exist) and the SQUAREM fixed point goes on from there
to another equilibrium: such a jump is counted in ``jumps``. A path that uses up ``PATH_BUDGET``
evaluations ends where it stands (``ended``) and the fixed point goes on from there: on the ninth
session's calibration the large tariff changes (no-section-232, the 2026 baseline) and the cheap
US-built Galaxy E5 and Universal EV pickup (ford-geely-jv, open-entry-us-plants, ford-universal-ev)
end so, the latter with GM's Trax and Envista swapping places, as SQUAREM from today's prices did.
At the end every new product must be a global best response over the grid (``best_responses``):
a first-order point at the lower of two profit peaks is not a Nash equilibrium.

Products the scenario removes (a ban) leave at tau = 0. A scenario that changes nothing returns
today's prices in one evaluation of the map. Draws do not use it: each starts at its central
equilibrium, already on the path, with that equilibrium's Newton matrix (``autopact.simulate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autopact.errors import ConvergenceError
from autopact.model.demand import EXP_CAP, Demand, shares, utilities
from autopact.model.newton import BroydenMatrix, inverse_jacobian
from autopact.model.supply import Equilibrium, solve_prices
from autopact.model.taxes import Taxes

# The points of the path tried first: geometric where new products' demand grows from almost nothing
# (ln tau), then even steps for cost and tax changes. A step that fails is halved down to MIN_STEP.
SCHEDULE = (1e-3, 1e-2, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
# A path that needs more evaluations than this (folds, steps halved again and again: large tariff
# changes that move hundreds of prices by thousands of dollars) ends where it stands, and the fixed
# point goes on from there to the scenario (``Continued.ended``).
PATH_BUDGET = 400
# New products start the path at their owner's global best response over this grid of prices (their
# cost times 1 + each markup), others at today's prices: a cheap model's owner can have two profit peaks.
START_MARKUPS = np.linspace(0.02, 2.0, 100)  # 100 prices: a step of 2% of cost
# At the path's end every new product must be a global best response over that grid (Nash): a better
# grid price by more than this (relative) starts the fixed point again from it, at most POLISH_ROUNDS times.
POLISH_TOLERANCE = 1e-9
POLISH_ROUNDS = 3

# A step is halved until it is this short (six halvings of the schedule's steps); one that still
# fails takes Newton's matrix afresh, then the fixed point across the fold (``Continued.jumps``).
MIN_STEP = 1.0 / 64
STEP_EVALUATIONS = 25  # Broyden evaluations a step may take before it is halved


@dataclass(frozen=True)
class Origin:
    """The market before a scenario on the scenario's products (J of them): costs, mean utilities,
    tax wedges and ownership (profit weights) at tau = 0, which products are new (their values here
    are the scenario's own), and the inverse Jacobian (I - d zeta/dp)^{-1} at today's prices, where the
    path starts."""

    costs: np.ndarray
    xi: np.ndarray
    taxes: Taxes
    ownership: np.ndarray
    new: np.ndarray
    inverse_jacobian: np.ndarray


@dataclass(frozen=True)
class Continued:
    """The equilibrium at tau = 1, the map evaluations the whole path took, the points solved, the
    folds where the path ended and SQUAREM went on to another equilibrium (the tau of each), and, where
    the path used up ``PATH_BUDGET``, the tau it had reached (the fixed point went on from there)."""

    equilibrium: Equilibrium
    evaluations: int
    points: int
    jumps: tuple[float, ...]
    ended: float | None = None


def continued_prices(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes: Taxes,
                     origin: Origin, initial: np.ndarray, tol: float = 1e-12) -> Continued:
    """Bertrand-Nash prices at (costs, xi, ownership, taxes), the end of the path from ``origin``
    (the module docstring): the equilibrium connected to the one at today's prices ``initial``
    (new products, NaN there, start at their cost)."""
    prices = np.where(np.isfinite(initial), initial, costs)
    if not origin.new.any() and all(np.array_equal(a, b) for a, b in (
            (costs, origin.costs), (xi, origin.xi), (ownership, origin.ownership),
            (taxes.ad_valorem, origin.taxes.ad_valorem), (taxes.specific, origin.taxes.specific))):
        eq = solve_prices(costs, xi, demand, ownership, taxes, initial=prices, tol=tol)  # nothing changes
        return Continued(eq, eq.iterations, 1, ())
    prices = _new_products_start(prices, _point(SCHEDULE[0], costs, xi, ownership, taxes, origin), demand, origin.new)
    matrix = BroydenMatrix(origin.inverse_jacobian)
    evaluations, points, jumps, done, refreshed, ended = 0, 0, [], 0.0, False, None
    todo = list(SCHEDULE)
    while todo:
        if evaluations > PATH_BUDGET:  # the fixed point goes on from where the path stands, to tau = 1
            eq = solve_prices(costs, xi, demand, ownership, taxes, initial=prices, tol=tol)
            evaluations, points, ended = evaluations + eq.iterations, points + 1, done
            break
        tau = todo[0]
        point = _point(tau, costs, xi, ownership, taxes, origin)
        try:
            eq = solve_prices(*point[:2], demand, *point[2:], initial=prices, inverse_jacobian=matrix,
                              max_iterations=STEP_EVALUATIONS, tol=tol, fallback=False)
        except ConvergenceError:
            evaluations += STEP_EVALUATIONS
            matrix.reset()
            if tau - done > MIN_STEP:  # a shorter step
                todo.insert(0, done + (tau - done) / 2)
                continue
            if not refreshed:  # Newton's matrix afresh where the path stands, then the same step again
                here = _point(max(done, SCHEDULE[0]), costs, xi, ownership, taxes, origin)
                matrix = BroydenMatrix(inverse_jacobian(*here[:2], demand, *here[2:], prices))
                evaluations += len(prices) + 1
                refreshed = True
                continue
            eq = solve_prices(*point[:2], demand, *point[2:], initial=prices, tol=tol)  # past a fold
            jumps.append(tau)
            matrix = BroydenMatrix(inverse_jacobian(*point[:2], demand, *point[2:], eq.prices))
            evaluations += len(prices) + 1
        evaluations += eq.iterations
        points += 1
        prices, done, refreshed = eq.prices, tau, False
        todo.pop(0)
    eq, more, _ = best_responses(eq, (costs, xi, ownership, taxes), demand, origin.new, tol)
    return Continued(eq, evaluations + more, points, tuple(jumps), ended=ended)


def origin(before_ids: list[str], costs: np.ndarray, xi: np.ndarray, taxes: Taxes, ownership: np.ndarray,
           inverse_jacobian: np.ndarray, after_ids: list[str], after_costs: np.ndarray, after_xi: np.ndarray,
           after_taxes: Taxes, after_ownership: np.ndarray) -> Origin:
    """The market before a scenario (products ``before_ids`` with their costs, mean utilities, taxes,
    ownership and inverse Jacobian at today's prices) on the scenario's products ``after_ids``: a
    product in both takes its values before; a new one its own, its inverse Jacobian row and column
    the identity's."""
    index = {product: k for k, product in enumerate(before_ids)}
    at = np.array([index.get(product, -1) for product in after_ids])
    new = at < 0
    old, where = np.flatnonzero(~new), at[~new]
    mixed_ownership = np.array(after_ownership, float)
    mixed_ownership[np.ix_(old, old)] = ownership[np.ix_(where, where)]
    inverse = np.eye(len(after_ids))
    inverse[np.ix_(old, old)] = inverse_jacobian[np.ix_(where, where)]

    def take(before: np.ndarray, after: np.ndarray) -> np.ndarray:
        out = np.array(after, float)
        out[old] = before[where]
        return out

    return Origin(take(costs, after_costs), take(xi, after_xi),
                  Taxes(take(taxes.ad_valorem, after_taxes.ad_valorem), take(taxes.specific, after_taxes.specific)),
                  mixed_ownership, new, inverse)


def response_grid(cost: float) -> np.ndarray:
    """The prices a product's owner's global best response is sought over: its marginal cost times
    1 + ``START_MARKUPS`` (up to 3x cost, above every 2025 product's and entrant's price: Lerner < 0.67).
    The path's start and polish use it, and so does the validation's check (``autopact.runs.best_response``)."""
    return cost * (1 + START_MARKUPS)


def best_grid_price(j: int, prices: np.ndarray, point: tuple, demand: Demand) -> tuple[float, float, float]:
    """(best price, its profit, the profit at ``prices[j]``) of product j's owner over ``response_grid``,
    every other price held: sum_k Omega_jk (p_k - c_k) s_k per household (``owner_profits``), in one call.
    The path's start and polish use it, and so does the validation's check (``autopact.runs.best_response``)."""
    costs = point[0]
    grid = np.append(response_grid(costs[j]), prices[j])
    profits = owner_profits(j, prices, grid, point, demand)
    k = int(np.argmax(profits[:-1]))
    return float(grid[k]), float(profits[k]), float(profits[-1])


def owner_profits(j: int, prices: np.ndarray, grid: np.ndarray, point: tuple, demand: Demand) -> np.ndarray:
    """Product j's owner's profit per household, sum_k Omega_jk (p_k - c_k) s_k (G,), at each price of
    ``grid`` for product j, every other price held at ``prices``.

    Only product j's utility moves with its price, so with one level of nests (rho in [0, 1)) the
    shares at each grid price follow from sums taken once: with x_ik = V_ik / (1 - rho), D_ih = sum_{k
    in h} exp x_ik and E_ih = D_ih^(1 - rho), s_ik = exp x_ik / D_ih(k) E_ih(k) / (1 + sum_h E_ih), and
    a move of p_j changes x_ij, so D and E of its nest g only: O(I J) once and O(I G) for the grid,
    against O(I J G) recomputing every share (the same numbers to rounding, tests/model/test_continuation.py).
    Subnests take that direct way."""
    costs, xi, ownership, taxes = point
    if demand.subnests is not None:
        out = []
        for price in grid:
            trial = prices.copy()
            trial[j] = price
            consumer = taxes.consumer_prices(trial)
            out.append(float(ownership[j] @ ((trial - costs) * shares(xi - demand.alpha * consumer, consumer, demand))))
        return np.array(out)
    consumer = taxes.consumer_prices(prices)
    v = utilities(xi - demand.alpha * consumer, consumer, demand)  # (I, J)
    slope = demand.alpha + demand.deviation  # d V_ij / d p^c_j for each household (I,)
    scale = 1.0 - demand.rho
    nests = demand.nests if demand.rho > 0 else np.zeros(len(prices), int)
    x = v / scale
    moved_consumer = (1 + taxes.ad_valorem[j]) * grid + taxes.specific[j]  # (G,)
    x_j = x[:, [j]] - np.outer(slope, moved_consumer - consumer[j]) / scale  # (I, G)
    top = np.maximum(x.max(axis=1), x_j.max(axis=1))[:, None]
    e = np.exp(x - top)
    weights = ownership[j] * (prices - costs)
    weights[j] = 0.0
    indicator = demand.nest_matrix if demand.rho > 0 else np.ones((len(prices), 1))  # (J, H)
    sums = e @ indicator  # D_ih (I, H), shifted
    others = (e * weights) @ indicator  # sum_{k in h, k != j} Omega_jk m_k exp x_ik (I, H)
    g = nests[j]
    e_j = np.exp(x_j - top)  # (I, G)
    d_g = sums[:, [g]] - e[:, [j]] + e_j  # D_ig at each grid price (I, G)
    with np.errstate(divide="ignore", invalid="ignore"):
        inclusive = np.where(sums > 0, sums, 1.0) ** scale * (sums > 0)  # E_ih (I, H)
        share_other = np.where(sums > 0, others / np.where(sums > 0, sums, 1.0), 0.0) * inclusive
    rest_inclusive = inclusive.sum(axis=1, keepdims=True) - inclusive[:, [g]]  # (I, 1)
    rest_profit = share_other.sum(axis=1, keepdims=True) - share_other[:, [g]]
    e_g = d_g ** scale
    margin_j = ownership[j, j] * (grid - costs[j])  # (G,)
    live = d_g > 0  # a nest whose every product underflows has no share: its term is 0, not 0 / 0
    inside_g = np.where(live, (margin_j[None, :] * e_j + others[:, [g]]) / np.where(live, d_g, 1.0) * e_g, 0.0)
    outside = np.exp(np.minimum(-scale * top, EXP_CAP))  # the outside good's exp(0) on the shifted scale
    per_household = (inside_g + rest_profit) / (outside + rest_inclusive + e_g)
    return demand.weights @ per_household


def _new_products_start(prices: np.ndarray, point: tuple, demand: Demand, new: np.ndarray) -> np.ndarray:
    """Each new product at its owner's best price over ``START_MARKUPS`` (others held), one by one."""
    prices = prices.copy()
    for j in np.flatnonzero(new):
        prices[j] = best_grid_price(j, prices, point, demand)[0]
    return prices


def best_responses(eq: Equilibrium, point: tuple, demand: Demand, new: np.ndarray, tol: float = 1e-12
                   ) -> tuple[Equilibrium, int, int]:
    """The equilibrium with every new product at a global best response (its owner's profit over the
    grid, others held, no higher than at its price, within ``POLISH_TOLERANCE``): where one is not,
    the fixed point is solved again from the better grid price, up to ``POLISH_ROUNDS`` times. A path
    that crossed a fold can end where a new product's first-order condition holds at the lower of its
    owner's two profit peaks (the Ford Universal EV at $32.8k, its owner better off at $40.3k): a
    first-order point, not a Nash equilibrium. Returns the equilibrium, the map evaluations and the
    rounds taken."""
    evaluations = 0
    for rounds in range(POLISH_ROUNDS + 1):
        better = []
        for j in np.flatnonzero(new):
            best, best_profit, here = best_grid_price(j, eq.prices, point, demand)
            if best_profit > here * (1 + POLISH_TOLERANCE) + POLISH_TOLERANCE:
                better.append((j, best))
        if not better or rounds == POLISH_ROUNDS:
            return eq, evaluations, rounds
        start = eq.prices.copy()
        for j, best in better:
            start[j] = best
        eq = solve_prices(*point[:2], demand, *point[2:], initial=start, tol=tol)
        evaluations += eq.iterations
    return eq, evaluations, POLISH_ROUNDS


def _point(tau: float, costs: np.ndarray, xi: np.ndarray, ownership: np.ndarray, taxes: Taxes,
           origin: Origin) -> tuple[np.ndarray, np.ndarray, np.ndarray, Taxes]:
    """(costs, xi, ownership, taxes) at ``tau`` on the path from ``origin`` to the scenario's."""
    if tau == 1.0:
        return costs, xi, ownership, taxes
    mixed = (1 - tau) * origin.xi + tau * xi
    return ((1 - tau) * origin.costs + tau * costs, np.where(origin.new, xi + np.log(tau), mixed),
            (1 - tau) * origin.ownership + tau * ownership,
            Taxes((1 - tau) * origin.taxes.ad_valorem + tau * taxes.ad_valorem,
                  (1 - tau) * origin.taxes.specific + tau * taxes.specific))
