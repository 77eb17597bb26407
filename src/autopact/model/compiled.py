"""Compiled (numba) loops for ``autopact.model.markets.solve_prices_markets``: the zeta map of many
markets in one call, and Anderson's step. ``autopact.model.fused`` stacks the markets' arrays (it
imports without numba); this module is imported only where numba is installed, by the first solve
that uses it (``import numba`` and loading the compiled functions from numba's cache take about a
second; compiling them, once per installation, about a minute on this machine).

``evaluate`` computes what ``SortedKernel.terms`` and ``markets._Markets._map`` compute, market by
market, with the passes over a market's products x households array fused: for each product j, one
loop forms r V_ij - top_i over the households from the characteristics (floored at -250, top_i the
bound of SortedKernel.exponentials), two more exponentiate it into the work array and add it to its
nest's sums and m_j times it to its ownership cell's; then the (nests x households) algebra (outside
shares, the mixing of cells by Omega, the rates); then one pass of dot products for s, Lambda and g;
then c + (g - s / t) / Lambda, max_j |FOC_j / s_j| and the checks. A market's arrays stay in the
processor's cache, and no numpy call is made per product or per market: numpy's SortedKernel spends
about half of its evaluation in the overhead of some forty calls on small arrays.

Exponentials. numba's exp is the C library's, one number at a time (4.4 ns each here, against
numpy's 0.9 ns with SIMD), so the loops write exp(x) = 2^n exp(r): n the nearest integer to x / ln 2
(x / ln 2 + 1.5 2^52 holds it in its low bits), r = x - n ln 2 with ln 2 in two parts (Cody and Waite
1980; fdlibm's ``ln2_hi``, whose products with |n| < 2^20 are exact, and ``ln2_lo``), exp(r) by its
Taylor series to degree 13 (|r| <= ln 2 / 2, so the first term left out is below 6e-18 of it), and
2^n from its bits; the compiler vectorises each loop. Within 2.3e-16 (relative) of numpy's exp over
[-250, 0], where every argument lies, and about as fast (19 against 20 us for 22,000 numbers). The
range reduction must not be reassociated, so only the dot products are compiled with ``FAST``.

Small moves. Each market keeps its e_ij from one evaluation to the next, with the consumer prices
and -top_i they were computed at. Where product j's price and the bound moved so little that every
x_ij = (r V_ij - top_i) - (the same before) = (shift change)_i - r alpha_i dp_j lies within STEP
= 2^-2, its row is updated as e_ij exp(x_ij), exp(x) by its Taylor series to the least degree whose
first term left out is below 6e-19 at the largest |x| (``compiled_rows.DEGREES``: degree 1 up to
2^-30, 2, 3, 4 and 6 up to 2^-20, 2^-14, 2^-11 and 2^-7, 9, 11 and 13 up to 2^-4, 2^-3 and 2^-2), in
one pass instead of four; of the rows of BLP 1995's merger evaluated after a market's first
evaluation, |x| stays within 2^-30 in 27%, 2^-20 in 49%, 2^-11 in 73%, 2^-7 in 85% (those updated
when every update took degree 6) and 2^-4 in 91%; the prices are within 4.9e-16 of those of degree
6 alone up to 2^-7. Up to 2^-2 rather than 2^-4 (blp-20x-4), the merger exponentiates 3,082 rows
afresh (2,217 of them at the markets' first evaluations) instead of 4,103. A row
whose moves since its last fresh evaluation add up to more than MARGIN = 10 is exponentiated
afresh. Its entries whose utility lay within MARGIN of the -250 floor at that evaluation (the floor
may cut them: e_ij exp(x_ij) would not be a fresh evaluation's number) are listed there, up to
``fused.WATCH`` of them (``_near``), and taken afresh one by one after each update (``_refresh``);
a row with more is exponentiated afresh. Before (cold-20ms), any such entry kept its row afresh: in
the 2025 market 296 of the 297 rows have a few (0.7% of the entries, 6 a row at the median, 35 at
most), so every row was exponentiated at every evaluation; a small move's evaluation now takes about
0.44 ms against 0.8 (1,000 households), the cold start 9.2, 9.9 and 8.6 ms of processor time
against 12.1, 11.4 and 8.9 (medians of 31, three runs a side alternated, load 4-5). Anderson's last evaluations of a market move
prices by 1e-4 and less: on BLP 1995's merger a solve took 10.2 ms of processor time against 12.5
with every row afresh (the least of 30, alternated, load 9-10), the prices the same to 6.7e-16 of
the numpy path's. The updates' rounding adds up, about 1e-16 relative an update, and an evaluation
equals a fresh set-up's to 1e-13 (``tests/model/test_compiled.py``).

Loops run over views that start at 0 (``x[a:b]``): an index a + i, which might be negative for all
the compiler knows, keeps numba's wrap-around for negative indices and the loop from SIMD (four
times slower). But a row of a two-dimensional array is read by its two indices (e[j, i]), not as a
view (e[j]) made for each row: numba counts the references to an array's memory by atomic updates,
two a view (a call of a compiled function, two an array argument), and these took some 30% of a
market's evaluation (perf, merger20); the arrays ``compiled_rounds.rounds`` passes on and the work
arrays here carry no count (``compiled_setup.unowned``). The arrays read in SIMD start at a cache
line (``fused.aligned``: numpy's start 16 or 32 bytes into one, numba's 32, and every other 64-byte
load then spans two lines). These took a BLP 1995 market's evaluation after a tiny move from 17.3
to 10.4 us, a fresh one from 28.4 to 20.0 (merger20, ``FusedMarkets.evaluate``, medians of 200).
Measured before on BLP 1995's 20 markets (the least of 100 evaluations of all of them,
alternated, load 4-5): 40 us a market evaluation against numpy's SortedKernel's 115, the numbers
within 4e-16 of it (``tests/model/test_compiled.py``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from autopact.model.compiled_rows import (DEGREES, FLOOR, LN2_HI, LN2_LO, MARGIN, _dots, _log_row, _moved_row, _near,
                                         _refresh)
from autopact.model.compiled_setup import FAST, unowned

__all__ = ["evaluate", "tops"]

LOG2E = 1.4426950408889634  # 1 / ln 2
SHIFTER = 1.5 * 2.0**52  # x + SHIFTER rounds x to an integer held in the low bits of the mantissa
SHIFTER_BITS = 0x4338000000000000  # the bits of SHIFTER as a float64
TINY = math.exp(-200.0)  # a household whose sum of e_ij is below count x TINY has a bound too loose
# A product's e_ij are updated as e_ij exp(x_ij) where every |x_ij| <= STEP (``compiled_rows.DEGREES``),
# while its utilities stay MARGIN above the floor (``compiled_rows``)
STEP = DEGREES[-1][0]


@numba.njit(cache=True, fastmath={"contract"})
def _exp_row(x, out, rounded, scale):
    """out = exp(x) for x in [-708, 709] (module docstring); ``rounded`` (float64) and ``scale``
    (int64) are work arrays of x's length."""
    bits = rounded.view(np.int64)
    factor = scale.view(np.float64)
    for i in range(x.size):
        rounded[i] = x[i] * LOG2E + SHIFTER
    for i in range(x.size):
        scale[i] = (bits[i] - SHIFTER_BITS + 1023) << 52
    for i in range(x.size):
        n = rounded[i] - SHIFTER
        r = (x[i] - n * LN2_HI) - n * LN2_LO
        p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (
            1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (1 / 39916800 + r * (
                1 / 479001600 + r * (1 / 6227020800)))))))))))))
        out[i] = p * factor[i]


