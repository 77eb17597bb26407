"""The markups of the fused RC logit estimation terms (``autopact.fit.rc_logit``, whose docstring
gives the formulas): m = -(O o J^T)^{-1} s at observed prices, their derivatives dm / d theta and the
adjoint gradient mu' dm / d theta, by numpy or, for block-diagonal ownership where numba is installed,
by the compiled loops of ``autopact.fit.compiled_terms`` (``LogitMarket.loops``).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from autopact.fit.factors import Blocks, Symmetric, gram_of_columns, weighted_gram
from autopact.fit.logit_market import LogitMarket
from autopact.fit.problem import Parameters


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
        self.matrix, self.factored = None, None  # (factored: a Symmetric, or Blocks of them)
        negative = lm.symmetric and np.all(self.a < 0)
        if negative and lm.blocks is not None and lm.loops is not None and self._compiled_setup(s):
            return
        self.a_s = self.a @ s  # the diagonal sum_i a_i s_ij
        if negative:
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
                self.factored = Blocks(factors, lm.block_order)
        else:
            self.matrix = self._dense()
            self.factored = Symmetric(self.matrix, negative=True) if lm.symmetric else None
        self.markups = -self._solve(lm.market.weights @ s)
        self.u = s * self.markups  # U = s o m
        self.v = (self.u @ lm.through)[:, lm.codes]  # U O^T (I, J)

    def _compiled_setup(self, s: np.ndarray) -> bool:
        """The block-diagonal set-up by ``compiled_terms.markups_setup`` (one call instead of about 30
        numpy calls); False, nothing set, where a block is not positive definite (the numpy path then
        serves, with its LU fallback)."""
        lm = self.lm
        ok, a_s, markups, u, by_code, factor = lm.loops.markups_setup(s, self.a, lm.market.weights, lm.block_order,
                                                                      lm.block_starts, lm.block_own, lm.within,
                                                                      lm.codes)
        if not ok:
            return False
        self.a_s, self.markups, self.u, self.by_code = a_s, markups, u, by_code
        # the factor L (C order) read as Fortran order is L^T, upper: one LAPACK solve over the blocks
        self.factored = Blocks.merged_factor(lm.block_order, factor.T, lower=0, sign=-1.0)
        return True

    @cached_property
    def v(self) -> np.ndarray:
        """U O^T (I, J) where the compiled set-up left it by code (``by_code``; the numpy set-up sets it)."""
        return self.by_code[:, self.lm.codes]

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
        if lm.loops is not None and lm.blocks is not None:
            return lm.loops.markups_gradient(s, self.by_code, self.u, a, self.a_s, nu, k, np.ascontiguousarray(d_delta),
                                             columns, loadings,
                                             lm.price_weights, self.s_columns, lm.codes, lm.within)
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
