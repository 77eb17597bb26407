"""The FOC terms of ``autopact.model.zeta.FocKernel`` with each market's products sorted into cells.

``FocKernel`` evaluates s, Lambda and g = (Omega o Gamma^T) m of one market in O(I J) operations.
On a market of BLP (1995)'s size (about 110 products, 200 households) an evaluation took 155 us,
of which the arithmetic on the products x households arrays was the lesser part: scipy.sparse's
dispatch (about 10 us a product), gathers by nest, the largest utility of each household (two
passes) and the -250 floor (one pass). ``SortedKernel`` computes the same quantities by the same
formulas (zeta's module docstring, equation (1)) in fewer calls, for the solves of many markets
(``autopact.model.markets``):

- the products are sorted once, nest by nest and within a nest by the class of their column of
  Omega, so that every nest and every cell (u(k), phi(k)) is a range of consecutive rows: one CSR
  product (scipy's compiled routine, called directly by ``autopact.model.compressed.csr_sums``,
  which loads it without importing scipy.sparse) gives both the sums of e within each nest and the
  sums of m_k e_ik within each cell, reading e once;
- r V_ij - top_i (r = 1 / (1 - rho)) is one BLAS product of the products' (r xi, r x, p, 1) with the
  households' (1, sigma nu, -r alpha_i, -top_i), where top_i is a bound on household i's largest
  r V_ij (its largest r (xi_j + taste_ij), kept from construction, less r alpha_i min_j p_j), not
  the largest itself: e_ij <= 1 cannot overflow, and the bound lies at most r |alpha_i| (max p -
  min p) above the largest. Where that spread, with the spread of r (xi + taste), keeps every
  r V_ij - top_i above -240, the -250 floor cannot bind and its pass is skipped; where it exceeds
  200 and some household's e_ij all fall below e^-200, the evaluation is FocKernel's;
- s and Lambda of every nest come from one product e (J x I) by [w Q_g, r slope Q_g]_g (I x 2G),
  and the outputs are taken back into the caller's product order by one ``take`` each.

A product whose share sits at the floor (priced out) gets e^-250 relative to the bound rather than
to the household's largest utility: a share of order 1e-109 that can differ from FocKernel's by a
factor up to e^(bound - largest); its FOC, and so the equilibrium, are the same (test_markets).

Measured on BLP 1995's 20 markets (one BLAS thread, the median of 200 evaluations of each market,
averaged over markets, load 4.6-7): 102 us an evaluation against FocKernel's 155 us in the same
run. Timed step by step (113 us with the timers): the passes over the arrays 46 us (exponentials
18, the utility product 8, the CSR sums 10, the gather of the rates 4.7, the row dots 5.7), s and
Lambda by nest 11, and about 40 calls on small arrays the rest (the nests' outside shares 15 us,
mixing cells into row cells 14, the rates 9, prices and the bound 9).

It covers the models with at most one level of nests (logit, RC logit, nested logit, RCNL) and a
market whose arrays fit one block of households (``zeta.ONE_BLOCK_ELEMENTS``); ``supports`` says
whether a demand qualifies. The numbers are FocKernel's up to rounding (sums in another order:
about 1e-15 relative), not to the bit, which is why ``solve_prices`` (whose results the golden
files record) keeps ``FocKernel``.
"""

from __future__ import annotations

import numpy as np

from autopact.model.compressed import Compressed, csr_sums
from autopact.model.demand import Demand
from autopact.model.zeta import ONE_BLOCK_ELEMENTS, FocKernel, _classes, _floor, _work_arrays, cell_mix

# A household whose sum of e_ij is below products x _TINY has a bound on its largest utility more
# than 200 above it: its terms are taken with the exact largest utility instead (FocKernel).
_TINY = float(np.exp(-200.0))


def _csr_parts(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) of a dense matrix's nonzero entries, row by row: ``Compressed.from_dense``'s."""
    m = Compressed.from_dense(dense)
    return m.indptr, m.indices, m.data


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum_i a_ji b_ji for each row j (np.vecdot where numpy has it, 2.0 on)."""
    vecdot = getattr(np, "vecdot", None)
    return vecdot(a, b) if vecdot is not None else np.einsum("ji,ji->j", a, b)


def supports(demand: Demand, products: int) -> bool:
    """Whether ``SortedKernel`` covers this market: no second level of nests, one block of households."""
    return demand.subnests is None and products * len(demand.weights) <= ONE_BLOCK_ELEMENTS


def _starts(keys: np.ndarray) -> np.ndarray:
    """Positions where a sorted key array changes value (each run's first row), starting with 0."""
    return np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))


