"""How household price sensitivity alpha_i depends on income and on chance: the forms the
calibration can fit (issue 11, item 2), each with its parameters, bounds and starting point.

- ``income`` (the bundled 2025 calibration): alpha_i = alpha + pi / y_i, PyBLP's prices x 1/income,
  the first-order form of BLP (1995)'s alpha log(y_i - p_j).
- ``income_normal``: alpha_i = pi / y_i + a_i with a_i ~ N(alpha, sigma_price^2) truncated at 0, a
  normal random coefficient on price (BLP 1995; Nevo 2001) next to the income term; truncation
  keeps every alpha_i positive (demand falls with price for everyone; consumer surplus divides by
  alpha_i). Drawn by inversion, a_i = alpha + sigma_price Phi^-1(Phi(-alpha/sigma_price) + u_i (1 -
  Phi(-alpha/sigma_price))) with one fixed uniform u_i per household, so alpha_i is smooth in the
  parameters and sigma_price = 0 is the ``income`` form exactly.
- ``shifted``: alpha_i = alpha + pi / (y_i + y_0), y_0 = ``income_shift`` dollars: the income form
  with the poorest households' sensitivity flattened (y_0 = 0 is the income form). Offered to test
  whether the evidence wants the 1 / y form's steep rise at the bottom of the income distribution,
  which sets how many of the poorest households a product priced below every 2025 one draws into the
  market (docs/backtests.md, "Cheap entrants: the evidence in conflict"): fitted to the bundled targets, y_0 is
  $1,026, and 0 with Cox's share of buyers under $75,000 added.
- ``power``: alpha_i = alpha (y_i / y_bar)^(-lambda), y_bar the households' mean income: lambda
  sets how fast price sensitivity falls with income (lambda = 1 is ``income`` with no
  income-independent part, pi = alpha y_bar; lambda = 0 is one alpha for everyone).

Every form also fits the taste parameters ``TASTES``, among them ``bev_income``, the correlation of
the BEV taste draw with standardised log income (``autopact.model.households.income_correlated``; a
demographic interaction on the BEV indicator, BLP 1995's Pi): without it a poor household is as
likely to want a BEV as a rich one, and only price separates them, so a BEV priced below every 2025
BEV gathers low-income households with a strong BEV taste that no 2025 product served (README,
"Known limits of the 2025 calibration"). It is identified by the BEV buyers' income share and the
BEV aggregate elasticity and second choices among the targets; Gallup's 2024 poll (bundled
``consumer_income.csv``, section F: 9% of adults under $40k own or seriously consider an EV, 14% at
$40-100k, 25% at $100k+) gives its sign independently of any price.

BLP (1995)'s alpha log(y_i - p_j) itself is a different utility (income net of price, not a price
coefficient), which the kernels' u_ij = delta_j - (alpha_i - alpha) p_j cannot hold: not offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autopact.model.households import Households

# the parameters every form shares: taste dispersion on the BEV indicator and on size, segment nesting,
# and the correlation of the BEV taste with log income (``model.households.income_correlated``)
TASTES = ("sigma_bev", "sigma_size", "rho", "bev_income")


@dataclass(frozen=True)
class PriceForm:
    """One form of alpha_i: the calibrated parameters (price ones first, then ``TASTES``), their
    internal scale (alpha and sigma_price per $10,000), bounds and starting point, and the number
    of standard-normal draws per household it needs beyond the two taste draws."""

    name: str
    parameters: tuple[str, ...]
    scale: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    start: tuple[float, ...]
    price_draws: int
    text: str

    def sensitivity(self, theta: dict[str, float], households: Households) -> np.ndarray:
        """alpha_i for each household (I,), in utility per dollar."""
        return theta["alpha"] + self.deviation(theta, households)

    def deviation(self, theta: dict[str, float], households: Households) -> np.ndarray:
        """alpha_i - alpha for each household (I,): what ``Demand.price_deviation`` holds. With
        sigma_price = 0 the "income_normal" form gives pi / y_i, the same array as "income"."""
        income = households.income
        if self.name == "income" or (self.name == "income_normal" and theta.get("sigma_price", 0.0) == 0.0):
            return theta["pi"] / income
        if self.name == "income_normal":
            return theta["pi"] / income + truncated_normal(theta["alpha"], theta["sigma_price"], households.nu[:, 2]) \
                - theta["alpha"]
        if self.name == "shifted":
            return theta["pi"] / (income + theta["income_shift"])
        if self.name == "power":
            mean = float(households.weights @ income)
            return theta["alpha"] * ((income / mean) ** (-theta["lambda"]) - 1.0)
        raise ValueError(f"unknown price form {self.name!r}")


def truncated_normal(mean: float, spread: float, nu: np.ndarray) -> np.ndarray:
    """mean + spread z_i with z_i the standard normal truncated below at -mean / spread, from the
    standard-normal draws ``nu`` by inversion (each nu_i is mapped to its uniform Phi(nu_i))."""
    from scipy.stats import norm

    floor = norm.cdf(-mean / spread)
    u = norm.cdf(nu)
    z = norm.ppf(floor + u * (1.0 - floor))
    return np.maximum(mean + spread * z, 0.0)


_TASTE_SCALE, _TASTE_LOWER, _TASTE_UPPER, _TASTE_START = (1.0, 1.0, 1.0, 1.0), (0.0, 0.0, 0.0, -0.95), \
    (20.0, 20.0, 0.95, 0.95), (1.0, 0.5, 0.3, 0.0)

FORMS = {
    "income": PriceForm("income", ("alpha", "pi") + TASTES, (1e-4, 1.0) + _TASTE_SCALE, (1e-3, 0.0) + _TASTE_LOWER,
                        (50.0, 200.0) + _TASTE_UPPER, (1.0, 5.0) + _TASTE_START, 0,
                        "alpha_i = alpha + pi / income_i"),
    "income_normal": PriceForm("income_normal", ("alpha", "pi", "sigma_price") + TASTES,
                               (1e-4, 1.0, 1e-4) + _TASTE_SCALE, (1e-3, 0.0, 0.0) + _TASTE_LOWER,
                               (50.0, 200.0, 50.0) + _TASTE_UPPER, (1.0, 5.0, 1.0) + _TASTE_START, 1,
                               "alpha_i = pi / income_i + N(alpha, sigma_price^2) truncated at 0"),
    "shifted": PriceForm("shifted", ("alpha", "pi", "income_shift") + TASTES, (1e-4, 1.0, 1e4) + _TASTE_SCALE,
                         (1e-3, 0.0, 0.0) + _TASTE_LOWER, (50.0, 400.0, 50.0) + _TASTE_UPPER,
                         (1.0, 5.0, 1.0) + _TASTE_START, 0, "alpha_i = alpha + pi / (income_i + income_shift)"),
    "power": PriceForm("power", ("alpha", "lambda") + TASTES, (1e-4, 1.0) + _TASTE_SCALE, (1e-3, 0.0) + _TASTE_LOWER,
                       (50.0, 3.0) + _TASTE_UPPER, (3.0, 0.8) + _TASTE_START, 0,
                       "alpha_i = alpha (income_i / mean income)^(-lambda)"),
}
