"""The fused RC logit estimation's per-market work in compiled (numba) loops: the share inversion's
trial evaluations (``share_trial``) and share matrix (``share_matrix``) for ``autopact.fit.rc_logit.invert``,
the set-up of the markups' firm blocks (``markups_setup``) and their adjoint gradient
(``markups_gradient``) for ``autopact.fit.rc_markups.Markups``, and their sums by firm (``code_sums``).

Their numpy forms take about ten numpy calls a trial evaluation and 30 to 40 a market's markups, on
arrays of 200 households by 72 to 150 products in BLP 1995: the calls' own cost, not their
arithmetic, was most of that time (0.3 s of trial evaluations, 0.30 s of set-up and 0.38 s of
gradient in a 1.7 s estimation). Here the element-wise passes are loops fused with the sums they
feed, and the larger products over households stay BLAS's (``np.dot``). The arithmetic is the numpy
path's, summed in another order: the two agree to rounding (``tests/fit/test_compiled_terms.py``).
``autopact.fit.rc_logit.compiled_terms`` imports this module on an estimation's first use, so that
numba is loaded only by an estimation that uses it. Every loop is in this one file (none inlines
another module's, nor reads another module's constant: numba freezes a global's value into its cached
code and watches this file only), so numba's cache, keyed on this file, never serves stale code.
"""

from __future__ import annotations

import numba
import numpy as np

# the largest exponent taken: autopact.model.demand.EXP_CAP, written here (the docstring says why;
# tests/fit/test_compiled_terms.py holds the two equal)
EXP_CAP = 700.0

# sums may be reordered (and so vectorised) and products fused, but NaN and infinity keep their meaning: the
# inversion's tests for a share that is not positive and the Cholesky test for a pivot read them
FAST = {"reassoc", "contract"}


@numba.njit(cache=True, fastmath=FAST)
def share_trial(factor, top, weights, log_shares, delta):  # pragma: no cover - compiled
    """``Tastes.parts`` and ``Tastes.totals`` at ``delta`` (F = ``factor``, M = ``top``), and the
    inversion's error log s_obs - log s and its largest size, in one pass over F instead of about ten
    numpy calls. Returns (x, denominators, totals, error, size, positive); ``positive`` False (error
    and size not formed) where a total share is zero or NaN; size NaN where an error is."""
    n_i, n_j = factor.shape
    largest = delta.max()
    x = np.empty(n_j)
    for j in range(n_j):
        x[j] = np.exp(max(delta[j] - largest, -250.0))
    denominators = np.empty(n_i)
    totals = np.zeros(n_j)
    for i in range(n_i):
        inside = 0.0
        for j in range(n_j):
            inside += factor[i, j] * x[j]
        denominator = np.exp(min(-(top[i] + largest), EXP_CAP)) + inside
        denominators[i] = denominator
        ratio = weights[i] / denominator
        for j in range(n_j):
            totals[j] += ratio * factor[i, j]
    positive = True
    for j in range(n_j):
        totals[j] *= x[j]
        if not totals[j] > 0.0:
            positive = False
    error = np.empty(n_j)
    size = 0.0
    if positive:
        for j in range(n_j):
            error[j] = log_shares[j] - np.log(totals[j])
            if error[j] != error[j]:
                size = np.nan
            elif size == size:
                size = max(size, abs(error[j]))
    return x, denominators, totals, error, size, positive


@numba.njit(cache=True, fastmath=FAST)
def share_matrix(factor, x, denominators, root):  # pragma: no cover - compiled
    """``Tastes.shares``, s_ij = F_ij x_j / denominator_i (I, J), and r_i s_ij (``weighted_gram``'s
    scaled rows, r = ``root``), in one pass."""
    n_i, n_j = factor.shape
    out = np.empty((n_i, n_j))
    scaled = np.empty((n_i, n_j))
    for i in range(n_i):
        denominator, r = denominators[i], root[i]
        for j in range(n_j):
            value = factor[i, j] * x[j] / denominator
            out[i, j] = value
            scaled[i, j] = r * value
    return out, scaled


