"""Anderson's step of many markets in one compiled (numba) call, for ``autopact.model.markets``'s
compiled path: each market's step as ``_Markets._anderson_step`` takes it with numpy (type II, its
own ring of differences, the least-squares problem on unit-norm columns with a ridge), without the
dozen numpy calls on stacked arrays a round. Loaded with ``autopact.model.compiled``."""

from __future__ import annotations

import numba
import numpy as np

from autopact.model.compiled_setup import FAST


@numba.njit(cache=True, fastmath=FAST, error_model="numpy")
def anderson(markets, prices, mapped, product_start, ridge, diff_f, diff_g, inner, last_f, last_g, started, filled,
             rounds, work):
    """Anderson's step (``markets._Markets._anderson_step``: type II, memory ``diff_f.shape[0]``,
    mixing 1, columns scaled to unit norm, ``ridge`` on the diagonal) of each market in ``markets``
    from its prices and their map ``mapped``, into ``prices``. Each market keeps its own ring of
    differences (``diff_f``, ``diff_g``, one row a slot), their inner products ``inner`` (market,
    slot, slot), its last residual and mapped prices, whether it has a first point (``started``),
    how many differences it has (``filled``) and how many steps it took (``rounds``). ``work`` (from
    ``work_arrays``) holds the small arrays, so that a call allocates none."""
    memory = diff_f.shape[0]
    gram, right, gamma, norms, valid, steps = work
    for m in markets:
        p0, p1 = product_start[m], product_start[m + 1]
        p, g, old_f, old_g = prices[p0:p1], mapped[p0:p1], last_f[p0:p1], last_g[p0:p1]
        slot = rounds[m] % memory
        rounds[m] += 1
        new = started[m]
        df, dg = diff_f[slot][p0:p1], diff_g[slot][p0:p1]
        for j in range(p.size):
            f = g[j] - p[j]
            df[j] = f - old_f[j] if new else 0.0
            dg[j] = g[j] - old_g[j] if new else 0.0
            old_f[j], old_g[j] = f, g[j]
        started[m] = True
        if new:
            filled[m] = min(filled[m] + 1, memory)
        for k in range(memory):
            other, total = diff_f[k][p0:p1], 0.0
            for j in range(p.size):
                total += other[j] * df[j]
            inner[m, slot, k] = total
            inner[m, k, slot] = total
        for k in range(memory):
            age = (slot - k) % memory  # rounds since slot k was written
            norms[k] = np.sqrt(max(inner[m, k, k], 0.0))
            valid[k] = age < filled[m] and norms[k] > 0
            if not valid[k]:
                norms[k] = 1.0
        for k in range(memory):
            total = 0.0
            if valid[k]:
                other = diff_f[k][p0:p1]
                for j in range(p.size):
                    total += other[j] * (g[j] - p[j])
            right[k] = total / norms[k] if valid[k] else 0.0
            for l in range(memory):
                both = valid[k] and valid[l]
                gram[k, l] = inner[m, k, l] / (norms[k] * norms[l]) if both else 0.0
            gram[k, k] += ridge if valid[k] else 1.0
        _solve(gram, right, gamma)
        step = steps[:p.size]
        step[:] = g
        for k in range(memory):
            if valid[k]:
                coefficient, other = gamma[k] / norms[k], diff_g[k][p0:p1]
                for j in range(p.size):
                    step[j] -= other[j] * coefficient
        good = True
        for j in range(p.size):
            good = good and np.isfinite(step[j])
        if good:
            p[:] = step
        else:  # a step that failed: the market starts its differences afresh
            filled[m] = 0
            p[:] = g


@numba.njit(cache=True)
def work_arrays(memory, products):
    """``anderson``'s work arrays for memory ``memory`` and markets of at most ``products`` products:
    the normal equations' matrix, right side and solution, the columns' norms and validity, the step."""
    return (np.empty((memory, memory)), np.empty(memory), np.empty(memory), np.empty(memory),
            np.empty(memory, np.bool_), np.empty(products))


@numba.njit(cache=True, error_model="numpy")
def _solve(a, b, x):
    """x = a^-1 b by Gaussian elimination with partial pivoting (a and b overwritten; a small system)."""
    n = b.size
    for c in range(n):
        pivot = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[pivot, c]):
                pivot = r
        if pivot != c:
            for k in range(n):
                a[c, k], a[pivot, k] = a[pivot, k], a[c, k]
            b[c], b[pivot] = b[pivot], b[c]
        for r in range(c + 1, n):
            factor = a[r, c] / a[c, c]
            for k in range(c, n):
                a[r, k] -= factor * a[c, k]
            b[r] -= factor * b[c]
    for r in range(n - 1, -1, -1):
        total = b[r]
        for k in range(r + 1, n):
            total -= a[r, k] * x[k]
        x[r] = total / a[r, r]
