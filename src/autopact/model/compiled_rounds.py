"""Several rounds of ``solve_prices_markets``'s Anderson iteration in one compiled (numba) call: each
round of a market evaluates its map (``compiled.evaluate``), retires it where its first-order
conditions are met and takes Anderson's step otherwise (``compiled_anderson.anderson``), as
``markets._Markets.solve`` does round by round in Python (about 100 us of numpy calls, dispatch and
checks a round), one market's rounds after another's (``rounds``). The entry point of the compiled loops:
``fused.compiled_loops`` imports this module, which brings the others."""

from __future__ import annotations

import numba
import numpy as np

from autopact.model.compiled import evaluate, tops
from autopact.model.compiled_anderson import anderson, work_arrays
from autopact.model.compiled_setup import equal, prepare, same, unowned

__all__ = ["equal", "evaluate", "numba", "prepare", "rounds", "same", "tops"]


@numba.njit(cache=True)
def rounds(count, active, evaluations, max_iterations, ridge, diff_f, diff_g, inner, last_f, last_g, started,
           filled, steps, prices, costs, t, specific, limit, tol, product_start, household_start, cell_start,
           row_cell_start, mix_start, groups, logit, rising, exact, rho, steepest, rxi, rx, nest, cell, row_cell,
           sensitivity, snu, base_top, weights, slope, cell_group, row_cell_group, mix_indptr, mix_indices, mix_data,
           work, work_start, last_paid, last_shift, fresh, drift, watch, watched, consumer, shares, mapped, residual,
           stale, finite):
    """Up to ``count`` rounds on each of the ``active`` markets (retired ones set False, their evaluations
    counted in ``evaluations``, their prices, consumer prices and shares those of their last
    evaluation). Returns (0, -1) when the rounds ran out or every market is solved; (1, m) when market
    m, the first by position, is still active after ``max_iterations`` evaluations; (2, m) when market
    m's shares are not finite (the first by position met: the markets take their rounds in turn).

    The markets are independent, so each takes its rounds in turn, one market's all before the
    next's, not round by round across markets: a market's e_ij (176 kB in BLP 1995, 3.5 MB for its
    20 markets) stay in the processor's second-level cache from one of its evaluations to the next.
    Each market's iterates are those of rounds across markets, to the bit. Anderson's small arrays are
    made once a call, not once a round."""
    # the arrays, alive for the call, without reference counts (compiled_setup.unowned): each call of evaluate
    # and anderson and each view taken in them would otherwise update them atomically
    (diff_f, diff_g, inner, last_f, last_g, started, filled, steps, prices, costs, t, specific, product_start,
     household_start, cell_start, row_cell_start, mix_start, groups, logit, rising, exact, rho, steepest, rxi, rx,
     nest, cell, row_cell, sensitivity, snu, base_top, weights, slope, cell_group, row_cell_group, mix_indptr,
     mix_indices, mix_data, work, work_start, last_paid, last_shift, fresh, drift, watch, watched, consumer, shares,
     mapped, residual, stale, finite) = (
        unowned(diff_f), unowned(diff_g), unowned(inner), unowned(last_f), unowned(last_g), unowned(started),
        unowned(filled), unowned(steps), unowned(prices), unowned(costs), unowned(t), unowned(specific),
        unowned(product_start), unowned(household_start), unowned(cell_start), unowned(row_cell_start),
        unowned(mix_start), unowned(groups), unowned(logit), unowned(rising), unowned(exact), unowned(rho),
        unowned(steepest), unowned(rxi), unowned(rx), unowned(nest), unowned(cell), unowned(row_cell),
        unowned(sensitivity), unowned(snu), unowned(base_top), unowned(weights), unowned(slope), unowned(cell_group),
        unowned(row_cell_group), unowned(mix_indptr), unowned(mix_indices), unowned(mix_data), unowned(work),
        unowned(work_start), unowned(last_paid), unowned(last_shift), unowned(fresh), unowned(drift), unowned(watch),
        unowned(watched), unowned(consumer), unowned(shares), unowned(mapped), unowned(residual), unowned(stale),
        unowned(finite))
    largest = 0
    for m in range(product_start.size - 1):
        largest = max(largest, product_start[m + 1] - product_start[m])
    small = work_arrays(diff_f.shape[0], largest)
    for m in np.flatnonzero(active):
        if evaluations[m] >= max_iterations:
            return 1, m
    for m in np.flatnonzero(active):
        listed = np.full(1, m)
        for _ in range(count):
            if evaluations[m] >= max_iterations:
                return 1, m
            evaluate(listed, prices, costs, t, specific, limit, tol, product_start, household_start, cell_start,
                     row_cell_start, mix_start, groups, logit, rising, exact, rho, steepest, rxi, rx, nest, cell,
                     row_cell, sensitivity, snu, base_top, weights, slope, cell_group, row_cell_group, mix_indptr,
                     mix_indices, mix_data, work, work_start, last_paid, last_shift, fresh, drift, watch, watched,
                     consumer, shares, mapped, residual, stale, finite)
            evaluations[m] += 1
            if not finite[m]:
                return 2, m
            if residual[m] < tol and not stale[m]:
                active[m] = False
                break
            anderson(listed, prices, mapped, product_start, ridge, diff_f, diff_g, inner, last_f, last_g, started,
                     filled, steps, small)
    return 0, -1
