"""One market's terms of the GMM objective for random-coefficients logit (no nesting), fused.

Each objective evaluation needs, market by market: mean utilities delta from the share inversion,
their derivatives d delta / d theta, markups and the markups' derivatives (supply side). Done
separately (``autopact.model.demand`` and, on main before, ``autopact.fit.estimation``), every step
recomputed the households' choice probabilities s_ij and the weighted Gram matrices
sum_i c_i s_ij s_ik (one J x I x J product each: the work of the estimation), five for the
inversion and its Jacobian and one per parameter for the markups' derivatives. Here the
probabilities of the converged inversion serve every later term, the theta-independent arrays
(the utility derivatives dV_ij / d theta_q = a_iq x_jq, the ownership's factors) are built once
per estimation (``LogitMarket.build``), and an evaluation of one market costs one Gram matrix at
the inversion's solution (plus one when a chord step on the last evaluation's factor gains too
little: 1.9 a market in BLP 1995's estimation) and one for the markups, restricted to the firms'
diagonal blocks (``autopact.fit.factors``); the inversion's other steps take the market shares
from two matrix-vector products.

The formulas are PyBLP's (Conlon and Gortmaker 2020, as ``autopact.fit.market_terms`` for nesting):

    ds_j / d theta_q = sum_i w_i s_ij (dV_ijq - sum_l s_il dV_ilq),  d delta = -(ds/d delta)^{-1} ds/d theta,
    m = -(O o J^T)^{-1} s,  J_jk = sum_i a_i s_ij (1(j=k) - s_ik),  a_i = w_i (-alpha_i),
    (O o J^T) dm_q = -(O o dJ_q^T) m,

with (O o dJ_q^T) m expanded term by term so that no J x J matrix dJ_q is formed: with U = s o m
and O_jk = K[c_j, c_k] over the G firms c (``logit_market._factor``), the cross terms are sums over households
of s_ij, ds_ij and (U O^T)_ij, products of J x I x G rather than J x I x J. The objective's
gradient needs only lambda' dm / d theta for one vector lambda (``Markups.gradient``: one solve
with the transposed matrix, no J x Q right-hand side); the full dm / d theta
(``Markups.derivatives``) is formed for the standard errors. ``Markups`` lives in
``autopact.fit.rc_markups``. With ``LogitMarket.loops`` (``compiled_terms()``, where numba is
installed) the inversion's share evaluations and the markups' set-up and gradient run in numba's
compiled loops (``autopact.fit.compiled_terms``); without, by numpy, to the same results to rounding.
``LogitMarket`` lives in ``autopact.fit.logit_market`` (re-exported here).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from autopact.fit.factors import Symmetric, weighted_gram
from autopact.fit.logit_market import LogitMarket
from autopact.fit.market_terms import demand_terms
from autopact.fit.problem import Parameters
from autopact.fit.rc_markups import Markups
from autopact.fit.tastes import Tastes, probabilities
from autopact.model.inversion import invert_shares


def share_jacobian(lm: "LogitMarket", s: np.ndarray, total: np.ndarray, scaled: np.ndarray | None = None
                   ) -> Symmetric:
    """ds/d delta = diag(s) - (w s)'s at the probabilities ``s`` (``total`` = w s), factored;
    ``scaled``: sqrt(w_i) s_ij where already formed (``compiled_terms.share_matrix``)."""
    def dense() -> np.ndarray:
        return np.diag(total) - (lm.market.weights[:, None] * s).T @ s

    if lm.root is None:
        return Symmetric(dense())
    return Symmetric(weighted_gram(total, lm.root, s, scaled), dense=dense)


_LOADED: dict[str, ModuleType | None] = {}  # "terms": the compiled markups' module, or None (``compiled_terms``)


def compiled_terms() -> ModuleType | None:
    """``autopact.fit.compiled_terms`` (numba's loops for the inversion's share evaluations and the
    markups' set-up and gradient), imported and compiled (or loaded from numba's cache) on a
    two-product market the first time in a process; None where numba is not installed or, with a
    RuntimeWarning, where it cannot compile them: the numpy path of ``invert`` and ``Markups`` then
    serves, with the same estimates to rounding."""
    if "terms" not in _LOADED:
        try:
            module = importlib.import_module("autopact.fit.compiled_terms")
            _warm(module)
        except ImportError:
            module = None
        except Exception as error:  # numba installed but broken, or its compile errors at a first call
            from autopact.model.fused import warn_not_compiled

            warn_not_compiled(error, "the estimation's loops", "estimating by numpy", stacklevel=3)
            module = None
        _LOADED["terms"] = module
    return _LOADED["terms"]


def _warm(module: ModuleType) -> None:
    """Both loops once, with an estimation's argument types, on two products, two households and two firms."""
    s, a, ones, two = np.full((2, 2), 0.25), np.array([-1.0, -2.0]), np.ones(2), np.eye(2)
    order, codes = np.arange(2), np.arange(2)
    ok, a_s, _, u, by_code, _ = module.markups_setup(s, a, ones / 2, order, np.array([0, 1, 2]), two, two, codes)
    module.markups_gradient(s, by_code, u, a, a_s, ones, ones, two, two, two, two, two, codes, two)
    x, denominators, *_ = module.share_trial(two, ones, ones / 2, np.log(ones / 4), ones)
    module.share_matrix(two, x, denominators, ones)


