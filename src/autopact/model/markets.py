"""Equilibria of many markets solved together: one evaluation of the zeta map covers every market.

``solve_prices`` solves one market; a data set of many markets (the BLP 1995 automobile data: 20
markets of 72 to 150 products and 200 agents) solved market by market spends most of its time in
the per-call work of each evaluation (a few dozen numpy and sparse calls on arrays of ~20,000
numbers), not in arithmetic. ``solve_prices_markets`` stacks the markets' products one above the
other (households padded to the largest market, with zero weight), so that one evaluation of
``FocKernel.terms`` is the same few dozen calls on arrays of all markets' numbers: the sparse sums
over products become block-diagonal (no sum crosses a market) and the sums a market needs over its
own products alone (the largest utility of each household, the outside option's denominator) are
segment reductions (``np.maximum.reduceat``, ``np.add.reduceat``).

Each market keeps its own SQUAREM iteration (Varadhan and Roland 2008: its own step length from
its own residuals) and its own stopping rule, those of ``solve_prices``: the iterates of a market
are the ones ``solve_prices`` takes, so the prices agree with a market-by-market solve to rounding.
A market whose first-order conditions are met stops; the others go on over a kernel rebuilt
without it once the stopped markets hold a quarter of the stacked rows. Markets whose demands
differ in kind or nesting parameters, and two-level nested demand, are solved by ``solve_prices``
one by one.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from autopact.errors import ConvergenceError
from autopact.model.demand import Demand
from autopact.model.households import household_blocks
from autopact.model.supply import SOLVE_SECONDS, Equilibrium, Taxes, solve_prices
from autopact.model.zeta import FocKernel

# A kernel over the markets still iterating is rebuilt once the stopped ones hold this fraction of
# its rows (a rebuild stacks arrays already built: cheaper than a few evaluations of the stopped rows).
REBUILD_FRACTION = 0.25
STACKED_BLOCK_ELEMENTS = 2**19


class MarketsKernel:
    """s, Lambda and g = (Omega o Gamma^T) m of several markets at once: ``FocKernel.terms`` over the
    markets' products stacked (rows) and their households padded to the largest market (columns).

    Built from each market's ``FocKernel``, which must all be of kind "logit" or all "nested" with
    one nesting parameter (``stackable``).
    """

    def __init__(self, kernels: list[FocKernel]) -> None:
        if not stackable(kernels):
            raise ValueError("kernels: markets stacked together need one demand kind (logit or nested) and one rho")
        first = kernels[0]
        self.kind, self.rho = first.kind, first.rho
        sizes = [len(k.finest) for k in kernels]
        households = max(len(k.sensitivity) for k in kernels)
        self.starts = np.cumsum([0, *sizes[:-1]])
        self.market_of_row = np.repeat(np.arange(len(kernels)), sizes)
        groups = [k.finest_sums.shape[0] for k in kernels]
        self.group_starts = np.cumsum([0, *groups[:-1]])
        self.market_of_group = np.repeat(np.arange(len(kernels)), groups)
        row_cells = [len(k.row_cell_group) for k in kernels]
        cell_offsets = np.cumsum([0, *row_cells[:-1]])

        def padded(rows: list[np.ndarray]) -> np.ndarray:
            out = np.zeros((sum(len(r) for r in rows), households))
            at = 0
            for r in rows:
                out[at:at + len(r), :r.shape[1]] = r
                at += len(r)
            return out

        # per row: utilities at zero prices, price sensitivity; per row cell: w_i slope_i; padding is zero
        self.base = padded([k.base for k in kernels])
        self.sensitivity = padded([np.broadcast_to(k.sensitivity, (n, len(k.sensitivity))) for k, n in zip(kernels, sizes)])
        self.slope = padded([np.broadcast_to(k.slope, (n, len(k.slope))) for k, n in zip(kernels, row_cells)])
        # (w_i, w_i slope_i) of each market, padded: s and Lambda are sums over a market's households
        self.sums = np.zeros((len(kernels), households, 2))
        for m, k in enumerate(kernels):
            self.sums[m, :len(k.sums)] = k.sums
        self.ones = np.ones(households)
        self.rows = [slice(a, a + n) for a, n in zip(self.starts, sizes)]
        self.finest = np.concatenate([k.finest + g for k, g in zip(kernels, self.group_starts)])
        self.finest_sums = sparse.block_diag([k.finest_sums for k in kernels], format="csc")
        self.row_cell = np.concatenate([k.row_cell + c for k, c in zip(kernels, cell_offsets)])
        self.row_cell_group = np.concatenate([k.row_cell_group + g for k, g in zip(kernels, self.group_starts)])
        self.cell_sums = sparse.block_diag([k.cell_sums for k in kernels], format="csc")
        levels = kernels[0].mix.shape[0] // row_cells[0]
        self.mix = sparse.vstack([sparse.block_diag([k.mix[level * n:(level + 1) * n] for k, n in zip(kernels, row_cells)])
                                  for level in range(levels)], format="csr")
        count = len(self.finest)
        size = count * households
        self.blocks = list(household_blocks(households, count, min(size, STACKED_BLOCK_ELEMENTS)))
        n = max(block.stop - block.start for block in self.blocks)
        self._work = [np.empty(rows * n) for rows in [count] * 3 + [len(self.row_cell_group)] * 2
                      + [len(kernels)] * 2 + [len(self.market_of_group)] * 2]
        self.lowest = first.lowest

    def terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shares s, Lambda and g = (Omega o Gamma^T) m of every stacked product at consumer prices ``prices``."""
        count, cells, groups = len(prices), len(self.row_cell_group), len(self.market_of_group)
        markets = len(self.starts)
        work = self._work
        weighted, totals = np.zeros(count), np.zeros((count, 2))
        products = np.empty((count, 2))
        margin = margin[:, None]
        prices = prices[:, None]
        for block in self.blocks:
            n = block.stop - block.start
            e, s, part = (w[:count * n].reshape(count, n) for w in work[:3])
            rates, term = (w[:cells * n].reshape(cells, n) for w in work[3:5])
            top, outer = (w[:markets * n].reshape(markets, n) for w in work[5:7])
            iv, within = (w[:groups * n].reshape(groups, n) for w in work[7:9])
            # V_ij / (1 - rho), then e_ij = exp(V_ij / (1 - rho) - top_i), top_i the largest in i's market
            np.multiply(self.sensitivity[:, block], prices, out=e)
            np.subtract(self.base[:, block], e, out=e)
            for m, rows in enumerate(self.rows):  # faster than np.maximum.reduceat over all rows
                np.max(e[rows], axis=0, out=top[m])
            if self.kind == "logit":
                np.maximum(top, 0.0, out=top)
            np.take(top, self.market_of_row, axis=0, out=s, mode="clip")
            e -= s
            np.maximum(e, -250.0, out=e)
            np.exp(e, out=e)
            total = self.finest_sums @ e  # sums of e within finest groups
            if self.kind == "logit":  # one group a market: Q = 1 / (exp(-top) + total)
                np.negative(top, out=top)
                np.exp(top, out=top)
                total += top
                ratios = [np.divide(1.0, total, out=total)]
            else:
                with np.errstate(divide="ignore"):
                    np.log(total, out=iv)
                    np.divide(1.0, total, out=within)
                np.take(top, self.market_of_group, axis=0, out=total, mode="clip")
                iv += total
                iv *= 1 - self.rho  # inclusive values (1 - rho) log sum exp
                np.maximum.reduceat(iv, self.group_starts, axis=0, out=outer)
                np.maximum(outer, 0.0, out=outer)
                np.take(outer, self.market_of_group, axis=0, out=total, mode="clip")
                iv -= total
                np.maximum(iv, -250.0, out=iv)
                np.exp(iv, out=iv)
                np.add.reduceat(iv, self.group_starts, axis=0, out=top)
                np.negative(outer, out=outer)
                np.exp(outer, out=outer)
                outer += top
                np.take(outer, self.market_of_group, axis=0, out=total, mode="clip")
                iv /= total
                iv *= within
                ratios = [iv, within]
            np.take(ratios[0], self.finest, axis=0, out=s, mode="clip")
            s *= e  # s_ij = e_ij Q_phi(j)
            np.multiply(s, margin, out=part)  # Y
            mixed = self.mix @ (self.cell_sums @ part)  # c_l A^l by row cell, levels stacked
            np.take(ratios[0], self.row_cell_group, axis=0, out=rates, mode="clip")
            rates *= mixed[:cells]
            for level in range(1, len(ratios)):
                np.take(ratios[level], self.row_cell_group, axis=0, out=term, mode="clip")
                term *= mixed[level * cells:(level + 1) * cells]
                rates += term
            rates *= self.slope[:, block]
            np.take(rates, self.row_cell, axis=0, out=part, mode="clip")
            part *= e
            weighted += part @ self.ones[block]
            for m, rows in enumerate(self.rows):
                np.matmul(s[rows], self.sums[m, block], out=products[rows])
            totals += products
        return totals[:, 0], totals[:, 1] / (1 - self.lowest), weighted


