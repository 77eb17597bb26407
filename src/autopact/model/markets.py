"""Equilibria of many markets solved together: one iteration loop over every market at once.

``solve_prices`` solves one market; a data set of many markets (the BLP 1995 automobile data: 20
markets of 72 to 150 products and 200 agents) solved market by market spends much of its time in
the iteration's own bookkeeping (consumer prices, the FOC residual, the stopping rule, the step: a
dozen numpy calls on vectors of ~100 numbers per evaluation). ``solve_prices_markets`` keeps every
market's prices in one stacked vector and does that bookkeeping once for all markets per round
(segment reductions, ``np.maximum.reduceat``, for each market's residual and step), while each
market's shares and Gamma term come from its own kernel (its households x products arrays stay in
the processor's cache): ``autopact.model.sorted_kernel.SortedKernel`` where it covers the demand
(at most one level of nests; 102 us an evaluation of a BLP 1995 market against ``FocKernel``'s
155), else ``FocKernel``.

Where numba is installed (``pip install autopact[fast]``) and SortedKernel covers every market,
Anderson's rounds run in compiled calls, up to ``ROUNDS_A_CALL`` rounds of each market a call, one
market's rounds after another's (``compiled_rounds``: each round evaluates the market's map by
``compiled.evaluate``, 40 us a market evaluation against SortedKernel's 115 in one run, and takes
its step by ``compiled_anderson``), set up by ``autopact.model.fused``; the time limit is checked
between calls. The equilibria are those of the numpy path to 1e-12 (the sums run in another order);
``compiled=False`` asks for the numpy path, which is also the path wherever numba cannot be imported
or cannot compile the loops (``fused.compiled_loops`` warns).
SQUAREM's steps stay in numpy, over the compiled map.

Each market has its own iteration and stopping rule (max_j |FOC_j / s_j| < tol, as ``solve_prices``).
``method`` "anderson" (default) accelerates the zeta map G(p) = c + zeta(p) by Anderson's method
(Walker and Ni 2011; type II, memory ``ANDERSON_MEMORY``, no damping), each market's least-squares
problem solved with every other market's in one batched call; "squarem" is SQUAREM as in
``solve_prices`` (Varadhan and Roland 2008: each market its own step length), whose iterates are
``solve_prices``'s, so the prices agree with a market-by-market solve to rounding. A market whose
first-order conditions are met stops (its kernel is no longer evaluated, its prices stay put); the
others go on.

BLP 1995's merger (``benchmarks/bench_equilibrium_blp1995.py``): Anderson 183 evaluations of the
map in all (9 or 10 a market), SQUAREM 226, the prices within 2e-13 of each other. Anderson's memory
2, 3, 5 and 8 took 199, 190, 183 and 183, damping 0.7, 1.3 and 1.6 took 239, 223 and 257 (a prototype
solving market by market).

Tried and discarded. One kernel over all markets' products stacked as rows (households padded to the
largest market, block-diagonal sparse sums, ``reduceat`` for each market's largest utility and
outside share): a dozen calls an evaluation instead of twenty times that, but its arrays (2,217 x
200 numbers, 3.5 MB each) leave the processor's cache, and an evaluation of all markets took as long
as twenty per-market ones (0.9x the market-by-market solve in one run). The small-array half of
``SortedKernel``'s work done once for all markets (exponentials and sums market by market, then the
nests' outside shares, the mixing of cells and the rates on arrays stacked over markets, then s,
Lambda and g market by market): the stacked arrays (about 1 MB each) ran from memory, not cache, on
the busy machine, and an evaluation of all markets took 424-567 us a market against 262-272 market
by market in the same run (load 7). Newton's method on the FOC (measured with Jacobians by
differences, from the observed prices): 4 steps a market, 5 evaluations and 3 Jacobians (the last
step can reuse the third), where Anderson takes 9 evaluations; the Jacobian frozen at the start took
11-12 steps, refreshed once 6-7, restricted to each firm's own products 12, and without the shares'
second derivatives it contracted by only 0.5 a step. An analytic Jacobian of the RCNL FOC needs the
second derivatives of the shares contracted with the margins: at least two products of J x I by I x
J (110 products, 200 households: 108-127 us each in float64 on one BLAS thread, 55 us in float32)
and some ten passes over the J x I arrays, about 1.5 to 2.5 evaluations of the kernel, so Newton
would cost 9.5 to 12.5 evaluations' worth against Anderson's 9: not built.
"""

