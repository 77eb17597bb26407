"""The terms of the Bertrand first-order conditions in O(I J) operations, without J x J matrices.

With ds/dp^c = diag(Lambda) - Gamma (``autopact.model.demand.jacobian_parts``) and margins m = p - c,
the FOC and the zeta-markup map of Morrow and Skerlos (2011) need Gamma only through the vector

    g_j = [(Omega o Gamma^T) m]_j = sum_k Omega_jk Gamma_kj m_k.

Writing Gamma_kj = sum_i w_i slope_i s_ik [s_ij + c_g 1(g_k=g_j) s_{ij|g} + c_h 1(h_k=h_j) s_{ij|h}]
(slope_i = -alpha_i, c_g = rho/(1-rho), c_h = 1/(1-rho_w) - 1/(1-rho)) and exchanging the sums,

    g_j = sum_i w_i slope_i [s_ij A_ij + c_g s_{ij|g} A^g_ij + c_h s_{ij|h} A^h_ij],                (1)
    A_ij = sum_k Omega_jk m_k s_ik,   A^g_ij = the same sum over k in j's nest,   A^h_ij = in j's subnest.

Each A is a product of Omega (masked by nests or subnests) with Y_ki = m_k s_ik, but Omega has few
distinct rows and columns (Omega_jk = kappa(f(j), f(k)) depends on j and k only through their
firms). Let phi(j) be j's finest group (its subnest, else its nest, else the whole market),
u(k) the class of Omega's column k and r(j) the class of its row j. Then A^l_ij depends on j only
through the "row cell" (r(j), phi(j)) and on Y only through the "cell sums"
B_(u, phi), i = sum_{k: u(k) = u, phi(k) = phi} Y_ki:

    A^l_ij = sum_{cells (u, phi')} Omega[r(j), u] 1(phi' and phi(j) in the same level-l group) B_(u, phi'), i,

a sparse product of the few cell sums. With e_ij = exp(V_ij / (1 - rho_w) - top_i), every choice
probability is e_ij times a ratio of its finest group: s_ij = e_ij Q_phi(j), i, s_{ij|g} = e_ij R_phi(j), i,
s_{ij|h} = e_ij T_phi(j), i (for example Q = P_g / sum_{k in g} e_k in the nested logit), so (1) is

    g_j = sum_i e_ij C_(r(j), phi(j)), i,   C = w slope [Q A + c_g R A^g + c_h T A^h] by row cell:

the arrays with a row per product are e, s and Y (and a gathered copy of C), O(I J) in all,
where Gamma costs O(I J^2).

``FocKernel`` evaluates s, Lambda and g for one market and ownership at any prices. Its arrays are
laid out products x households, so that sums over products are sparse products with contiguous
rows (scipy.sparse's compiled products, without importing scipy.sparse: ``autopact.model.compressed``),
and it works through blocks of households (``BLOCK_ELEMENTS`` numbers each), so that each block's
work arrays stay in the processor's cache and memory stays bounded whatever the number of households.
The choice probabilities are those of ``autopact.model.demand.probabilities``.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from autopact.model.compressed import Compressed
from autopact.model.demand import Demand
from autopact.model.households import household_blocks

# Numbers in each (products x households) block: a market of at most ONE_BLOCK_ELEMENTS numbers (4 MiB
# an array) is one block, a larger one is cut into blocks of at most BLOCK_ELEMENTS (1 MiB). Measured
# on the 2025 market (269 products): with 1,000 households one block was fastest (1.38 ms an
# evaluation against 1.5 to 1.65 with blocks of 2**16 to 2**18 numbers); with 100,000 households
# blocks of 2**17 (165 ms) against 2**16 (182 ms) and 2**19 (226 ms): small blocks spend more time in
# per-call overhead, large ones leave the processor's cache.
BLOCK_ELEMENTS = 2**17
ONE_BLOCK_ELEMENTS = 2**19
# Work arrays of this thread, reused by every kernel: a fresh array costs a page fault per 4 KiB
# page at its first use, which took longer than the arithmetic on it (several ms per solve).
_WORK = threading.local()


def _work_arrays(count: int, size: int) -> list[np.ndarray]:
    """Five flat work arrays of at least count * size numbers, owned by the calling thread."""
    arrays = getattr(_WORK, "arrays", [])
    if not arrays or arrays[0].size < count * size:
        arrays = _WORK.arrays = [np.empty(count * size) for _ in range(5)]
    return arrays


def _floor(shape: tuple[int, int]) -> np.ndarray:
    """An array of -250.0 of ``shape``, owned by the calling thread (filled once): np.maximum against a
    whole array took half the time of np.maximum against the scalar on a market's utilities (5.5 us
    against 11 for 116 x 200 numbers), with the same result."""
    size = shape[0] * shape[1]
    floor = getattr(_WORK, "floor", None)
    if floor is None or floor.size < size:
        floor = _WORK.floor = np.full(size, -250.0)
    return floor[:size].reshape(shape)


def _indicator(groups: np.ndarray, count: int) -> Compressed:
    """Sparse (count, n) matrix summing the rows of an (n, ...) array within each group (a 1 a column)."""
    return Compressed.indicator(groups, count)


def _base_utilities(demand: Demand, xi: np.ndarray) -> np.ndarray:
    """(xi_j + sum_k sigma_k nu_ik x_jk) / (1 - rho_w) laid out products x households (J, I): the
    utilities at zero prices. The last one computed is kept with the demand, for the next solve
    with the same xi (a baseline and its counterfactual, the solves of a constrained equilibrium)."""
    key = xi.tobytes()
    cached = demand._cache.get("zeta_base")
    if cached is None or cached[0] != key:
        rows = None
        if cached is not None and len(cached[0]) == len(key):  # a draw's xi: only its entrants' rows move
            moved = np.flatnonzero(np.frombuffer(cached[0]) != xi)
            rows = moved if 2 * len(moved) < len(xi) else None
        if rows is None:
            base = _utilities_at_zero(demand, xi, slice(None))
        else:  # each row depends on its own xi alone, so the rows not moved are the same numbers
            base = cached[1].copy()
            base[rows] = _utilities_at_zero(demand, xi, rows)
        cached = demand._cache["zeta_base"] = (key, base)
    return cached[1]


def _utilities_at_zero(demand: Demand, xi: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
    """Rows ``rows`` of ``_base_utilities``, row by row the same numbers whichever rows are asked."""
    base = np.repeat(xi[rows, None] / (1 - demand.lowest_rho), len(demand.weights), axis=1)
    term = np.empty_like(base)
    for x, draws in zip(demand.characteristics.T, (demand.nu * demand.sigma).T):
        # one characteristic at a time (no BLAS sum over K columns, whose rounding would differ); each
        # term a column times a row by np.dot, the numbers of np.multiply.outer in a third of its time
        np.dot((x[rows] / (1 - demand.lowest_rho))[:, None], draws[None, :], out=term)
        base += term
    return base


@functools.lru_cache(maxsize=64)
def _direction(size: int) -> np.ndarray:
    """The fixed random direction of ``_classes`` for rows of ``size`` numbers (a generator costs 10 us)."""
    direction = np.random.default_rng(0).uniform(1.0, 2.0, size)
    direction.flags.writeable = False
    return direction


def _classes(rows: np.ndarray, direction: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(class of each row, index of one row of each class): equal rows share a class.

    Rows are grouped by their projection on ``direction`` (by default a fixed random one), then
    checked equal to their class's first row; should two different rows ever project alike, rows
    are compared byte by byte instead."""
    if direction is None:
        direction = _direction(rows.shape[1])
    projection = rows @ direction
    _, first, classes = np.unique(projection, return_index=True, return_inverse=True)
    classes = classes.ravel()
    if np.array_equal(rows, rows[first[classes]]):
        return classes, first
    seen: dict[bytes, int] = {}
    classes = np.array([seen.setdefault(row.tobytes(), len(seen)) for row in rows], int)
    first = np.zeros(len(seen), int)
    first[classes[::-1]] = np.arange(len(classes))[::-1]
    return classes, first