@numba.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def evaluate(markets, prices, costs, t, specific, limit, tol, product_start, household_start, cell_start,
             row_cell_start, mix_start, groups, logit, rising, exact, rho, steepest, rxi, rx, nest, cell, row_cell,
             sensitivity, snu, base_top, weights, slope, cell_group, row_cell_group, mix_indptr, mix_indices,
             mix_data, work, work_start, last_paid, last_shift, fresh, drift, watch, watched, consumer, shares, mapped, residual, stale,
             finite):
    """The zeta map c + zeta(p) of each market in ``markets`` at producer prices ``prices`` (stacked)
    into ``mapped``, with the consumer prices, the shares, max_j |FOC_j / s_j| (``residual``), whether
    a priced-out product sits off its limit (``stale``) and whether the shares are finite; a market
    whose bound on the largest utility proves too loose is marked ``exact`` and evaluated again. Rows
    whose prices moved little are updated in place, and loops run over views that start at 0 (module
    docstring: "Small moves" and "Loops"). A market's work arrays are rows of one allocation (some
    twenty allocations before; views of one buffer kept from one evaluation to the next took longer,
    19.6-22.7 us against 18.7-20.0 for a BLP 1995 market's evaluation after a tiny move, load 3.6)."""
    width = rx.shape[1]
    for m in markets:
        p0, p1 = product_start[m], product_start[m + 1]
        h0, h1 = household_start[m], household_start[m + 1]
        count, households, nests = p1 - p0, h1 - h0, groups[m]
        c0, r0 = cell_start[m], row_cell_start[m]
        cells, row_cells = cell_start[m + 1] - c0, row_cell_start[m + 1] - r0
        price, cost, tax, paid = prices[p0:p1], costs[p0:p1], t[p0:p1], consumer[p0:p1]
        sens, weight, rate_of = sensitivity[h0:h1], weights[h0:h1], slope[h0:h1]
        low, high = np.inf, -np.inf
        for j in range(count):
            paid[j] = tax[j] * price[j] + specific[p0 + j]
            low = min(low, paid[j])
            high = max(high, paid[j])
        e = work[work_start[m]:work_start[m + 1]].reshape((count, households))
        paid_before, shift_before = last_paid[p0:p1], last_shift[h0:h1]
        eligible, moved, watching, capacity = fresh[p0:p1], drift[p0:p1], watched[p0:p1], watch.shape[1]
        d0, d1 = snu[0][h0:h1], snu[1][h0:h1]
        levels = 1 if logit[m] else 2
        # the work arrays, rows of one allocation, in order: 7 rows of households, the nests' totals, the
        # cells' sums, the mixed cells, the rates, the nests' two weights and _ratios' five blocks
        rows_needed = 7 + 8 * nests + cells + (levels + 1) * row_cells
        owner = np.empty(rows_needed * households + 8)  # from a cache line's start (fused.aligned), not counted
        start = (-owner.ctypes.data % 64) // 8  # (unowned: owner is kept alive to the end, where it is read)
        area = unowned(owner)[start:start + rows_needed * households].reshape((rows_needed, households))
        row, rounded, scale, shift, zero, shifted = area[0], area[1], area[2].view(np.int64), area[3], area[4], area[5]
        bits, factor = rounded.view(np.int64), area[2]
        zero[:] = 0.0
        totals, sums = area[7:7 + nests], area[7 + nests:7 + nests + cells]
        at = 7 + nests + cells
        mixed, rates = area[at:at + levels * row_cells], area[at + levels * row_cells:at + (levels + 1) * row_cells]
        at += (levels + 1) * row_cells
        weighted_share, weighted_lambda = area[at:at + nests], area[at + nests:at + 2 * nests]
        ratio_area = area[at + 2 * nests:at + 7 * nests]
        small = np.empty(2 * count)
        lam_of, weighted_of = small[:count], small[count:]
        for attempt in range(2):
            exactly = exact[m]
            if exactly:  # the largest utility of each household itself (a pass more)
                shift[:] = -np.inf
                for j in range(count):
                    _utility_row(rxi[p0 + j], rx[p0 + j], snu, h0, h1, sens, paid[j], zero, e[j], rounded, -np.inf)
                    _maximum(shift, e[j])
                for i in range(households):
                    shift[i] = -max(shift[i], 0.0) if logit[m] else -shift[i]
            else:  # a bound on it: the largest r (xi + taste) at the lowest price (SortedKernel.exponentials)
                top = base_top[h0:h1]
                for i in range(households):
                    value = sens[i] * low
                    if rising[m]:
                        value = min(value, sens[i] * high)
                    value -= top[i]
                    shift[i] = min(value, 0.0) if logit[m] else value
            totals[:] = 0.0
            sums[:] = 0.0
            move = 0.0
            for i in range(households):
                shifted[i] = shift[i] - shift_before[i]
                move = max(move, abs(shifted[i]))
            for j in range(count):  # rows by two indices, not views (compiled_rows._moved_row)
                g, c, margin = nest[p0 + j], cell[p0 + j], price[j] - cost[j]
                step = paid[j] - paid_before[j]
                reach = abs(step) * steepest[m] + move  # |r V_ij - top_i| moved by at most this since e_j
                paid_before[j] = paid[j]
                if not exactly and eligible[j] and reach <= STEP and moved[j] + reach <= MARGIN:
                    # e_ij exp(x_ij) with x_ij = shift change - r alpha_i dp_j, |x| <= reach (module docstring)
                    moved[j] += reach
                    degree = 13
                    for bound, order in DEGREES:
                        if reach <= bound:
                            degree = order
                            break
                    _moved_row(e, j, totals, g, sums, c, shifted, sens, step, margin, degree)
                    if watching[j]:  # its entries near the floor, taken afresh
                        _refresh(e, j, totals, g, sums, c, margin, rxi[p0 + j], rx, snu, h0, sens, paid[j], shift,
                                 watch, p0 + j, watching[j])
                    continue
                below = 0  # utilities within MARGIN of the floor: watched, or the row is not updated by e_ij exp(x)
                if exactly:  # (such a row is never updated: eligible is False below)
                    for i in range(households):
                        value = max(e[j, i] + shift[i], FLOOR)
                        row[i] = value
                        rounded[i] = value * LOG2E + SHIFTER
                elif width == 2:  # _utility_row written out: as a call it took twice as long (7 against 13 us)
                    x0, x1, base, cut = rx[p0 + j, 0], rx[p0 + j, 1], rxi[p0 + j], paid[j]
                    for i in range(households):  # the count of utilities near the floor in the same pass
                        value = max(base - sens[i] * cut + shift[i] + x0 * d0[i] + x1 * d1[i], FLOOR)
                        row[i] = value
                        rounded[i] = value * LOG2E + SHIFTER
                        below += value < FLOOR + MARGIN
                else:
                    _utility_row(rxi[p0 + j], rx[p0 + j], snu, h0, h1, sens, paid[j], shift, row, rounded)
                    for i in range(households):
                        below += row[i] < FLOOR + MARGIN
                eligible[j], moved[j], watching[j] = below <= capacity and not exactly, 0.0, 0
                if eligible[j] and below:
                    watching[j] = _near(row, watch[p0 + j])
                for i in range(households):  # the exponential written out, as the utility above
                    scale[i] = (bits[i] - SHIFTER_BITS + 1023) << 52
                for i in range(households):
                    n = rounded[i] - SHIFTER
                    r = (row[i] - n * LN2_HI) - n * LN2_LO
                    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (
                        1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (1 / 39916800 + r * (
                            1 / 479001600 + r * (1 / 6227020800)))))))))))))
                    value = p * factor[i]
                    e[j, i] = value
                    totals[g, i] += value
                    sums[c, i] += margin * value
            shift_before[:] = shift
            if exactly or steepest[m] * (high - low) <= 200:
                break
            loose = False
            for i in range(households):
                value = 0.0
                for g in range(nests):
                    value += totals[g, i]
                loose = loose or value < count * TINY
            if not loose:
                break
            exact[m] = True
            eligible[:] = False
        share, within = _ratios(totals, shift, rho[m], logit[m], count, ratio_area, area[6])
        for c in range(cells):  # here and below rows by two indices, not views (compiled_rows._moved_row)
            g = cell_group[c0 + c]
            for i in range(households):
                sums[c, i] *= share[g, i]
        # mixed: levels x row cells x households, 128 kB in BLP 1995
        k0 = mix_start[m]
        for r in range(levels * row_cells):  # the first entry written, the others added: no pass to zero it
            first, last = mix_indptr[k0 + r], mix_indptr[k0 + r + 1]
            if first == last:
                mixed[r] = 0.0
                continue
            source, value = mix_indices[first], mix_data[first]
            for i in range(households):
                mixed[r, i] = value * sums[source, i]
            for k in range(first + 1, last):
                source, value = mix_indices[k], mix_data[k]
                for i in range(households):
                    mixed[r, i] += value * sums[source, i]
        for rc in range(row_cells):
            g, second = row_cell_group[r0 + rc], row_cells + rc
            if logit[m]:
                for i in range(households):
                    rates[rc, i] = rate_of[i] * (share[g, i] * mixed[rc, i])
            else:
                for i in range(households):
                    rates[rc, i] = rate_of[i] * (share[g, i] * mixed[rc, i] + within[g, i] * mixed[second, i])
        scaled = 1.0 / (1.0 - rho[m])
        for g in range(nests):
            for i in range(households):
                weighted_share[g, i] = share[g, i] * weight[i]
                weighted_lambda[g, i] = share[g, i] * (rate_of[i] * scaled)
        s_of = shares[p0:p1]
        _dots(e, nest[p0:p1], row_cell[p0:p1], weighted_share, weighted_lambda, rates, s_of, lam_of, weighted_of)
        worst, off, good = 0.0, False, True
        for j in range(count):
            s, lam, weighted = s_of[j], lam_of[j], weighted_of[j]
            margin = price[j] - cost[j]
            good = good and np.isfinite(s)
            if s > 0:
                ratio = abs((s + tax[j] * (lam * margin - weighted)) / s)
                worst = max(worst, ratio) if not np.isnan(ratio) else np.inf
                mapped[p0 + j] = cost[j] + (weighted - s / tax[j]) / lam
            else:  # priced out: held at the small-share limit (supply.solve_prices)
                mapped[p0 + j] = cost[j] + limit[m]
                off = off or abs(margin - limit[m]) > tol * limit[m]
        residual[m], stale[m], finite[m] = worst, off, good and owner.size > 0  # owner alive to here (area)