from __future__ import annotations

import time

import numpy as np

from autopact.errors import ConvergenceError
from autopact.model.demand import Demand, limit_markup
from autopact.model.supply import SOLVE_SECONDS, Equilibrium, Taxes
from autopact.model.sorted_kernel import SortedKernel, supports
from autopact.model.zeta import FocKernel
from autopact.model.fused import FusedMarkets, compiled_loops

# Anderson acceleration: iterates remembered, and the ridge added to the normal equations of its
# least-squares problem (columns scaled to unit norm, so the ridge is relative).
ANDERSON_MEMORY = 5
ANDERSON_RIDGE = 1e-12
# Rounds of each market in a compiled call (``_fused_solve``): the time limit is checked between calls. A
# market takes its rounds in turn, so 32 lets a BLP 1995 market (9 or 10 evaluations) finish in one call
# while its arrays are in the cache (8 split each into two calls, and took longer: 8.3 and 9.9 ms of
# processor time against 7.1 and 9.7, the least of 40 solves, two runs a side, load 3-4)
ROUNDS_A_CALL = 32


def solve_prices_markets(costs: list[np.ndarray], xi: list[np.ndarray], demands: list[Demand],
                         ownerships: list[np.ndarray], taxes: list[Taxes], initial: list[np.ndarray] | None = None,
                         tol: float = 1e-12, max_iterations: int = 10_000,
                         max_seconds: float = SOLVE_SECONDS, method: str = "anderson",
                         compiled: bool = True) -> list[Equilibrium]:
    """Bertrand-Nash producer prices of several independent markets, solved together (module docstring).

    Each argument is a list with one entry per market, as ``solve_prices`` takes them for one market;
    so is the result. Every market is solved by ``method`` ("anderson", the default, or "squarem") to
    max_j |FOC_j / s_j| < ``tol`` from its ``initial`` prices (default: its costs), and its
    ``Equilibrium.iterations`` counts the evaluations of its map, as ``solve_prices`` reports them.
    ``compiled`` (default True) evaluates the maps by numba's compiled loops where numba is installed
    and every market has at most one level of nests and one block of households; False, or numba
    missing, solves by SortedKernel / FocKernel and numpy (the same prices to 1e-12).
    Raises ConvergenceError naming the first market (by position) not converged within
    ``max_iterations`` evaluations or ``max_seconds`` in all, and ValueError for an unknown method.
    """
    if method not in ("anderson", "squarem"):
        raise ValueError(f"method must be 'anderson' or 'squarem', got {method!r}")
    count = len(costs)
    for name, values in (("xi", xi), ("demands", demands), ("ownerships", ownerships), ("taxes", taxes),
                         ("initial", initial if initial is not None else costs)):
        if len(values) != count:
            raise ValueError(f"{name}: one entry a market expected ({count} markets in costs), got {len(values)}")
    for name, values in (("xi", xi), ("initial", initial if initial is not None else costs)):
        for m, (value, cost) in enumerate(zip(values, costs)):
            if np.shape(value) != np.shape(cost):
                raise ValueError(f"{name}[{m}]: {np.shape(cost)[0]} products expected (as in costs[{m}]), "
                                 f"got shape {np.shape(value)}")
    if count == 0:
        return []
    loops = compiled_loops() if compiled and all(supports(d, len(x)) for x, d in zip(xi, demands)) else None
    if loops is not None:
        kernels = FusedMarkets(xi, demands, ownerships, costs, taxes, tol, loops)
    else:
        kernels = [SortedKernel(x, d, o) if supports(d, len(x)) else FocKernel(x, d, o)
                   for x, d, o in zip(xi, demands, ownerships)]
    return _Markets(costs, demands, taxes, initial, kernels, tol, method).solve(max_iterations, max_seconds)