def cell_mix(ownership: np.ndarray, row_firsts: np.ndarray, row_groups: np.ndarray, column_firsts: np.ndarray,
             cell_groups: np.ndarray, levels: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """The dense mix of (1), c_l A^l by row cell (levels stacked) from the cell sums: entry (row cell,
    cell) of level l is c_l Omega[r, u] where the row cell's and the cell's finest groups fall in one
    level-l group, else 0. ``row_firsts`` and ``column_firsts`` name a row of Omega in each row cell's
    row class and a column in each cell's column class; ``row_groups`` and ``cell_groups`` their finest
    groups; ``levels`` (c_l, the level-l group of each finest group). Shared by ``FocKernel`` and
    ``sorted_kernel.SortedKernel``, each with its own order of cells."""
    weight = ownership[np.ix_(row_firsts, column_firsts)]
    return np.vstack([coefficient * weight * (level[row_groups][:, None] == level[cell_groups][None, :])
                      for coefficient, level in levels])


def _exp_shifted(x: np.ndarray, top: np.ndarray, floor: np.ndarray | float = -250.0) -> np.ndarray:
    """exp(max(x - top, -250)) in place of x (``autopact.model.demand._exp``), columns shifted by top;
    ``floor``, -250 or an array of -250s of x's shape (``_floor``)."""
    x -= top
    np.maximum(x, floor, out=x)
    return np.exp(x, out=x)


def _outside(iv: np.ndarray) -> np.ndarray:
    """Probabilities exp(IV_g) / (1 + sum_h exp(IV_h)) of groups (G, n), shifted as in ``demand.probabilities``."""
    top = np.maximum(iv.max(axis=0), 0.0)
    ev = _exp_shifted(iv, top)
    ev /= np.exp(-top) + ev.sum(axis=0)
    return ev


def _cells(ownership: np.ndarray, finest: np.ndarray, groups: int, levels: list[tuple[float, np.ndarray]]
           ) -> tuple[Compressed, np.ndarray, np.ndarray, Compressed]:
    """(cell sums, row cell of each product, finest group of each row cell, c_l A^l by row cell) of
    ``FocKernel``: the sparse structure of (1) for one ownership and nesting. Read only."""
    column, first_column = _classes(ownership.T)
    row, first_row = _classes(ownership)
    cells, cell = np.unique(column * groups + finest, return_inverse=True)
    row_cells, row_cell = np.unique(row * groups + finest, return_inverse=True)
    mix = Compressed.from_dense(cell_mix(ownership, first_row[row_cells // groups], row_cells % groups,
                                         first_column[cells // groups], cells % groups, levels))
    return _indicator(cell.ravel(), len(cells)), row_cell.ravel(), row_cells % groups, mix


class FocKernel:
    """s, Lambda and g = (Omega o Gamma^T) m of one market and ownership at any consumer prices, in O(I J).

    ``xi`` is each product's mean utility net of price, so that V_ij = xi_j + taste_ij - alpha_i p_j.
    Every evaluation works in the calling thread's work arrays (``_work_arrays``), none of which
    holds anything between evaluations.
    """

    def __init__(self, xi: np.ndarray, demand: Demand, ownership: np.ndarray) -> None:
        rho, lowest = demand.rho, demand.lowest_rho
        count = len(demand.nests)
        self.rho, self.lowest = rho, lowest
        # utilities over (1 - lowest rho): (xi_j + taste_ji - alpha_i p_j) / (1 - rho_w), products x households
        self.base = _base_utilities(demand, np.asarray(xi, float))
        self.sensitivity = demand.price_sensitivity / (1 - lowest)
        self.slope = -demand.weights * demand.price_sensitivity  # w_i slope_i
        self.sums = np.column_stack([demand.weights, self.slope])  # s = sum_i s_ji w_i, Lambda (1 - rho_w) likewise
        self.ones = np.ones(len(demand.weights))
        # finest groups phi and, for each level of (1), the level's group of each finest group
        self.kind = "two-level" if demand.subnests is not None else "nested" if rho else "logit"
        finest = {"two-level": demand.subnests, "nested": demand.nests, "logit": np.zeros(count, int)}[self.kind]
        groups = int(finest.max()) + 1
        self.finest, self.finest_sums = finest, _indicator(finest, groups)
        nest_of = np.zeros(groups, int)
        nest_of[finest] = demand.nests
        if self.kind == "two-level":
            self.parent, self.parent_sums = nest_of, _indicator(nest_of, int(demand.nests.max()) + 1)
        levels = [(1.0, np.zeros(groups, int))]  # (coefficient, level group of each finest group)
        if rho:
            levels.append((rho / (1 - rho), nest_of))
        if demand.subnests is not None:
            levels.append((1 / (1 - lowest) - 1 / (1 - rho), np.arange(groups)))
        # cells (u(k), phi(k)) of the columns and row cells (r(j), phi(j)) of the rows of Omega: the last
        # ownership's are kept with the demand (a run's draws solve one ownership on one demand)
        ownership = np.asarray(ownership, float)
        key = ownership.tobytes()
        cached = demand._cache.get("zeta_cells")
        if cached is None or cached[0] != key:
            cached = demand._cache["zeta_cells"] = (key, _cells(ownership, finest, groups, levels))
        self.cell_sums, self.row_cell, self.row_cell_group, self.mix = cached[1]
        size = count * len(demand.weights)
        self.blocks = list(household_blocks(len(demand.weights), count,
                                            size if size <= ONE_BLOCK_ELEMENTS else BLOCK_ELEMENTS))
        self.block_size = max(block.stop - block.start for block in self.blocks)

    def terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shares s, Lambda and g = (Omega o Gamma^T) m (each (J,)) at consumer prices ``prices``."""
        count, cells = len(prices), len(self.row_cell_group)
        work = _work_arrays(count, self.block_size)
        totals, weighted = np.zeros((count, 2)), np.zeros(count)
        # the cell sums of Y = m s: the indicator's 1 in column k replaced by m_k, so that its product
        # adds m_k s_ki where the indicator's added the 1 x (s_ki m_k) of a Y written out beforehand: the
        # same products (a multiplication commutes exactly) summed in the same order, one pass fewer
        indicator = self.cell_sums
        margin_sums = Compressed("csc", indicator.shape, indicator.indptr, indicator.indices, margin)
        for block in self.blocks:
            n = block.stop - block.start
            e, s, part = (buffer[:count * n].reshape(count, n) for buffer in work[:3])
            rates, term = (buffer[:cells * n].reshape(cells, n) for buffer in work[3:])
            ratios = self._exponentials(prices, block, e)
            np.take(ratios[0], self.finest, axis=0, out=s, mode="clip")
            s *= e  # s_ij = e_ij Q_phi(j)
            mixed = self.mix @ (margin_sums @ s)  # c_l A^l by row cell, levels stacked
            for level, ratio in enumerate(ratios):
                np.take(ratio, self.row_cell_group, axis=0, out=term if level else rates, mode="clip")
                if level:
                    term *= mixed[level * cells:(level + 1) * cells]
                    rates += term
                else:
                    rates *= mixed[:cells]
            rates *= self.slope[block]
            np.take(rates, self.row_cell, axis=0, out=part, mode="clip")
            part *= e
            weighted += part @ self.ones[block]
            totals += s @ self.sums[block]
        return totals[:, 0], totals[:, 1] / (1 - self.lowest), weighted

    def _exponentials(self, prices: np.ndarray, block: slice, e: np.ndarray) -> list[np.ndarray]:
        """e_ij = exp(V_ij / (1 - rho_w) - top_i) into e (J, n), and the ratios (Q, R, T) of the finest
        groups (each (groups, n)) with s_ij = e_ij Q, s_{ij|g} = e_ij R and s_{ij|h} = e_ij T, for the
        levels present, as ``demand.probabilities`` computes the shares."""
        # p_j alpha_i / (1 - rho_w) as a product of a column by a row: the same numbers as np.multiply.outer
        # (one rounding each), in a third of its time on the BLP 1995 markets (116 x 200: 5.7 us against 18)
        np.dot(prices[:, None], self.sensitivity[None, block], out=e)
        np.subtract(self.base[:, block], e, out=e)
        if self.kind == "logit":
            top = np.maximum(e.max(axis=0), 0.0)
            total = self.finest_sums @ _exp_shifted(e, top, _floor(e.shape))
            return [1 / (np.exp(-top) + total)]
        top = e.max(axis=0)
        total = self.finest_sums @ _exp_shifted(e, top, _floor(e.shape))  # sums of e within finest groups
        with np.errstate(divide="ignore"):
            log_sums = np.log(total) + top
            within = 1 / total  # s_{ij|phi} = e_ij / sum_{k in phi} e_k
        if self.kind == "nested":
            return [_outside((1 - self.rho) * log_sums) * within, within]
        # two levels: subnests h within nests g, with s_{h|g} from the subnests' inclusive values
        x = log_sums * ((1 - self.lowest) / (1 - self.rho))
        top = x.max(axis=0)
        nest_total = self.parent_sums @ _exp_shifted(x, top)
        with np.errstate(divide="ignore", invalid="ignore"):
            subnest_share = x / nest_total[self.parent]
            nest_iv = (1 - self.rho) * (np.log(nest_total) + top)
        within_nest = within * subnest_share
        ratios = [_outside(nest_iv)[self.parent] * within_nest]
        return ratios + ([within_nest, within] if self.rho else [within])
