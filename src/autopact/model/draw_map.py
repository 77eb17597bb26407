"""The zeta map of one market by numba's compiled loops, for the equilibrium solves of a draw.

A draw (a scenario's cost/policy inputs drawn, ``autopact.runs.execution``) solves its equilibrium by
Broyden's method from the central result's Newton matrix (``supply.solve_prices``), about ten
evaluations of the map c + zeta(p) a solve. ``autopact.model.fused.FusedMarkets`` evaluates that map
in compiled loops (``autopact.model.compiled.evaluate``: the passes over the products x households
arrays fused, the exponentials of rows whose prices moved little updated in place); made for the
stacked markets of ``solve_prices_markets``, it takes one market as well. On the 2025 market (297
products, 1,000 households, one BLAS thread, load 4-5) an evaluation took 0.7-0.85 ms of CPU against
SortedKernel's 1.45-1.75 ms and FocKernel's 1.9-2.2 ms; setting it up 0.37 ms against SortedKernel's
1.2 ms. Its numbers are SortedKernel's to rounding (mapped prices within 4e-16, shares 3e-15).

``CompiledMap`` gives ``solve_prices`` the map itself (``zeta``), and ``newton.solve_at_capacity``,
which needs the FOC's terms, a SortedKernel made on first use (``terms``). The compiled loops keep
each row's exponentials from one evaluation to the next, so an evaluation depends on the ones
before it in the same ``CompiledMap``: a draw makes its own (``simulate.draw_kernel``), and its
numbers then depend on the draw alone, whichever process computes it.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from autopact.model.demand import Demand
from autopact.model.fused import FusedMarkets


class CompiledMap:
    """c + zeta(p) of one market at any producer prices and marginal costs (``zeta``), by the compiled
    loops ``compiled`` (``fused.compiled_loops()``); its FOC terms by SortedKernel (``terms``).
    The market must be one ``sorted_kernel.supports`` covers; ``taxes`` are those of every solve."""

    def __init__(self, xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes, costs: np.ndarray,
                 compiled: ModuleType, tol: float = 1e-12) -> None:
        self.fused = FusedMarkets([np.asarray(xi, float)], [demand], [np.asarray(ownership, float)],
                                  [np.asarray(costs, float)], [taxes], tol, compiled)
        self.markets = np.zeros(1, np.int64)
        self.inputs, self.sorted = (xi, demand, ownership), None

    def zeta(self, prices: np.ndarray, costs: np.ndarray, tol: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool, bool]:
        """(c + zeta(p) with priced-out products at c + 1/alpha-bar, consumer prices, shares,
        max_j |FOC_j / s_j| over products with a share, whether a priced-out product sits off its limit
        price (relative ``tol``), whether the shares are finite) at producer ``prices``, costs ``costs``:
        what ``supply.solve_prices``'s map computes from the FOC's terms."""
        fused = self.fused
        fused.costs[:] = costs
        fused.tol = tol
        fused.evaluate(np.ascontiguousarray(prices, float), self.markets)
        return (fused.mapped.copy(), fused.consumer.copy(), fused.shares.copy(), float(fused.residual[0]),
                bool(fused.stale[0]), bool(fused.finite[0]))

    def terms(self, prices: np.ndarray, margin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """s, Lambda and g = (Omega o Gamma^T) m at consumer ``prices`` (``FocKernel.terms``), by a
        SortedKernel of the same market (the joint capacity solve, ``newton.solve_at_capacity``)."""
        if self.sorted is None:
            from autopact.model.sorted_kernel import SortedKernel

            self.sorted = SortedKernel(*self.inputs)
        return self.sorted.terms(prices, margin)


def compiled_map(xi: np.ndarray, demand: Demand, ownership: np.ndarray, taxes, costs: np.ndarray
                 ) -> CompiledMap | None:
    """A ``CompiledMap`` of one market (``supply.solve_prices(compiled=True)``, a draw's
    ``simulate.draw_kernel``), or None where numba's loops cannot serve it: a second level of nests or
    more than one block of households (``sorted_kernel.supports``), or numba not installed or unable to
    compile (``fused.compiled_loops``)."""
    from autopact.model.fused import compiled_loops
    from autopact.model.sorted_kernel import supports

    if not supports(demand, len(xi)):
        return None
    loops = compiled_loops()
    return None if loops is None else CompiledMap(xi, demand, ownership, taxes, costs, loops)


def dask_setup(worker: object = None) -> None:
    """Load numba's compiled loops now (Dask's preload hook, ``runs.execution.WORKER_PRELOAD``): a
    worker then loads them as it starts, not in its first draw (importing numba and loading the
    loops' cached machine code at their first calls took about half a second). ``fused.compiled_loops``
    calls every loop once as it loads them (``fused._compile``: the map's evaluation among them, the
    one ``CompiledMap.zeta`` runs), so nothing more is evaluated here; nothing is kept."""
    from autopact.model.fused import compiled_loops

    compiled_loops()
