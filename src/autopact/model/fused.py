"""Set-up of many markets' arrays for the compiled zeta map (prototype)."""

from __future__ import annotations

import numpy as np

from autopact.model.demand import Demand, limit_markup
from autopact.model.zeta import _direction


def compiled_loops():
    """The compiled module (``autopact.model.compiled``), or None where numba is not installed."""
    try:
        from autopact.model import compiled
    except ImportError:
        return None
    return compiled


def _groups(nests: np.ndarray) -> tuple[np.ndarray, int]:
    """Nest numbers 0..G-1 in the order of the nests' own numbers, and G."""
    nests = np.asarray(nests, np.int64)
    if nests.size and nests.min() == 0 and np.bincount(nests).all():
        return nests, int(nests.max()) + 1
    values, group = np.unique(nests, return_inverse=True)
    return group.ravel().astype(np.int64), len(values)


class FusedMarkets:
    def __init__(self, xi, demands, ownerships, costs, taxes, tol, compiled):
        self.compiled = compiled
        count = len(xi)
        sizes = np.array([len(x) for x in xi])
        hh = np.array([len(d.weights) for d in demands])
        self.product_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.household_start = np.concatenate([[0], np.cumsum(hh)]).astype(np.int64)
        self.rho = np.array([float(d.rho) for d in demands])
        self.logit = self.rho == 0
        self.groups = np.zeros(count, np.int64)
        self.limit = np.array([limit_markup(d) for d in demands])
        parts = {name: [] for name in ("rxi", "rx", "snu", "sens", "slope", "weights", "nest", "cell", "row_cell",
                                       "cell_group", "row_cell_group", "indptr", "indices", "data", "top")}
        cstart, rstart, mstart = [0], [0], [0]
        nnz = 0
        sensitivities = []
        for m, (x, d, o) in enumerate(zip(xi, demands, ownerships)):
            rho = float(d.rho)
            r = 1.0 / (1.0 - rho)
            n = len(x)
            if rho:
                group, G = _groups(d.nests)
            else:
                group, G = np.zeros(n, np.int64), 1
            self.groups[m] = G
            rxi, rx = r * np.asarray(x, float), r * np.asarray(d.characteristics, float)
            snu = np.ascontiguousarray((d.nu * d.sigma).T)
            cell, row_cell, cell_group, row_cell_group, indptr, indices, data, top = self.compiled.prepare(
                np.ascontiguousarray(o, dtype=float), group, G, rho / (1 - rho), _direction(n), rxi, rx, snu)
            for name, value in (("rxi", rxi), ("rx", rx), ("snu", snu), ("nest", group), ("cell", cell),
                                ("row_cell", row_cell), ("cell_group", cell_group), ("row_cell_group", row_cell_group),
                                ("indptr", indptr[:-1] + nnz), ("indices", indices), ("data", data), ("top", top)):
                parts[name].append(value)
            nnz += len(indices)
            mstart.append(mstart[-1] + len(indptr) - 1)
            cstart.append(cstart[-1] + len(cell_group)); rstart.append(rstart[-1] + len(row_cell_group))
            ps = d.price_sensitivity
            sensitivities.append(ps)
            parts["sens"].append(ps * r); parts["slope"].append(-d.weights * ps)
            parts["weights"].append(np.asarray(d.weights, float))
        parts["indptr"].append(np.array([nnz]))
        cat = np.concatenate
        self.rxi, self.rx = cat(parts["rxi"]), np.ascontiguousarray(np.vstack(parts["rx"]))
        self.snu = np.ascontiguousarray(np.hstack(parts["snu"]))
        self.sensitivity, self.base_top = cat(parts["sens"]), cat(parts["top"])
        self.slope, self.weights = cat(parts["slope"]), cat(parts["weights"])
        self.nest, self.cell, self.row_cell = cat(parts["nest"]), cat(parts["cell"]), cat(parts["row_cell"])
        self.cell_group, self.row_cell_group = cat(parts["cell_group"]), cat(parts["row_cell_group"])
        self.cell_start, self.row_cell_start = np.array(cstart, np.int64), np.array(rstart, np.int64)
        self.mix_start = np.array(mstart[:-1], np.int64)
        self.mix_indptr, self.mix_indices, self.mix_data = cat(parts["indptr"]), cat(parts["indices"]), cat(parts["data"])
        self.rising = np.array([bool(np.any(s < 0)) for s in sensitivities])
        self.steepest = np.array([float(np.abs(s).max()) for s in sensitivities]) / (1 - self.rho)
        self.exact = np.zeros(count, bool)
        self.work = np.empty(int((sizes * hh).max()))
        total = int(self.product_start[-1])
        self.costs = np.concatenate(costs).astype(float)
        self.t = 1 + np.concatenate([t.ad_valorem for t in taxes]).astype(float)
        self.specific = np.concatenate([t.specific for t in taxes]).astype(float)
        self.consumer, self.shares, self.mapped = np.zeros(total), np.zeros(total), np.zeros(total)
        self.residual, self.stale, self.finite = np.full(count, np.inf), np.zeros(count, bool), np.ones(count, bool)
        self.tol = tol

    def evaluate(self, prices, markets):
        self.compiled.evaluate(
            markets, prices, self.costs, self.t, self.specific, self.limit, self.tol, self.product_start,
            self.household_start, self.cell_start, self.row_cell_start, self.mix_start, self.groups, self.logit,
            self.rising, self.exact, self.rho, self.steepest, self.rxi, self.rx, self.nest, self.cell, self.row_cell,
            self.sensitivity, self.snu, self.base_top, self.weights, self.slope, self.cell_group, self.row_cell_group,
            self.mix_indptr, self.mix_indices, self.mix_data, self.work, self.consumer, self.shares, self.mapped,
            self.residual, self.stale, self.finite)
