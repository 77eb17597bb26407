"""Small synthetic markets for fast, exact tests of the kernels."""

import numpy as np

from autopact.model.demand import Demand


def synthetic_demand(products: int = 8, households: int = 50, rho: float = 0.3, pi: float = 4.0,
                     sigma=(1.0, 0.5), seed: int = 1, nests: int = 3) -> tuple[Demand, np.ndarray, np.ndarray]:
    """(demand, xi, prices): prices in thousands of dollars-like units; alpha ~ 0.1."""
    rng = np.random.default_rng(seed)
    sigma = np.asarray(sigma, float)
    k = len(sigma)
    demand = Demand(alpha=0.1, pi=pi, sigma=sigma, rho=rho,
                    characteristics=rng.normal(size=(products, k)), nests=np.arange(products) % nests,
                    weights=np.full(households, 1.0 / households), income=rng.uniform(20, 200, households),
                    nu=rng.normal(size=(households, k)))
    prices = rng.uniform(15, 40, products)
    xi = rng.normal(-1.0, 0.5, products) + 0.1 * prices
    return demand, xi, prices


def plain_logit(alpha: float, products: int) -> Demand:
    return Demand(alpha=alpha, pi=0.0, sigma=np.zeros(0), rho=0.0, characteristics=np.zeros((products, 0)),
                  nests=np.zeros(products, int), weights=np.ones(1), income=np.ones(1), nu=np.zeros((1, 0)))
