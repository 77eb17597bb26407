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
and O_jk = K[c_j, c_k] over the G firms c (``_factor``), the cross terms are sums over households
of s_ij, ds_ij and (U O^T)_ij, products of J x I x G rather than J x I x J. The objective's
gradient needs only lambda' dm / d theta for one vector lambda (``Markups.gradient``: one solve
with the transposed matrix, no J x Q right-hand side); the full dm / d theta
(``Markups.derivatives``) is formed for the standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from autopact.fit.factors import Blocks, Symmetric, blocks, gram_of_columns, weighted_gram
from autopact.fit.market_terms import demand_terms
from autopact.fit.problem import Market, Parameters
from autopact.fit.tastes import Tastes, probabilities
from autopact.model.demand import invert_shares


@dataclass
class LogitMarket:
    """The theta-independent arrays of one market for the fused terms (``build``)."""

    market: Market
    nodes: np.ndarray  # (I, K2): the agents' node columns, on the free sigmas in order (as PyBLP)
    loadings: np.ndarray  # (I, Q): a_iq, the household factor of dV_ij / d theta_q = a_iq x_jq
    columns: np.ndarray  # (J, Q): x_jq, the product factor
    price_weights: np.ndarray  # (Q, I): b_qi = w_i d(-alpha_i)/d theta_q = w_i a_iq on price's parameters, else 0
    price: int | None  # X2 column of prices
    log_shares: np.ndarray
    names: list[str]  # the X2 columns
    codes: np.ndarray | None = None  # ownership O_jk = K[c_j, c_k], and H = F K^T (``_factor``)
    through: np.ndarray | None = None  # H (J, G)
    through_t: np.ndarray | None = None  # F K (J, G): (Y O)_ik = (Y F K)_{i, c_k}
    columns_through: np.ndarray | None = None  # x_jq H_jg (J, Q * G)
    symmetric: bool = False  # O = O^T
    root: np.ndarray | None = None  # sqrt(w_i) for ``weighted_gram`` (None with a negative weight)
    own_diagonal: np.ndarray | None = None  # O_jj
    blocks: list[tuple[np.ndarray, np.ndarray]] | None = None  # (products, their O) of a block-diagonal O
    block_order: np.ndarray | None = None  # the blocks' products, block after block
    x2_one: np.ndarray | None = None  # [X2, 1] (J, K2 + 1), for ``Tastes.of``
    x2_high: np.ndarray | None = None  # each X2 column's largest value (K2,)
    x2_low: np.ndarray | None = None  # and smallest

    @classmethod
    def build(cls, market: Market, p: Parameters, names: list[str], nodes: np.ndarray) -> "LogitMarket":
        """The arrays for parameters with ``p``'s free pattern; ``nodes`` as ``_demand`` expands them."""
        price = names.index("prices") if "prices" in names else None
        sigma_free = np.flatnonzero(p.sigma_free)
        pi_free = list(zip(*np.nonzero(p.pi_free)))
        loadings = np.column_stack([nodes[:, k] for k in sigma_free] + [market.demographics[:, d] for _, d in pi_free]
                                   ) if len(sigma_free) + len(pi_free) else np.zeros((len(market.weights), 0))
        on = list(sigma_free) + [k for k, _ in pi_free]
        columns = market.x2[:, on] if on else np.zeros((len(market.shares), 0))
        on_price = np.array([k == price for k in on], bool)
        price_weights = np.where(on_price[:, None], market.weights[None, :] * loadings.T, 0.0)
        out = cls(market, nodes, loadings, columns, price_weights, price, np.log(market.shares), list(names))
        out.root = np.sqrt(market.weights) if np.all(market.weights >= 0) else None
        out.x2_one = np.column_stack([market.x2, np.ones(len(market.shares))])
        out.x2_high, out.x2_low = market.x2.max(axis=0), market.x2.min(axis=0)
        if market.ownership is not None:
            out.codes, out.through, out.through_t = _factor(market.ownership)
            out.symmetric = bool(np.array_equal(market.ownership, market.ownership.T))
            out.columns_through = (columns[:, :, None] * out.through[:, None, :]).reshape(len(columns), -1)
            out.own_diagonal = np.diag(market.ownership).copy()
            out.blocks = blocks(market.ownership, out.codes) if out.symmetric else None
            out.block_order = None if out.blocks is None else np.concatenate([rows for rows, _ in out.blocks])
        return out

    def coefficients(self, p: Parameters) -> np.ndarray:
        """The households' coefficients on the X2 columns, sigma_k nu_ik + sum_d pi_kd d_id (I, K2)."""
        return self.nodes * p.sigma + self.market.demographics @ p.pi.T

    def utilities_net_of_delta(self, p: Parameters) -> np.ndarray:
        """mu_ij = sum_k (sigma_k nu_ik + sum_d pi_kd d_id) x_jk (I, J); V_ij = delta_j + mu_ij."""
        return self.coefficients(p) @ self.market.x2.T

    def price_slopes(self, p: Parameters) -> np.ndarray:
        """a_i = w_i (-alpha_i) = w_i x the household's coefficient on price (zero without prices in X2)."""
        if self.price is None:
            return np.zeros(len(self.market.weights))
        coefficients = self.nodes[:, self.price] * p.sigma[self.price] + self.market.demographics @ p.pi[self.price]
        return self.market.weights * coefficients


