"""Bertrand-Nash equilibrium subject to capacity and quota constraints (plants, import quotas).

Each constraint G caps the units of its products, sum_{j in G} M s_j <= K_G, with a shadow cost
lambda_G >= 0 added to their marginal cost (a firm facing a binding capacity prices as if its
marginal cost were c + lambda; the quota model of the R ``trade`` package) and complementary
slackness lambda_G (K_G - q_G) = 0. Each trial shadow cost is an equilibrium of
``autopact.model.supply.solve_prices``; the search over shadow costs is ``autopact.model.shadow``
(secant, with the leap search where the price game's solution jumps across a capacity) and brentq
(the path a central run's results record where the secant search meets a jump); a draw near a
central result with a binding plant solves prices and shadow cost jointly (``autopact.model.newton``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from autopact.errors import ConvergenceError
from autopact.model.demand import Demand, limit_markup as small_share_markup
from autopact.model.newton import BroydenMatrix, CapacityStart, at_capacity, inverse_jacobian as newton_inverse_jacobian
from autopact.model.leap import leap_search
from autopact.model.shadow import Jump, ShadowCost, SlowTrial
from autopact.model.supply import SOLVE_SECONDS, Equilibrium, Taxes, solve_prices
from autopact.model.zeta import FocKernel

# Wall-clock limit of an equilibrium with capacity or quota constraints (many solves, one per trial
# shadow cost).
CONSTRAINED_SOLVE_SECONDS = 600.0
# Gauss-Seidel rounds the secant search may take before it hands over to brentq (one or two suffice
# where each constraint's units move continuously with its shadow cost).
SECANT_ROUNDS = 20
# Evaluations a secant trial near its root may spend on one digit beyond the FOC tolerance (with
# residuals of 1e-12 a $56 shadow cost is fixed only to ~5e-9 dollars, at 1e-13 to ~5e-10); where
# rounding does not allow that digit, the trial is solved to the tolerance.
TIGHT_TRIAL_EVALUATIONS = 100
# A central run's first solve of the secant search (every shadow cost at zero) stops once its FOC
# residual relative to shares is below DECIDED_TOL and every constraint's excess q_G / K_G - 1 lies
# beyond +-DECIDED, one of them over capacity: the search then moves that shadow cost, and its early
# trials are solved to 1e-4 anyway (ford-geely-jv's plant, 99% over: 13 evaluations instead of 34).
# A solve that never gets there (every plant slack, or one near its capacity) is the same as before.
DECIDED_TOL = 1e-4
DECIDED = 1e-2


@dataclass(frozen=True)
class CapacityConstraint:
    """At most ``capacity`` units (not shares) of the products in ``products`` (indices): a plant or a quota."""

    name: str
    products: np.ndarray
    capacity: float

    def units(self, shares: np.ndarray, market_size: float) -> float:
        """The group's units q_G = M sum_{j in G} s_j at ``shares``."""
        return float(market_size * shares[self.products].sum())

    def excess(self, shares: np.ndarray, market_size: float) -> float:
        """The excess q_G / K_G - 1 at ``shares``: above zero over capacity, zero at it, below under it.
        Every search and check of the constraint reads this one expression, so they agree to the bit."""
        return market_size * shares[self.products].sum() / self.capacity - 1.0


@dataclass(frozen=True)
class ConstrainedEquilibrium:
    """Equilibrium with capacity constraints: which bind and their shadow costs (dollars per unit)."""

    equilibrium: Equilibrium
    shadow_costs: dict[str, float]
    binding: dict[str, bool]
    units: dict[str, float]
    solves: int
    jumps: dict[str, bool] = field(default_factory=dict)  # below capacity at a jump of q_G(lambda) (see solve_constrained)
    # Evaluations of the map in all the solves that found it (a draw's joint solve, the shadow-cost
    # search's trials, the leap's joint solve and check, the last solve).
    evaluations: int = 0


