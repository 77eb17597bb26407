"""Supply: multiproduct Bertrand-Nash pricing with profit weights, marginal costs and equilibria.

Firm f sets its products' producer prices p to maximise sum_g kappa(f, g) pi_g, where
pi_g = sum_{j owned by g} (p_j - c_j) M s_j(p^c) and consumers pay p^c = (1 + t) p + T.
With Omega_jk = kappa(f(j), f(k)) and J_kj = ds_k/dp^c_j, the first-order conditions are

    s_j + (1 + t_j) sum_k Omega_jk (p_k - c_k) J_kj = 0.                               (FOC)

A joint venture whose profits two parents split is one "firm" with its own row and column of
kappa (O'Brien and Salop 2000 profit weights); a merger sets kappa to 1 between the merged firms.
Counterfactual prices solve the FOC by the zeta-markup fixed point of Morrow and Skerlos (2011):
with ds/dp^c = diag(Lambda) - Gamma,

    p <- c + zeta(p),   zeta = Lambda^{-1} [ (Omega o Gamma^T)(p - c) - s / (1 + t) ],

accelerated by SQUAREM (Varadhan and Roland 2008) and iterated until the FOC residual, relative to
shares, is below a stated tolerance, within an iteration limit and a time limit (``SOLVE_SECONDS``):
an input the solver cannot handle fails in a bounded time with ConvergenceError, never after
minutes of iterations. One evaluation of the map costs O(I J) operations for I households and J
products: Gamma enters only through the vector (Omega o Gamma^T)(p - c), which
``autopact.model.zeta.FocKernel`` sums household by household without forming the J x J matrix
(the I J^2 product that PyBLP's evaluation, and this one before, spent most of its time on).

Newton's method on the FOC would need, at every step, the J x J Jacobian of the FOC (second
derivatives of the shares, several I J^2 products, each costlier than a whole O(I J) evaluation);
Anderson acceleration (memory 2 to 12) measured no fewer evaluations than SQUAREM on the 2025
market, PyBLP's Newton-type options were slower still (``bench_equilibrium_blp1995.py --screen``).
Many solves near one equilibrium (a scenario's draws) pay for one Jacobian by differences
(``autopact.model.newton``) and start Broyden's method from it: about half the evaluations; a draw
with a binding plant solves the plant's shadow cost with its prices
(``autopact.model.constrained.solve_constrained``'s ``capacity_start``, ``newton.at_capacity``):
about a quarter of the search's evaluations. Capacity and quota constraints (shadow costs) are in
``autopact.model.constrained``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autopact.model.demand import Demand, jacobian_parts, limit_markup as small_share_markup
from autopact.model.newton import BroydenMatrix
from autopact.model.taxes import Taxes  # noqa: F401  (re-exported: most callers import it from here)
from autopact.model.zeta import FocKernel
from autopact.errors import ConvergenceError

# Wall-clock limit of one equilibrium solve, in seconds. The bundled scenarios converge in under 100
# map evaluations (a few milliseconds each on 1,000 households); the limit leaves room for markets
# with a hundred times the households and stops a solve that is not converging long before its
# iteration limit.
SOLVE_SECONDS = 120.0


def ownership_matrix(owners: np.ndarray, profit_weights: np.ndarray | None = None) -> np.ndarray:
    """Omega_jk = kappa(f(j), f(k)) for product owners f(.) (J,) coded 0..F-1.

    ``profit_weights`` is kappa (F, F), the weight firm f puts on firm g's profit; the identity
    (the default) means independent firms. Its diagonal must be 1.
    """
    owners = np.asarray(owners, int)
    if profit_weights is None:
        return (owners[:, None] == owners[None, :]).astype(float)
    kappa = np.asarray(profit_weights, float)
    if not np.allclose(np.diag(kappa), 1.0):
        raise ValueError("profit weights kappa(f, f) must be 1: each firm weighs its own profit fully")
    return kappa[np.ix_(owners, owners)]


def foc_residual(prices: np.ndarray, costs: np.ndarray, xi: np.ndarray, demand: Demand,
                 ownership: np.ndarray, taxes: Taxes) -> np.ndarray:
    """FOC residual s_j + (1 + t_j) sum_k Omega_jk (p_k - c_k) ds_k/dp^c_j, divided by s_j (J,)."""
    consumer = taxes.consumer_prices(prices)
    s, lam, gamma = jacobian_parts(xi - demand.alpha * consumer, consumer, demand)
    jac = np.diag(lam) - gamma
    return (s + (1 + taxes.ad_valorem) * ((ownership * jac.T) @ (prices - costs))) / s


def marginal_costs(prices: np.ndarray, delta: np.ndarray, demand: Demand, ownership: np.ndarray,
                   taxes: Taxes) -> tuple[np.ndarray, np.ndarray]:
    """Marginal costs from the FOC at observed producer prices: c = p - markups, with
    markups = -[diag(1 + t)(Omega o J^T)]^{-1} s (BLP 1995, eq. 3.6). Returns (costs, markups).

    ``delta`` is the mean utility at the observed consumer prices (from ``invert_shares``).
    Costs are returned as computed: negative values are reported by the caller, never clipped.
    """
    consumer = taxes.consumer_prices(prices)
    s, lam, gamma = jacobian_parts(delta, consumer, demand)
    markups = first_order_markups(np.diag(lam) - gamma, s, ownership, taxes.ad_valorem)
    return prices - markups, markups


def first_order_markups(jacobian: np.ndarray, shares: np.ndarray, ownership: np.ndarray,
                        ad_valorem: np.ndarray | None = None) -> np.ndarray:
    """The Bertrand-Nash first-order markups m = -[diag(1 + t)(Omega o J^T)]^{-1} s (BLP 1995, eq. 3.6),
    J the shares' price Jacobian ds/dp at the prices paid, t the ad valorem taxes (none by default)."""
    scale = 1.0 if ad_valorem is None else (1 + ad_valorem)[:, None]
    return -np.linalg.solve(scale * (ownership * jacobian.T), shares)


