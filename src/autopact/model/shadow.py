"""The shadow-cost search of ``autopact.model.constrained.solve_constrained`` (its "secant" search).

For one capacity or quota constraint G with the others' shadow costs held, the root lambda >= 0 of
the decreasing excess(lambda) = q_G(lambda) / K_G - 1, each trial an equilibrium solve.

Where the price game has several equilibria a trial can leap from one to another across the
capacity (ford-geely-jv's JV plant at $1,529.58). A central run's search then asks ``leap_search``
for the root on the branch it reaches from above, solved by Newton's method with GMRES steps
(``solve_jointly``, ``solve_by_krylov``: Jacobian-vector products from differences of the map,
never its J x J Jacobian), instead of bisecting onto the leap and starting brentq's search again
from zero (``constrained.solve_constrained``): the same equilibrium in a quarter of the evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autopact.errors import ConvergenceError
from autopact.model.newton import EXCESS_TOL

# The excess (relative to capacity) beyond which a search that stopped moving has met a jump of the
# units across the capacity rather than a root (``Jump``).
JUMP = 1e-6
# A secant trial that crosses the capacity from a trial this close to it (|excess| below SUSPECT) and
# lands farther on the other side has likely leapt between equilibria: on a continuous q_G(lambda) a
# step so near the root lands nearer it. Such a search tries ``ShadowCost.leap`` (constrained.py).
SUSPECT = 1e-2
# Evaluations of the map a trial near the root may take before the search tries ``leap`` from its start
# (ford-geely-jv's trial across the leap took 293 by SQUAREM; trials near the bundled scenarios' roots 1-49).
LEAP_EVALUATIONS = 60
# Evaluations of the map from which the first trial under capacity (above one over it) counts as slow:
# SQUAREM contracting slowly there, the search asks ``leap`` for the root at once (``ShadowCost``).
# ford-geely-jv's first trial under capacity took 41 at tolerance 1e-4 (its secant search then 195 more,
# and the leap 226); the other bundled scenarios' first trials under capacity took 11-13.
SLOW_BRACKET = 30
# A first trial this far under capacity (excess <= -FAR_BRACKET) asks ``leap`` at once too: the secant
# search takes 8-10 more trials of 15-25 evaluations from there, the joint solve and its check about 80
# (ford-geely-jv, -0.33: 141 evaluations instead of 249; gm-geely 131, 196; open-entry-us-plants 125, 135).
FAR_BRACKET = 1e-2
# That trial, where it may bracket the root (a central search, no trial under capacity yet), stops at
# a FOC residual of BRACKET_TOL once its excess is at most -BRACKET_EXCESS: far under capacity, it asks
# ``leap`` and only starts its joint solve and check (ford-geely-jv 101 -> 87 evaluations, gm-geely 95
# -> 80); where ``leap`` gives none the trial is solved in full from its start, as without it.
BRACKET_TOL = 1e-2
BRACKET_EXCESS = 5 * FAR_BRACKET
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
# Anderson acceleration (``_anderson``; the early leap, ``SLOW_BRACKET``): the differences it keeps and
# the evaluations it may spend before Newton-GMRES takes over from the same start. On ford-geely-jv the
# joint solve took 51 evaluations with 12 (Newton-GMRES 105), the check 43 (Newton-GMRES 134); with 8,
# 74 and 48; with 20, 51 and 43.
ANDERSON_MEMORY = 12
ANDERSON_EVALUATIONS = 150


class SlowTrial(Exception):
    """A trial equilibrium cut short after ``LEAP_EVALUATIONS`` evaluations of the map (``ShadowCost``)."""


class Jump(Exception):
    """A constraint's units jump across its capacity between two shadow costs closer than the search's
    tolerance: several equilibria, no shadow cost that meets the capacity on one of them."""


class ShadowCost:
    """The shadow cost of one constraint with the others' held: the root lambda >= 0 of the decreasing
    excess(lambda) = q_G(lambda) / K_G - 1, or 0 when the constraint is slack without one.

    Secant steps, superlinear on this smooth function (scipy's brentq, used before, needed about ten
    equilibrium solves where these need five or six), kept inside the bracket once one is known and
    replaced by bisection when a step leaves it or fails to halve the step before. The first trial is
    a Newton step with the slope the previous search ended on (a later Gauss-Seidel round), else the
    logit guess lambda + markup x excess / (1 + excess) (a product's units fall by about dc / markup),
    and without a usable step max(markup, 2 lambda), doubling while demand still exceeds capacity
    (brentq's bracket started at $1,000 whatever the market's scale). Stops, as brentq did, once a
    step moves lambda by less than xtol + rtol lambda (or the bracket is that narrow, or the excess
    is exactly zero). Each trial equilibrium starts from the prices extrapolated linearly in lambda
    from the last two trials, so it converges in a few evaluations of the map.

    ``leap`` (a central run's, ``leap_search``) is asked, once a search, for the root where a trial
    near the root (the last excess below ``SUSPECT``, a trial under capacity above it) crosses the
    capacity and lands farther from it, or is cut short after ``LEAP_EVALUATIONS``; where it gives
    none the trial is solved in full and the search goes on exactly as without it. ``leap`` is also
    asked, once a search, where the first trial under capacity above one over it took
    ``SLOW_BRACKET`` evaluations or more (the map contracting slowly, so that each secant trial costs
    tens of evaluations) or lies far under the capacity (``FAR_BRACKET``: many secant trials to go):
    from the highest trial over capacity, checked from that trial under capacity, the highest under
    capacity that the search would ever have (its later trials lie below it); where it gives none
    the search goes on exactly as without it."""

    def __init__(self, constraint: Any, lam: dict[str, float], market_size: float,
                 equilibrium, tol: float, xtol: float = 1e-9, rtol: float = 1e-12, max_trials: int = 200,
                 leap: Callable[..., tuple[float, np.ndarray] | None] | None = None
                 ) -> None:
        self.constraint, self.lam, self.market_size, self.equilibrium = constraint, lam, market_size, equilibrium
        self.leap, self.leapt, self.bracketed = leap, False, False
        self.evaluations = 0  # of the last trial's equilibrium
        self.loose = False  # the last trial stopped at BRACKET_TOL
        self.tol, self.xtol, self.rtol, self.max_trials = tol, xtol, rtol, max_trials
        self.slope: float | None = None

    def excess(self, value: float, initial: np.ndarray | None = None, trial_tol: float | None = None,
               cap: int | None = None, bracketing: bool = False) -> tuple[float, np.ndarray]:
        """The excess q_G / K_G - 1 and the equilibrium prices at shadow cost ``value``; ``bracketing``
        lets the solve stop at ``BRACKET_TOL`` far under capacity (``BRACKET_EXCESS``)."""
        c = self.constraint
        self.lam[c.name] = value
        if bracketing:
            def far_under(shares: np.ndarray, residual: float) -> bool:
                return residual < BRACKET_TOL and self.market_size * shares[c.products].sum() / c.capacity - 1.0 \
                    <= -BRACKET_EXCESS

            eq = self.equilibrium(initial, trial_tol, cap, early_exit=far_under)
        else:
            eq = self.equilibrium(initial, trial_tol, cap)
        self.evaluations = getattr(eq, "iterations", 0)
        self.loose = not getattr(eq, "converged", True)
        return self.market_size * eq.shares[c.products].sum() / c.capacity - 1.0, eq.prices

    def root(self, excess: float, prices: np.ndarray, markup: float) -> float:
        """The shadow cost, from the current one's ``excess``, equilibrium ``prices`` and the group's
        share-weighted mean ``markup``; leaves the last trial's prices as the equilibrium's starting point."""
        name = self.constraint.name
        points = [(self.lam[name], excess, prices)]
        low = high = None  # trials with excess > 0 and <= 0
        if excess > 0:
            low = self.lam[name]
        else:  # more restricted than needed: release it if slack at zero
            high = self.lam[name]
            f, p = self.excess(0.0)
            if f <= 0:
                return 0.0
            points.append((0.0, f, p))
            low = 0.0
        for _ in range(self.max_trials):
            b, fb, pb = points[-1]
            a, fa, pa = points[-2] if len(points) > 1 else (None, None, None)
            if a is not None and fb != fa:
                step = b - fb * (b - a) / (fb - fa)
            elif self.slope is not None and self.slope < 0:
                step = b - fb / self.slope
            elif fb > 0 and markup > 0:  # a logit firm's units fall by about dc / markup
                step = b + markup * fb / (1 + fb)
            else:
                step = np.nan
            if high is None:
                ceiling = max(markup, 2 * low, 1.0)
                value = step if np.isfinite(step) and low < step <= 4 * ceiling else ceiling
                if value > 1e9:
                    raise ConvergenceError(f"constraint {name}: no shadow cost below $1e9 meets capacity")
            else:
                halves = a is None or abs(step - b) <= 0.5 * abs(b - a)
                value = step if np.isfinite(step) and low < step < high and halves else 0.5 * (low + high)
            start = pb + (value - b) / (b - a) * (pb - pa) if a is not None and b != a else pb
            value = float(value)
            # Far from the root a trial solves only to the precision the secant step can use (the excess
            # moves by about the FOC tolerance); close to it, one digit beyond (``constrained.TIGHT_TRIAL_EVALUATIONS``).
            trial_tol = max(self.tol, min(1e-4, 1e-2 * fb * fb)) if abs(fb) > 1e-6 else 0.1 * self.tol
            start = start if np.all(np.isfinite(start)) else pb
            near = self.leap is not None and not self.leapt and abs(fb) < SUSPECT \
                and any(x[1] <= 0 and x[0] > value for x in points)  # a trial under capacity above it to check from
            bracketing = self.leap is not None and not self.bracketed and low is not None and high is None
            try:  # near the root, a trial that converges slowly may be leaping between equilibria
                f, p = self.excess(value, start, trial_tol, LEAP_EVALUATIONS if near else None, bracketing)
            except SlowTrial:
                if (found := self._leap(value, start, points)) is not None:
                    return found
                f, p = self.excess(value, start, trial_tol)  # as if never capped
            if near and not self.leapt and fb != 0 and f != 0 and (f > 0) != (fb > 0) and abs(f) > abs(fb) \
                    and (found := self._leap(value, p, points)) is not None:
                return found
            if self.leap is not None and not self.bracketed and f < 0 and low is not None and high is None:
                self.bracketed = True  # the first trial under capacity above one over it
                early = self.evaluations >= SLOW_BRACKET or f <= -FAR_BRACKET
                if early and (found := self._early_leap(low, value, f, p, points)) is not None:
                    return found
                if self.loose:  # stopped at BRACKET_TOL for the leap, which gave none: solved in full
                    f, p = self.excess(value, start, trial_tol)
            if f != fb and value != b:
                self.slope = (f - fb) / (value - b)
            points.append((value, f, p))
            if f > 0:
                low = value
            else:
                high = value
            close = self.xtol + self.rtol * abs(value)
            if f == 0 or abs(value - b) <= close or (high is not None and high - low <= close):
                if abs(f) > JUMP:  # stopped, but far from meeting the capacity
                    raise Jump(name)
                return value
        raise ConvergenceError(f"constraint {name}: shadow cost not found in {self.max_trials} trials")

    def _early_leap(self, low: float, value: float, excess: float, prices: np.ndarray, points: list) -> float | None:
        """The root that ``leap`` finds from the secant step between the highest trial over capacity
        (at ``low``) and the first trial under it (at ``value``, its ``excess`` and equilibrium
        ``prices``), shadow cost and prices interpolated linearly, checked from that first trial under
        capacity: ``SLOW_BRACKET``, ``FAR_BRACKET`` (ford-geely-jv's joint solve 39 evaluations from
        there, 45 from the trial over capacity)."""
        over, start = next((x[1], x[2]) for x in reversed(points) if x[0] == low)
        weight = over / (over - excess)  # in (0, 1]: over > 0 >= excess
        found = self.leap(low + weight * (value - low), start + weight * (prices - start), value, prices, quick=True)
        if found is None:
            return None
        self.excess(found[0], found[1], self.tol)  # its equilibrium starts the next solve
        return found[0]

    def _leap(self, value: float, prices: np.ndarray, points: list) -> float | None:
        """The root that ``leap`` finds from a trial at ``value`` (its equilibrium ``prices``, or the
        start of a trial cut short), checked from the highest trial under capacity above it; once a search."""
        self.leapt = True
        top = max((x for x in points if x[1] <= 0 and x[0] > value), key=lambda x: x[0], default=None)
        found = self.leap(value, prices, top[0], top[2]) if top is not None else None
        if found is None:
            return None
        self.excess(found[0], found[1], self.tol)  # its equilibrium starts the next solve
        return found[0]


def solve_jointly(costs: np.ndarray, kernel: Any, taxes: Any, limit_markup: float, products: np.ndarray,
                  capacity: float, market_size: float, prices: np.ndarray, shadow_cost: float, scale: float,
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
    backtracking makes better. ``costs`` hold the other constraints' shadow costs; ``kernel`` is the
    market's ``zeta.FocKernel``, ``taxes`` its ``supply.Taxes``. ``method`` "anderson" solves the same
    system by Anderson acceleration (``_anderson``) instead, with ``scale`` as the step of the shadow cost."""
    count = len(costs)
    group = np.zeros(count)
    group[products] = 1.0
    evaluations = 0

    def mapped(x: np.ndarray) -> tuple[np.ndarray | None, bool]:
        nonlocal evaluations
        evaluations += 1
        s, step, converged = _fixed_point_step(kernel, taxes, x[:count], costs + x[count] * group, limit_markup, tol)
        if step is None:
            return None, False
        excess = market_size * s[products].sum() / capacity - 1.0
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
        arguments = (others, kernel, taxes, limit_markup, products, constraint.capacity, market_size, prices, value,
                     scale, tol)
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
