"""Many markets' arrays stacked for the compiled zeta map (``autopact.model.compiled``), and the
loading of those loops where numba is installed.

``solve_prices_markets`` evaluates every market's map in one compiled call; the call takes each
array once for all markets, stacked (products one market after another, households likewise) with
each market's first row in ``product_start`` and ``household_start``. What SortedKernel sets up in
numpy for a market (its ownership cells, its bound on the utilities at zero prices) is set up here by
compiled loops (``compiled_setup.prepare``, ``compiled.tops``): 2.1-3.1 ms for BLP 1995's 20
markets against 8.3-10.4 ms for their twenty SortedKernels (two runs, load 4-6).

This module imports without numba; ``compiled_loops`` imports the compiled modules on first use (so
``import autopact`` and every CLI command that solves no many-market equilibrium never load numba).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from autopact.model.demand import Demand
from autopact.model.supply import Taxes
from autopact.model.zeta import _direction


def compiled_loops() -> ModuleType | None:
    """The compiled loops (``autopact.model.compiled_rounds``, which brings ``compiled``,
    ``compiled_anderson`` and ``compiled_setup``), or None where numba is not installed (then
    ``solve_prices_markets`` solves by SortedKernel and numpy, to the same prices within 1e-12)."""
    try:
        return importlib.import_module("autopact.model.compiled_rounds")
    except ImportError:
        return None


def _groups(nests: np.ndarray) -> tuple[np.ndarray, int]:
    """Nest numbers 0..G-1 in the order of the nests' own numbers, and G."""
    nests = np.asarray(nests, np.int64)
    if nests.size and nests.min() == 0 and np.bincount(nests).all():
        return nests, int(nests.max()) + 1
    values, group = np.unique(nests, return_inverse=True)
    return group.ravel().astype(np.int64), len(values)


