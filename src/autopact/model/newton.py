"""The Newton step of the equilibrium map near a solved equilibrium, for the solves of many draws.

A scenario's draws move costs, taxes and parameters a little; each draw's equilibrium is near the
central one. With F(p) = c + zeta(p) - p (``autopact.model.supply``: F = 0 is the Bertrand FOC), the
matrix H = (I - d zeta/dp)^{-1} at the central equilibrium turns the map into a Newton step,
p + H F(p); ``solve_prices(inverse_jacobian=H)`` starts Broyden's method from it, which updates H
as it goes. d zeta/dp is taken by forward differences, one evaluation of the map per product
(about J + 1 evaluations, once per run), each step 1e-6 of the product's price: enough for a
starting matrix, since the stopping rule is always the FOC's own residual.

A draw whose central equilibrium has a binding plant capacity solves its prices and the plant's
shadow cost together (``at_capacity``, ``solve_at_capacity``): Broyden's method on the FOC map
bordered by the capacity's excess, started from the central prices and shadow cost with the bordered
Jacobian's inverse (from H by the Schur complement; ``border`` adds its row and column, once per run),
instead of a shadow-cost search that solves an equilibrium for each trial shadow cost. Where the
price game has several equilibria the two paths can end on different ones (README, "Several
equilibria"), as main's SQUAREM and Broyden paths already do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from autopact.model.demand import Demand, limit_markup as small_share_markup
from autopact.model.zeta import FocKernel

RELATIVE_STEP = 1e-6
# The joint solve of a draw's prices and shadow costs (``solve_at_capacity``): each constraint's
# excess q_G / K_G - 1 within EXCESS_TOL (at the slopes of ford-byd-jv's plant, about 1e-4 a dollar,
# a shadow cost to about 1e-8 dollars, as close as FOC residuals of 1e-12 fix it), within
# JOINT_EVALUATIONS evaluations of the map, else the shadow-cost search takes over.
EXCESS_TOL = 1e-12
JOINT_EVALUATIONS = 40


def inverse_jacobian(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes,
                     prices: np.ndarray) -> np.ndarray:
    """(I - d zeta/dp)^{-1} (J, J) at producer ``prices`` for marginal costs ``costs`` (a shadow cost
    included), from forward differences of c + zeta(p)."""
    return jacobians(costs, xi, demand, ownership, taxes, prices)[0]


def jacobians(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes,
              prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(I - d zeta/dp)^{-1} (J, J), as ``inverse_jacobian``, and the shares' derivatives ds/dp (J, J)
    with respect to producer prices, from the same forward differences (no further evaluation)."""
    kernel = FocKernel(xi, demand, ownership)
    t = 1 + taxes.ad_valorem
    limit_markup = small_share_markup(demand)

    def mapped(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, lam, weighted = kernel.terms(taxes.consumer_prices(p), p - costs)
        live = s > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return costs + np.where(live, (weighted - s / t) / lam, limit_markup), s

    prices = np.asarray(prices, float)
    base, shares = mapped(prices)
    derivative, share_derivative = np.empty((len(prices), len(prices))), np.empty((len(prices), len(prices)))
    for j in range(len(prices)):
        shifted = prices.copy()
        shifted[j] += RELATIVE_STEP * max(abs(prices[j]), 1.0)
        moved, moved_shares = mapped(shifted)
        derivative[:, j] = (moved - base) / (shifted[j] - prices[j])
        share_derivative[:, j] = (moved_shares - shares) / (shifted[j] - prices[j])
    return np.linalg.inv(np.eye(len(prices)) - derivative), share_derivative


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


@dataclass(frozen=True)
class Border:
    """A capacity or quota binding at a central equilibrium, for the joint solve of its draws' prices
    and shadow cost (``solve_at_capacity``): its products, the central shadow cost, how the
    equilibrium map F = c + lambda 1_G + zeta(p) - p moves with the shadow cost (dF/d lambda, (J,))
    and how the group's units move with producer prices (d q_G/dp, (J,))."""

    name: str
    products: np.ndarray
    shadow_cost: float
    map_column: np.ndarray
    units_row: np.ndarray


def border(name: str, products: np.ndarray, shadow_cost: float, costs: np.ndarray, xi: np.ndarray,
           demand: Demand, ownership: np.ndarray, taxes, prices: np.ndarray, share_derivative: np.ndarray,
           market_size: float) -> Border:
    """The ``Border`` of a constraint binding at producer ``prices`` with marginal costs ``costs``
    (its shadow cost included). zeta is linear in the margins (zeta = Lambda^{-1} [(Omega o Gamma^T)
    (p - c) - s / (1 + t)]), so dF/d lambda = 1_G - Lambda^{-1} (Omega o Gamma^T) 1_G exactly, one
    evaluation of the kernel; d q_G/dp sums the shares' differences of ``jacobians``."""
    group = np.zeros(len(prices))
    group[products] = 1.0
    s, lam, weighted = FocKernel(xi, demand, ownership).terms(taxes.consumer_prices(prices), group)
    with np.errstate(divide="ignore", invalid="ignore"):
        column = group - np.where(s > 0, weighted / lam, 0.0)
    return Border(name, np.asarray(products), float(shadow_cost), column,
                  market_size * share_derivative[products].sum(axis=0))


@dataclass(frozen=True)
class CapacityStart:
    """What a draw's constrained equilibrium starts from (``at_capacity``): the ``Border`` of each
    constraint binding at the central equilibrium and, for the draws that leave them slack, the
    central scenario's equilibrium prices with every shadow cost at zero and its Newton matrix there
    (Broyden's method from the central matrix took 17-21 evaluations for such an equilibrium of
    ford-byd-jv's draws, from this one 7-15)."""

    borders: tuple[Border, ...]
    free_prices: np.ndarray | None = None
    free_inverse_jacobian: np.ndarray | None = None
    # the central equilibrium leaves every plant slack (borders at shadow cost 0): a draw solves its
    # equilibrium at zero shadow costs first, and only a draw that takes a plant over its capacity
    # solves that plant's shadow cost jointly with the prices, from there (``at_capacity``)
    slack: bool = False


@dataclass(frozen=True)
class JointSolve:
    """The outcome of ``solve_at_capacity``: "solved" (prices, shadow costs and the final estimate of
    the inverse slopes S^-1), "slack" (a step went to a shadow cost at or below zero) or "failed"."""

    status: str
    prices: np.ndarray | None = None
    shadow_costs: np.ndarray | None = None
    inverse_slopes: np.ndarray | None = None


def at_capacity(costs: np.ndarray, kernel: FocKernel, taxes, limit_markup: float, inverse_jacobian: np.ndarray,
                start: CapacityStart, constraints: list, market_size: float, initial: np.ndarray, tol: float,
                capacity_tol: float, solve: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]
                ) -> tuple[Any, dict[str, float]] | None:
    """A draw's constrained equilibrium and shadow costs (name -> dollars) without a shadow-cost
    search, or None where the search must run (``constrained.solve_constrained``).

    The constraints binding at the central equilibrium are solved jointly with the prices
    (``solve_at_capacity``); the result stands where each excess falls as its shadow cost rises (the
    branch the search follows) and every other constraint is within capacity. Where the joint solve
    steps to a shadow cost at or below zero and the start holds the central equilibrium at zero
    shadow costs, the draw's equilibrium at zero is solved from there, and stands where every
    constraint is within capacity (slack, as the search would find at its first trial). ``solve(costs,
    initial, inverse_jacobian)`` solves the equilibrium at given costs (``supply.solve_prices``):
    the result's prices meet the same FOC tolerance as every other solve.

    A start whose constraints are all slack at the central equilibrium (``start.slack``) solves the
    draw at zero shadow costs first (the search's first trial, so a slack draw's numbers are the
    search's); only the constraints over capacity there are then solved jointly from those prices."""
    capacity = {c.name: c.capacity for c in constraints}
    borders = list(start.borders)
    if start.slack:
        free = solve(costs, initial, inverse_jacobian)
        over = {c.name for c in constraints if c.excess(free.shares, market_size) > capacity_tol}
        if not over:  # slack, as the search's first trial finds it (the same solve, so the same numbers)
            return replace(free, shadow_costs=np.zeros_like(costs)), {c.name: 0.0 for c in constraints}
        borders = [b for b in borders if b.name in over]
        if len(borders) < len(over):  # a constraint over capacity without a border (a quota): the search
            return None
        initial = free.prices
    names = [b.name for b in borders]
    joint = solve_at_capacity(costs, kernel, taxes, limit_markup, inverse_jacobian, borders,
                              np.array([capacity[n] for n in names], float), market_size, initial, tol)
    lam = {c.name: 0.0 for c in constraints}
    if joint.status == "solved" and np.all(np.diag(joint.inverse_slopes) < 0):
        lam.update(zip(names, map(float, joint.shadow_costs)))
        prices, matrix = joint.prices, inverse_jacobian
    elif joint.status == "slack" and start.free_prices is not None:  # a slack start has no free prices
        prices, matrix = start.free_prices, start.free_inverse_jacobian
    else:
        return None
    shadow = np.zeros_like(costs)
    for c in constraints:
        shadow[c.products] += lam[c.name]
    eq = solve(costs + shadow, prices, matrix)
    for c in constraints:
        over = c.excess(eq.shares, market_size)
        if over > capacity_tol or (lam[c.name] > 0 and abs(over) > capacity_tol):
            return None
    return replace(eq, shadow_costs=shadow), lam