@numba.njit(cache=True, fastmath=FAST)
def _maximum(into, x):
    """into = max(into, x), element by element."""
    for i in range(into.size):
        into[i] = max(into[i], x[i])


@numba.njit(cache=True, fastmath=FAST)
def _utility_row(rxi, rx, snu, h0, h1, sens, price, shift, out, rounded, floor=FLOOR):
    """r V_ij - top_i = r xi_j + sum_k r x_jk sigma_k nu_ik - r alpha_i p_j - top_i of one product j
    over households h0..h1 (-top_i in ``shift``; rx and snu padded to at least two characteristics),
    floored at ``floor``, into ``out``, and out / ln 2 + SHIFTER into ``rounded`` (``_exp_sums``).
    The first two characteristics in the one loop: each loop over a row has a cost of its own."""
    x0, x1, d0, d1 = rx[0], rx[1], snu[0][h0:h1], snu[1][h0:h1]
    if rx.size == 2:
        for i in range(out.size):
            value = max(rxi - sens[i] * price + shift[i] + x0 * d0[i] + x1 * d1[i], floor)
            out[i] = value
            rounded[i] = value * LOG2E + SHIFTER
        return
    for i in range(out.size):
        out[i] = rxi - sens[i] * price + shift[i] + x0 * d0[i] + x1 * d1[i]
    for k in range(2, rx.size):
        x, draws = rx[k], snu[k][h0:h1]
        for i in range(out.size):
            out[i] += x * draws[i]
    for i in range(out.size):
        value = max(out[i], floor)
        out[i] = value
        rounded[i] = value * LOG2E + SHIFTER


