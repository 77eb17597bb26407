"""The terms of the Bertrand first-order conditions in O(I J) operations, without J x J matrices.

With ds/dp^c = diag(Lambda) - Gamma (``autopact.model.demand.jacobian_parts``) and margins m = p - c,
the FOC and the zeta-markup map of Morrow and Skerlos (2011) need Gamma only through the vector

    g_j = [(Omega o Gamma^T) m]_j = sum_k Omega_jk Gamma_kj m_k.

Writing Gamma_kj = sum_i w_i slope_i s_ik [s_ij + c_g 1(g_k=g_j) s_{ij|g} + c_h 1(h_k=h_j) s_{ij|h}]
(slope_i = -alpha_i, c_g = rho/(1-rho), c_h = 1/(1-rho_w) - 1/(1-rho)) and exchanging the sums,

    g_j = sum_i w_i slope_i [s_ij A_ij + c_g s_{ij|g} A^g_ij + c_h s_{ij|h} A^h_ij],
    A_ij = sum_k Omega_jk m_k s_ik,   A^g_ij = the same sum over k in j's nest,   A^h_ij = in j's subnest.

A = Omega Y with Y_ki = m_k s_ik. Omega has few distinct columns (one per firm: Omega_jk =
kappa(f(j), f(k)) depends on k only through its firm), so Omega = V E^T with E the (J, U) indicator
of each product's column class and V its U distinct columns, and A = V (E^T Y): sums of Y's rows
within each class and a sparse product, O(I J) where Gamma costs O(I J^2). Masking Omega by nests
only splits the classes by nest.

``FocKernel`` evaluates s, Lambda and g for one market and ownership at any prices. Its arrays are
laid out products x households, so that sums over products are sparse products with contiguous
rows, and it works through blocks of households (``BLOCK_ELEMENTS`` numbers each), so that each
block's temporaries stay in the processor's cache and memory stays bounded whatever the number of
households. The choice probabilities are those of ``autopact.model.demand.probabilities``.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import sparse

from autopact.model.demand import Demand
from autopact.model.households import household_blocks

# Numbers in each (products x households) block: 2**17 doubles (1 MiB), measured fastest on the 2025
# market (269 products, blocks of 487 households) among 2**14 to 2**18 (smaller blocks spend more
# time in per-call overhead, larger ones leave the processor's cache).
BLOCK_ELEMENTS = 2**17
# Work arrays of this thread, reused by every kernel: a fresh array costs a page fault per 4 KiB
# page at its first use, which took longer than the arithmetic on it (several ms per solve).
_WORK = threading.local()


def _work_arrays(count: int, size: int) -> list[np.ndarray]:
    """Five flat work arrays of at least count * size numbers, owned by the calling thread."""
    arrays = getattr(_WORK, "arrays", [])
    if not arrays or arrays[0].size < count * size:
        arrays = _WORK.arrays = [np.empty(count * size) for _ in range(5)]
    return arrays


def _indicator(groups: np.ndarray, count: int) -> sparse.csr_matrix:
    """Sparse (count, n) matrix summing the rows of an (n, ...) array within each group."""
    return sparse.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))), shape=(count, len(groups)))


def _scaled_taste(demand: Demand) -> np.ndarray:
    """sum_k sigma_k nu_ik x_jk / (1 - rho_w) laid out products x households (J, I), kept with the demand."""
    if "zeta_taste" not in demand._cache:
        taste = np.zeros((len(demand.nests), len(demand.weights)))
        for x, draws in zip(demand.characteristics.T, (demand.nu * demand.sigma).T):
            taste += np.multiply.outer(x / (1 - demand.lowest_rho), draws)  # no threaded BLAS for K columns
        demand._cache["zeta_taste"] = taste
    return demand._cache["zeta_taste"]


def _column_classes(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class of each column (J,), index of one column of each class (U,)): equal columns share a class."""
    seen: dict[bytes, int] = {}
    classes = np.array([seen.setdefault(matrix[:, k].tobytes(), len(seen)) for k in range(matrix.shape[1])], int)
    first = np.zeros(len(seen), int)
    first[classes[::-1]] = np.arange(len(classes))[::-1]
    return classes, first