CHORD_GAIN = 0.01  # a chord step that leaves more than this fraction of the error: factor afresh


def invert(lm: LogitMarket, mu: np.ndarray, delta: np.ndarray, tol: float, factor: Symmetric | None = None,
           max_steps: int = 50) -> tuple[np.ndarray, np.ndarray, Symmetric | None, bool]:
    """Newton's method on log s(delta) = log s_obs from ``delta``, as ``autopact.model.demand``'s
    (the same steps, step halving and stopping rule) but with its matrix kept while it serves
    (Shamanskii's variant), keeping the last probabilities. ``factor``: ds/d delta factored near
    here (the last evaluation's), or None.

    A step on a kept factor (a chord step) costs one share evaluation and two triangular solves
    instead of a J x I x J Gram matrix and a Cholesky factorisation. It is taken when it at least
    halves the error; one that gains less than ``CHORD_GAIN`` (or is not taken) has ds/d delta
    factored afresh at the current delta for the next step, which is then Newton's, with step
    halving. (A further chord step after the tolerance is met, to the rounding floor as Newton's
    quadratic last step gets it, was tried: it cost 3% and did not stop the optimiser sooner.)

    Returns (delta, s_ij, ds/d delta at the returned delta factored, solved); the factor is None
    when the inversion did not solve.
    """
    tastes = mu if isinstance(mu, Tastes) else Tastes(mu)
    weights = lm.market.weights
    loops = lm.loops

    def evaluate(at: np.ndarray, first: bool = False) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray,
                                                                np.ndarray | None, float, bool]:
        """(parts, totals, error, its size, every total share positive) at delta = ``at``; by numpy, the
        error of a trial with a share not positive is not formed (None, size infinite), the first's is."""
        if loops is not None:  # one compiled pass instead of about ten numpy calls
            x, denominators, totals, error, size, positive = loops.share_trial(tastes.factor, tastes.top, weights,
                                                                               lm.log_shares, at)
            if not positive:  # the loops stop at a share not positive: no error formed, none solved
                error, size = (lm.log_shares - np.log(totals) if first else None), np.inf
            return (x, denominators), totals, error, size, positive
        parts = tastes.parts(at)
        totals = tastes.totals(parts, weights)
        positive = bool(totals.min() > 0)  # (a NaN compares False: no share is NaN or zero either)
        error = lm.log_shares - np.log(totals) if positive or first else None
        return parts, totals, error, np.abs(error).max() if error is not None else np.inf, positive

    root = None if loops is None else lm.root if lm.root is not None else np.ones(len(weights))
    scaled = None  # sqrt(w_i) s_ij with ``s`` by the compiled loops, for the Gram matrix of ds/d delta

    def shares(parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        nonlocal scaled
        if loops is None:
            return tastes.shares(parts)
        out, scaled = loops.share_matrix(tastes.factor, *parts, root)
        return out

    parts, total, error, size, _ = evaluate(delta, first=True)
    s = None  # the probabilities at delta, formed when a factorisation or the caller needs them
    fresh = False

    def solution() -> tuple[np.ndarray, np.ndarray, Symmetric, bool]:
        at = shares(parts) if s is None else s
        return delta, at, share_jacobian(lm, at, total, scaled), True

    for _ in range(max_steps):
        if size < tol:
            return solution()
        if factor is None:
            s = shares(parts) if s is None else s
            factor, fresh = share_jacobian(lm, s, total, scaled), True
        try:
            direction = factor.solve(total * error)  # ds/d delta is symmetric
        except np.linalg.LinAlgError:
            return delta, shares(parts), None, False
        length = 1.0
        for _ in range(8 if fresh else 1):
            candidate = delta + length * direction
            parts_new, total_new, error_new, size_new, positive = evaluate(candidate)
            # (size infinite where a share is not positive, NaN where one is infinite: not taken below)
            if size_new < (size if fresh else 0.5 * size):
                break
            length /= 2
        else:
            if fresh:
                return delta, shares(parts), None, False
            factor = None  # the chord step is not taken: Newton's from here
            continue
        if not fresh and size_new > CHORD_GAIN * size:
            factor = None
        fresh = False
        delta, parts, s, total, error, size = candidate, parts_new, None, total_new, error_new, size_new
    if size < tol:
        return solution()
    return delta, shares(parts), None, False


def delta_jacobian(lm: LogitMarket, s: np.ndarray, jacobian: Symmetric,
                   s_columns: np.ndarray | None = None) -> np.ndarray:
    """d delta / d theta (J, Q) = -(ds/d delta)^{-1} ds/d theta, the shares held at their observed values;
    ``jacobian`` is ds/d delta at these probabilities, factored; ``s_columns`` is s @ x (I, Q) if
    already formed (``Markups.s_columns``: the markups' gradient needs it too).

    With dV_ijq = a_iq x_jq: ds_j/d theta_q = x_jq sum_i w_i a_iq s_ij - sum_i w_i s_ij a_iq (s x_q)_i.
    """
    # w_i a_iq and w_i a_iq (s x)_iq = w_i sum_l s_il dV_ilq side by side: one product with s' serves both
    weighted, count = lm.weighted_loadings, lm.columns.shape[1]
    both = np.empty((len(weighted), 2 * count))
    both[:, :count] = weighted
    np.multiply(weighted, s @ lm.columns if s_columns is None else s_columns, out=both[:, count:])
    summed = s.T @ both
    return -jacobian.solve(lm.columns * summed[:, :count] - summed[:, count:])


def terms(lm: LogitMarket, p: Parameters, initial: np.ndarray | None, want_gradient: bool, with_supply: bool,
          tol: float, predicted: np.ndarray | None = None, factor: Symmetric | None = None
          ) -> tuple[np.ndarray, np.ndarray, Markups | None, Symmetric]:
    """delta, d delta / d theta (zeros without ``want_gradient``), the markups (None without a
    supply side) of one market at ``p``, and ds/d delta at that delta, factored (the next
    evaluation's ``factor``). Raises ConvergenceError when the inversion fails.

    The inversion starts from ``predicted`` if given (delta extrapolated from the last evaluation
    with its d delta / d theta), else from ``initial`` (the last evaluation's delta; the logit
    inversion when None), with chord steps on ``factor`` when given (``invert``). Newton's
    method runs here first; if it stalls, ``invert_shares`` (Newton, then SQUAREM on the
    contraction) solves from ``initial``, as the general path does.
    """
    market = lm.market
    start = lm.log_shares - np.log(1.0 - market.shares.sum()) if initial is None else np.asarray(initial, float)
    delta, s, jacobian, solved = invert(lm, Tastes.of(lm, p), start if predicted is None else predicted, tol, factor)
    if not solved:
        demand, _ = demand_terms(market, p, lm.names)
        delta, _ = invert_shares(market.shares, market.prices, demand, tol=tol, initial=initial)
        s = probabilities(delta, lm.utilities_net_of_delta(p))
        jacobian = share_jacobian(lm, s, market.weights @ s)
    count = lm.columns.shape[1]
    markups = Markups(lm, p, s) if with_supply else None
    d_delta = delta_jacobian(lm, s, jacobian, None if markups is None else markups.s_columns) \
        if want_gradient and count else np.zeros((len(delta), count))
    return delta, d_delta, markups, jacobian