class _Markets:
    """Anderson or SQUAREM on every market at once, each market with its own steps and stopping rule."""

    def __init__(self, costs: list[np.ndarray], demands: list[Demand], taxes: list[Taxes],
                 initial: list[np.ndarray] | None, kernels: list | FusedMarkets, tol: float,
                 method: str = "anderson") -> None:
        self.kernels, self.tol, self.method = kernels, tol, method
        self.sizes = np.array([len(c) for c in costs])
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)])
        self.rows = [slice(a, b) for a, b in zip(self.starts[:-1], self.starts[1:])]
        self.costs = np.concatenate(costs).astype(float)
        prices = np.concatenate(costs if initial is None else initial).astype(float)
        self.prices = np.where(np.isfinite(prices), prices, self.costs)
        self.evaluations = np.zeros(len(costs), int)
        self.residuals = np.full(len(costs), np.inf)
        self.found: dict[int, Equilibrium] = {}
        if isinstance(kernels, FusedMarkets):  # it holds its own taxes, limits and Anderson's rings
            return
        self.t = 1 + np.concatenate([t.ad_valorem for t in taxes]).astype(float)
        self.specific = np.concatenate([t.specific for t in taxes]).astype(float)
        # the small-share logit limit c + 1/alpha-bar of a priced-out product (see solve_prices)
        self.limit = np.repeat([limit_markup(d) for d in demands], self.sizes)
        total = int(self.starts[-1])
        self.s, self.lam, self.weighted = np.zeros(total), np.ones(total), np.zeros(total)
        # Anderson's rings, shared by the markets: the last ANDERSON_MEMORY differences of residuals f and of
        # mapped prices G, the inner products of the residuals' differences market by market, and how many
        # of its differences each market has (``_anderson_step``)
        self.diff_f, self.diff_g = np.zeros((2, ANDERSON_MEMORY, total))
        self.inner = np.zeros((ANDERSON_MEMORY, ANDERSON_MEMORY, len(costs)))
        self.last_f, self.last_g = np.zeros(total), np.zeros(total)
        self.started, self.filled, self.round = np.zeros(len(costs), bool), np.zeros(len(costs), int), 0

    def _map(self, p: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c + zeta(p) of every product (rows of markets not ``active`` hold stale numbers, never used),
        and which markets are solved at p; records the equilibrium of each."""
        if isinstance(self.kernels, FusedMarkets):
            return self._fused_map(p, active)
        consumer = self.t * p + self.specific
        margin = p - self.costs
        for m in np.flatnonzero(active):
            rows = self.rows[m]
            self.s[rows], self.lam[rows], self.weighted[rows] = self.kernels[m].terms(consumer[rows], margin[rows])
        s, lam, weighted, t, starts = self.s, self.lam, self.weighted, self.t, self.starts[:-1]
        self.evaluations[active] += 1
        live = s > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(live, np.abs((s + t * (lam * margin - weighted)) / s), 0.0)
            zeta = (weighted - s / t) / lam
        finite = np.logical_and.reduceat(np.isfinite(s), starts)
        residual = np.maximum.reduceat(ratio, starts)
        stale = np.logical_or.reduceat(~live & (np.abs(margin - self.limit) > self.tol * self.limit), starts)
        bad = active & ~finite
        if bad.any():
            raise ConvergenceError(f"equilibrium prices of market {np.flatnonzero(bad)[0]}: shares are not finite "
                                   "(check costs and mean utilities)")
        self.residuals[active] = residual[active]
        solved = active & (residual < self.tol) & ~stale
        for m in np.flatnonzero(solved):
            rows = self.rows[m]
            self.found[m] = Equilibrium(p[rows].copy(), consumer[rows], s[rows].copy(), margin[rows],
                                        int(self.evaluations[m]), float(residual[m]), True,
                                        priced_out=np.flatnonzero(~live[rows]))
        return self.costs + np.where(live, zeta, self.limit), solved

    def _fused_map(self, p: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_map`` by the compiled loops (``FusedMarkets``): the same outputs and records."""
        fused = self.kernels
        fused.evaluate(p, np.flatnonzero(active))
        self.evaluations[active] += 1
        bad = active & ~fused.finite
        if bad.any():
            raise ConvergenceError(f"equilibrium prices of market {np.flatnonzero(bad)[0]}: shares are not finite "
                                   "(check costs and mean utilities)")
        self.residuals[active] = fused.residual[active]
        solved = active & (fused.residual < self.tol) & ~fused.stale
        for m in np.flatnonzero(solved):
            rows = self.rows[m]
            s = fused.shares[rows].copy()
            self.found[m] = Equilibrium(p[rows].copy(), fused.consumer[rows].copy(), s, p[rows] - self.costs[rows],
                                        int(self.evaluations[m]), float(fused.residual[m]), True,
                                        priced_out=np.flatnonzero(~(s > 0)))
        return fused.mapped.copy(), solved

    def solve(self, max_iterations: int, max_seconds: float) -> list[Equilibrium]:
        if isinstance(self.kernels, FusedMarkets) and self.method == "anderson":
            return self._fused_solve(max_iterations, max_seconds)
        deadline = time.monotonic() + max_seconds
        active = np.ones(len(self.sizes), bool)
        while active.any():
            late = np.flatnonzero(active & (self.evaluations >= max_iterations))
            if late.size:
                m = late[0]
                raise ConvergenceError(f"equilibrium prices of market {m} did not converge in {self.evaluations[m]} "
                                       f"iterations (max |FOC/s| = {self.residuals[m]:.2e}, tolerance {self.tol:.0e})")
            if time.monotonic() > deadline:
                m = np.flatnonzero(active)[0]
                raise ConvergenceError(f"equilibrium prices of market {m} did not converge within the time limit of "
                                       f"{max_seconds:g} s ({self.evaluations[m]} iterations, max |FOC/s| = "
                                       f"{self.residuals[m]:.2e}, tolerance {self.tol:.0e})")
            active = self._squarem_step(active) if self.method == "squarem" else self._anderson_step(active)
        return [self.found[m] for m in range(len(self.sizes))]

    def _fused_solve(self, max_iterations: int, max_seconds: float) -> list[Equilibrium]:
        """``solve`` by Anderson's method in compiled rounds (``compiled_rounds.rounds``), ROUNDS_A_CALL
        a call, the time limit checked between calls; the same errors, then every market's record."""
        fused, deadline = self.kernels, time.monotonic() + max_seconds
        active = np.ones(len(self.sizes), bool)
        while active.any():
            if time.monotonic() > deadline:
                m = np.flatnonzero(active)[0]
                raise ConvergenceError(f"equilibrium prices of market {m} did not converge within the time limit of "
                                       f"{max_seconds:g} s ({self.evaluations[m]} iterations, max |FOC/s| = "
                                       f"{fused.residual[m]:.2e}, tolerance {self.tol:.0e})")
            status, m = fused.rounds(ROUNDS_A_CALL, active, self.evaluations, max_iterations, ANDERSON_RIDGE,
                                     self.prices, ANDERSON_MEMORY)
            if status == 1:
                raise ConvergenceError(f"equilibrium prices of market {m} did not converge in {self.evaluations[m]} "
                                       f"iterations (max |FOC/s| = {fused.residual[m]:.2e}, tolerance {self.tol:.0e})")
            if status == 2:
                raise ConvergenceError(f"equilibrium prices of market {m}: shares are not finite "
                                       "(check costs and mean utilities)")
        # every market's record from one copy of each stacked array (a market's arrays are views of its rows,
        # sliced: np.split's bookkeeping took some 0.1 ms for BLP 1995's 20 markets)
        prices, consumer, shares = self.prices.copy(), fused.consumer.copy(), fused.shares.copy()
        markups = prices - self.costs
        out = np.flatnonzero(~(shares > 0))
        first = np.searchsorted(out, self.starts).tolist()
        evaluations, residuals = self.evaluations.tolist(), fused.residual.tolist()
        for m, (a, b) in enumerate(zip(self.starts[:-1].tolist(), self.starts[1:].tolist())):
            self.found[m] = Equilibrium(prices[a:b], consumer[a:b], shares[a:b], markups[a:b], evaluations[m],
                                        residuals[m], True, priced_out=out[first[m]:first[m + 1]] - a)
        return [self.found[m] for m in range(len(self.sizes))]

    def _anderson_step(self, active: np.ndarray) -> np.ndarray:
        """One evaluation of the ``active`` markets' map G(p) = c + zeta(p) and Anderson's step from
        it (Walker and Ni 2011, type II, memory ANDERSON_MEMORY, mixing 1): with f = G(p) - p and the
        differences dF, dG of each market's last residuals and mapped prices, gamma minimises
        |f - dF gamma| and p <- G(p) - dG gamma. The normal equations, on unit-norm columns, are solved
        for every market in one batched call; the differences and their inner products are kept in
        rings (the newest replaces the oldest), so a step adds one column's inner products, not all.
        Returns the markets still iterating."""
        mapped, solved = self._map(self.prices, active)
        active = active & ~solved
        if not active.any():
            return active
        memory, starts, sizes = ANDERSON_MEMORY, self.starts[:-1], self.sizes
        f = mapped - self.prices  # rows of markets not active hold numbers never used
        slot = self.round % memory
        self.round += 1
        new = active & self.started  # a market's second and later points give a difference
        moving = np.repeat(new, sizes)
        self.diff_f[slot] = np.where(moving, f - self.last_f, 0.0)
        self.diff_g[slot] = np.where(moving, mapped - self.last_g, 0.0)
        self.last_f, self.last_g = f, mapped
        self.started |= active
        self.filled[new] = np.minimum(self.filled[new] + 1, memory)
        inner = np.add.reduceat(self.diff_f * self.diff_f[slot], starts, axis=1)  # (memory, markets)
        self.inner[slot], self.inner[:, slot] = inner, inner
        ages = (slot - np.arange(memory)) % memory  # rounds since each slot was written
        valid = (ages[None, :] < self.filled[:, None]) & active[:, None]  # (markets, memory)
        gram = self.inner.transpose(2, 0, 1).copy()  # (markets, memory, memory)
        norms = np.sqrt(np.maximum(np.diagonal(gram, axis1=1, axis2=2), 0.0))
        valid &= norms > 0
        norms = np.where(valid, norms, 1.0)
        gram /= norms[:, :, None] * norms[:, None, :]
        gram *= valid[:, :, None] & valid[:, None, :]
        gram[:, np.arange(memory), np.arange(memory)] += np.where(valid, ANDERSON_RIDGE, 1.0)
        right = np.where(valid, np.add.reduceat(self.diff_f * f, starts, axis=1).T / norms, 0.0)
        gamma = np.linalg.solve(gram, right[:, :, None])[:, :, 0] / norms  # (markets, memory); 0 where not valid
        candidate = mapped - np.einsum("cn,nc->n", self.diff_g, np.repeat(gamma, sizes, axis=0))
        finite = np.logical_and.reduceat(np.isfinite(candidate), starts)
        self.filled[~finite] = 0  # a step that failed: its market starts its differences afresh
        moving = np.repeat(active, sizes)
        self.prices = np.where(moving, np.where(np.repeat(finite, sizes), candidate, mapped), self.prices)
        return active

    def _squarem_step(self, active: np.ndarray) -> np.ndarray:
        """One SQUAREM step of the ``active`` markets: p1 = F(p), p2 = F(p1) and the extrapolation
        (``solve_prices``); returns the markets still iterating. The others' prices stay put."""
        prices = self.prices
        p1, solved = self._map(prices, active)
        active = active & ~solved
        if not active.any():
            return active
        p2, solved = self._map(p1, active)
        active = active & ~solved
        starts = self.starts[:-1]
        r, v = p1 - prices, p2 - 2 * p1 + prices
        vv, rr = np.add.reduceat(v * v, starts), np.add.reduceat(r * r, starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.repeat(np.where(vv > 0, np.minimum(-np.sqrt(rr / vv), -1.0), -1.0), self.sizes)
        candidate = prices - 2 * a * r + a * a * v
        finite = np.repeat(np.logical_and.reduceat(np.isfinite(candidate), starts), self.sizes)
        moving = np.repeat(active, self.sizes)
        self.prices = np.where(moving, np.where(finite, candidate, p2), prices)
        return active
