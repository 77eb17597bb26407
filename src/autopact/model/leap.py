"""The leap search of the shadow-cost search (``autopact.model.shadow.ShadowCost.leap``): the shadow
cost of one constraint and the equilibrium prices at it solved together, and the check that the
equilibrium reached from above at that shadow cost is the same.

Where the price game has several equilibria a secant trial can leap from one to another across the
capacity (ford-geely-jv's JV plant at $1,529.58 on the data before the hybrid splits). A central
run's search then asks ``leap_search`` for the root on the branch it reaches from above, solved by
Anderson acceleration or Newton's method with GMRES steps (``solve_jointly``, ``solve_by_krylov``:
Jacobian-vector products from differences of the map, never its J x J Jacobian), instead of
bisecting onto the leap and starting brentq's search again from zero
(``constrained.solve_constrained``). Split from ``autopact.model.shadow`` (issue 13), which keeps
the secant search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autopact.model.newton import EXCESS_TOL

# Prices of the leap's root and of the equilibrium reached there from above must agree to this (relative);
# the solve from above stops once within it (ford-geely-jv: 22 evaluations instead of 35 to the FOC tolerance).
SAME_EQUILIBRIUM = 1e-7
# Newton-GMRES (``solve_jointly``, ``solve_by_krylov``): the evaluations of the map either may spend
# (the joint solve's excess tolerance is the draws' joint solve's, ``newton.EXCESS_TOL``), GMRES's
# forcing term (each Newton step solves the linear system to this fraction of the residual), the
# largest Krylov basis and the halvings of a step.
LEAP_JOINT_EVALUATIONS = 400
KRYLOV_EVALUATIONS = 400
FORCING = 1e-3
GMRES_DIMENSION = 60
BACKTRACKS = 6
# Anderson acceleration (``_anderson``; the early leap, ``shadow.SLOW_BRACKET``): the differences it keeps and
# the evaluations it may spend before Newton-GMRES takes over from the same start. On ford-geely-jv the
# joint solve took 51 evaluations with 12 (Newton-GMRES 105), the check 43 (Newton-GMRES 134); with 8,
# 74 and 48; with 20, 51 and 43.
ANDERSON_MEMORY = 12
ANDERSON_EVALUATIONS = 150


def solve_jointly(costs: np.ndarray, kernel: Any, taxes: Any, limit_markup: float, constraint: Any,
                  market_size: float, prices: np.ndarray, shadow_cost: float, scale: float,
                  tol: float, excess_tol: float = EXCESS_TOL, max_evaluations: int = LEAP_JOINT_EVALUATIONS,
                  method: str = "newton") -> tuple[float, np.ndarray] | None:
    """The shadow cost of one constraint and the equilibrium prices at it, solved together from a
    trial (``shadow_cost``, ``prices``) by Newton's method on G(p, lambda) = (c + lambda 1_G + zeta(p)
    - p, scale x (q_G(p) / K_G - 1)), each step by GMRES (Saad and Schultz 1986) with Jacobian-vector
    products from forward differences of G: one evaluation of the map each, never the J x J Jacobian
    (J + 1 evaluations, ``autopact.model.newton``). Where the zeta map contracts slowly (an eigenvalue
    of d zeta/dp of 0.997 near ford-geely-jv's jump) a trial by SQUAREM took 300-560 evaluations and
    this whole solve about a hundred. Stops as ``supply.solve_prices`` does (FOC residual relative
    to shares below ``tol``, priced-out products at their limit) with |excess| below ``excess_tol``;
    returns (shadow cost, prices), or None after ``max_evaluations`` evaluations or a step that no
    backtracking makes better. ``constraint`` is a ``constrained.CapacityConstraint`` (its products,
    capacity and ``excess``); ``costs`` hold the other constraints' shadow costs; ``kernel`` is the
    market's ``zeta.FocKernel``, ``taxes`` its ``supply.Taxes``. ``method`` "anderson" solves the same
    system by Anderson acceleration (``_anderson``) instead, with ``scale`` as the step of the shadow cost."""
    count = len(costs)
    group = np.zeros(count)
    group[constraint.products] = 1.0
    evaluations = 0

    def mapped(x: np.ndarray) -> tuple[np.ndarray | None, bool]:
        nonlocal evaluations
        evaluations += 1
        s, step, converged = _fixed_point_step(kernel, taxes, x[:count], costs + x[count] * group, limit_markup, tol)
        if step is None:
            return None, False
        excess = constraint.excess(s, market_size)
        value = np.append(step, scale * excess)
        return (value if np.all(np.isfinite(value)) else None), converged and abs(excess) < excess_tol

    solver = _anderson if method == "anderson" else _newton
    x = solver(mapped, np.append(np.asarray(prices, float), shadow_cost), lambda: evaluations, max_evaluations)
    return None if x is None else (float(x[count]), x[:count])


def _newton(mapped, x: np.ndarray, used: Callable[[], int], max_evaluations: int) -> np.ndarray | None:
    """The zero of ``mapped`` (x -> (G(x) or None where not finite, whether x meets the stopping rule))
    by Newton's method from ``x``, each step by GMRES (``_gmres_step``) and halved up to ``BACKTRACKS``
    times while it leaves |G| larger; None once ``used()`` evaluations reach ``max_evaluations``."""
    value, done = mapped(x)
    while not done:
        if value is None or used() >= max_evaluations:
            return None
        move = _gmres_step(mapped, x, value, max_evaluations - used())
        if move is None:
            return None
        norm = float(np.linalg.norm(value))
        for _ in range(BACKTRACKS):  # halve a step that leaves the residual larger
            trial = x + move
            new, done = mapped(trial)
            if new is not None and (done or np.linalg.norm(new) < norm):
                break
            move = 0.5 * move
        else:
            return None
        x, value = trial, new
    return x


def _anderson(mapped, x: np.ndarray, used: Callable[[], int], max_evaluations: int,
              memory: int = ANDERSON_MEMORY) -> np.ndarray | None:
    """The zero of ``mapped`` (as ``_newton``'s) by Anderson acceleration of the fixed point x <- x + G(x)
    (type II, Walker and Ni 2011), the last ``memory`` differences of x and G kept: where the map
    contracts slowly along a few directions (an eigenvalue of d zeta/dp of 0.997 near ford-geely-jv's
    root) they span those directions in a few evaluations, one evaluation a step and no difference
    quotients. None once ``used()`` evaluations reach ``max_evaluations`` or G is not finite."""
    value, done = mapped(x)
    xs: list[np.ndarray] = []
    values: list[np.ndarray] = []
    while not done:
        if value is None or used() >= max_evaluations:
            return None
        step = x + value
        if xs:
            moves = np.column_stack([b - a for a, b in zip(xs, xs[1:] + [x])])
            changes = np.column_stack([b - a for a, b in zip(values, values[1:] + [value])])
            gamma = np.linalg.lstsq(changes, value, rcond=None)[0]
            step = step - (moves + changes) @ gamma
        xs, values = (xs + [x])[-memory:], (values + [value])[-memory:]
        x = step
        if not np.all(np.isfinite(x)):
            return None
        value, done = mapped(x)
    return x


def _fixed_point_step(kernel: Any, taxes: Any, p: np.ndarray, total: np.ndarray, limit_markup: float,
                      tol: float) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """At producer prices ``p`` and marginal costs ``total``: the shares, the step
    c + zeta(p) - p of the FOC map (priced-out products at the limit markup; Morrow and Skerlos 2011),
    None where the shares are not finite, and whether ``p`` is an equilibrium as ``supply.solve_prices``
    judges one (FOC residual relative to shares below ``tol``, priced-out products at their limit)."""
    t = 1 + taxes.ad_valorem
    margin = p - total
    s, diagonal, weighted = kernel.terms(taxes.consumer_prices(p), margin)
    if not np.all(np.isfinite(s)):
        return s, None, False
    live = s > 0
    foc = s + t * (diagonal * margin - weighted)
    residual = float(np.max(np.abs(foc[live] / s[live]))) if live.any() else 0.0
    stale = ~live & (np.abs(margin - limit_markup) > tol * limit_markup)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = total + np.where(live, (weighted - s / t) / diagonal, limit_markup) - p
    return s, step, residual < tol and not stale.any()


def _gmres_step(mapped, x: np.ndarray, value: np.ndarray, budget: int) -> np.ndarray | None:
    """The Newton step d with |J d + G| <= FORCING |G| (J = dG/dx at x, G = ``value``), by GMRES from
    d = 0 with J v = (G(x + h v) - G(x)) / h (h = sqrt(eps) (1 + |x|) for unit v: Kelley 2003)."""
    if budget <= 0:
        return None
    beta = float(np.linalg.norm(value))
    h = np.sqrt(np.finfo(float).eps) * (1.0 + float(np.linalg.norm(x)))
    basis = [-value / beta]
    hessenberg = np.zeros((GMRES_DIMENSION + 1, GMRES_DIMENSION))
    for k in range(min(GMRES_DIMENSION, budget)):
        moved, _ = mapped(x + h * basis[k])
        if moved is None:
            return None
        w = (moved - value) / h
        for i in range(k + 1):  # modified Gram-Schmidt
            hessenberg[i, k] = float(w @ basis[i])
            w = w - hessenberg[i, k] * basis[i]
        hessenberg[k + 1, k] = float(np.linalg.norm(w))
        target = np.zeros(k + 2)
        target[0] = beta
        small = hessenberg[:k + 2, :k + 1]
        y = np.linalg.lstsq(small, target, rcond=None)[0]
        if np.linalg.norm(target - small @ y) <= FORCING * beta or hessenberg[k + 1, k] <= 1e-14 * beta:
            break
        basis.append(w / hessenberg[k + 1, k])
    return np.column_stack(basis[:k + 1]) @ y


def solve_by_krylov(costs: np.ndarray, kernel: Any, taxes: Any, limit_markup: float, prices: np.ndarray, tol: float,
                    max_evaluations: int = KRYLOV_EVALUATIONS, method: str = "newton",
                    target: np.ndarray | None = None) -> tuple[np.ndarray, int] | None:
    """Equilibrium producer prices at marginal costs ``costs`` from ``prices`` by Newton's method on
    F(p) = c + zeta(p) - p, each step by GMRES (Saad and Schultz 1986) with Jacobian-vector products
    from forward differences of F: one evaluation of the map each, never the J x J Jacobian (J + 1
    evaluations, ``autopact.model.newton``). Stops as ``supply.solve_prices`` does (FOC residual
    relative to shares below ``tol``, priced-out products at their limit price). Returns (prices,
    evaluations), or None after ``max_evaluations`` evaluations or a step no backtracking improves.
    ``kernel`` is the market's ``zeta.FocKernel``, ``taxes`` its ``supply.Taxes``; ``method``
    "anderson" solves by Anderson acceleration of p <- c + zeta(p) instead (``_anderson``). With
    ``target`` (an equilibrium's prices) it also stops once the prices are within ``SAME_EQUILIBRIUM``
    of it (relative): the check of ``leap_search``, whose solve has then reached that equilibrium."""
    evaluations = 0

    def mapped(p: np.ndarray) -> tuple[np.ndarray | None, bool]:
        nonlocal evaluations
        evaluations += 1
        _, step, converged = _fixed_point_step(kernel, taxes, p, costs, limit_markup, tol)
        near = target is not None and float(np.max(np.abs(p / target - 1))) <= SAME_EQUILIBRIUM
        return (step if step is not None and np.all(np.isfinite(step)) else None), converged or near

    solver = _anderson if method == "anderson" else _newton
    x = solver(mapped, np.asarray(prices, float).copy(), lambda: evaluations, max_evaluations)
    return None if x is None else (x, evaluations)


def leap_search(costs: np.ndarray, kernel: Any, taxes: Any, limit_markup: float, constraint: Any, constraints: list,
                lam: dict[str, float], market_size: float, tol: float
                ) -> Callable[..., tuple[float, np.ndarray] | None]:
    """A central run's ``ShadowCost.leap`` for ``constraint`` (the others' shadow costs held at ``lam``):
    where a secant trial at shadow cost ``value`` (equilibrium ``prices``) leapt across the capacity
    (``SUSPECT``), the root on the branch that the search reaches from above, or None.

    The shadow cost and prices are solved together from the trial (``solve_jointly``); the root
    stands only where the equilibrium at that shadow cost solved from ``top_prices`` (the search's
    highest trial under capacity, as brentq's trials come down from the top of its bracket) is the
    same (prices within ``SAME_EQUILIBRIUM``, where that solve stops). On ford-geely-jv that is
    brentq's root (its plant's units leap at $1,529.58, brentq's root $1,528.43 lies on the branch
    above; on the data with the hybrid splits no leap, the root $1,546.71); where the price game
    has a third equilibrium (partner-comparison's gm-geely with a capacity of 105,000, whose brentq
    search closes on a leap at $1,434.97) the joint solve finds a root on it ($1,428.87) that the
    equilibrium from above is not, and the search goes on as before. ``quick`` (the early leap,
    ``SLOW_BRACKET``) solves both by Anderson acceleration first (``_anderson``), by Newton-GMRES where
    that gives no root or another equilibrium from above."""
    products = constraint.products

    def root(value: float, prices: np.ndarray, top_value: float, top_prices: np.ndarray,
             quick: bool = False) -> tuple[float, np.ndarray] | None:
        others = np.array(costs, float)
        for other in constraints:
            if other is not constraint:
                others[other.products] += lam[other.name]
        scale = max(float(np.mean(np.abs(prices[products] - others[products] - value))), 1.0)  # dollars per unit of excess
        arguments = (others, kernel, taxes, limit_markup, constraint, market_size, prices, value, scale, tol)
        joint = solve_jointly(*arguments, max_evaluations=ANDERSON_EVALUATIONS, method="anderson") if quick else None
        joint = solve_jointly(*arguments) if joint is None else joint
        if joint is None or joint[0] <= 0:
            return None
        total = others.copy()
        total[products] += joint[0]
        for method in ("anderson", "newton") if quick else ("newton",):
            budget = ANDERSON_EVALUATIONS if method == "anderson" else KRYLOV_EVALUATIONS
            reached = solve_by_krylov(total, kernel, taxes, limit_markup, top_prices, tol, budget, method, joint[1])
            if reached is not None and np.max(np.abs(reached[0] / joint[1] - 1)) <= SAME_EQUILIBRIUM:
                return joint
        return None
    return root
