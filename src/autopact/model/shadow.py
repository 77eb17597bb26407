"""The shadow-cost search of ``autopact.model.supply.solve_constrained`` (its "secant" search).

For one capacity or quota constraint G with the others' shadow costs held, the root lambda >= 0 of
the decreasing excess(lambda) = q_G(lambda) / K_G - 1, each trial an equilibrium solve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.errors import ConvergenceError

# The excess (relative to capacity) beyond which a search that stopped moving has met a jump of the
# units across the capacity rather than a root (``Jump``).
JUMP = 1e-6


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
    from the last two trials, so it converges in a few evaluations of the map."""

    def __init__(self, constraint: Any, lam: dict[str, float], market_size: float,
                 equilibrium, tol: float, xtol: float = 1e-9, rtol: float = 1e-12, max_trials: int = 200) -> None:
        self.constraint, self.lam, self.market_size, self.equilibrium = constraint, lam, market_size, equilibrium
        self.tol, self.xtol, self.rtol, self.max_trials = tol, xtol, rtol, max_trials
        self.slope: float | None = None

    def excess(self, value: float, initial: np.ndarray | None = None,
               trial_tol: float | None = None) -> tuple[float, np.ndarray]:
        c = self.constraint
        self.lam[c.name] = value
        eq = self.equilibrium(initial, trial_tol)
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
            # moves by about the FOC tolerance); close to it, one digit beyond (``supply.TIGHT_TRIAL_EVALUATIONS``).
            trial_tol = max(self.tol, min(1e-4, 1e-2 * fb * fb)) if abs(fb) > 1e-6 else 0.1 * self.tol
            f, p = self.excess(value, start if np.all(np.isfinite(start)) else pb, trial_tol)
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
