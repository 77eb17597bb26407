"""Demand: random-coefficients nested logit and its special cases, as pure functions on arrays.

One market, products j = 1..J, outside good 0, simulated households i with weights w_i.
Utility of household i for product j at consumer prices p (Berry, Levinsohn and Pakes 1995;
nesting as in Grigolon and Verboven 2014, the RCNL model of PyBLP, Conlon and Gortmaker 2020):

    u_ij = delta_j - (alpha_i - alpha) p_j + sum_k sigma_k nu_ik x_jk + eps_ij
    delta_j = xi_j - alpha p_j                    (mean utility at prices p; xi_j = x_j beta + xi_j)
    alpha_i = alpha + pi / y_i                    (price sensitivity falls with household income y_i)

eps_ij is a nested extreme-value error with nesting parameter rho in [0, 1) over nests g (segments):

    s_ij = exp(V_ij / (1 - rho)) / exp(IV_ig / (1 - rho)) * exp(IV_ig) / (1 + sum_h exp(IV_ih))
    IV_ig = (1 - rho) log sum_{k in g} exp(V_ik / (1 - rho))

A second level (subnests h within nests g, such as powertrain within segment; Verboven 1996's
two-level nested logit) adds rho_within >= rho: products first compete within their subnest
with parameter rho_within, subnests within their nest with rho.

Plain logit: no heterogeneity (pi = 0, sigma = 0) and rho = 0. Nested logit: rho > 0 without
heterogeneity. ``alpha`` is a positive number: demand falls as price rises.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from autopact.model.households import household_blocks


# exp(x) overflows a double above about 709.8: a household's outside-good term exp(-M_i) on a scale
# shifted by its largest utility is capped below it (such a household's inside shares are zero anyway)
EXP_CAP = 700.0

@dataclass(frozen=True)
class Demand:
    """Parameters, characteristics and simulated households of one market's demand.

    Attributes:
        alpha: mean price sensitivity (utility per dollar), > 0.
        pi: income interaction, alpha_i = alpha + pi / income_i (dollars x utility per dollar).
        sigma: standard deviations of the taste draws on the columns of ``characteristics`` (K,).
        rho: nesting parameter in [0, 1); 0 means no nesting.
        characteristics: x_jk with random coefficients (J, K), e.g. a BEV indicator and log size.
        nests: nest index of each product (J,), integers 0..G-1; ignored when rho = 0.
        weights: integration weights of the households (I,), summing to 1.
        income: household income in dollars (I,).
        nu: standard-normal taste draws (I, K).
        subnests: optional second-level nest of each product (J,), 0..H-1, each inside one nest.
        rho_within: nesting parameter of the subnests, rho <= rho_within < 1 (required with subnests).
        price_deviation: optional household deviations alpha_i - alpha (I,) replacing pi / income,
            for estimation with general random coefficients on price (then pi and income are unused).
    """

    alpha: float
    pi: float
    sigma: np.ndarray
    rho: float
    characteristics: np.ndarray
    nests: np.ndarray
    weights: np.ndarray
    income: np.ndarray
    nu: np.ndarray
    subnests: np.ndarray | None = None
    rho_within: float | None = None
    price_deviation: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive (utility per dollar), got {self.alpha}")
        if not 0 <= self.rho < 1:
            raise ValueError(f"rho must lie in [0, 1), got {self.rho}")
        weights = np.asarray(self.weights, float)
        if not (np.all(np.isfinite(weights)) and np.all(weights >= 0) and abs(weights.sum() - 1) < 1e-8):
            raise ValueError(f"household weights must be non-negative and sum to 1, got sum {weights.sum():.6g}")
        if self.subnests is not None:
            if self.rho_within is None or not self.rho <= self.rho_within < 1:
                raise ValueError(f"rho_within must lie in [rho, 1) = [{self.rho}, 1), got {self.rho_within}")
            pairs = np.unique(np.column_stack([self.subnests, self.nests]), axis=0)
            if len(np.unique(pairs[:, 0])) != len(pairs):
                raise ValueError("each subnest must lie inside a single nest")
        if self.characteristics.shape[1] != len(self.sigma) or self.nu.shape[1] != len(self.sigma):
            raise ValueError("characteristics, nu and sigma must agree on the number of random coefficients")

    def __getstate__(self) -> dict:
        """The fields as pickle takes them, without ``_cache``: what it holds (the I x J taste matrix,
        nest indicators, the zeta map's cells) is rebuilt from the fields on first use, so a Demand
        sent to a worker or written to the disk cache does not carry it."""
        return {**self.__dict__, "_cache": {}}

    @property
    def price_sensitivity(self) -> np.ndarray:
        """alpha_i = alpha + pi / y_i for each household (I,)."""
        return self.alpha + self.deviation

    @property
    def deviation(self) -> np.ndarray:
        """alpha_i - alpha for each household: pi / y_i, or the given price_deviation."""
        return self.pi / self.income if self.price_deviation is None else self.price_deviation

    @property
    def heterogeneous(self) -> bool:
        """Whether households differ (random coefficients), so shares need simulation."""
        return bool(np.any(self.deviation != 0) or np.any(self.sigma * np.any(self.nu != 0, axis=0)))

    @property
    def taste(self) -> np.ndarray:
        """Household-specific utility from characteristics, sum_k sigma_k nu_ik x_jk (I, J)."""
        if "taste" not in self._cache:
            self._cache["taste"] = (self.nu * self.sigma) @ self.characteristics.T
        return self._cache["taste"]

    @property
    def nest_matrix(self) -> np.ndarray:
        """Indicator (J, G) of each product's nest."""
        if "nest_matrix" not in self._cache:
            self._cache["nest_matrix"] = _indicator(self.nests)
        return self._cache["nest_matrix"]

    @property
    def lowest_rho(self) -> float:
        """The nesting parameter of the innermost level (rho_within with subnests, else rho)."""
        return self.rho if self.subnests is None else float(self.rho_within)

    @property
    def subnest_matrix(self) -> np.ndarray:
        """Indicator (J, H) of each product's subnest."""
        if "subnest_matrix" not in self._cache:
            self._cache["subnest_matrix"] = _indicator(self.subnests)
        return self._cache["subnest_matrix"]

    def with_products(self, characteristics: np.ndarray, nests: np.ndarray,
                      subnests: np.ndarray | None = None) -> "Demand":
        """The same households and parameters over another product set (entry, exit)."""
        return replace(self, characteristics=np.asarray(characteristics, float), nests=np.asarray(nests, int),
                       subnests=None if subnests is None else np.asarray(subnests, int), _cache={})


def _indicator(groups: np.ndarray, count: int | None = None) -> np.ndarray:
    """The (n, count) 0/1 matrix of group membership; ``count`` defaults to the largest group + 1."""
    if count is None:
        count = int(groups.max()) + 1 if len(groups) else 0
    matrix = np.zeros((len(groups), count))
    matrix[np.arange(len(groups)), groups] = 1.0
    return matrix


def _exp(x: np.ndarray) -> np.ndarray:
    """exp(max(x, -250)): terms below e^-250 (1e-109 of the largest, which is exp(0) = 1 after the
    caller subtracts it) are raised to e^-250 instead of underflowing.

    The change is far below double precision in any share, but it keeps every later product of
    arrays free of subnormal numbers, which slow floating-point arithmetic many times over, and it
    keeps a priced-out product's share positive, so its first-order condition stays defined.
    """
    return np.exp(np.maximum(x, -250.0))


def utilities(delta: np.ndarray, prices: np.ndarray, demand: Demand, rows: slice = slice(None),
              deviation: np.ndarray | None = None) -> np.ndarray:
    """V_ij = delta_j - (alpha_i - alpha) p_j + sum_k sigma_k nu_ik x_jk, shape (I, J), for the
    households in ``rows`` (all by default); ``deviation`` is demand.deviation when already at hand."""
    deviation = demand.deviation if deviation is None else deviation
    return delta[None, :] - deviation[rows, None] * prices[None, :] + demand.taste[rows]


def individual_shares(delta: np.ndarray, prices: np.ndarray, demand: Demand
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choice probabilities s_ij (I, J), within-nest shares s_{ij|g} and within-subnest shares s_{ij|h}.

    Without subnests s_{ij|h} is s_{ij|g}; without nesting both are s_ij. Each level subtracts its
    largest term before exponentiating, so nothing overflows and no nest underflows to 0/0.
    """
    return probabilities(utilities(delta, prices, demand), demand)


def probabilities(v: np.ndarray, demand: Demand) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``individual_shares`` from the utilities V_ij of some households (the rows of v)."""
    if demand.rho == 0 and demand.subnests is None:
        top = np.maximum(v.max(axis=1, keepdims=True), 0.0)
        e = _exp(v - top)
        s = e / (np.exp(-top) + e.sum(axis=1, keepdims=True))
        return s, s, s
    nest_iv, within_nest, within_subnest = _inclusive_values(v, demand)
    iv_top = np.maximum(nest_iv.max(axis=1, keepdims=True), 0.0)
    ev = _exp(nest_iv - iv_top)
    nest_probability = ev / (np.exp(-iv_top) + ev.sum(axis=1, keepdims=True))
    return within_nest * nest_probability[:, demand.nests], within_nest, within_subnest


def _group_log_sum(x: np.ndarray, groups: np.ndarray, count: int, within: bool = True
                   ) -> tuple[np.ndarray | None, np.ndarray]:
    """Within-group shares exp(x_j) / sum_{k in g(j)} exp(x_k) (I, n) and log sums (I, count);
    without ``within`` only the log sums (the shares None: two passes over the array fewer).

    The largest x of each row is subtracted before exponentiating (``_exp`` bounds the rest).
    """
    indicator = _indicator(groups, count)
    top = x.max(axis=1, keepdims=True)
    e = _exp(x - top)
    sums = e @ indicator
    with np.errstate(divide="ignore"):
        log_sums = np.log(sums) + top
    if not within:
        return None, log_sums
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = e / (sums @ indicator.T)
    return shares, log_sums


def _inclusive_values(v: np.ndarray, demand: Demand, within: bool = True) -> tuple[np.ndarray, Any, Any]:
    """Nest inclusive values IV_ig (I, G), within-nest shares s_{ij|g} and within-subnest shares s_{ij|h}
    (without ``within`` the inclusive values alone, the shares None: what ``log_sum`` needs).

    One level: IV_g = (1 - rho) log sum_{k in g} exp(V_k / (1 - rho)).
    Two levels: IV_h = (1 - rho_w) log sum_{k in h} exp(V_k / (1 - rho_w)), then
    IV_g = (1 - rho) log sum_{h in g} exp(IV_h / (1 - rho)) and s_{j|g} = s_{j|h} s_{h|g}.
    """
    groups = demand.nest_matrix.shape[1]
    if demand.subnests is None:
        shares, log_sums = _group_log_sum(v / (1 - demand.rho), demand.nests, groups, within)
        return (1 - demand.rho) * log_sums, shares, shares
    rho_w = float(demand.rho_within)
    subnest_count = demand.subnest_matrix.shape[1]
    within_subnest, log_sums = _group_log_sum(v / (1 - rho_w), demand.subnests, subnest_count, within)
    subnest_iv = (1 - rho_w) * log_sums
    parent = np.zeros(subnest_count, int)
    parent[demand.subnests] = demand.nests
    subnest_share, nest_log_sums = _group_log_sum(subnest_iv / (1 - demand.rho), parent, groups, within)
    within_nest = within_subnest * subnest_share[:, demand.subnests] if within else None
    return (1 - demand.rho) * nest_log_sums, within_nest, within_subnest


def shares(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """Market shares s_j = sum_i w_i s_ij (J,), summed over blocks of households."""
    total, deviation = np.zeros(len(delta)), demand.deviation
    for rows in household_blocks(len(demand.weights), len(delta)):
        total += demand.weights[rows] @ probabilities(utilities(delta, prices, demand, rows, deviation), demand)[0]
    return total


def log_sum(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """Inclusive value of the whole choice set for each household, log(1 + sum_g exp(IV_ig)) (I,).

    The same arithmetic as ``utilities`` and ``_inclusive_values``, worked in place in one (I, J)
    array where there is one level of nests: each fresh array of that size cost page faults on
    every call (a draw's consumer surplus took 6-13 ms, now about a third)."""
    out, deviation = np.empty(len(demand.weights)), demand.deviation
    for rows in household_blocks(len(demand.weights), len(delta)):
        if demand.subnests is None and demand.rho != 0:
            v = np.multiply.outer(deviation[rows], prices)  # utilities(...), in place
            np.subtract(delta, v, out=v)
            v += demand.taste[rows]
            np.divide(v, 1 - demand.rho, out=v)
            top = v.max(axis=1, keepdims=True)  # _group_log_sum(..., within=False), in place
            v -= top
            np.maximum(v, -250.0, out=v)
            sums = np.exp(v, out=v) @ _indicator(demand.nests, demand.nest_matrix.shape[1])
            with np.errstate(divide="ignore"):
                iv = (1 - demand.rho) * (np.log(sums) + top)
        else:
            v = utilities(delta, prices, demand, rows, deviation)
            iv = v if demand.rho == 0 and demand.subnests is None else _inclusive_values(v, demand, within=False)[0]
        iv_top = np.maximum(iv.max(axis=1), 0.0)
        out[rows] = iv_top + np.log(np.exp(-iv_top) + np.exp(iv - iv_top[:, None]).sum(axis=1))
    return out


def limit_markup(demand: Demand) -> float:
    """The small-share logit limit of a product's markup, 1 / alpha-bar (alpha-bar = sum_i w_i alpha_i):
    where a product's share underflows to zero (priced out) its FOC is undefined and the equilibrium
    solvers hold it at c + 1 / alpha-bar (``supply.solve_prices``)."""
    return 1.0 / float(demand.weights @ demand.price_sensitivity)


def consumer_surplus(delta: np.ndarray, prices: np.ndarray, demand: Demand, market_size: float) -> float:
    """Consumer surplus in dollars, CS = M sum_i w_i log(1 + sum_g exp(IV_ig)) / alpha_i.

    Small and Rosen (1981) with household-specific price sensitivity (Train 2009, ch. 3.5); defined
    up to a constant, so only differences between two states of one market are meaningful.
    """
    return float(market_size * demand.weights @ (log_sum(delta, prices, demand) / demand.price_sensitivity))


def jacobian_parts(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shares s, the diagonal Lambda and the matrix Gamma with ds/dp = diag(Lambda) - Gamma.

    For RCNL (Grigolon and Verboven 2014; Morrow and Skerlos 2011 for the split):
        ds_j/dp_k = sum_i w_i (-alpha_i) s_ij [1(j=k)/(1-rho) - rho/(1-rho) 1(g_j=g_k) s_{ik|g} - s_ik]
        Lambda_j  = sum_i w_i (-alpha_i) s_ij / (1 - rho)
        Gamma_jk  = sum_i w_i (-alpha_i) s_ij [s_ik + rho/(1-rho) 1(g_j=g_k) s_{ik|g}]
    With subnests (Verboven 1996) Lambda uses 1/(1 - rho_w) and Gamma gains
        + (1/(1-rho_w) - 1/(1-rho)) 1(h_j=h_k) s_{ik|h}.
    Both Lambda and Gamma are negative: demand falls with price.
    """
    return _jacobian_parts(delta, prices, demand, -demand.price_sensitivity)


def group_jacobian_parts(delta: np.ndarray, prices: np.ndarray, demand: Demand, among: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Lambda and Gamma of ``jacobian_parts`` summed over the households ``among`` (a boolean mask,
    weights not renormalised): the price derivatives of that group's purchases,
    d/dp_k sum_{i in G} w_i s_ij = 1(j=k) Lambda^G_j - Gamma^G_jk."""
    slope = -demand.price_sensitivity * np.asarray(among, float)
    return _jacobian_parts(delta, prices, demand, slope)[1:]


def delta_jacobian_parts(delta: np.ndarray, prices: np.ndarray, demand: Demand
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, Lambda, Gamma) with ds/d delta = diag(Lambda) - Gamma: ``jacobian_parts`` with a slope of
    one for every household (mean utility moves every household's utility alike; the share
    inversion's Newton steps, ``autopact.model.inversion``)."""
    return _jacobian_parts(delta, prices, demand, np.ones_like(demand.weights))


def _jacobian_parts(delta: np.ndarray, prices: np.ndarray, demand: Demand, slope: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``jacobian_parts`` for the derivative with respect to a variable that moves household i's
    utility of each product by slope_i per unit: -alpha_i for price, 1 for delta. Summed over blocks
    of households (``household_blocks``), so that memory stays bounded whatever their number."""
    count, rho, deviation = len(delta), demand.rho, demand.deviation
    total, lam, gamma = np.zeros(count), np.zeros(count), np.zeros((count, count))
    same_nest = demand.nest_matrix @ demand.nest_matrix.T if rho else None
    same_subnest = demand.subnest_matrix @ demand.subnest_matrix.T if demand.subnests is not None else None
    for rows in household_blocks(len(demand.weights), count):
        s, within_nest, within_subnest = probabilities(utilities(delta, prices, demand, rows, deviation), demand)
        scaled = (demand.weights[rows] * slope[rows])[:, None] * s  # w_i slope_i s_ij
        total += demand.weights[rows] @ s
        lam += scaled.sum(axis=0)
        gamma += scaled.T @ s
        if same_nest is not None:
            gamma += rho / (1 - rho) * (scaled.T @ within_nest) * same_nest
        if same_subnest is not None:
            coefficient = 1 / (1 - demand.lowest_rho) - 1 / (1 - rho)
            gamma += coefficient * (scaled.T @ within_subnest) * same_subnest
    return total, lam / (1 - demand.lowest_rho), gamma


def price_jacobian(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """Analytic Jacobian ds_j/dp_k with respect to consumer prices (J, J); see ``jacobian_parts``."""
    _, lam, gamma = jacobian_parts(delta, prices, demand)
    return np.diag(lam) - gamma


def elasticities(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """Price elasticities e_jk = (ds_j/dp_k) p_k / s_j (J, J); the diagonal holds own elasticities."""
    s, lam, gamma = jacobian_parts(delta, prices, demand)
    return (np.diag(lam) - gamma) * prices[None, :] / s[:, None]


def diversion_ratios(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> tuple[np.ndarray, np.ndarray]:
    """Diversion ratios D_jk = -(ds_k/dp_j) / (ds_j/dp_j) (J, J, zero diagonal) and to the outside good.

    D[j, k] is the share of the sales that product j loses when its price rises that go to product
    k; the outside good receives D_j0 = 1 - sum_k D_jk (Conlon and Mortimer 2021).
    """
    jac = price_jacobian(delta, prices, demand)
    own = np.diag(jac).copy()
    d = -jac.T / own[:, None]
    np.fill_diagonal(d, 0.0)
    return d, 1.0 - d.sum(axis=1)


def aggregate_elasticity(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> float:
    """Elasticity of total inside sales when every price rises by the same percentage:
    sum_j sum_k (ds_j/dp_k) p_k / sum_j s_j."""
    s, lam, gamma = jacobian_parts(delta, prices, demand)
    return float(((np.diag(lam) - gamma) @ prices).sum() / s.sum())
