"""The wedge between producer and consumer prices, a value object with no dependency of its own, so that
the kernels (``fused``) and the solver (``supply``, which re-exports it) share it without importing each
other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Taxes:
    """Wedge between producer price p and consumer price p^c = (1 + ad_valorem) p + specific.

    ``specific`` is a per-unit tax minus any point-of-sale credit, in dollars (J,).
    """

    ad_valorem: np.ndarray
    specific: np.ndarray

    @classmethod
    def none(cls, products: int) -> "Taxes":
        return cls(np.zeros(products), np.zeros(products))

    def consumer_prices(self, producer_prices: np.ndarray) -> np.ndarray:
        return (1 + self.ad_valorem) * producer_prices + self.specific

    def producer_prices(self, consumer_prices: np.ndarray) -> np.ndarray:
        return (consumer_prices - self.specific) / (1 + self.ad_valorem)