def stackable(kernels: list[FocKernel]) -> bool:
    """Whether the markets' kernels can share a ``MarketsKernel``: all logit, or all nested with one rho."""
    kinds = {(k.kind, k.rho, k.lowest) for k in kernels}
    return len(kinds) == 1 and next(iter(kinds))[0] in ("logit", "nested")


def solve_prices_markets(costs: list[np.ndarray], xi: list[np.ndarray], demands: list[Demand],
                         ownerships: list[np.ndarray], taxes: list[Taxes], initial: list[np.ndarray] | None = None,
                         tol: float = 1e-12, max_iterations: int = 10_000,
                         max_seconds: float = SOLVE_SECONDS) -> list[Equilibrium]:
    """Bertrand-Nash producer prices of several independent markets, solved together (module docstring).

    Each argument is a list with one entry per market, as ``solve_prices`` takes them for one market;
    so is the result. Every market is solved by SQUAREM to max_j |FOC_j / s_j| < ``tol`` from its
    ``initial`` prices (default: its costs), and its ``Equilibrium.iterations`` counts the evaluations
    of its map, as ``solve_prices`` reports them. Raises ConvergenceError naming the first market
    that has not converged within ``max_iterations`` evaluations or ``max_seconds`` in all.
    """
    count = len(costs)
    for name, values in (("xi", xi), ("demands", demands), ("ownerships", ownerships), ("taxes", taxes),
                         ("initial", initial if initial is not None else costs)):
        if len(values) != count:
            raise ValueError(f"{name}: one entry a market expected ({count} markets in costs), got {len(values)}")
    if count == 0:
        return []
    kernels = [FocKernel(x, d, o) for x, d, o in zip(xi, demands, ownerships)]
    if not stackable(kernels):
        return [solve_prices(c, x, d, o, t, initial=None if initial is None else p0, tol=tol,
                             max_iterations=max_iterations, max_seconds=max_seconds, kernel=k)
                for c, x, d, o, t, p0, k in zip(costs, xi, demands, ownerships, taxes,
                                                initial if initial is not None else costs, kernels)]
    return _Stacked(costs, demands, taxes, initial, kernels, tol).solve(max_iterations, max_seconds)