def solve_at_capacity(costs: np.ndarray, kernel: FocKernel, taxes, limit_markup: float, inverse: np.ndarray,
                      borders: list[Border], capacities: np.ndarray, market_size: float, prices: np.ndarray,
                      tol: float, excess_tol: float = EXCESS_TOL, max_evaluations: int = JOINT_EVALUATIONS
                      ) -> JointSolve:
    """Prices and shadow costs of a draw's constraints that bind at its central equilibrium, solved
    together: Broyden's method on G(p, lambda) = (c + A lambda + zeta(p) - p, q_G(p) / K_G - 1)
    (A: each constraint's product indicator), started from the central prices and shadow costs with
    the inverse of the bordered Jacobian [[-H^-1, dF/d lambda], [dq/dp / K, 0]] (H: the central
    ``inverse_jacobian``; by the Schur complement S = (dq/dp / K) H dF/d lambda, the slope of each
    excess along the equilibrium's path). Stops when the FOC residual relative to shares is below
    ``tol`` (as ``supply.solve_prices``) and every |excess| is below ``excess_tol``.

    Stops early, "slack", when a step takes a shadow cost to zero or below (a draw whose capacity
    leaves its plant slack: the first step, the first-order prediction, already does in most), and
    "failed" when it has not converged within ``max_evaluations``."""
    count, m = len(costs), len(borders)
    indicator = np.zeros((count, m))
    for k, b in enumerate(borders):
        indicator[b.products, k] = 1.0
    column = np.column_stack([b.map_column for b in borders])
    row = np.vstack([b.units_row for b in borders]) / capacities[:, None]
    u, v = inverse @ column, row @ inverse
    slope = np.linalg.inv(row @ u)
    matrix = np.block([[-inverse + u @ slope @ v, u @ slope], [slope @ v, slope]])
    t = 1 + taxes.ad_valorem

    def mapped(x: np.ndarray) -> tuple[np.ndarray, bool]:
        p, lam = x[:count], x[count:]
        total = costs + indicator @ lam
        margin = p - total
        s, diagonal, weighted = kernel.terms(taxes.consumer_prices(p), margin)
        if not np.all(np.isfinite(s)):
            return np.full(count + m, np.nan), False
        foc = s + t * (diagonal * margin - weighted)
        live = s > 0
        residual = float(np.max(np.abs(foc[live] / s[live]))) if live.any() else 0.0
        stale = ~live & (np.abs(margin - limit_markup) > tol * limit_markup)
        excess = market_size * (indicator.T @ s) / capacities - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            zeta = (weighted - s / t) / diagonal
        value = np.concatenate([total + np.where(live, zeta, limit_markup) - p, excess])
        return value, residual < tol and not stale.any() and bool(np.all(np.abs(excess) < excess_tol))

    x = np.concatenate([np.asarray(prices, float), [b.shadow_cost for b in borders]])
    value, done = mapped(x)
    evaluations = 1
    while not done:
        if evaluations >= max_evaluations or not np.all(np.isfinite(value)):
            return JointSolve("failed")
        move = -matrix @ value
        x = x + move
        if np.any(x[count:] <= 0):
            return JointSolve("slack")
        new, done = mapped(x)
        evaluations += 1
        change, value = new - value, new
        guess = matrix @ change
        denominator = float(move @ guess)
        if denominator != 0 and np.isfinite(denominator):
            matrix += np.outer(move - guess, move @ matrix) / denominator
    return JointSolve("solved", x[:count], x[count:], matrix[count:, count:])
