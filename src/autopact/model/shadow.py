"""The shadow-cost search of ``autopact.model.constrained.solve_constrained`` (its "secant" search).

For one capacity or quota constraint G with the others' shadow costs held, the root lambda >= 0 of
the decreasing excess(lambda) = q_G(lambda) / K_G - 1, each trial an equilibrium solve.

Where the price game has several equilibria a trial can leap from one to another across the
capacity (ford-geely-jv's JV plant at $1,529.58). A central run's search then asks ``leap_search``
for the root on the branch it reaches from above (``autopact.model.leap``: the shadow cost and the
prices solved together, checked from above), instead of bisecting onto the leap and starting
brentq's search again from zero (``constrained.solve_constrained``): the same equilibrium in a
quarter of the evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autopact.errors import ConvergenceError

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
                return residual < BRACKET_TOL and c.excess(shares, self.market_size) <= -BRACKET_EXCESS

            eq = self.equilibrium(initial, trial_tol, cap, early_exit=far_under)
        else:
            eq = self.equilibrium(initial, trial_tol, cap)
        self.evaluations = getattr(eq, "iterations", 0)
        self.loose = not getattr(eq, "converged", True)
        return c.excess(eq.shares, self.market_size), eq.prices

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