def _factor(ownership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes c (J,), H (J, G) and H' (J, G) with (Y O^T)_ij = (Y H)_{i, c_j} and (Y O)_ij = (Y H')_{i, c_j}.

    Products whose rows and columns of O are equal share a code (with O from firm ids: the firms),
    so O_jk = K[c_j, c_k] for the (G, G) matrix K of the codes' entries, and H = F K^T with F the
    (J, G) indicator of the codes, H' = F K: G products instead of J in every product with O."""
    seen: dict[bytes, int] = {}  # a row of [O, O'] (as bytes; + 0.0 makes -0.0 equal 0.0) -> its code
    first: list[int] = []
    codes = np.empty(len(ownership), dtype=int)
    for j, row in enumerate(np.hstack([ownership, ownership.T]) + 0.0):
        code = seen.setdefault(row.tobytes(), len(first))
        if code == len(first):
            first.append(j)
        codes[j] = code
    indicator = np.zeros((len(codes), len(first)))
    indicator[np.arange(len(codes)), codes] = 1.0
    within = ownership[np.ix_(first, first)]
    return codes, indicator @ within.T, indicator @ within


def share_jacobian(lm: "LogitMarket", s: np.ndarray, total: np.ndarray) -> Symmetric:
    """ds/d delta = diag(s) - (w s)'s at the probabilities ``s`` (``total`` = w s), factored."""
    def dense() -> np.ndarray:
        return np.diag(total) - (lm.market.weights[:, None] * s).T @ s

    if lm.root is None:
        return Symmetric(dense())
    return Symmetric(weighted_gram(total, lm.root, s), dense=dense)


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
    parts = tastes.parts(delta)
    total = tastes.totals(parts, weights)
    s = None  # the probabilities at delta, formed when a factorisation or the caller needs them
    error = lm.log_shares - np.log(total)
    size = np.max(np.abs(error))
    fresh = False

    def solution() -> tuple[np.ndarray, np.ndarray, Symmetric, bool]:
        at = tastes.shares(parts) if s is None else s
        return delta, at, share_jacobian(lm, at, total), True

    for _ in range(max_steps):
        if size < tol:
            return solution()
        if factor is None:
            s = tastes.shares(parts) if s is None else s
            factor, fresh = share_jacobian(lm, s, total), True
        try:
            direction = factor.solve(total * error)  # ds/d delta is symmetric
        except np.linalg.LinAlgError:
            return delta, tastes.shares(parts), None, False
        length = 1.0
        for _ in range(8 if fresh else 1):
            candidate = delta + length * direction
            parts_new = tastes.parts(candidate)
            total_new = tastes.totals(parts_new, weights)
            if total_new.min() > 0:  # (a NaN compares False: no share is NaN or zero either)
                error_new = lm.log_shares - np.log(total_new)
                size_new = np.abs(error_new).max()  # NaN where a share is infinite: not taken below
            else:
                size_new = np.inf
            if size_new < (size if fresh else 0.5 * size):
                break
            length /= 2
        else:
            if fresh:
                return delta, tastes.shares(parts), None, False
            factor = None  # the chord step is not taken: Newton's from here
            continue
        if not fresh and size_new > CHORD_GAIN * size:
            factor = None
        fresh = False
        delta, parts, s, total, error, size = candidate, parts_new, None, total_new, error_new, size_new
    if size < tol:
        return solution()
    return delta, tastes.shares(parts), None, False


