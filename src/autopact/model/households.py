"""Simulated households: incomes from the US household income distribution and taste draws.

Integration over households uses a fixed, seeded set of scrambled Halton draws (Train 2009,
ch. 9.3.3), so results are reproducible and smoother in the parameters than pseudo-random draws.
Incomes are drawn by inverting the Census household income distribution: piecewise-linear
between published points of the CDF, with a Pareto tail above the 95th percentile whose index
makes the tail's mean equal the published mean income of the top 5%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from autopact.data.tables import IncomeDistribution

# Sums over households (shares, Jacobian parts, inclusive values) are taken over blocks of households
# whose (households x products) arrays hold at most CHUNK_ELEMENTS numbers (32 MiB each), so that
# memory stays bounded with 100,000 households; markets up to 4 million household-products (the
# bundled ones) are one block, summed exactly as without blocks.
CHUNK_ELEMENTS = 2**22
# The most simulated households. They are integration nodes: the simulation error of the shares falls
# as 1/sqrt(I), so a million puts it at a thirtieth of the default 1,000's; each costs (1 + tastes)
# numbers in several arrays before any other check, and every equilibrium evaluation passes over
# households x products numbers, so a count far beyond it exhausts memory (2e9 households: 15 GB
# for one array) or takes hours a solve.
MAX_HOUSEHOLDS = 1_000_000


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

    if not 1 <= count <= MAX_HOUSEHOLDS:
        raise ValueError(f"number of simulated households must be from 1 to {MAX_HOUSEHOLDS:,} (MAX_HOUSEHOLDS), "
                         f"got {count}")
    if seed < 0:
        raise ValueError(f"household seed must be a whole number from 0, got {seed}")
    sampler = qmc.Halton(d=1 + tastes, scramble=True, seed=seed)
    u = sampler.random(count)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    return Households(weights=np.full(count, 1.0 / count), income=distribution.quantile(u[:, 0]),
                      nu=norm.ppf(u[:, 1:]), seed=seed)


def household_blocks(households: int, products: int, elements: int | None = None) -> Iterator[slice]:
    """The fewest consecutive blocks of households, of near-equal sizes, whose (households x products)
    arrays hold at most ``elements`` numbers (CHUNK_ELEMENTS by default), at least one household each."""
    most = max(1, (CHUNK_ELEMENTS if elements is None else elements) // max(products, 1))
    count = -(-households // most)
    for block in range(count):
        yield slice(block * households // count, (block + 1) * households // count)


def income_correlated(nu: np.ndarray, income: np.ndarray, weights: np.ndarray, correlation: float) -> np.ndarray:
    """Taste draws whose correlation with the households' standardised log income is ``correlation``:

        nu'_i = sqrt(1 - r^2) nu_i + r z_i,   z_i = (ln y_i - m) / s,

    m and s the weighted mean and standard deviation of ln y. Where nu is standard normal and drawn
    independently of income, nu' keeps a mean of 0 and a variance of 1 (so sigma still scales a
    unit-variance taste) and its correlation with ln y is r: a taste that rises with income beyond
    what income does to price sensitivity. sigma nu' = sigma sqrt(1 - r^2) nu + (sigma r) z is a
    random coefficient plus a demographic interaction on the characteristic, the Pi of BLP (1995)
    and Nevo (2001) on standardised log income (PyBLP's ``pi`` on a demographic column z). r = 0
    returns ``nu`` itself."""
    if not -1.0 < correlation < 1.0:
        raise ValueError(f"a correlation with income must lie in (-1, 1), got {correlation}")
    if correlation == 0.0:
        return nu
    log_income = np.log(income)
    mean = float(weights @ log_income)
    spread = float(np.sqrt(weights @ (log_income - mean) ** 2))
    return np.sqrt(1.0 - correlation ** 2) * nu + correlation * (log_income - mean) / spread