@numba.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _ratios(totals, shift, rho, logit, count, area, denominator):
    """Q and R of each nest and household (s_ij = e_ij Q, s_ij|g = e_ij R) from the sums T of e_ij
    within nests and -top_i (``SortedKernel.terms``: the nests' outside shares, shifted by the
    largest inclusive value where exp could overflow), into the first two of the five nests x
    households blocks of ``area`` (the others work arrays), returned; ``denominator`` another."""
    nests, households = totals.shape
    share, within = area[:nests], area[nests:2 * nests]
    if logit:
        within[:] = 0.0
        for i in range(households):
            share[0, i] = 1.0 / (np.exp(shift[i]) + totals[0, i])
        return share, within
    safe = (1 - rho) * (np.log(count) - shift.min()) < 700  # T_g <= J: exp(iv) cannot overflow
    lowest = np.inf
    size = nests * households
    high, reduced = area[2 * nests:].reshape(3 * size)[:households].view(np.int64), denominator
    for g in range(nests):
        q, w, t = share[g], within[g], totals[g]
        _log_row(t, q, high, reduced)  # log T in SIMD (np.log's C library call took 4.5 us a market)
        for i in range(households):
            w[i] = 1.0 / t[i]
            q[i] = (q[i] - shift[i]) * (1 - rho)  # inclusive value
            lowest = min(lowest, q[i])
    if safe and lowest > -700:  # exp(iv) / (1 + sum_h exp(iv_h)) with the exponentials in SIMD (_exp_row)
        flat, spare = area[:nests].reshape(size), area[2 * nests:].reshape(3 * size)
        copy, rounded, scale = spare[:size], spare[size:2 * size], spare[2 * size:].view(np.int64)
        copy[:] = flat
        _exp_row(copy, flat, rounded, scale)
        denominator[:] = 1.0
        for g in range(nests):
            q = share[g]
            for i in range(households):
                denominator[i] += q[i]
        for g in range(nests):
            q, w = share[g], within[g]
            for i in range(households):
                q[i] = q[i] / denominator[i] * w[i]
        return share, within
    for i in range(households):
        largest = 0.0
        for g in range(nests):
            within[g, i] = 1.0 / totals[g, i]
            share[g, i] = (np.log(totals[g, i]) - shift[i]) * (1 - rho)  # inclusive value
            largest = max(largest, share[g, i])
        if safe:
            largest = 0.0
        outside = np.exp(-largest)  # then the denominator
        for g in range(nests):
            share[g, i] = np.exp(share[g, i] - largest)
            outside += share[g, i]
        for g in range(nests):
            share[g, i] = share[g, i] / outside * within[g, i]
    return share, within


@numba.njit(cache=True, fastmath=FAST)
def tops(product_start, household_start, rxi, rx, snu, out):
    """The largest r (xi_j + taste_ij) over each market's products of each household (stacked), the
    bound on its utility at zero prices (``SortedKernel.base_top``). Two characteristics (or fewer) in
    one pass a product, written out (220 against 70 us for BLP 1995's 20 markets)."""
    for m in range(product_start.size - 1):
        h0, h1 = household_start[m], household_start[m + 1]
        top, zero = out[h0:h1], np.zeros(h1 - h0)
        utility, rounded = np.empty(h1 - h0), np.empty(h1 - h0)
        top[:] = -np.inf
        if rx.shape[1] == 2:
            d0, d1 = snu[0][h0:h1], snu[1][h0:h1]
            for j in range(product_start[m], product_start[m + 1]):
                base, x0, x1 = rxi[j], rx[j, 0], rx[j, 1]
                for i in range(h1 - h0):
                    top[i] = max(top[i], base + x0 * d0[i] + x1 * d1[i])
            continue
        for j in range(product_start[m], product_start[m + 1]):
            _utility_row(rxi[j], rx[j], snu, h0, h1, zero, 0.0, zero, utility, rounded, -np.inf)
            _maximum(top, utility)