class _Stacked:
    """SQUAREM on every market at once, each with its own step length and stopping rule (``solve_prices``)."""

    def __init__(self, costs: list[np.ndarray], demands: list[Demand], taxes: list[Taxes],
                 initial: list[np.ndarray] | None, kernels: list[FocKernel], tol: float) -> None:
        self.kernels, self.tol = kernels, tol
        sizes = [len(c) for c in costs]
        self.starts = np.cumsum([0, *sizes])
        self.costs = np.concatenate(costs).astype(float)
        prices = np.concatenate(costs if initial is None else initial).astype(float)
        self.prices = np.where(np.isfinite(prices), prices, self.costs)
        self.ad_valorem = np.concatenate([t.ad_valorem for t in taxes]).astype(float)
        self.specific = np.concatenate([t.specific for t in taxes]).astype(float)
        # the small-share logit limit c + 1/alpha-bar of a priced-out product (see solve_prices)
        self.limit = np.repeat([1.0 / float(d.weights @ d.price_sensitivity) for d in demands], sizes)
        self.evaluations = np.zeros(len(costs), int)
        self.residuals = np.full(len(costs), np.inf)
        self.found: dict[int, Equilibrium] = {}
        self.markets: list[int] = []  # markets of the current kernel, and its rows
        self.rows = np.zeros(0, int)
        self.kernel: MarketsKernel | None = None

    def _use(self, markets: list[int]) -> None:
        """Stack the kernel of ``markets`` (the markets still iterating)."""
        self.markets = markets
        self.rows = np.concatenate([np.arange(self.starts[m], self.starts[m + 1]) for m in markets])
        self.kernel = MarketsKernel([self.kernels[m] for m in markets])
        self.local_starts = np.cumsum([0, *[self.starts[m + 1] - self.starts[m] for m in markets]])[:-1]

    def _map(self, p: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c + zeta(p) on the kernel's rows (p holds those rows), and which of its markets are solved at p.
        Records the equilibrium of each market solved at p. ``active`` marks the kernel's markets iterating."""
        rows, starts = self.rows, self.local_starts
        t = 1 + self.ad_valorem[rows]
        consumer = t * p + self.specific[rows]
        costs, limit = self.costs[rows], self.limit[rows]
        margin = p - costs
        s, lam, weighted = self.kernel.terms(consumer, margin)
        self.evaluations[np.array(self.markets)[active]] += 1
        foc = s + t * (lam * margin - weighted)
        live = s > 0
        finite = np.logical_and.reduceat(np.isfinite(s), starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(live, np.abs(foc / s), 0.0)
            zeta = (weighted - s / t) / lam
        residual = np.maximum.reduceat(ratio, starts)
        stale = np.logical_or.reduceat(~live & (np.abs(margin - limit) > self.tol * limit), starts)
        solved = active & (residual < self.tol) & ~stale
        for k in np.flatnonzero(active):
            market = self.markets[k]
            if not finite[k]:
                raise ConvergenceError(f"equilibrium prices of market {market}: shares are not finite "
                                       "(check costs and mean utilities)")
            self.residuals[market] = residual[k]
            if solved[k]:
                part = slice(starts[k], starts[k + 1] if k + 1 < len(starts) else len(p))
                self.found[market] = Equilibrium(p[part].copy(), consumer[part], s[part], margin[part],
                                                 int(self.evaluations[market]), float(residual[k]), True,
                                                 priced_out=np.flatnonzero(~live[part]))
        return costs + np.where(live, zeta, limit), solved

    def solve(self, max_iterations: int, max_seconds: float) -> list[Equilibrium]:
        deadline = time.monotonic() + max_seconds
        self._use(list(range(len(self.kernels))))
        while True:
            left = [m for m in self.markets if m not in self.found]
            if not left:
                return [self.found[m] for m in range(len(self.kernels))]
            late = [m for m in left if self.evaluations[m] >= max_iterations]
            if late:
                raise ConvergenceError(f"equilibrium prices of market {late[0]} did not converge in "
                                       f"{self.evaluations[late[0]]} iterations (max |FOC/s| = "
                                       f"{self.residuals[late[0]]:.2e}, tolerance {self.tol:.0e})")
            if time.monotonic() > deadline:
                raise ConvergenceError(f"equilibrium prices of market {left[0]} did not converge within the time "
                                       f"limit of {max_seconds:g} s ({self.evaluations[left[0]]} iterations, "
                                       f"max |FOC/s| = {self.residuals[left[0]]:.2e}, tolerance {self.tol:.0e})")
            stopped = len(self.rows) - sum(self.starts[m + 1] - self.starts[m] for m in left)
            if stopped > REBUILD_FRACTION * len(self.rows):
                self._use(left)
            self._squarem_step()

    def _squarem_step(self) -> None:
        """One SQUAREM step of every market still iterating: p1 = F(p), p2 = F(p1), the extrapolation."""
        active = np.array([m not in self.found for m in self.markets])
        rows, starts = self.rows, self.local_starts
        prices = self.prices[rows]
        p1, solved = self._map(prices, active)
        active &= ~solved
        if not active.any():
            return
        p2, solved = self._map(p1, active)
        active &= ~solved
        r, v = p1 - prices, p2 - 2 * p1 + prices
        vv, rr = np.add.reduceat(v * v, starts), np.add.reduceat(r * r, starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(vv > 0, np.minimum(-np.sqrt(rr / vv), -1.0), -1.0)
        a = np.repeat(a, np.diff(np.append(starts, len(rows))))
        candidate = prices - 2 * a * r + a * a * v
        finite = np.repeat(np.logical_and.reduceat(np.isfinite(candidate), starts), np.diff(np.append(starts, len(rows))))
        moving = np.repeat(active, np.diff(np.append(starts, len(rows))))
        self.prices[rows[moving]] = np.where(finite, candidate, p2)[moving]