def _compressed(matrix: np.ndarray, classes: np.ndarray, first: np.ndarray, groups: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(V, u) with M_jk = V[j, u(k)] for M = matrix, or M_jk = matrix_jk 1(groups_j = groups_k) with
    ``groups``: a masked column depends only on its class and its group."""
    values = matrix[:, first]
    if groups is None:
        return values, classes
    width = int(groups.max()) + 1
    pairs, pair_class = np.unique(classes * width + groups, return_inverse=True)
    return values[:, pairs // width] * (groups[:, None] == (pairs % width)[None, :]), pair_class.ravel()


class _Level:
    """One term c_l sum_i w_i slope_i F_ij (M Y)_ji of g: M is Omega or Omega masked by nest or subnest,
    F is s, s_{.|g} or s_{.|h} (``factor`` 0, 1, 2). M Y is V (E^T Y); when V is 0/1 with one 1 a row
    (no profit weights), the product with V picks rows."""

    def __init__(self, matrix: np.ndarray, classes: np.ndarray, first: np.ndarray, groups: np.ndarray | None,
                 coefficient: float, factor: int) -> None:
        values, column_class = _compressed(matrix, classes, first, groups)
        self.sums = _indicator(column_class, values.shape[1])  # E^T (U, J)
        nonzero = values != 0
        one_hot = bool(np.all(nonzero.sum(axis=1) == 1) and np.all(values[nonzero] == 1))
        self.pick = values.argmax(axis=1) if one_hot else None
        self.values = None if one_hot else sparse.csr_matrix(values)
        self.coefficient, self.factor = coefficient, factor

    def apply(self, y: np.ndarray, out: np.ndarray) -> None:
        """out <- M y for y (J, n)."""
        sums = self.sums @ y
        if self.pick is not None:
            np.take(sums, self.pick, axis=0, out=out, mode="clip")
        else:
            out[...] = self.values @ sums


class FocKernel:
    """s, Lambda and g = (Omega o Gamma^T) m of one market and ownership at any consumer prices, in O(I J).

    ``xi`` is each product's mean utility net of price, so that V_ij = xi_j + taste_ij - alpha_i p_j.
    Every evaluation works in the calling thread's work arrays (``_work_arrays``), none of which
    holds anything between evaluations.
    """

    def __init__(self, xi: np.ndarray, demand: Demand, ownership: np.ndarray) -> None:
        rho, lowest = demand.rho, demand.lowest_rho
        self.rho, self.lowest, self.nests, self.subnests = rho, lowest, demand.nests, demand.subnests
        self.nested = bool(rho) or demand.subnests is not None
        # utilities over (1 - lowest rho): (xi_j + taste_ji - alpha_i p_j) / (1 - rho_w), products x households
        self.xi = np.asarray(xi, float)[:, None] / (1 - lowest)
        self.taste = _scaled_taste(demand)
        self.sensitivity = demand.price_sensitivity / (1 - lowest)
        self.weights = demand.weights
        self.slope = -demand.weights * demand.price_sensitivity  # w_i slope_i
        ownership = np.asarray(ownership, float)
        classes, first = _column_classes(ownership)
        self.levels = [_Level(ownership, classes, first, None, 1.0, 0)]
        if rho:
            self.nest_sums = _indicator(demand.nests, int(demand.nests.max()) + 1)
            self.levels.append(_Level(ownership, classes, first, demand.nests, rho / (1 - rho), 1))
        if demand.subnests is not None:
            parent = np.zeros(int(demand.subnests.max()) + 1, int)
            parent[demand.subnests] = demand.nests
            self.parent, self.parent_sums = parent, _indicator(parent, int(demand.nests.max()) + 1)
            self.subnest_sums = _indicator(demand.subnests, len(parent))
            self.levels.append(_Level(ownership, classes, first, demand.subnests,
                                      1 / (1 - lowest) - 1 / (1 - rho), 2))
        self.coefficients = np.array([level.coefficient for level in self.levels])
        self.blocks = list(household_blocks(len(demand.weights), len(demand.nests), BLOCK_ELEMENTS))
        self.block_size = max(block.stop - block.start for block in self.blocks)

    def terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shares s, Lambda and g = (Omega o Gamma^T) m (each (J,)) at consumer prices ``prices``."""
        count = len(prices)
        work = _work_arrays(count, self.block_size)
        total, lam, weighted = np.zeros(count), np.zeros(count), np.zeros((len(self.levels), count))
        margin = margin[:, None]
        for block in self.blocks:
            n = block.stop - block.start
            x, s, y, spare, part = (buffer[:count * n].reshape(count, n) for buffer in work)
            factors = self._probabilities(prices, block, x, s, spare)
            np.multiply(factors[0], margin, out=y)
            for level, row in zip(self.levels, weighted):
                level.apply(y, part)
                part *= factors[level.factor]
                row += part @ self.slope[block]
            total += factors[0] @ self.weights[block]
            lam += factors[0] @ self.slope[block]
        return total, lam / (1 - self.lowest), self.coefficients @ weighted

    def _probabilities(self, prices: np.ndarray, block: slice, x: np.ndarray, s: np.ndarray, spare: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """s_ij, s_{ij|g} and s_{ij|h} (each (J, n), in the work arrays) as ``demand.probabilities``."""
        np.multiply.outer(prices, self.sensitivity[block], out=x)
        np.subtract(self.taste[:, block], x, out=x)
        x += self.xi
        if not self.nested:
            top = np.maximum(x.max(axis=0), 0.0)
            _exp_shifted(x, top)
            x /= np.exp(-top) + x.sum(axis=0)
            return x, x, x
        if self.subnests is None:
            log_sums = _level(x, self.nests, self.nest_sums, spare)  # x: s_{ij|g}
            within_nest = within_subnest = x
        else:
            rho, rho_w = self.rho, self.lowest
            log_sums = _level(x, self.subnests, self.subnest_sums, spare)  # x: s_{ij|h}
            subnest_share = log_sums * ((1 - rho_w) / (1 - rho))
            log_sums = _level(subnest_share, self.parent, self.parent_sums, None)
            within_subnest, within_nest = x, spare
            np.take(subnest_share, self.subnests, axis=0, out=within_nest, mode="clip")
            within_nest *= within_subnest
        iv = (1 - self.rho) * log_sums
        iv_top = np.maximum(iv.max(axis=0), 0.0)
        ev = _exp_shifted(iv, iv_top)
        ev /= np.exp(-iv_top) + ev.sum(axis=0)
        np.take(ev, self.nests, axis=0, out=s, mode="clip")
        s *= within_nest
        return s, within_nest, within_subnest


def _exp_shifted(x: np.ndarray, top: np.ndarray) -> np.ndarray:
    """exp(max(x - top, -250)) in place of x (``autopact.model.demand._exp``), columns shifted by top."""
    x -= top
    np.maximum(x, -250.0, out=x)
    return np.exp(x, out=x)


def _level(x: np.ndarray, groups: np.ndarray, sums: sparse.csr_matrix, gathered: np.ndarray | None) -> np.ndarray:
    """Log sums (G, n) of exp(x) within groups, replacing x by the within-group shares
    exp(x_j) / sum_{k in g(j)} exp(x_k) (``demand._group_log_sum`` on a products x households array);
    ``sums`` is the groups' indicator and ``gathered`` a work array shaped like x, if any."""
    top = x.max(axis=0)
    _exp_shifted(x, top)
    total = sums @ x
    with np.errstate(divide="ignore"):
        log_sums = np.log(total) + top
    with np.errstate(divide="ignore", invalid="ignore"):
        if gathered is None:
            x /= total[groups]
        else:
            np.take(total, groups, axis=0, out=gathered, mode="clip")
            x /= gathered
    return log_sums
