"""Row kernels of ``autopact.model.compiled``'s zeta map (numba): a row of e_ij updated for a small
move of its price (``_moved_row``, by the Taylor series of exp to the degree the move needs), the
entries near the utilities' floor found (``_near``) and taken afresh after such an update
(``_refresh``), and the dot products of each row with its nest's and row cell's weights (``_dots``). Loaded with ``compiled``,
only where numba is installed."""

from __future__ import annotations

import math

import numba
import numpy as np

from autopact.model.compiled_setup import FAST

FLOOR = -250.0  # the floor of the shifted utilities r V_ij - top_i (``compiled.evaluate``)
MARGIN = 10.0  # a row whose utilities come within MARGIN of the floor, or moved by more in all, is taken afresh
CHUNK = 32  # households tested together for utilities near the floor (``_near``)
# (bound on |x|, degree): exp(x) by its Taylor series to the degree of the first bound at or above the largest
# |x| of a row; the first term left out is below 6e-19 in each (2^-60 / 2, 2^-60 / 6, 2^-56 / 24, 2^-55 / 120,
# 2^-49 / 5040, 2^-40 / 10!, 2^-36 / 12!, 2^-28 / 14!), far below a rounding of the result (1.1e-16)
DEGREES = ((2.0**-30, 1), (2.0**-20, 2), (2.0**-14, 3), (2.0**-11, 4), (2.0**-7, 6), (2.0**-4, 9), (2.0**-3, 11),
           (2.0**-2, 13))


@numba.njit(cache=True, fastmath={"contract"}, inline="always")
def _moved_row(e, j, totals, g, sums, c, shifted, sens, step, margin, degree):
    """e_ij <- e_ij exp(x_i) in row j of e, x_i = shifted_i - sens_i step, exp by its Taylor series to
    ``degree`` (1, 2, 3, 4, 6, 9, 11 or 13: DEGREES), each written out so that its loop is vectorised; its
    sums into row g of ``totals`` and row c of ``sums``, as ``evaluate``'s. Rows by two indices, not views:
    a view costs two atomic updates of its array's reference count (the rows' views took 2.8 of a BLP 1995
    market's 17.3 us after a tiny move)."""
    n = e.shape[1]
    if degree == 1:
        for i in range(n):
            value = e[j, i] * (1.0 + (shifted[i] - sens[i] * step))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    elif degree == 2:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2)))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    elif degree == 3:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6))))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    elif degree == 4:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24)))))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    elif degree == 6:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (1 / 720)))))))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    elif degree == 9:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (
                1 / 720 + x * (1 / 5040 + x * (1 / 40320 + x * (1 / 362880))))))))))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    elif degree == 11:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (
                1 / 720 + x * (1 / 5040 + x * (1 / 40320 + x * (1 / 362880 + x * (1 / 3628800 + x * (
                    1 / 39916800))))))))))))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value
    else:
        for i in range(n):
            x = shifted[i] - sens[i] * step
            value = e[j, i] * (1.0 + x * (1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x * (
                1 / 720 + x * (1 / 5040 + x * (1 / 40320 + x * (1 / 362880 + x * (1 / 3628800 + x * (
                    1 / 39916800 + x * (1 / 479001600 + x * (1 / 6227020800))))))))))))))
            e[j, i] = value
            totals[g, i] += value
            sums[c, i] += margin * value


@numba.njit(cache=True, fastmath=FAST)
def _dots(e, nest, row_cell, weighted_share, weighted_lambda, rates, s, lam, weighted):
    """s_j, Lambda_j and g_j: the dot products of e_j with its nest's w Q and r slope Q and its row
    cell's rates (``SortedKernel.finish``), summed in any order (SIMD)."""
    for j in range(e.shape[0]):
        g, r = nest[j], row_cell[j]  # rows by two indices, not views (``_moved_row``)
        a, b, c = 0.0, 0.0, 0.0
        for i in range(e.shape[1]):
            a += e[j, i] * weighted_share[g, i]
            b += e[j, i] * weighted_lambda[g, i]
            c += e[j, i] * rates[r, i]
        s[j], lam[j], weighted[j] = a, b, c