@numba.njit(cache=True, fastmath=FAST)
def code_sums(s, y, codes, n_codes):  # pragma: no cover - compiled
    """sum_{j: c_j = c} s_ij y_j (I, ``n_codes``): the products' runs of one code summed in registers, four
    households at a time. Adding s_ij y_j into out[i, c_j] product by product waited on the last addition
    to the same cell (a firm's products mostly follow one another): 2.5x the time at BLP 1995's sizes."""
    n_i, n_j = s.shape
    out = np.zeros((n_i, n_codes))
    if n_j == 0:
        return out
    i = 0
    while i + 4 <= n_i:
        t0 = t1 = t2 = t3 = 0.0
        c = codes[0]
        for j in range(n_j):
            if codes[j] != c:
                out[i, c] += t0
                out[i + 1, c] += t1
                out[i + 2, c] += t2
                out[i + 3, c] += t3
                t0 = t1 = t2 = t3 = 0.0
                c = codes[j]
            x = y[j]
            t0 += s[i, j] * x
            t1 += s[i + 1, j] * x
            t2 += s[i + 2, j] * x
            t3 += s[i + 3, j] * x
        out[i, c] += t0
        out[i + 1, c] += t1
        out[i + 2, c] += t2
        out[i + 3, c] += t3
        i += 4
    for h in range(i, n_i):
        total = 0.0
        c = codes[0]
        for j in range(n_j):
            if codes[j] != c:
                out[h, c] += total
                total = 0.0
                c = codes[j]
            total += s[h, j] * y[j]
        out[h, c] += total
    return out


@numba.njit(cache=True, fastmath=FAST)
def markups_setup(s, a, weights, order, starts, own, within, codes):  # pragma: no cover - compiled
    """The markups m = -(O o J^T)^{-1} s of a block-diagonal O (firms' blocks ``starts`` over the products
    in ``order``; ``own``: O with rows and columns in that order), and what their gradient reads.

    Returns (ok, a_s, markups, u, by_code, factor): a_s = sum_i a_i s_ij; U = s o m; V = U O^T by codes,
    V_ij = by_code[i, c_j] with by_code = A K^T, A_ic = sum_{k: c_k = c} U_ik and O_jk = K[c_j, c_k] (``within``
    = K: I x J additions and an I x G x G product instead of an I x J x G one; V itself is not formed); ``factor`` the block-diagonal lower Cholesky factor, in ``order``,
    of -(O o J^T) = O o (diag(|a| s) - (|a| s)'s), J_jk = sum_i a_i s_ij (1(j=k) - s_ik) with every
    a_i < 0 (the caller checks). ok is False where a block is not positive definite: the numpy path
    (an LU factorisation) then serves."""
    n_i, n_j = s.shape
    a_s = np.zeros(n_j)
    totals = np.zeros(n_j)
    scaled = np.empty((n_j, n_i))  # sqrt|a_i| s_ij, products in ``order``, one row each
    for i in range(n_i):
        ai, wi = a[i], weights[i]
        for j in range(n_j):
            a_s[j] += ai * s[i, j]
            totals[j] += wi * s[i, j]
    root = np.sqrt(-a)
    for p in range(n_j):
        j = order[p]
        for i in range(n_i):
            scaled[p, i] = root[i] * s[i, j]
    factor = np.zeros((n_j, n_j))
    markups = np.empty(n_j)
    work = np.empty(n_j)
    for b in range(starts.size - 1):
        start, end = starts[b], starts[b + 1]
        rows = scaled[start:end]
        gram = np.dot(rows, rows.T)
        # the block of O o (diag(|a| s) - (|a| s)'s), then its Cholesky factor in place (lower)
        for p in range(end - start):
            for r in range(p + 1):
                value = -gram[p, r]
                if p == r:
                    value -= a_s[order[start + p]]
                value *= own[start + p, start + r]
                for k in range(r):
                    value -= factor[start + p, start + k] * factor[start + r, start + k]
                if p == r:
                    if not value > 0.0:
                        return False, a_s, markups, np.empty((0, 0)), np.empty((0, 0)), factor
                    factor[start + p, start + p] = np.sqrt(value)
                else:
                    factor[start + p, start + r] = value / factor[start + r, start + r]
        # m = L^-T L^-1 totals on the block (the sign: -(O o J^T) m = totals)
        for p in range(end - start):
            value = totals[order[start + p]]
            for k in range(p):
                value -= factor[start + p, start + k] * work[start + k]
            work[start + p] = value / factor[start + p, start + p]
        for p in range(end - start - 1, -1, -1):
            value = work[start + p]
            for k in range(p + 1, end - start):
                value -= factor[start + k, start + p] * work[start + k]
            work[start + p] = value / factor[start + p, start + p]
        for p in range(start, end):
            markups[order[p]] = work[p]
    u = np.empty((n_i, n_j))
    for i in range(n_i):
        for j in range(n_j):
            u[i, j] = s[i, j] * markups[j]
    by_code = np.dot(code_sums(s, markups, codes, within.shape[0]), within.T)
    return True, a_s, markups, u, by_code, factor


