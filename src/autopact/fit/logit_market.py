"""One market's theta-independent arrays for the fused RC logit terms of the estimation
(``autopact.fit.rc_logit``, whose docstring gives the formulas; ``autopact.fit.rc_markups``): the
utility derivatives' household and product factors, the ownership's codes and factors (``_factor``),
the firms' diagonal blocks and the compiled loops' module. Its own module so that both the terms and
the markups name it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from autopact.fit.factors import blocks
from autopact.fit.problem import Market, Parameters


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
    within: np.ndarray | None = None  # K (G, G): O_jk = K[c_j, c_k]
    block_starts: np.ndarray | None = None  # each block's first position in ``block_order``, and the end
    block_own: np.ndarray | None = None  # O with rows and columns in ``block_order`` (J, J)
    loops: ModuleType | None = None  # ``compiled_terms()``: the inversion's and markups' compiled loops; None: numpy
    weighted_loadings: np.ndarray | None = None  # w_i a_iq (I, Q), for d delta / d theta

    @classmethod
    def build(cls, market: Market, p: Parameters, names: list[str], nodes: np.ndarray,
              loops: ModuleType | None = None) -> "LogitMarket":
        """The arrays for parameters with ``p``'s free pattern; ``nodes`` as ``_demand`` expands them;
        ``loops``: the compiled loops' module (``compiled_terms()``), or None for the numpy path."""
        price = names.index("prices") if "prices" in names else None
        sigma_free = np.flatnonzero(p.sigma_free)
        pi_free = list(zip(*np.nonzero(p.pi_free)))
        loadings = np.column_stack([nodes[:, k] for k in sigma_free] + [market.demographics[:, d] for _, d in pi_free]
                                   ) if len(sigma_free) + len(pi_free) else np.zeros((len(market.weights), 0))
        on = list(sigma_free) + [k for k, _ in pi_free]
        columns = market.x2[:, on] if on else np.zeros((len(market.shares), 0))
        on_price = np.array([k == price for k in on], bool)
        price_weights = np.ascontiguousarray(np.where(on_price[:, None], market.weights[None, :] * loadings.T, 0.0))
        out = cls(market, nodes, np.ascontiguousarray(loadings), np.ascontiguousarray(columns), price_weights, price,
                  np.log(market.shares), list(names))
        out.root = np.sqrt(market.weights) if np.all(market.weights >= 0) else None
        out.weighted_loadings = market.weights[:, None] * out.loadings
        out.x2_one = np.column_stack([market.x2, np.ones(len(market.shares))])
        out.x2_high, out.x2_low = market.x2.max(axis=0), market.x2.min(axis=0)
        if market.ownership is not None:
            out.codes, out.through, out.through_t, out.within = _factor(market.ownership)
            out.symmetric = bool(np.array_equal(market.ownership, market.ownership.T))
            out.columns_through = (columns[:, :, None] * out.through[:, None, :]).reshape(len(columns), -1)
            out.own_diagonal = np.diag(market.ownership).copy()
            out.blocks = blocks(market.ownership, out.codes) if out.symmetric else None
            if out.blocks is not None:
                out.block_order = np.concatenate([rows for rows, _ in out.blocks])
                out.block_starts = np.cumsum([0] + [len(rows) for rows, _ in out.blocks])
                out.block_own = np.ascontiguousarray(market.ownership[np.ix_(out.block_order, out.block_order)])
        out.loops = loops
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


def _factor(ownership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes c (J,), H (J, G), H' (J, G) and K (G, G) with (Y O^T)_ij = (Y H)_{i, c_j} and (Y O)_ij = (Y H')_{i, c_j}.

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
    return codes, indicator @ within.T, indicator @ within, np.ascontiguousarray(within)
