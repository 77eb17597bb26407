"""Many markets' arrays stacked for the compiled zeta map (``autopact.model.compiled``), and the
loading of those loops where numba is installed.

``solve_prices_markets`` evaluates every market's map in one compiled call; the call takes each
array once for all markets, stacked (products one market after another, households likewise) with
each market's first row in ``product_start`` and ``household_start``. What SortedKernel sets up in
numpy for a market (its ownership cells, its bound on the utilities at zero prices) is set up here by
compiled loops (``compiled_setup.prepare``, ``compiled.tops``): 2.1-3.1 ms for BLP 1995's 20
markets against 8.3-10.4 ms for their twenty SortedKernels (two runs, load 4-6).

This module imports without numba; ``compiled_loops`` imports the compiled modules on first use (so
``import autopact`` and every CLI command that solves no many-market equilibrium never load numba),
and compiles them (or loads them from numba's cache) once a process by a solve of a two-product
market: where numba is installed but cannot compile them (numba's errors are raised at a function's
first call), the solves go by numpy, with a warning, instead of failing in their first call.

A market's ownership cells depend on its ownership matrix and nests only; draws, sweeps and repeated
solves of the same markets (the benchmark's repeats) meet the same ones again, so they are kept for
the last ``CELLS_KEPT`` (ownership, nests) met, each checked equal to the one given before it is used
(``_cells``), and so is the last set of markets' cells stacked (``_stacked``). BLP 1995's 20
markets: the set-up took 0.7-1.1 ms with the cells kept (least and median of 25, caches warm and
flushed, load 5), 3.9-5.2 ms building them (before the stacking was kept; least and median of 15,
load 3-4); in the benchmark, whose timed calls follow PyBLP's, the solve took 12.4 ms of processor
time with the cells built at each call (``--forget-cells``) against 8.1-9.2 ms with them kept.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np

from autopact.model.demand import Demand
from autopact.model.taxes import Taxes
from autopact.model.zeta import _direction

# markets whose ownership cells are kept (``_cells``)
CELLS_KEPT = 64
# a kept market's Omega is kept as a copy too where it has at most this many entries (a 256-product market,
# 512 kB), and compared with the one given entry by entry in memory order (``compiled_setup.equal``: 2-5 us
# for a BLP 1995 market, the call included, against 10-20 us for ``compiled_setup.same``'s comparison by class, which reads
# the small table entry by entry in the order of Omega's classes); larger ones by class, so that 64 kept
# markets of the 2025 data's size do not hold 35 MB of copies
COPY_KEPT = 256 * 256
# households of a row whose utilities near the floor are taken afresh where the row is updated (``compiled``)
WATCH = 32
_CELLS: dict[tuple, tuple] = {}
_CELLS_LOCK = threading.Lock()
_STACKED: dict[str, tuple] = {}  # the last markets' cells stacked (``_stacked``)
# the outcome of compiling the loops, by the id of the module imported (``compiled_loops``)
_COMPILED: dict[int | str, ModuleType | None] = {}  # "import": the import failed


def compiled_loops() -> ModuleType | None:
    """The compiled loops (``autopact.model.compiled_rounds``, which brings ``compiled``,
    ``compiled_anderson`` and ``compiled_setup``), compiled or loaded from numba's cache by a solve of
    a two-product market the first time in a process; None where numba is not installed, or (with a
    RuntimeWarning) where they cannot be imported or compiled. On None ``solve_prices_markets`` solves
    by SortedKernel and numpy, to the same prices within 1e-12."""
    if "import" in _COMPILED:  # numba missing or broken at import: found once a process, not at every solve
        return None
    if "autopact.model.compiled_rounds" not in sys.modules:
        clear_stale_cache()
    try:
        module = importlib.import_module("autopact.model.compiled_rounds")
    except ImportError:
        _COMPILED["import"] = None
        return None
    except Exception as error:  # numba installed but broken at import (an LLVM or numpy it does not support)
        _fallback(error)
        _COMPILED["import"] = None
        return None
    key = id(module)
    if key not in _COMPILED:
        try:
            _compile(module)
        except Exception as error:  # numba raises its compile errors (TypingError, LoweringError...) at a first call
            _fallback(error)
            _COMPILED[key] = None
        else:
            _COMPILED[key] = module
    return _COMPILED[key]


def clear_stale_cache(folder: Path = Path(__file__).parent) -> bool:
    """Remove numba's cached compiled loops where any compiled module's source changed since they were
    written; True where it removed them. numba keys a function's cache on its own file alone, so
    ``compiled_rounds.rounds``, which inlines loops of ``compiled`` and ``compiled_rows``, kept
    running the old loops after an edit of those files only (seen in the sixth session). The digest of
    every ``compiled*.py`` is kept beside the cache (``__pycache__/compiled-sources.digest``); a
    folder that cannot be written is left as it is (numba then caches elsewhere or compiles)."""
    cache = folder / "__pycache__"
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.glob("compiled*.py")))).hexdigest()
    stamp = cache / "compiled-sources.digest"
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return False
        stale = [p for p in cache.glob("compiled*.nb[ic]")]
        for path in stale:
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
        return bool(stale)
    except OSError:
        return False


def warn_not_compiled(error: Exception, loops: str, instead: str, stacklevel: int = 4) -> None:
    """Warn that numba's compiled ``loops`` are not used, and why (the error's first line), and what
    serves ``instead`` (the caller's numpy path); shared by every loader of compiled loops."""
    reason = (str(error).strip().splitlines() or [""])[0][:200]
    warnings.warn(f"autopact: numba could not compile {loops} ({type(error).__name__}: {reason}); {instead}",
                  RuntimeWarning, stacklevel=stacklevel)


def _fallback(error: Exception) -> None:
    """Warn that the compiled loops are not used, and why."""
    warn_not_compiled(error, "solve_prices_markets's loops", "solving by numpy (SortedKernel), the same prices to 1e-12")


def _compile(module: ModuleType) -> None:
    """Calls every compiled loop once, with the argument types of a solve, on one nested-logit market
    of two products and two households: numba compiles them (or loads them from its cache) here."""
    demand = Demand(alpha=1.0, pi=0.5, sigma=np.array([0.5, 0.5]), rho=0.5, characteristics=np.eye(2),
                    nests=np.array([0, 1]), weights=np.array([0.5, 0.5]), income=np.array([1.0, 2.0]),
                    nu=np.eye(2))
    costs = np.ones(2)
    markets = FusedMarkets([np.ones(2)], [demand], [np.eye(2)], [costs], [Taxes.none(2)], 1e-12, module)
    prices = costs + 1.0
    markets.evaluate(prices, np.arange(1, dtype=np.int64))
    markets.rounds(2, np.ones(1, bool), np.zeros(1, np.int64), 100, 1e-12, prices, 2)
    FusedMarkets([np.ones(2)], [demand], [np.eye(2)], [costs], [Taxes.none(2)], 1e-12, module)  # its cells kept
    module.same(np.eye(2), np.arange(2), np.arange(2), np.eye(2))  # the comparison of markets above COPY_KEPT


def _cells(compiled: ModuleType, ownership: np.ndarray, nests: np.ndarray, rho: float) -> tuple:
    """(nest number 0..G-1 of each product, G, ``compiled_setup.prepare``'s cells) of one market, kept for
    the last CELLS_KEPT markets met and reused where the nests and the ownership matrix equal one kept
    (compared entry by entry with a copy of the kept Omega in memory order, ``compiled_setup.equal``, or,
    above COPY_KEPT entries, with the kept market's Omega by row and column class, ``compiled_setup.same``,
    which reads only the matrix given: 2-20 us against 30-150 us for building the cells)."""
    nests = np.asarray(nests)
    key = (ownership.shape[0], rho, nests.dtype.str, nests.tobytes())
    with _CELLS_LOCK:
        kept = _CELLS.get(key)
    if kept is not None and (compiled.equal(ownership, kept[2]) if kept[2] is not None else compiled.same(ownership,
                                                                                                         *kept[0])):
        return kept[1]
    group, groups = _groups(nests) if rho else (np.zeros(ownership.shape[0], np.int64), 1)
    cells = compiled.prepare(ownership, group, groups, rho * (1.0 / (1.0 - rho)), _direction(len(group)))
    found = (group, groups, cells[:7])
    with _CELLS_LOCK:
        while len(_CELLS) >= CELLS_KEPT:
            _CELLS.pop(next(iter(_CELLS)))
        _CELLS[key] = (cells[7:], found, ownership.copy() if ownership.size <= COPY_KEPT else None)
    return found


def _stacked(found: list[tuple]) -> tuple:
    """The markets' cells (``_cells``) stacked one market after another, with each market's first cell,
    row cell and mix row: (G of each market, nest, cell, row cell, cell group, row cell group, the mix's
    indptr, indices and data, cell_start, row_cell_start, mix_start). Those of the last markets stacked
    are kept and given again where every market's cells are the same kept objects (read-only arrays,
    so shared): the repeated solves of the same markets skip some 30 numpy calls."""
    key = tuple(id(item) for item in found)
    with _CELLS_LOCK:
        last = _STACKED.get("last")
    if last is not None and last[0] == key and all(a is b for a, b in zip(last[1], found)):
        return last[2]
    names = ("nest", "cell", "row_cell", "cell_group", "row_cell_group", "indptr", "indices", "data")
    parts: dict[str, list] = {name: [] for name in names}
    cell_start, row_cell_start, mix_start, nonzero = [0], [0], [0], 0
    for group, _, (cell, row_cell, cell_group, row_cell_group, indptr, indices, data) in found:
        for name, value in zip(names, (group, cell, row_cell, cell_group, row_cell_group, indptr[:-1] + nonzero,
                                       indices, data)):
            parts[name].append(value)
        nonzero += len(indices)
        mix_start.append(mix_start[-1] + len(indptr) - 1)
        cell_start.append(cell_start[-1] + len(cell_group))
        row_cell_start.append(row_cell_start[-1] + len(row_cell_group))
    parts["indptr"].append(np.array([nonzero]))
    stacked = (np.array([groups for _, groups, _ in found], np.int64), *(np.concatenate(parts[name]) for name in names),
               np.array(cell_start, np.int64), np.array(row_cell_start, np.int64), np.array(mix_start[:-1], np.int64))
    with _CELLS_LOCK:
        _STACKED["last"] = (key, list(found), stacked)
    return stacked


def aligned(size: int) -> np.ndarray:
    """An empty float64 array of ``size`` whose first number starts a cache line (64 bytes): numpy's start
    16 or 32 bytes into one, where every other 64-byte (AVX-512) load of the compiled loops spans two."""
    owner = np.empty(size + 8)
    start = (-owner.ctypes.data % 64) // 8
    return owner[start:start + size]


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """A C-contiguous float64 copy of ``array`` whose first number starts a cache line (``aligned``)."""
    copy = aligned(array.size).reshape(array.shape)
    copy[...] = array
    return copy


def _groups(nests: np.ndarray) -> tuple[np.ndarray, int]:
    """Nest numbers 0..G-1 in the order of the nests' own numbers, and G."""
    nests = np.asarray(nests, np.int64)
    if nests.size and nests.min() == 0 and np.bincount(nests).all():
        return nests, int(nests.max()) + 1
    values, group = np.unique(nests, return_inverse=True)
    return group.ravel().astype(np.int64), len(values)


class FusedMarkets:
    """Every market's demand, ownership cells, costs and taxes as stacked arrays, and the outputs of
    the last evaluation of their zeta maps (``evaluate``): consumer prices, shares, the mapped prices,
    each market's residual max_j |FOC_j / s_j| and its ``stale`` and ``finite`` checks. Each market
    must be one ``sorted_kernel.supports`` covers (no subnests, one block of households)."""

    def __init__(self, xi: list[np.ndarray], demands: list[Demand], ownerships: list[np.ndarray],
                 costs: list[np.ndarray], taxes: list[Taxes], tol: float, compiled: ModuleType) -> None:
        self.compiled, self.tol, self.rings = compiled, tol, None
        count = len(xi)
        sizes = np.array([len(x) for x in xi])
        households = np.array([len(d.weights) for d in demands])
        self.product_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.household_start = np.concatenate([[0], np.cumsum(households)]).astype(np.int64)
        self.rho = np.array([float(d.rho) for d in demands])
        self.logit = self.rho == 0
        scale = 1.0 / (1.0 - self.rho)
        found = [_cells(compiled, np.ascontiguousarray(o, dtype=float), d.nests, float(d.rho))
                 for d, o in zip(demands, ownerships)]
        (self.groups, self.nest, self.cell, self.row_cell, self.cell_group, self.row_cell_group, self.mix_indptr,
         self.mix_indices, self.mix_data, self.cell_start, self.row_cell_start, self.mix_start) = _stacked(found)
        cat = np.concatenate
        by_product, by_household = np.repeat(scale, sizes), np.repeat(scale, households)
        self.rxi = cat(xi).astype(float) * by_product
        # characteristics with random coefficients, r x_jk, and the households' sigma_k nu_ik (K, I), each
        # market's padded with zeros to the largest K of any market, at least 2
        width = max(2, *(len(d.sigma) for d in demands))  # at least 2: compiled._utility_row
        if all(len(d.sigma) == width for d in demands):  # no padding: one concatenation each
            self.rx = cat([d.characteristics for d in demands]).astype(float)
            self.snu = np.ascontiguousarray(cat([d.nu * d.sigma for d in demands]).T)
        else:
            self.rx = np.zeros((len(self.rxi), width))
            self.snu = np.zeros((width, len(by_household)))
            for m, d in enumerate(demands):
                k = len(d.sigma)
                self.rx[self.product_start[m]:self.product_start[m + 1], :k] = d.characteristics
                self.snu[:k, self.household_start[m]:self.household_start[m + 1]] = (d.nu * d.sigma).T
        self.rx *= by_product[:, None]
        sensitivity = cat([d.price_sensitivity for d in demands])
        self.weights = cat([d.weights for d in demands]).astype(float)
        self.sensitivity, self.slope = sensitivity * by_household, -self.weights * sensitivity
        # the arrays over households, whose markets' rows the compiled loops read in SIMD, from a cache line's start
        self.snu, self.weights, self.sensitivity, self.slope = (aligned_copy(a) for a in (self.snu, self.weights,
                                                                                          self.sensitivity, self.slope))
        starts = self.household_start[:-1]
        self.limit = 1.0 / np.add.reduceat(self.weights * sensitivity, starts)  # demand.limit_markup
        self.rising = np.minimum.reduceat(sensitivity, starts) < 0
        self.steepest = np.maximum.reduceat(np.abs(self.sensitivity), starts)
        self.base_top = aligned(len(sensitivity))
        compiled.tops(self.product_start, self.household_start, self.rxi, self.rx, self.snu, self.base_top)
        self.exact = np.zeros(count, bool)
        # each market's e_ij, kept from one evaluation to the next (compiled.evaluate updates them where prices
        # moved little), with the consumer prices and -top_i they were computed at
        self.work_start = np.concatenate([[0], np.cumsum(sizes * households)]).astype(np.int64)
        self.work = aligned(int(self.work_start[-1]))
        self.last_paid, self.last_shift = np.full(int(self.product_start[-1]), np.nan), aligned_copy(np.zeros(len(by_household)))
        self.fresh, self.drift = np.zeros(int(self.product_start[-1]), bool), np.zeros(int(self.product_start[-1]))
        # each row's households within MARGIN of the floor at its last fresh evaluation (compiled.evaluate takes
        # them afresh where it updates the row; a row with more than WATCH is exponentiated afresh)
        self.watch = np.empty((int(self.product_start[-1]), WATCH), np.int64)
        self.watched = np.zeros(int(self.product_start[-1]), np.int64)
        total = int(self.product_start[-1])
        self.costs = cat(costs).astype(float)
        self.t = 1 + cat([t.ad_valorem for t in taxes]).astype(float)
        self.specific = cat([t.specific for t in taxes]).astype(float)
        self.consumer, self.shares, self.mapped = np.zeros(total), np.zeros(total), np.zeros(total)
        self.residual, self.stale, self.finite = np.full(count, np.inf), np.zeros(count, bool), np.ones(count, bool)

    def state(self) -> tuple:
        """The arrays ``compiled.evaluate`` takes after the producer prices, in its order."""
        return (self.costs, self.t, self.specific, self.limit, self.tol, self.product_start, self.household_start,
                self.cell_start, self.row_cell_start, self.mix_start, self.groups, self.logit, self.rising, self.exact,
                self.rho, self.steepest, self.rxi, self.rx, self.nest, self.cell, self.row_cell, self.sensitivity,
                self.snu, self.base_top, self.weights, self.slope, self.cell_group, self.row_cell_group,
                self.mix_indptr, self.mix_indices, self.mix_data, self.work, self.work_start, self.last_paid,
                self.last_shift, self.fresh, self.drift, self.watch, self.watched, self.consumer, self.shares,
                self.mapped, self.residual, self.stale, self.finite)

    def rounds(self, count: int, active: np.ndarray, evaluations: np.ndarray, max_iterations: int, ridge: float,
               prices: np.ndarray, memory: int) -> tuple[int, int]:
        """Up to ``count`` rounds of Anderson's iteration (memory ``memory``, ``ridge``) on the ``active``
        markets from ``prices``, both updated in place, as ``compiled_rounds.rounds`` (its status and
        market). Anderson's rings (differences, their inner products, the last residuals) are kept
        here from one call to the next, made at the first."""
        if self.rings is None:
            total, markets = int(self.product_start[-1]), len(self.residual)
            self.rings = (np.zeros((memory, total)), np.zeros((memory, total)), np.zeros((markets, memory, memory)),
                          np.zeros(total), np.zeros(total), np.zeros(markets, bool), np.zeros(markets, np.int64),
                          np.zeros(markets, np.int64))
        return self.compiled.rounds(count, active, evaluations, max_iterations, ridge, *self.rings, prices,
                                    *self.state())

    def evaluate(self, prices: np.ndarray, markets: np.ndarray) -> None:
        """The zeta map of the markets numbered in ``markets`` (int64) at the stacked producer ``prices``,
        into ``mapped`` and the other outputs (rows of the markets not listed keep their numbers)."""
        self.compiled.evaluate(markets, prices, *self.state())