@dataclass(frozen=True)
class Equilibrium:
    """Producer prices solving the FOC, with the evidence that they do."""

    prices: np.ndarray
    consumer_prices: np.ndarray
    shares: np.ndarray
    markups: np.ndarray
    iterations: int
    max_foc_residual: float
    converged: bool
    shadow_costs: np.ndarray | None = None
    priced_out: np.ndarray = field(default_factory=lambda: np.zeros(0, int))


class LowRankInverse:
    """Broyden's inverse B = -H + sum_k a_k b_k' for one solve, with H the matrix given (never copied
    nor written) and each update a_k b_k' kept as its two vectors: a product with B then reads H
    once, where updating a dense copy of B wrote three J x J arrays an iteration (about a tenth of a
    draw's time on the 2025 market, 300 products). B's products are those of the dense update up to
    rounding (sums in another order), so a solve stops at the same tolerance."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = np.asarray(matrix, float)
        self.left: list[np.ndarray] = []
        self.right: list[np.ndarray] = []

    __array_ufunc__ = None  # ``x @ B`` with x an array comes to __rmatmul__

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        out = -(self.matrix @ x)
        if self.left:
            out += np.asarray(self.left).T @ (np.asarray(self.right) @ x)
        return out

    def __rmatmul__(self, x: np.ndarray) -> np.ndarray:
        out = -(x @ self.matrix)
        if self.left:
            out += (np.asarray(self.left) @ x) @ np.asarray(self.right)
        return out

    def update(self, left: np.ndarray, right: np.ndarray) -> None:
        """B <- B + left right' (Broyden's rank-one update)."""
        self.left.append(left)
        self.right.append(right)


def solve_prices(costs: np.ndarray, xi: np.ndarray, demand: Demand, ownership: np.ndarray,
                 taxes: Taxes, initial: np.ndarray | None = None, tol: float = 1e-12,
                 max_iterations: int = 10_000, method: str = "squarem",
                 max_seconds: float = SOLVE_SECONDS, kernel: FocKernel | None = None,
                 inverse_jacobian: np.ndarray | BroydenMatrix | None = None,
                 early_exit: Callable[[np.ndarray, float], bool] | None = None,
                 compiled: bool = False, fallback: bool = True) -> Equilibrium:
    """Bertrand-Nash producer prices by the zeta-markup fixed point (Morrow and Skerlos 2011).

    ``xi`` is each product's mean utility net of price (delta_j + alpha p^c_j at the calibrated
    prices), so that delta(p^c) = xi - alpha p^c. ``method`` "simple" iterates p <- c + zeta(p);
    "squarem" (default) accelerates the same map by SQUAREM (Varadhan and Roland 2008), the
    acceleration PyBLP offers for its fixed points. Stops when max_j |FOC_j / s_j| < tol;
    ``iterations`` counts evaluations of the map. Raises ConvergenceError otherwise (also once
    ``max_seconds`` have passed), never returning unconverged prices.

    Each evaluation takes O(I J) operations (``autopact.model.zeta.FocKernel``: Gamma enters only
    through (Omega o Gamma^T)(p - c), summed household by household, never as a J x J matrix).
    ``kernel``, a FocKernel of the same ``xi``, ``demand`` and ``ownership``, is reused when given
    (solves that differ only in costs, taxes or starting prices).

    ``inverse_jacobian`` H, (I - d zeta/dp)^{-1} at a nearby solution (``autopact.model.newton``:
    a draw's central equilibrium), replaces SQUAREM by Broyden's method (Broyden 1965, the "good"
    update of the inverse) started from the Newton step p + H (c + zeta(p) - p): about half the map
    evaluations of SQUAREM on the 2025 market's draws. Should its residual stall or grow, SQUAREM
    goes on from the best prices it reached. The stopping rule, and so the solution, is the same.
    A ``BroydenMatrix`` is used and updated in place (the solves of one shadow-cost search).

    ``early_exit(shares, residual)``, asked at every evaluation that is not yet an equilibrium, may
    end the solve there: the prices reached are returned with ``converged`` False (a shadow-cost
    search's first solve, whose constraint is already far over capacity, ``constrained.DECIDED``, and
    its trial far under it, ``shadow.BRACKET_TOL``). A solve it never stops takes the same path to
    the same prices. It is asked on every kernel, the compiled map's included.

    ``fallback`` False ends a Broyden solve that stalls with ConvergenceError instead of handing its
    best prices to SQUAREM (``autopact.model.continuation``: a step of the path that fails is halved, so
    that the fixed point cannot leave for another equilibrium unseen).

    ``compiled`` (where no ``kernel`` is given) evaluates the map by numba's compiled loops
    (``draw_map.compiled_map``: the 2025 market's cold start in about half of FocKernel's time, README
    "Speed (issue 13)") where numba is installed and the market is one they cover (one level of nests,
    one block of households), else by FocKernel: the same prices to rounding (about 1e-15 relative),
    the same stopping rule. The first such solve of a process loads the loops (about a second; a
    minute where numba compiles them). The default, False, never imports numba: the central results
    (the golden files) and a command line that solves few equilibria keep FocKernel.
    """
    if method not in ("simple", "squarem"):
        raise ValueError(f"method must be 'simple' or 'squarem', got {method!r}")
    prices = np.array(costs if initial is None else initial, float)
    prices = np.where(np.isfinite(prices), prices, costs)
    t = 1 + taxes.ad_valorem
    # A product whose share underflows to zero (priced out, e.g. by a prohibitive tariff) has no
    # defined FOC; it is held at the small-share logit limit c + 1/alpha-bar and left out of the
    # residual. Equilibrium.priced_out lists such products.
    limit_markup = small_share_markup(demand)
    evaluations = 0
    residual = np.inf
    deadline = time.monotonic() + max_seconds
    if kernel is None and compiled:
        from autopact.model.draw_map import compiled_map as build_compiled_map  # numba's loops: only where asked

        kernel = build_compiled_map(xi, demand, ownership, taxes, costs)
    kernel = FocKernel(xi, demand, ownership) if kernel is None else kernel

    compiled_map = getattr(kernel, "zeta", None)  # a draw's compiled map (``draw_map.CompiledMap``)

    def numpy_map(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool, bool]:
        """What the compiled map returns, by ``kernel.terms``: c + zeta(p), consumer prices, shares, the
        residual max |FOC/s| over live products, whether a priced-out product is off its limit price (it
        counts as solved only there), and whether the shares are finite."""
        consumer = taxes.consumer_prices(p)
        margin = p - costs
        s, lam, weighted = kernel.terms(consumer, margin)
        foc = s + t * (lam * margin - weighted)
        live = s > 0
        with np.errstate(invalid="ignore"):
            value = float(np.max(np.abs(foc[live] / s[live]))) if live.any() else 0.0
        stale = ~live & (np.abs(margin - limit_markup) > tol * limit_markup)
        with np.errstate(divide="ignore", invalid="ignore"):
            zeta = (weighted - s / t) / lam
        return costs + np.where(live, zeta, limit_markup), consumer, s, value, bool(stale.any()), \
            bool(np.all(np.isfinite(s)))

    evaluate = numpy_map if compiled_map is None else (lambda p: compiled_map(p, costs, tol))

    def zeta_map(p: np.ndarray) -> tuple[np.ndarray, Equilibrium | None]:
        """c + zeta(p), and the equilibrium if p already satisfies the FOC (or ``early_exit`` ends the solve)."""
        nonlocal evaluations, residual
        evaluations += 1
        mapped, consumer, s, residual, stale_any, finite = evaluate(p)
        if not finite:
            raise ConvergenceError("equilibrium prices: shares are not finite (check costs and mean utilities)")
        if residual < tol and not stale_any:
            return p, Equilibrium(p, consumer, s, p - costs, evaluations, residual, True,
                                  priced_out=np.flatnonzero(~(s > 0)))
        if early_exit is not None and early_exit(s, residual):
            return p, Equilibrium(p, consumer, s, p - costs, evaluations, residual, False,
                                  priced_out=np.flatnonzero(~(s > 0)))
        return mapped, None

    def late() -> None:
        if time.monotonic() > deadline:
            raise ConvergenceError(f"equilibrium prices did not converge within the time limit of {max_seconds:g} s "
                                   f"({evaluations} iterations, max |FOC/s| = {residual:.2e}, tolerance {tol:.0e})")

    if inverse_jacobian is not None:  # Broyden on F(p) = c + zeta(p) - p, B approximating dF/dp^{-1} = -H
        carried = inverse_jacobian if isinstance(inverse_jacobian, BroydenMatrix) else None
        inverse = carried.inverse if carried is not None else LowRankInverse(inverse_jacobian)
        f, done = zeta_map(prices)
        if done:
            return done
        step, best, stalled = f - prices, (residual, prices), 0
        while evaluations < max_iterations and stalled < 8 and np.all(np.isfinite(step)):
            late()
            move = -(inverse @ step)  # (-B) @ step to the bit (negation is exact), without a J x J temporary
            trial = prices + move
            f, done = zeta_map(trial)
            if done:
                return done
            change, step, prices = f - trial - step, f - trial, trial
            stalled = 0 if residual < 0.5 * best[0] else stalled + 1
            best = (residual, prices) if residual < best[0] else best
            guess = inverse @ change
            denominator = float(move @ guess)
            if denominator != 0 and np.isfinite(denominator):
                if carried is None:
                    inverse.update((move - guess) / denominator, move @ inverse)
                else:
                    inverse += np.outer(move - guess, move @ inverse) / denominator
        if not fallback:
            raise ConvergenceError(f"equilibrium prices: Broyden's method did not converge in {evaluations} "
                                   f"iterations (max |FOC/s| = {residual:.2e}, tolerance {tol:.0e})")
        prices = best[1]  # SQUAREM from here
        if carried is not None and (stalled >= 8 or not np.all(np.isfinite(step))):
            carried.reset()  # its updates led nowhere: the next solve starts from the central matrix

    while evaluations < max_iterations:
        late()
        p1, done = zeta_map(prices)
        if done:
            return done
        if method == "simple":
            prices = p1
            continue
        p2, done = zeta_map(p1)
        if done:
            return done
        r, v = p1 - prices, p2 - 2 * p1 + prices
        vv = float(v @ v)
        a = min(-np.sqrt(float(r @ r) / vv), -1.0) if vv > 0 else -1.0
        candidate = prices - 2 * a * r + a * a * v
        prices = candidate if np.all(np.isfinite(candidate)) else p2
    raise ConvergenceError(f"equilibrium prices did not converge in {evaluations} iterations "
                           f"(max |FOC/s| = {residual:.2e}, tolerance {tol:.0e})")


def add_products(xi: np.ndarray, costs: np.ndarray, owners: np.ndarray, characteristics: np.ndarray,
                 nests: np.ndarray, new_xi: np.ndarray, new_costs: np.ndarray, new_owners: np.ndarray,
                 new_characteristics: np.ndarray, new_nests: np.ndarray, demand: Demand
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Demand]:
    """Entry: append new products (mean utility net of price, marginal cost, owner, characteristics,
    nest) to a market. Returns (xi, costs, owners, demand) over the enlarged product set."""
    new_characteristics = np.atleast_2d(np.asarray(new_characteristics, float))
    return (np.concatenate([xi, new_xi]), np.concatenate([costs, new_costs]),
            np.concatenate([owners, new_owners]),
            demand.with_products(np.vstack([characteristics, new_characteristics]),
                                 np.concatenate([nests, new_nests])))