@numba.njit(cache=True, fastmath=FAST)
def markups_gradient(s, by_code, u, a, a_s, nu, k, d_delta, columns, loadings, price_weights, s_columns, codes,
                     within):  # pragma: no cover - compiled
    """``Markups.gradient``'s -nu' (O o dJ_q^T) m (Q,) given nu = (O o J^T)^{-T} mu and k = nu o diag(O) o m,
    term by term as there; ``within`` is K, O_jk = K[c_j, c_k]; (U O^T)_ij = ``by_code``[i, c_j] (``markups_setup``)."""
    n_i, n_j = s.shape
    q = columns.shape[1]
    right = np.empty((n_j, q + 1))
    for j in range(n_j):
        for r in range(q):
            right[j, r] = d_delta[j, r]
        right[j, q] = k[j]
    left = np.dot(s, right)  # s d_delta, s k (I, Q + 1)
    mixed = np.dot(code_sums(s, nu, codes, within.shape[0]), within)  # (s (nu o F K))_{i, g}
    a_sv = np.zeros(n_j)  # sum_i a_i s_ij (U O^T)_ij
    e_sum = np.zeros(n_j)
    # a_i (s_ij k_j - s_ij (U O^T)_ij nu_j) - E_ij, E_ij = a_i (s (nu o F K))_{i, c_j} U_ij: the three
    # terms that meet x in one array, so that one product with x serves them (not three)
    combined = np.empty((n_i, n_j))
    sv_nu = np.zeros(n_i)
    # mixed[i, c_j] and (U O^T)_ij = by_code[i, c_j]: gathered first, so that the pass below is vectorised
    mixed_row, v_row = np.empty(n_j), np.empty(n_j)
    for i in range(n_i):
        ai = a[i]
        for j in range(n_j):
            mixed_row[j] = mixed[i, codes[j]]
            v_row[j] = by_code[i, codes[j]]
        total = 0.0
        for j in range(n_j):
            sv = s[i, j] * v_row[j]
            a_sv[j] += ai * sv
            w = sv * nu[j]
            total += w
            value = u[i, j] * ai * mixed_row[j]
            e_sum[j] += value
            combined[i, j] = ai * (s[i, j] * k[j] - w) - value
        sv_nu[i] = total
    combined_columns = np.dot(combined, columns)
    out = np.zeros(q)
    for i in range(n_i):
        ai, s_k = a[i], left[i, q]
        factor = ai * (2 * sv_nu[i] - s_k)
        for r in range(q):
            inner = loadings[i, r] * s_columns[i, r] + left[i, r]
            out[r] += loadings[i, r] * combined_columns[i, r] + factor * inner + price_weights[r, i] * (s_k - sv_nu[i])
    for j in range(n_j):
        c = k[j] * a_s[j] - nu[j] * a_sv[j] - e_sum[j]
        for r in range(q):
            out[r] += c * d_delta[j, r]
    return -out
