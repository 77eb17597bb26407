"""Symmetric factorisations for the fused RC logit terms (``autopact.fit.rc_logit``).

ds/d delta = diag(s) - (w s)'s and the markups' matrix O o J^T are symmetric (with symmetric O)
and definite: ``weighted_gram`` forms the lower triangle of such a matrix by one symmetric rank-k
update, ``Symmetric`` factors it by Cholesky (in place) and solves with it, and ``Blocks`` does
so block by block where O is block diagonal (firm ownership: ``blocks``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.linalg import blas, lapack

BLOCK_PRODUCTS = 12  # a code (firm) with at least this many products is a block of its own


def blocks(ownership: np.ndarray, codes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Where O_jk = 0 between different codes (firm ownership), O o M is block diagonal: each code
    with ``BLOCK_PRODUCTS`` products or more a block, the other codes together one (their cross
    entries are zeros of O). (products, O on them in Fortran order) per block; None when O has
    entries across codes or there would be one block."""
    first = np.unique(codes, return_index=True)[1]
    within = ownership[np.ix_(first, first)]
    if np.count_nonzero(within - np.diag(np.diag(within))):
        return None
    sizes = np.bincount(codes)
    big = np.flatnonzero(sizes >= BLOCK_PRODUCTS)
    groups = [np.flatnonzero(codes == g) for g in big] + [np.flatnonzero(~np.isin(codes, big))]
    groups = [g for g in groups if len(g)]
    if len(groups) < 2:
        return None
    return [(g, np.asfortranarray(ownership[np.ix_(g, g)])) for g in groups]


class Blocks:
    """Factors of the diagonal blocks of a block-diagonal matrix, solved block by block.

    When every block's Cholesky factorisation succeeded with the same sign, the factors are
    placed on the diagonal of one triangular matrix in the blocks' product order (``merged``),
    so that a solve is one LAPACK call on permuted rows instead of one per block: the blocks'
    calls, not their arithmetic, were the cost at BLP 1995's sizes (blocks of 14 to 59 products).
    The zeros between blocks add exact zeros, so each block's solution is its own. ``order`` is the
    blocks' products, block after block (``LogitMarket.block_order``: one source of that order).
    """

    def __init__(self, blocks: list[tuple[np.ndarray, "Symmetric"]], order: np.ndarray) -> None:
        self.blocks = blocks
        self.order, self.merged, self.sign, self.lower = None, None, 1.0, 1
        factors = [factor for _, factor in blocks]
        if all(f.matrix is None for f in factors) and len({(f.sign, f.lower) for f in factors}) == 1:
            self.order = order
            size, start = len(self.order), 0
            self.merged = np.zeros((size, size), order="F")
            for rows, factor in blocks:
                end = start + len(rows)
                self.merged[start:end, start:end] = factor.factor
                start = end
            self.sign, self.lower = factors[0].sign, factors[0].lower

    @classmethod
    def merged_factor(cls, order: np.ndarray, merged: np.ndarray, lower: int, sign: float) -> "Blocks":
        """The blocks' factors already placed on one triangular matrix (Fortran order) in the blocks'
        product ``order`` (``autopact.fit.compiled_terms.markups_setup``'s)."""
        out = cls.__new__(cls)
        out.blocks, out.order, out.merged, out.lower, out.sign = [], order, merged, lower, sign
        return out

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        out = np.empty_like(rhs)
        if self.merged is not None:
            x = lapack.dpotrs(self.merged, rhs[self.order], lower=self.lower)[0]
            out[self.order] = x if self.sign > 0 else -x
            return out
        for rows, factor in self.blocks:
            out[rows] = factor.solve(rhs[rows])
        return out


class Symmetric:
    """A symmetric matrix factored once for its solves: Cholesky of M (of -M with ``negative``),
    about half the time of ``np.linalg.solve``'s LU at these sizes; ``np.linalg.solve`` (an LU
    factorisation, its errors included) when that matrix is not positive definite.

    With ``dense`` (a function giving M), ``matrix`` is only the lower triangle of M (of -M with
    ``negative``) in Fortran order, as ``weighted_gram`` gives it: its upper triangle is never
    read, and it is factored in place (no copy); ``dense`` rebuilds M if it is not definite.
    """

    def __init__(self, matrix: np.ndarray, negative: bool = False,
                 dense: Callable[[], np.ndarray] | None = None) -> None:
        self.sign = -1.0 if negative else 1.0
        self.lower = int(dense is not None)
        if dense is None:
            self.factor, info = lapack.dpotrf(self.sign * matrix)
        else:
            self.factor, info = lapack.dpotrf(matrix, lower=1, clean=0, overwrite_a=1)
        self.matrix = None if info == 0 else matrix if dense is None else dense()

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        if self.matrix is not None:
            return np.linalg.solve(self.matrix, rhs)
        x = lapack.dpotrs(self.factor, rhs, lower=self.lower)[0]
        return x if self.sign > 0 else -x


def weighted_gram(diagonal: np.ndarray, root: np.ndarray, s: np.ndarray, scaled: np.ndarray | None = None
                  ) -> np.ndarray:
    """The lower triangle, in Fortran order, of diag(d) - sum_i r_i^2 s_i' s_i (s_i the rows of s):
    ds/d delta with d = sum_i w_i s_i and r_i = sqrt(w_i). One symmetric rank-k update (BLAS
    dsyrk: half the multiplications of the J x I x J product, no symmetrising pass), which
    ``Symmetric(..., dense=...)`` factors without reading the upper triangle. ``scaled``: r_i s_ij
    (I, J, C order) where already formed."""
    n = len(diagonal)
    out = np.zeros((n, n), order="F")
    out.flat[::n + 1] = diagonal
    return blas.dsyrk(-1.0, (root[:, None] * s if scaled is None else scaled).T, beta=1.0, c=out, lower=1,
                      overwrite_c=1)


def gram_of_columns(diagonal: np.ndarray, scaled: np.ndarray) -> np.ndarray:
    """As ``weighted_gram`` with the rows already scaled: the lower triangle, in Fortran order, of
    diag(d) - scaled' scaled for ``scaled`` (I, n) in Fortran order (a column slice of a
    Fortran array is one, so a firm's block of products is passed without a copy)."""
    n = len(diagonal)
    out = np.zeros((n, n), order="F")
    out.flat[::n + 1] = diagonal
    return blas.dsyrk(-1.0, scaled, beta=1.0, c=out, trans=1, lower=1, overwrite_c=1)