class CountingKernel:
    """A market's kernel (``zeta.FocKernel``, a draw's ``SortedKernel`` or compiled map) that counts its
    evaluations of the map (``terms``, and a compiled map's ``zeta``): the total that
    ``ConstrainedEquilibrium.evaluations`` reports, whichever solver asked. ``evaluations`` starts at
    ``spent`` (those of a joint solve before the search that did not stand)."""

    def __init__(self, kernel: Any, spent: int = 0) -> None:
        self.kernel, self.evaluations = kernel, spent
        if hasattr(kernel, "zeta"):  # ``supply.solve_prices`` asks for it: only where the kernel has it
            self.zeta = self._zeta

    def terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.evaluations += 1
        return self.kernel.terms(prices, margin)

    def _zeta(self, *arguments: Any) -> Any:
        self.evaluations += 1
        return self.kernel.zeta(*arguments)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kernel, name)


def before_search(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes: Taxes,
                  constraints: list[CapacityConstraint], market_size: float, initial: np.ndarray,
                  inverse_jacobian: np.ndarray, start: CapacityStart | None, kernel: Any, tol: float = 1e-12,
                  capacity_tol: float = 1e-9, max_seconds: float = CONSTRAINED_SOLVE_SECONDS
                  ) -> tuple[ConstrainedEquilibrium | None, np.ndarray, int]:
    """A draw's constrained equilibrium where it needs no shadow-cost search, solved on ``kernel``
    (the market's ``FocKernel`` or a draw's faster one, ``simulate.draw_kernel``), else None and the
    prices the search should start from; with the evaluations of the map it made (the result's
    ``evaluations``, or those the search's count starts from: ``solve_constrained``'s ``spent``). What
    ``solve_constrained`` tries first with a ``capacity_start``.

    With a ``start``, ``newton.at_capacity``'s joint solve of prices and the shadow costs binding at
    the central equilibrium. Without one (a central result at a jump, a binding quota), the search's
    first trial, the equilibrium at zero shadow costs: where it leaves every constraint within
    capacity it is the result (as the search's, so a slack draw's record is the same with or without
    a start), else the search starts from its prices."""
    kernel = CountingKernel(kernel)

    def solve(total: np.ndarray, prices: np.ndarray, matrix: np.ndarray) -> Equilibrium:
        return solve_prices(total, xi, demand, ownership, taxes, initial=prices, tol=tol, kernel=kernel,
                            max_seconds=min(max_seconds, SOLVE_SECONDS), inverse_jacobian=matrix)

    if start is not None:
        found = at_capacity(costs, kernel, taxes, small_share_markup(demand), inverse_jacobian, start, constraints,
                            market_size, initial, tol, capacity_tol, solve)
    else:
        free = solve(costs, initial, inverse_jacobian)
        if any(c.excess(free.shares, market_size) > capacity_tol for c in constraints):
            return None, free.prices, kernel.evaluations
        found = replace(free, shadow_costs=np.zeros_like(costs)), {c.name: 0.0 for c in constraints}
    if found is None:
        return None, initial, kernel.evaluations
    eq, shadow = found
    units = {c.name: c.units(eq.shares, market_size) for c in constraints}
    return ConstrainedEquilibrium(eq, shadow, {n: v > 0 for n, v in shadow.items()}, units, 1,
                                  {c.name: False for c in constraints}, kernel.evaluations), initial, kernel.evaluations