# fdlibm's e_log.c (Sun Microsystems 1993): ln 2 in two parts and the coefficients of its polynomial in s^2
# fdlibm's ln2_hi (ln 2 to 32 bits, so n * LN2_HI is exact) and ln2_lo (ln 2 - LN2_HI); compiled's exp uses them too
LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
LG1, LG2, LG3, LG4 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01
LG5, LG6, LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01
SMALLEST, LARGEST = 2.2250738585072014e-308, 1.7976931348623157e308  # the normal numbers, where it applies


@numba.njit(cache=True, error_model="numpy")
def _log_row(x, out, high, reduced):
    """out = log(x), element by element, by fdlibm's __ieee754_log written without branches, so that
    the compiler vectorises it (numba's np.log is the C library's, one number at a time: 11 ns each
    here, 4.5 us for the 400 logarithms of a BLP 1995 market's evaluation). x = 2^k (1 + f) with 1 + f
    in [sqrt(2)/2, sqrt(2)), log(1 + f) from s = f / (2 + f) and a polynomial in s^2: within 1 ulp of
    the exact logarithm (fdlibm's bound), as the C library's. Numbers that are not positive, normal and
    finite (0, subnormals, infinities, NaN) take np.log. ``high`` (int64) and ``reduced`` (float64)
    are work arrays of x's length. No fastmath: the order of the compensated sums matters."""
    bits = x.view(np.int64)
    reduced_bits = reduced.view(np.int64)
    for i in range(x.size):  # the high word: exponent and the mantissa's first 20 bits
        high[i] = bits[i] >> 32
    for i in range(x.size):  # 1 + f (x scaled by 2^-k), its exponent chosen so that it lies below sqrt(2)
        mantissa = high[i] & 0x000fffff
        half = (mantissa + 0x95f64) & 0x100000
        reduced_bits[i] = (bits[i] & 0x000fffffffffffff) | ((half ^ 0x3ff00000) << 32)
        high[i] = ((high[i] >> 20) - 1023 + (half >> 20)) * 0x200000 + mantissa  # k and the mantissa, packed
    for i in range(x.size):
        mantissa = high[i] & 0x1fffff
        k = float(high[i] >> 21)
        f = reduced[i] - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = w * (LG2 + w * (LG4 + w * LG6)) + z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
        hfsq = 0.5 * f * f
        far = ((mantissa - 0x6147a) | (0x6b851 - mantissa)) > 0
        near = k * LN2_HI - ((s * (f - r) - k * LN2_LO) - f)
        out[i] = k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f) if far else near
    for i in range(x.size):
        value = x[i]
        if not (value >= SMALLEST and value <= LARGEST):
            out[i] = np.log(value)


@numba.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _near(row, into):
    """The households whose utility in ``row`` lies within MARGIN of the floor, into ``into``; their
    count. A chunk of households is tested as a whole (by its least utility, in SIMD) first."""
    count, n = 0, row.size
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        least = np.inf
        for i in range(start, stop):
            least = min(least, row[i])
        if least < FLOOR + MARGIN:
            for i in range(start, stop):
                if row[i] < FLOOR + MARGIN:
                    into[count] = i
                    count += 1
    return count


@numba.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _refresh(e, j, totals, g, sums, c, margin, base, rx, snu, h0, sens, price, shift, households, row, count):
    """The entries of row j of e, updated by e_ij exp(x_ij), whose utility lay within MARGIN of the floor
    at its last fresh evaluation (the first ``count`` of row ``row`` of ``households``, the stacked row of
    j, as of ``rx``), each taken afresh (exp(max(r V_ij - top_i, FLOOR))), sums as ``_moved_row``'s,
    the row's sums corrected by the difference: where the floor may cut, the update would not equal
    a fresh evaluation."""
    for n in range(count):
        i = households[row, n]
        value = base - sens[i] * price + shift[i]
        for k in range(rx.shape[1]):
            value += rx[row, k] * snu[k, h0 + i]
        value = math.exp(max(value, FLOOR))
        change = value - e[j, i]
        e[j, i] = value
        totals[g, i] += change
        sums[c, i] += margin * change
