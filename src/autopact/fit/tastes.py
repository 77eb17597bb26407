"""Choice probabilities of random-coefficients logit for the fused estimation terms
(``autopact.fit.rc_logit``): ``probabilities`` from delta and mu, and ``Tastes``, the households'
exp(mu) formed once per theta so that each share evaluation of the share inversion takes J
exponentials instead of I x J.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from autopact.fit.problem import Parameters
from autopact.model.demand import EXP_CAP


class TasteInputs(Protocol):
    """What ``Tastes.of`` reads of a market (``autopact.fit.rc_logit.LogitMarket`` has it; named here by
    its members, not imported, since rc_logit imports this module)."""

    market: Any  # its x2 (J, K2)
    x2_high: np.ndarray  # each X2 column's largest value (K2,)
    x2_low: np.ndarray  # and smallest
    x2_one: np.ndarray  # [X2, 1] (J, K2 + 1)

    def coefficients(self, p: Parameters) -> np.ndarray: ...


def probabilities(delta: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """s_ij = exp(V_ij) / (1 + sum_k exp(V_ik)), V = delta + mu, as ``autopact.model.demand.probabilities``
    computes it without nesting (the largest term subtracted, exponents bounded below at -250)."""
    v = delta[None, :] + mu
    top = np.maximum(v.max(axis=1, keepdims=True), 0.0)
    e = np.exp(np.maximum(v - top, -250.0))
    return e / (np.exp(-top) + e.sum(axis=1, keepdims=True))


class Tastes:
    """exp(mu_ij - max_k mu_ik), computed once per theta, so that each share evaluation of the
    inversion takes J exponentials instead of I x J.

    s_ij = exp(V_ij) / (1 + sum_k exp(V_ik)) as exp(mu_ij - M_i) exp(delta_j - D) / (exp(-M_i - D) +
    sum_k ...), M_i = max_k mu_ik and D = max_k delta_k: both factors lie in (0, 1] and are bounded
    below at exp(-250) like ``probabilities``' terms, so no product is subnormal. A household whose
    utilities all lie far below the outside good's (M_i + D < -700) gets zero shares here, and the
    inversion then falls back to ``invert_shares``.
    """

    def __init__(self, mu: np.ndarray) -> None:
        self.top = mu.max(axis=1)
        factor = np.subtract(mu, self.top[:, None])
        self.factor = np.exp(np.maximum(factor, -250.0, out=factor), out=factor)

    @classmethod
    def of(cls, lm: TasteInputs, p: Parameters) -> "Tastes":
        """Tastes at ``p`` with M_i replaced by an upper bound of max_k mu_ik from the households'
        coefficients and the extremes of each X2 column (sum_k max(c_ik hi_k, c_ik lo_k)), so that
        mu_ij - M_i comes from one matrix product with -M_i as a last coefficient on a column of
        ones: no pass for the maximum nor for the subtraction. The shares are the same up to
        rounding (M_i cancels); where the bound's range could reach the floor of -250 (a
        household's utilities spread over more than 250), the exact maximum and the floor serve."""
        coefficients = lm.coefficients(p)
        high, low = coefficients * lm.x2_high, coefficients * lm.x2_low
        upper = np.maximum(high, low).sum(axis=1)
        if np.min(np.minimum(high, low).sum(axis=1) - upper) < -250.0:
            return cls(coefficients @ lm.market.x2.T)
        out = cls.__new__(cls)
        out.top = upper
        factor = np.column_stack([coefficients, -upper]) @ lm.x2_one.T
        out.factor = np.exp(factor, out=factor)
        return out

    def probabilities(self, delta: np.ndarray) -> np.ndarray:
        return self.shares(self.parts(delta))

    def parts(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x_j = exp(delta_j - D) and the households' denominators exp(-M_i - D) + sum_k F_ik x_k
        (F = ``factor``): s_ij = F_ij x_j / denominator_i."""
        largest = delta.max()
        x = np.exp(np.maximum(delta - largest, -250.0))
        # exp(-M_i - D) capped at exp(EXP_CAP) (no overflow): such a household's inside shares are zero either way
        return x, np.exp(np.minimum(-(self.top + largest), EXP_CAP)) + self.factor @ x

    def shares(self, parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        x, denominators = parts
        return (self.factor * x) / denominators[:, None]

    def totals(self, parts: tuple[np.ndarray, np.ndarray], weights: np.ndarray) -> np.ndarray:
        """sum_i w_i s_ij as x_j sum_i (w_i / denominator_i) F_ij: two matrix-vector products and
        no I x J array, for the steps of the inversion that need only the market shares."""
        x, denominators = parts
        return x * ((weights / denominators) @ self.factor)