def solve_constrained(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes: Taxes,
                      constraints: list[CapacityConstraint], market_size: float, tol: float = 1e-12,
                      capacity_tol: float = 1e-9, max_rounds: int = 200,
                      max_seconds: float = CONSTRAINED_SOLVE_SECONDS, initial: np.ndarray | None = None,
                      inverse_jacobian: np.ndarray | None = None, search: str = "brentq",
                      capacity_start: CapacityStart | None = None, spent: int = 0) -> ConstrainedEquilibrium:
    """Bertrand-Nash equilibrium subject to sum_{j in G} M s_j <= K_G for each constraint G.

    Each constraint has a shadow cost lambda_G >= 0 added to the marginal cost of its products
    (the quota model of the R ``trade`` package; a firm facing a binding capacity prices as if its
    marginal cost were c + lambda). Complementary slackness: lambda_G (K_G - q_G) = 0. Solved by
    Gauss-Seidel over constraints, each lambda_G by a root search on q_G(lambda) = K_G, until every
    q_G <= K_G (1 + capacity_tol) and every binding constraint is met within capacity_tol relative.
    Raises ConvergenceError otherwise, or once ``max_seconds`` have passed. ``initial`` prices
    (default: costs) start the first solve; ``inverse_jacobian`` goes to every solve (``solve_prices``),
    as a ``BroydenMatrix`` that each trial of the shadow-cost search leaves to the next.

    ``search`` "brentq" (default) brackets from $1,000 and runs scipy's brentq, each trial solved
    to ``tol`` from the last; "secant" (``autopact.model.shadow.ShadowCost``, what ``simulate`` uses)
    needs a fraction of the map evaluations, its trials near the root solved one digit beyond
    ``tol`` (``TIGHT_TRIAL_EVALUATIONS``): with FOC residuals of 1e-12 a $56 shadow cost is fixed
    only to ~5e-9 dollars (ford-byd-jv-us-majority: brentq's result was 4.6e-9 above the root).
    Both find the same shadow cost where q_G(lambda) is continuous. Where the price game has several
    equilibria the solution can jump across K_G at some lambda: a central run's trial that leaps
    across it near the root, or converges slowly there, tries ``leap.leap_search``, and so does one
    whose first trial under capacity converged slowly or lies far under it (``shadow.SLOW_BRACKET``,
    ``shadow.FAR_BRACKET``; by Anderson acceleration: ford-geely-jv's equilibrium in 87 evaluations of
    the map, 249 before, its first solves stopped early, ``DECIDED``, ``shadow.BRACKET_TOL``); else the
    secant search stops short of the capacity and brentq's search starts again from zero (in a central
    run its trials after the first by Broyden from the Newton matrix at zero shadow costs, J + 1
    evaluations, ``newton``).

    Where the price game has several equilibria, the bracket's ends solved again from other prices can
    land on other equilibria, with excess of one sign at both (a draw of ford-geely-jv: brentq's
    "f(a) and f(b) must have different signs"); brentq then runs on the ends as first found.

    Where q_G(lambda) jumps across K_G with no root on either side (brentq's bracket closes on the
    jump: above capacity just below it, below capacity just above), no shadow cost meets the capacity
    exactly: the firm's best response leaps from a low-price equilibrium over the capacity to a
    high-price one under it. The feasible side is reported, the equilibrium at the bracket's upper
    end (q_G < K_G at shadow cost lambda*), with ``jumps[G]`` True and ``binding[G]`` False, instead of
    searching on until ``max_seconds`` (complementary slackness holds only in the limit lambda ->
    lambda* from below, where the plant would be over capacity).

    ``capacity_start`` (a draw's, with ``initial`` and ``inverse_jacobian``; ``newton.CapacityStart``)
    first tries the joint solve of prices and the shadow costs binding at the central equilibrium
    (``autopact.model.newton.at_capacity``: 12-21 evaluations of the map on ford-byd-jv's draws,
    where the search took 50-90), and runs the search only where that does not stand.

    The result's ``evaluations`` counts every evaluation of the map that found it, whichever solver
    made it (its kernel counts them, ``CountingKernel``; brentq's Newton matrix adds J + 1), from
    ``spent`` (a draw's joint solve that did not stand, ``before_search``): ford-geely-jv's JV plant
    87, of which its last solve, at the shadow cost found, took 1.
    """
    lam = {c.name: 0.0 for c in constraints}
    jumps: dict[str, bool] = {}
    state = {"prices": initial, "solves": 0}
    deadline = time.monotonic() + max_seconds
    kernel = FocKernel(xi, demand, ownership)  # shared by every solve: only costs change between them
    limit_markup = small_share_markup(demand)
    if capacity_start is not None and inverse_jacobian is not None and initial is not None and search == "secant":
        found, _, used = before_search(costs, xi, demand, ownership, taxes, constraints, market_size, initial,
                                       inverse_jacobian, capacity_start, kernel, tol, capacity_tol, max_seconds)
        if found is not None:
            return found
        spent += used
    kernel = CountingKernel(kernel, spent)  # the search's evaluations, whichever solver makes them
    if inverse_jacobian is not None:  # Broyden's matrix goes on from one solve to the next
        inverse_jacobian = BroydenMatrix(inverse_jacobian)

    def decided(shares: np.ndarray, residual: float) -> bool:
        """Whether a first solve may stop (``DECIDED``): each constraint far from its capacity, one over it."""
        if residual >= DECIDED_TOL:
            return False
        over = [c.excess(shares, market_size) for c in constraints]
        return max(over) > DECIDED and all(abs(x) > DECIDED for x in over)

    def equilibrium(initial: np.ndarray | None = None, trial_tol: float | None = None, cap: int | None = None,
                    early_exit: Callable[[np.ndarray, float], bool] | None = None) -> Equilibrium:
        shadow = np.zeros_like(costs)
        for c in constraints:
            shadow[c.products] += lam[c.name]
        left = deadline - time.monotonic()
        if left <= 0:
            raise ConvergenceError(f"capacity constraints not met within the time limit of {max_seconds:g} s "
                                   f"({state['solves']} equilibrium solves)")
        start = state["prices"] if initial is None else initial
        solve = dict(initial=start, max_seconds=min(left, SOLVE_SECONDS), kernel=kernel, inverse_jacobian=inverse_jacobian)
        tight = trial_tol is not None and trial_tol < tol  # a few more evaluations, where rounding allows them
        eq, limit = None, min(cap or TIGHT_TRIAL_EVALUATIONS, TIGHT_TRIAL_EVALUATIONS if tight else cap or 0)
        if tight or cap is not None:  # cut short after ``cap`` evaluations: ``shadow.SlowTrial``
            try:
                eq = solve_prices(costs + shadow, xi, demand, ownership, taxes, max_iterations=limit,
                                  tol=trial_tol if tight else max(tol, trial_tol or tol), **solve)
            except ConvergenceError:
                if cap is not None:
                    raise SlowTrial from None
        if eq is None:
            eq = solve_prices(costs + shadow, xi, demand, ownership, taxes, tol=max(tol, trial_tol or tol),
                              early_exit=early_exit, **solve)
        state["prices"], state["solves"] = eq.prices, state["solves"] + 1
        return replace(eq, shadow_costs=shadow)  # markups p - (c + lambda) already exclude it

    def brentq_root(c: CapacityConstraint) -> float:
        """The search before the secant one, step for step: where several equilibria meet a capacity
        (the price game's solution jumps with lambda), its path decides which a run reports."""
        from scipy.optimize import brentq

        below: dict[str, Any] = {"value": math.inf, "prices": None}  # the lowest lambda seen under capacity

        def excess(value: float) -> float:
            lam[c.name] = value
            eq = equilibrium()
            over = c.excess(eq.shares, market_size)
            if over < 0 and value < below["value"]:
                below.update(value=value, prices=eq.prices)
            return over

        ends: dict[float, float] = {}  # the bracket's ends as first found (docstring, several equilibria)

        def end(value: float) -> float:
            ends[value] = excess(value)
            return ends[value]

        if end(0.0) <= 0:  # slack without its shadow cost: release it
            return 0.0
        nonlocal inverse_jacobian
        if inverse_jacobian is None:  # the trials by Broyden from the Newton matrix at lambda = 0 (J + 1 evaluations)
            inverse_jacobian = BroydenMatrix(newton_inverse_jacobian(costs, xi, demand, ownership, taxes, state["prices"]))
            kernel.evaluations += len(costs) + 1  # on a kernel of its own
        high = max(1000.0, 2 * lam[c.name])
        while end(high) > 0:
            high *= 2
            if high > 1e9:
                raise ConvergenceError(f"constraint {c.name}: no shadow cost below $1e9 meets capacity")
        seen, start = dict(below), state["prices"]  # what the fallback restores
        matrix = inverse_jacobian.inverse.copy() if isinstance(inverse_jacobian, BroydenMatrix) else None
        try:
            root = brentq(excess, 0.0, high, xtol=1e-9, rtol=1e-12)
        except ValueError as error:  # its ends, solved again from other prices, met other equilibria
            if "different signs" not in str(error):
                raise
            below.update(seen)  # what the ends' second solves saw, and where they left the next solve's
            state["prices"] = start  # start and Broyden's matrix, are not the bracket's as first found
            if matrix is not None:
                inverse_jacobian.inverse = matrix
            try:  # the bracket as first found: ``ends`` holds every trial of the doubling, its ends among them
                root = brentq(lambda value: ends[value] if value in ends else excess(value), 0.0, high,
                              xtol=1e-9, rtol=1e-12)
            except (ValueError, RuntimeError) as again:
                raise ConvergenceError(f"constraint {c.name}: no shadow cost found between $0 and ${high:,.0f} "
                                       f"({again})") from again
        if abs(excess(root)) > capacity_tol and below["prices"] is not None \
                and abs(below["value"] - root) <= 1e-6 + 1e-9 * abs(root):  # the bracket closed on a jump
            jumps[c.name] = True
            state["prices"] = below["prices"]  # the equilibrium under capacity at the bracket's upper end
            return float(below["value"])
        jumps.pop(c.name, None)
        return root

    def rounds(secant: bool, limit: int) -> ConstrainedEquilibrium | None:
        search = {c.name: ShadowCost(c, lam, market_size, equilibrium, tol, leap=None if inverse_jacobian is not None
                                     else leap_search(costs, kernel, taxes, limit_markup, c, constraints, lam, market_size, tol))
                  for c in constraints} if secant else {}  # the leap: a central run's search; brentq's rounds use none
        eq = equilibrium(early_exit=decided if secant and inverse_jacobian is None else None)
        if isinstance(inverse_jacobian, BroydenMatrix):  # see BroydenMatrix: the search's trials start afresh
            inverse_jacobian.reset()
        for _ in range(limit):
            done = True
            for c in constraints:
                over = c.excess(eq.shares, market_size)
                if over > capacity_tol or (lam[c.name] > 0 and abs(over) > capacity_tol and not jumps.get(c.name)):
                    done = False
                    shares = eq.shares[c.products]
                    markup = float(shares @ eq.markups[c.products] / shares.sum()) if shares.sum() > 0 else 0.0
                    lam[c.name] = float(search[c.name].root(over, eq.prices, markup) if secant else brentq_root(c))
                    eq = equilibrium()
            if done:
                units = {c.name: c.units(eq.shares, market_size) for c in constraints}
                return ConstrainedEquilibrium(eq, dict(lam), {c.name: lam[c.name] > 0 and not jumps.get(c.name)
                                                              for c in constraints}, units, state["solves"],
                                              {c.name: bool(jumps.get(c.name)) for c in constraints},
                                              kernel.evaluations)
        return None

    if search == "secant":
        try:
            found = rounds(True, SECANT_ROUNDS)
        except Jump:
            found = None
        if found is not None:
            return found
        lam.update({c.name: 0.0 for c in constraints})  # the brentq search from the start, as a central run
        state["prices"] = None
    elif search != "brentq":
        raise ValueError(f"search must be 'brentq' or 'secant', got {search!r}")
    found = rounds(False, max_rounds)
    if found is None:
        raise ConvergenceError(f"capacity constraints not met after {max_rounds} rounds")
    return found