class SortedKernel:
    """s, Lambda and g = (Omega o Gamma^T) m of one market at any consumer prices (``FocKernel.terms``),
    with the products sorted by nest and ownership class (module docstring). An evaluation writes the
    kernel's own small buffers (prices, the bound, sums), so one kernel serves one thread at a time
    (``solve_prices_markets`` builds its own for each solve)."""

    def __init__(self, xi: np.ndarray, demand: Demand, ownership: np.ndarray) -> None:
        if not supports(demand, len(xi)):
            raise ValueError("SortedKernel: demand with subnests, or more than one block of households")
        count, rho = len(xi), float(demand.rho)
        self.count, self.households, self.rho, self.nested = count, len(demand.weights), rho, rho > 0
        self.scale = scale = 1.0 / (1.0 - rho)
        nests = np.asarray(demand.nests, int) if rho else np.zeros(count, int)
        ownership = np.asarray(ownership, float)
        # where Omega is symmetric (firms, mergers) its rows and columns fall in the same classes: the rows'
        # are found on the array as it lies in memory (on its transpose, a strided view, it took twice as long)
        row, first_row = _classes(ownership)
        column, first_column = (row, first_row) if np.array_equal(ownership, ownership.T) else _classes(ownership.T)
        self.order = order = np.lexsort((column, nests))  # nest by nest, then by Omega's column class
        nests, column, row = nests[order], column[order], row[order]
        nest_starts = _starts(nests)
        self.groups = groups = len(nest_starts)
        group = np.cumsum(np.concatenate([[0], nests[1:] != nests[:-1]]))  # 0..G-1 in sorted order
        cell_starts = _starts(group * (int(column.max()) + 1) + column)
        self.cell_group, cell_column = group[cell_starts], column[cell_starts]
        cell_nests = _starts(self.cell_group)
        self.nest_cells = [slice(a, b) for a, b in zip(cell_nests, [*cell_nests[1:], len(cell_starts)])]
        row_cells, row_cell = np.unique(row * groups + group, return_inverse=True)
        self.row_cell, self.row_cell_group = row_cell.ravel(), row_cells % groups
        levels = [(1.0, np.zeros(groups, int))]  # (c_l, the level-l group of each nest): one market, then nests
        if self.nested:
            levels.append((rho / (1 - rho), np.arange(groups)))
        self.mix = _csr_parts(cell_mix(ownership, first_row[row_cells // groups], self.row_cell_group,
                                 first_column[cell_column], self.cell_group, levels))
        self.mixed = np.empty((len(levels) * len(row_cells), self.households))
        # one sparse product sums e within each nest (rows 0..G-1) and m_k e_ik within each cell
        # (rows G..): every product is one column entry of each, so the data of the cell rows are m
        self.indptr = np.concatenate([nest_starts, count + cell_starts, [2 * count]]).astype(np.intp)
        self.indices = np.concatenate([np.arange(count), np.arange(count)]).astype(np.intp)
        self.data = np.ones(2 * count)
        self.summed = np.empty((groups + len(cell_starts), self.households))
        # r V_ij - top_i = [r xi, r x, p, 1]_j . [1, sigma nu_i, -r alpha_i, -top_i], r = 1 / (1 - rho): one product
        characteristics = np.asarray(demand.characteristics, float)[order]
        k = characteristics.shape[1]
        self.rows = np.empty((count, k + 3))
        self.rows[:, 0] = np.asarray(xi, float)[order] * scale
        self.rows[:, 1:k + 1] = characteristics * scale
        self.rows[:, k + 2] = 1.0
        sensitivity = demand.price_sensitivity
        self.sensitivity = sensitivity * scale
        self.columns = np.vstack([np.ones(self.households), (demand.nu * demand.sigma).T, -self.sensitivity,
                                  np.zeros(self.households)])
        # the utilities' largest term at zero prices, for a bound on each household's largest utility
        base = self.rows[:, :k + 1] @ self.columns[:k + 1]
        self.base_top = base.max(axis=0)
        # the widest spread of a household's r (xi_j + taste_ij) over products: with the spread of prices
        # it bounds how far below top_i any r V_ij can fall, and so whether the -250 floor can bind
        self.spread = float((self.base_top - base.min(axis=0)).max())
        self.steepest, self.rising = float(np.abs(self.sensitivity).max()), bool(np.any(sensitivity < 0))
        self.slope = -demand.weights * sensitivity  # w_i slope_i
        # s_j and Lambda_j of a product in nest g: column 2g and 2g + 1 of e @ [w Q_g, r slope Q_g]_g
        self.sums = np.vstack([demand.weights, self.slope * scale])
        self.weights, self.nest_sums = np.empty((groups, 2, self.households)), np.empty((count, 2 * groups))
        inverse = np.empty(count, int)
        inverse[order] = np.arange(count)
        self.inverse = inverse
        self.share_index = (np.arange(count) * 2 * groups + 2 * group)[inverse]
        self.ratios = np.empty((2, groups, self.households))  # Q (s_ij = e_ij Q) and R (s_ij|g = e_ij R)
        self.rate_index = (np.arange(len(levels))[:, None] * groups + self.row_cell_group[None, :]).ravel()
        self.floor = _floor((count, self.households))
        self.inputs, self.exact = (xi, demand, ownership), None  # FocKernel's exact tops, where the bound fails

    def terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shares s, Lambda and g = (Omega o Gamma^T) m (each (J,), in the caller's product order) at
        consumer prices ``prices`` and margins ``margin``."""
        count, households, groups = self.count, self.households, self.groups
        e, y = (buffer[:count * households].reshape(count, households)
                for buffer in _work_arrays(count, households)[:2])
        if not self.exponentials(prices, margin, e):
            return self.exact_terms(prices, margin)
        shift = self.columns[-1]
        totals, cell_sums = self.summed[:groups], self.summed[groups:]  # sums of e in each nest, of m e in each cell
        share, within = self.ratios  # (G, I) each; totals > 0 (every e_ij >= e^-250)
        if self.nested:
            np.divide(1.0, totals, out=within)
            iv = np.log(totals)  # the nests' inclusive values, (1 - rho) (log T_g + top)
            iv -= shift
            iv *= 1 - self.rho
            if (1 - self.rho) * (np.log(count) - float(shift.min())) < 700:  # T_g <= J: exp(iv) cannot overflow
                outside = np.exp(iv, out=iv)
                outside /= 1.0 + outside.sum(axis=0)
            else:  # shifted by the largest, as _outside
                largest = np.maximum(iv.max(axis=0), 0.0)
                iv -= largest
                outside = np.exp(iv, out=iv)
                outside /= np.exp(-largest) + outside.sum(axis=0)
            np.multiply(outside, within, out=share)  # s_ij = e_ij Q_g(j),i
        else:
            np.divide(1.0, np.exp(shift) + totals, out=share)
        for g, cells in enumerate(self.nest_cells):  # Y's cell sums B = Q_g (sums of m e): cells lie nest by nest
            cell_sums[cells] *= share[g]
        mixed = self.mixed  # c_l A^l by row cell, levels stacked
        mixed.fill(0.0)
        csr_sums(*self.mix, cell_sums, mixed)
        ratios = (self.ratios.reshape(2 * groups, households) * self.slope).take(self.rate_index, axis=0)
        ratios *= mixed  # w slope [Q A, c R A^g] by row cell
        cells = len(self.row_cell_group)
        rates = ratios[:cells] + ratios[cells:] if self.nested else ratios
        weights = self.weights  # (G, 2, I): w_i Q_gi and r slope_i Q_gi
        np.multiply(share, self.sums[0], out=weights[:, 0])
        np.multiply(share, self.sums[1], out=weights[:, 1])
        return self.finish(e, y, rates, weights)

    def exponentials(self, prices: np.ndarray, margin: np.ndarray, e: np.ndarray) -> bool:
        """e_ij = exp(r V_ij - top_i) into e (sorted products x households), -top_i into ``columns[-1]``,
        and the sums of e within each nest and of m_k e_ik within each cell into ``summed``; False
        where the bound top_i is too loose for some household (``exact_terms`` then)."""
        count = self.count
        ordered = np.take(prices, self.order, out=self.rows[:, -2])
        low, high = float(ordered.min()), float(ordered.max())
        # top_i = max_j r (xi_j + taste_ij) - r alpha_i min_j p_j bounds household i's largest r V_ij
        # from above (FocKernel finds the largest: two passes over the array more), so that e_ij =
        # exp(r V_ij - top_i) <= 1 cannot overflow; it lies at most r |alpha_i| (max p - min p) above
        # the largest, and where that could exceed 200 the sums below are checked
        shift = self.columns[-1]
        np.multiply(self.sensitivity, low, out=shift)
        if self.rising:  # a household whose utility rises with price: its largest at the highest price
            np.minimum(shift, self.sensitivity * high, out=shift)
        shift -= self.base_top
        raised = 0.0  # how far top_i lies above the bound, at most (logit: the outside good's utility 0)
        if not self.nested:
            raised = max(float(shift.max()), 0.0)
            np.minimum(shift, 0.0, out=shift)
        np.dot(self.rows, self.columns, out=e)
        looseness = self.steepest * (high - low)  # top_i - max_j r V_ij <= this, and so does min_j
        if self.spread + looseness + raised > 240:
            np.maximum(e, self.floor, out=e)  # a pass skipped where no r V_ij - top_i can reach -250
        np.exp(e, out=e)
        np.take(margin, self.order, out=self.data[count:])
        summed = self.summed
        summed.fill(0.0)
        csr_sums(self.indptr, self.indices, self.data, e, summed)
        return not (looseness > 200 and np.any(summed[:self.groups].sum(axis=0) < count * _TINY))

    def exact_terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FocKernel's terms (the largest utility of each household found, not bounded)."""
        if self.exact is None:
            self.exact = FocKernel(*self.inputs)
        return self.exact.terms(prices, margin)

    def finish(self, e: np.ndarray, y: np.ndarray, rates: np.ndarray, weights: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """s, Lambda and g in the caller's order from e, each row cell's rates (``row_cell`` of ``rates``:
        each product's) and the nests' weights (G, 2, I)."""
        np.take(rates, self.row_cell, axis=0, out=y, mode="clip")
        sums = np.dot(e, weights.reshape(2 * self.groups, self.households).T, out=self.nest_sums).ravel()
        return (sums.take(self.share_index), sums.take(self.share_index + 1),
                _row_dots(e, y).take(self.inverse))