def delta_jacobian(lm: LogitMarket, s: np.ndarray, jacobian: Symmetric,
                   s_columns: np.ndarray | None = None) -> np.ndarray:
    """d delta / d theta (J, Q) = -(ds/d delta)^{-1} ds/d theta, the shares held at their observed values;
    ``jacobian`` is ds/d delta at these probabilities, factored; ``s_columns`` is s @ x (I, Q) if
    already formed (``Markups.s_columns``: the markups' gradient needs it too).

    With dV_ijq = a_iq x_jq: ds_j/d theta_q = x_jq sum_i w_i a_iq s_ij - sum_i w_i s_ij a_iq (s x_q)_i.
    """
    weights = lm.market.weights[:, None]
    inner = lm.loadings * (s @ lm.columns if s_columns is None else s_columns)  # sum_l s_il dV_ilq (I, Q)
    gradient = lm.columns * (s.T @ (weights * lm.loadings)) - s.T @ (weights * inner)
    return -jacobian.solve(gradient)


class Markups:
    """Markups m = -(O o J^T)^{-1} s at observed prices (J_jk = sum_i a_i s_ij (1(j=k) - s_ik)), with
    what their derivatives in theta need: ``derivatives`` gives dm / d theta (J, Q), ``gradient``
    only mu' dm / d theta (Q,) for a given mu (the adjoint: no J x Q right-hand side is formed).

    (O o J^T) dm_q = -(O o dJ_q^T) m, and (O o dJ_q^T) m is expanded term by term with
    ds_qij = s_ij (d_jq + a_iq x_jq - r_iq), r_iq = sum_l s_il dV_ilq, so that no J x J dJ_q is formed.
    """

    def __init__(self, lm: LogitMarket, p: Parameters, s: np.ndarray) -> None:
        self.lm, self.s = lm, s
        self.a = lm.price_slopes(p)
        self.a_s = self.a @ s  # the diagonal sum_i a_i s_ij
        self.matrix, self.factored = None, None  # (factored: a Symmetric, or Blocks of them)
        if lm.symmetric and np.all(self.a < 0):
            # -(O o J^T) = O o (diag(|a| s) - (|a| s)'s): its lower triangle by ``weighted_gram``, then the
            # Schur product with O (symmetric; the matrix is then negative definite)
            root = np.sqrt(-self.a)
            if lm.blocks is None:
                lower = weighted_gram(-self.a_s, root, s)
                self.factored = Symmetric(np.multiply(lower, lm.market.ownership, out=lower), negative=True,
                                          dense=self._dense)
            else:  # only the diagonal blocks: about a third of the Gram matrix with BLP 1995's firms
                # sqrt|a_i| s_ij with the blocks' products side by side, in Fortran order: each block's
                # columns are then a slice that the rank-k update reads without a copy
                scaled = s.T[lm.block_order]
                scaled = np.multiply(scaled, root, out=scaled).T
                factors, start = [], 0
                for rows, own in lm.blocks:
                    end = start + len(rows)
                    lower = gram_of_columns(-self.a_s[rows], scaled[:, start:end])
                    factors.append((rows, Symmetric(np.multiply(lower, own, out=lower), negative=True,
                                                    dense=lambda rows=rows: self._dense()[np.ix_(rows, rows)])))
                    start = end
                self.factored = Blocks(factors)
        else:
            self.matrix = self._dense()
            self.factored = Symmetric(self.matrix, negative=True) if lm.symmetric else None
        self.markups = -self._solve(lm.market.weights @ s)
        self.u = s * self.markups  # U = s o m
        self.v = (self.u @ lm.through)[:, lm.codes]  # U O^T (I, J)

    def _dense(self) -> np.ndarray:
        """O o J^T, formed in full."""
        return self.lm.market.ownership * (np.diag(self.a_s) - self.weighted.T @ self.s).T

    @cached_property
    def s_columns(self) -> np.ndarray:
        """s @ x (I, Q): sum_l s_il x_lq, formed once for d delta / d theta and the markups' terms."""
        return self.s @ self.lm.columns

    @cached_property
    def weighted(self) -> np.ndarray:
        """a_i s_ij (I, J)."""
        return self.a[:, None] * self.s

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        return self.factored.solve(rhs) if self.factored else np.linalg.solve(self.matrix, rhs)

    def _partial(self, d_delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(O o dJ_q^T) m (J, Q) but for its term - sum_i a_i s_ij ((ds_q o m) O^T)_ij, and r (I, Q)."""
        lm, s, a, weighted = self.lm, self.s, self.a, self.weighted
        inner = lm.loadings * self.s_columns + s @ d_delta  # r (I, Q)
        sv = weighted * self.v  # a_i s_ij (U O^T)_ij
        # the diagonal of dJ_q, sum_i a_i ds_qij + sum_i b_qi s_ij, times O_jj m_j
        diagonal = d_delta * (a @ s)[:, None] + lm.columns * (weighted.T @ lm.loadings) - weighted.T @ inner \
            + s.T @ lm.price_weights.T
        rhs = (lm.own_diagonal * self.markups)[:, None] * diagonal
        # - sum_k O_jk m_k [(a s)'ds_q]_kj = - sum_i ds_qij a_i (U O^T)_ij
        rhs -= d_delta * sv.sum(axis=0)[:, None] + lm.columns * (sv.T @ lm.loadings) - sv.T @ inner
        # the r part of - sum_k O_jk m_k [(a s)'ds_q]_jk, - sum_i a_i s_ij ((ds_q o m) O^T)_ij
        rhs += sv.T @ inner
        # - sum_k O_jk m_k [(b_q s)'s]_kj = - sum_i b_qi s_ij (U O^T)_ij
        rhs -= (s * self.v).T @ lm.price_weights.T
        return rhs, inner

    def derivatives(self, d_delta: np.ndarray) -> np.ndarray:
        """dm / d theta (J, Q), given d delta / d theta (J, Q)."""
        lm, count, groups = self.lm, d_delta.shape[1], self.lm.through.shape[1]
        if not count:
            return np.zeros_like(d_delta)
        rhs, _ = self._partial(d_delta)
        # the rest of - sum_i a_i s_ij ((ds_q o m) O^T)_ij: U diag(d_q) O^T + a_q o U diag(x_q) O^T, by code
        both = self.u @ np.hstack([(d_delta[:, :, None] * lm.through[:, None, :]).reshape(len(d_delta), -1),
                                   lm.columns_through])  # (I, 2 Q G)
        by_delta, by_columns = both[:, :count * groups], both[:, count * groups:]
        by_columns *= np.repeat(lm.loadings, groups, axis=1)
        gathered = (self.weighted.T @ (by_delta + by_columns)).reshape(len(d_delta), count, groups)
        rhs -= gathered[np.arange(len(d_delta)), :, lm.codes]
        return -self._solve(rhs)

    def gradient(self, d_delta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """mu' dm / d theta (Q,) = -nu' (O o dJ_q^T) m with nu = (O o J^T)^{-T} mu.

        nu' (O o dJ_q^T) m is ``_partial``'s right-hand side contracted with nu term by term
        before any product over households (k = nu o diag(O) o m; sums over j become products
        of s with J-vectors), so that its J x I x Q products become I x J x (2 Q + 1 + G) and
        I x J x (Q + 1) ones and no J x Q intermediate is formed.
        """
        lm, s, a = self.lm, self.s, self.a
        columns, loadings, count = lm.columns, lm.loadings, lm.columns.shape[1]
        nu = self._solve(mu) if self.factored else np.linalg.solve(self.matrix.T, mu)
        k = nu * lm.own_diagonal * self.markups
        # (I, 2 Q + 1 + G): s times d delta / d theta, k o x, k and nu o F K (s times x is ``s_columns``)
        left = s @ np.hstack([d_delta, k[:, None] * columns, k[:, None], nu[:, None] * lm.through_t])
        s_columns, s_delta, s_k_columns, s_k = (self.s_columns, left[:, :count], left[:, count:2 * count],
                                                left[:, 2 * count])
        inner = loadings * s_columns + s_delta  # r (I, Q)
        sv = s * self.v  # s_ij (U O^T)_ij
        right = sv @ np.column_stack([nu[:, None] * columns, nu])  # (I, Q + 1)
        sv_columns, sv_nu = right[:, :count], right[:, count]
        contracted = (k * self.a_s - nu * (a @ sv)) @ d_delta \
            + (loadings * (a[:, None] * (s_k_columns - sv_columns))).sum(axis=0) \
            + (a * (2 * sv_nu - s_k)) @ inner + lm.price_weights @ (s_k - sv_nu)
        # nu' of the rest, sum_ij nu_j a_i s_ij ((U o (d_q' + a_q x_q')) O^T)_ij = sum_ik E_ik (d_kq + a_iq x_kq)
        # with E = ((a s o nu') O) o U = (a o s (nu o F K))_{i, c_k} U_ik
        e = self.u * (a[:, None] * left[:, 2 * count + 1:])[:, lm.codes]
        rest = e.sum(axis=0) @ d_delta + (loadings * (e @ columns)).sum(axis=0)
        return -(contracted - rest)


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