class FusedMarkets:
    """Every market's demand, ownership cells, costs and taxes as stacked arrays, and the outputs of
    the last evaluation of their zeta maps (``evaluate``): consumer prices, shares, the mapped prices,
    each market's residual max_j |FOC_j / s_j| and its ``stale`` and ``finite`` checks. Each market
    must be one ``sorted_kernel.supports`` covers (no subnests, one block of households)."""

    def __init__(self, xi: list[np.ndarray], demands: list[Demand], ownerships: list[np.ndarray],
                 costs: list[np.ndarray], taxes: list[Taxes], tol: float, compiled: ModuleType) -> None:
        self.compiled, self.tol = compiled, tol
        count = len(xi)
        sizes = np.array([len(x) for x in xi])
        households = np.array([len(d.weights) for d in demands])
        self.product_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.household_start = np.concatenate([[0], np.cumsum(households)]).astype(np.int64)
        self.rho = np.array([float(d.rho) for d in demands])
        self.logit = self.rho == 0
        scale = 1.0 / (1.0 - self.rho)
        self.groups = np.ones(count, np.int64)
        names = ("nest", "cell", "row_cell", "cell_group", "row_cell_group", "indptr", "indices", "data")
        parts = {name: [] for name in names}
        cell_start, row_cell_start, mix_start, nonzero = [0], [0], [0], 0
        for m, (d, o) in enumerate(zip(demands, ownerships)):
            group, G = _groups(d.nests) if self.rho[m] else (np.zeros(sizes[m], np.int64), 1)
            self.groups[m] = G
            cell, row_cell, cell_group, row_cell_group, indptr, indices, data = compiled.prepare(
                np.ascontiguousarray(o, dtype=float), group, G, self.rho[m] * scale[m], _direction(sizes[m]))
            for name, value in zip(names, (group, cell, row_cell, cell_group, row_cell_group, indptr[:-1] + nonzero,
                                           indices, data)):
                parts[name].append(value)
            nonzero += len(indices)
            mix_start.append(mix_start[-1] + len(indptr) - 1)
            cell_start.append(cell_start[-1] + len(cell_group))
            row_cell_start.append(row_cell_start[-1] + len(row_cell_group))
        parts["indptr"].append(np.array([nonzero]))
        cat = np.concatenate
        self.nest, self.cell, self.row_cell = cat(parts["nest"]), cat(parts["cell"]), cat(parts["row_cell"])
        self.cell_group, self.row_cell_group = cat(parts["cell_group"]), cat(parts["row_cell_group"])
        self.mix_indptr, self.mix_indices, self.mix_data = cat(parts["indptr"]), cat(parts["indices"]), cat(parts["data"])
        self.cell_start, self.row_cell_start = np.array(cell_start, np.int64), np.array(row_cell_start, np.int64)
        self.mix_start = np.array(mix_start[:-1], np.int64)
        by_product, by_household = np.repeat(scale, sizes), np.repeat(scale, households)
        self.rxi = cat(xi).astype(float) * by_product
        # characteristics with random coefficients, r x_jk, and the households' sigma_k nu_ik (K, I), each
        # market's padded with zeros to the largest K of any market, at least 2
        width = max(2, *(len(d.sigma) for d in demands))  # at least 2: compiled._utility_row
        self.rx = np.zeros((len(self.rxi), width))
        self.snu = np.zeros((width, len(by_household)))
        for m, d in enumerate(demands):
            k = len(d.sigma)
            self.rx[self.product_start[m]:self.product_start[m + 1], :k] = d.characteristics
            self.snu[:k, self.household_start[m]:self.household_start[m + 1]] = (d.nu * d.sigma).T
        self.rx *= by_product[:, None]
        sensitivity = cat([d.price_sensitivity for d in demands])
        self.weights = cat([d.weights for d in demands]).astype(float)
        self.sensitivity, self.slope = sensitivity * by_household, -self.weights * sensitivity
        starts = self.household_start[:-1]
        self.limit = 1.0 / np.add.reduceat(self.weights * sensitivity, starts)  # demand.limit_markup
        self.rising = np.minimum.reduceat(sensitivity, starts) < 0
        self.steepest = np.maximum.reduceat(np.abs(self.sensitivity), starts)
        self.base_top = np.empty(len(sensitivity))
        compiled.tops(self.product_start, self.household_start, self.rxi, self.rx, self.snu, self.base_top)
        self.exact = np.zeros(count, bool)
        # each market's e_ij, kept from one evaluation to the next (compiled.evaluate updates them where prices
        # moved little), with the consumer prices and -top_i they were computed at
        self.work_start = np.concatenate([[0], np.cumsum(sizes * households)]).astype(np.int64)
        self.work = np.empty(int(self.work_start[-1]))
        self.last_paid, self.last_shift = np.full(int(self.product_start[-1]), np.nan), np.zeros(len(by_household))
        self.fresh, self.drift = np.zeros(int(self.product_start[-1]), bool), np.zeros(int(self.product_start[-1]))
        total = int(self.product_start[-1])
        self.costs = cat(costs).astype(float)
        self.t = 1 + cat([t.ad_valorem for t in taxes]).astype(float)
        self.specific = cat([t.specific for t in taxes]).astype(float)
        self.consumer, self.shares, self.mapped = np.zeros(total), np.zeros(total), np.zeros(total)
        self.residual, self.stale, self.finite = np.full(count, np.inf), np.zeros(count, bool), np.ones(count, bool)

    def state(self) -> tuple:
        """The arrays ``compiled.evaluate`` takes after the producer prices, in its order."""
        return (self.costs, self.t, self.specific, self.limit, self.tol, self.product_start, self.household_start,
                self.cell_start, self.row_cell_start, self.mix_start, self.groups, self.logit, self.rising, self.exact,
                self.rho, self.steepest, self.rxi, self.rx, self.nest, self.cell, self.row_cell, self.sensitivity,
                self.snu, self.base_top, self.weights, self.slope, self.cell_group, self.row_cell_group,
                self.mix_indptr, self.mix_indices, self.mix_data, self.work, self.work_start, self.last_paid,
                self.last_shift, self.fresh, self.drift, self.consumer, self.shares, self.mapped, self.residual,
                self.stale, self.finite)

    def evaluate(self, prices: np.ndarray, markets: np.ndarray) -> None:
        """The zeta map of the markets numbered in ``markets`` (int64) at the stacked producer ``prices``,
        into ``mapped`` and the other outputs (rows of the markets not listed keep their numbers)."""
        self.compiled.evaluate(markets, prices, *self.state())
