"""Row kernels of ``autopact.model.compiled``'s zeta map (numba): a row of e_ij updated for a small
move of its price (``_moved_row``, by the Taylor series of exp to the degree the move needs) and the
dot products of each row with its nest's and row cell's weights (``_dots``). Loaded with ``compiled``,
only where numba is installed."""

from __future__ import annotations

import numba

from autopact.model.compiled_setup import FAST

# (bound on |x|, degree): exp(x) by its Taylor series to the degree of the first bound at or above the largest
# |x| of a row; the first term left out is below 6e-19 in each (2^-60 / 2, 2^-60 / 6, 2^-56 / 24, 2^-55 / 120,
# 2^-49 / 5040, 2^-40 / 10!), far below a rounding of the result (1.1e-16)
DEGREES = ((2.0**-30, 1), (2.0**-20, 2), (2.0**-14, 3), (2.0**-11, 4), (2.0**-7, 6), (2.0**-4, 9))


@numba.njit(cache=True, fastmath={"contract"}, inline="always")
def _moved_row(ej, total, summed, shifted, sens, step, margin, degree):
    """e_ij <- e_ij exp(x_i), x_i = shifted_i - sens_i step, exp by its Taylor series to ``degree`` (1, 2,
    3, 4, 6 or 9: DEGREES), each written out so that its loop is vectorised; its sums as ``evaluate``'s."""
    n = ej.size
    if degree == 1:
        for i in range(n):
            value = ej[i] * (1.0 + (shifted[i] - sens[i] * step))
            ej[i] = value
            total[i] += value
            summed[i] += margin * value
    elif degree == 2:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = ej[i] * (1.0 + x * (1.0 + x * (1 / 2)))
            ej[i] = value
            total[i] += value
            summed[i] += margin * value
    elif degree == 3:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = ej[i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6))))
            ej[i] = value
            total[i] += value
            summed[i] += margin * value
    elif degree == 4:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = ej[i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24)))))
            ej[i] = value
            total[i] += value
            summed[i] += margin * value
    elif degree == 6:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = ej[i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (1 / 720)))))))
            ej[i] = value
            total[i] += value
            summed[i] += margin * value
    else:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = ej[i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (
                1 / 720 + x * (1 / 5040 + x * (1 / 40320 + x * (1 / 362880))))))))))
            ej[i] = value
            total[i] += value
            summed[i] += margin * value


@numba.njit(cache=True, fastmath=FAST)
def _dots(e, nest, row_cell, weighted_share, weighted_lambda, rates, s, lam, weighted):
    """s_j, Lambda_j and g_j: the dot products of e_j with its nest's w Q and r slope Q and its row
    cell's rates (``SortedKernel.finish``), summed in any order (SIMD)."""
    for j in range(e.shape[0]):
        ej, ws, wl, rate = e[j], weighted_share[nest[j]], weighted_lambda[nest[j]], rates[row_cell[j]]
        a, b, c = 0.0, 0.0, 0.0
        for i in range(ej.size):
            a += ej[i] * ws[i]
            b += ej[i] * wl[i]
            c += ej[i] * rate[i]
        s[j], lam[j], weighted[j] = a, b, c
