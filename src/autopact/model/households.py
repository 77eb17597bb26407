"""Simulated households: incomes from the US household income distribution and taste draws.

Integration over households uses a fixed, seeded set of scrambled Halton draws (Train 2009,
ch. 9.3.3), so results are reproducible and smoother in the parameters than pseudo-random draws.
Incomes are drawn by inverting the Census household income distribution: piecewise-linear
between published points of the CDF, with a Pareto tail above the 95th percentile whose index
makes the tail's mean equal the published mean income of the top 5%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autopact.data.tables import IncomeDistribution


@dataclass(frozen=True)
class Households:
    """Integration nodes: weights (I,), incomes in dollars (I,), standard-normal taste draws (I, K)."""

    weights: np.ndarray
    income: np.ndarray
    nu: np.ndarray
    seed: int


def draw_households(distribution: IncomeDistribution, count: int, tastes: int, seed: int = 0) -> Households:
    """``count`` equally weighted households with scrambled-Halton draws for income and tastes."""
    from scipy.stats import norm, qmc  # here: scipy.stats takes a third of a second to import

    if count < 1:
        raise ValueError(f"number of simulated households must be at least 1, got {count}")
    sampler = qmc.Halton(d=1 + tastes, scramble=True, seed=seed)
    u = sampler.random(count)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    return Households(weights=np.full(count, 1.0 / count), income=distribution.quantile(u[:, 0]),
                      nu=norm.ppf(u[:, 1:]), seed=seed)
