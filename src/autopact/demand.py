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

Plain logit: no heterogeneity (pi = 0, sigma = 0) and rho = 0. Nested logit: rho > 0 without
heterogeneity. ``alpha`` is a positive number: demand falls as price rises.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from autopact.errors import ConvergenceError


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
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive (utility per dollar), got {self.alpha}")
        if not 0 <= self.rho < 1:
            raise ValueError(f"rho must lie in [0, 1), got {self.rho}")
        if self.characteristics.shape[1] != len(self.sigma) or self.nu.shape[1] != len(self.sigma):
            raise ValueError("characteristics, nu and sigma must agree on the number of random coefficients")

    @property
    def price_sensitivity(self) -> np.ndarray:
        """alpha_i = alpha + pi / y_i for each household (I,)."""
        return self.alpha + self.pi / self.income

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
            groups = int(self.nests.max()) + 1 if len(self.nests) else 0
            matrix = np.zeros((len(self.nests), groups))
            matrix[np.arange(len(self.nests)), self.nests] = 1.0
            self._cache["nest_matrix"] = matrix
        return self._cache["nest_matrix"]

    def with_products(self, characteristics: np.ndarray, nests: np.ndarray) -> "Demand":
        """The same households and parameters over another product set (entry, exit)."""
        return replace(self, characteristics=np.asarray(characteristics, float),
                       nests=np.asarray(nests, int), _cache={})


def _exp(x: np.ndarray) -> np.ndarray:
    """exp(x) with exp(x) < e^-250 (below 1e-108 of the largest term) set to exactly 0.

    Such terms cannot change a share at double precision, but left in they become subnormal
    numbers downstream, which slow every later product of arrays several times over.
    """
    tiny = x < -250.0
    e = np.exp(np.where(tiny, -250.0, x))  # never form a subnormal, even transiently
    e[tiny] = 0.0
    return e


def utilities(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """V_ij = delta_j - (alpha_i - alpha) p_j + sum_k sigma_k nu_ik x_jk, shape (I, J)."""
    return delta[None, :] - (demand.pi / demand.income)[:, None] * prices[None, :] + demand.taste


def individual_shares(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> tuple[np.ndarray, np.ndarray]:
    """Choice probabilities s_ij (I, J) and within-nest shares s_{ij|g} (I, J).

    Computed with the largest utility subtracted per household, so no exponential overflows.
    """
    v = utilities(delta, prices, demand)
    rho = demand.rho
    if rho == 0:
        top = np.maximum(v.max(axis=1, keepdims=True), 0.0)
        e = _exp(v - top)
        s = e / (np.exp(-top) + e.sum(axis=1, keepdims=True))
        return s, s
    conditional, iv = _within_nests(v / (1 - rho), demand)
    iv_top = np.maximum(iv.max(axis=1, keepdims=True), 0.0)
    ev = _exp(iv - iv_top)
    nest_probability = ev / (np.exp(-iv_top) + ev.sum(axis=1, keepdims=True))
    nest = demand.nest_matrix
    return conditional * (nest_probability @ nest.T), conditional


def _within_nests(scaled: np.ndarray, demand: Demand) -> tuple[np.ndarray, np.ndarray]:
    """Within-nest shares s_{ij|g} (I, J) and inclusive values IV_ig (I, G) from V / (1 - rho).

    The largest scaled utility of each nest is subtracted before exponentiating, so a nest far
    below another neither underflows to 0/0 nor overflows.
    """
    groups = demand.nest_matrix.shape[1]
    top = np.full((scaled.shape[0], groups), -np.inf)
    for g in range(groups):
        members = demand.nests == g
        if members.any():
            top[:, g] = scaled[:, members].max(axis=1)
    top_j = top[:, demand.nests]
    e = _exp(scaled - top_j)
    nest_sums = e @ demand.nest_matrix
    conditional = e / nest_sums[:, demand.nests]
    with np.errstate(divide="ignore", invalid="ignore"):
        iv = (1 - demand.rho) * (np.log(nest_sums) + np.where(np.isfinite(top), top, 0.0))
    return conditional, np.where(np.isfinite(top), iv, -np.inf)


def shares(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """Market shares s_j = sum_i w_i s_ij (J,)."""
    s, _ = individual_shares(delta, prices, demand)
    return demand.weights @ s


def log_sum(delta: np.ndarray, prices: np.ndarray, demand: Demand) -> np.ndarray:
    """Inclusive value of the whole choice set for each household, log(1 + sum_g exp(IV_ig)) (I,)."""
    v = utilities(delta, prices, demand)
    iv = _within_nests(v / (1 - demand.rho), demand)[1] if demand.rho else v
    iv_top = np.maximum(iv.max(axis=1), 0.0)
    return iv_top + np.log(np.exp(-iv_top) + np.exp(iv - iv_top[:, None]).sum(axis=1))


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
    Both Lambda and Gamma are negative: demand falls with price.
    """
    s, conditional = individual_shares(delta, prices, demand)
    scaled = (demand.weights * -demand.price_sensitivity)[:, None] * s  # w_i (-alpha_i) s_ij
    rho = demand.rho
    lam = scaled.sum(axis=0) / (1 - rho)
    gamma = scaled.T @ s
    if rho:
        nest = demand.nest_matrix
        gamma += rho / (1 - rho) * (scaled.T @ conditional) * (nest @ nest.T)
    return demand.weights @ s, lam, gamma


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


def invert_shares(observed: np.ndarray, prices: np.ndarray, demand: Demand, tol: float = 1e-13,
                  max_iterations: int = 5000, initial: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Mean utilities delta with s(delta) = observed shares; returns (delta, iterations).

    Without random coefficients the inversion is closed-form (Berry 1994):
        delta_j = log s_j - log s_0 - rho log s_{j|g}.
    Otherwise the BLP contraction delta <- delta + (1 - rho)(log s_obs - log s(delta))
    accelerated by SQUAREM (Varadhan and Roland 2008), until max |log s_obs - log s(delta)| < tol.
    Raises ConvergenceError when the tolerance is not met.
    """
    observed = np.asarray(observed, float)
    log_obs = np.log(observed)
    nest = demand.nest_matrix
    log_outside = np.log(1.0 - observed.sum())
    nest_shares = observed @ nest if demand.rho else observed
    within = np.log(observed) - np.log(nest_shares @ nest.T) if demand.rho else 0.0
    closed = log_obs - log_outside - demand.rho * within
    if demand.pi == 0 and not np.any(demand.sigma):
        return closed, 0
    step = 1.0 - demand.rho

    def contraction(d: np.ndarray) -> np.ndarray:
        return d + step * (log_obs - np.log(shares(d, prices, demand)))

    delta = closed if initial is None else np.asarray(initial, float)
    for iteration in range(1, max_iterations + 1):
        d1 = contraction(delta)
        r = d1 - delta
        if np.max(np.abs(r)) / step < tol:
            return d1, iteration
        d2 = contraction(d1)
        v = d2 - 2 * d1 + delta
        if not np.all(np.isfinite(v)) or not v.any():
            delta = d2
            continue
        a = -np.sqrt((r @ r) / (v @ v))  # SQUAREM step length (scheme S3)
        a = min(a, -1.0)
        candidate = delta - 2 * a * r + a * a * v
        delta = contraction(candidate) if np.all(np.isfinite(candidate)) else d2
    error = np.max(np.abs(log_obs - np.log(shares(delta, prices, demand))))
    raise ConvergenceError(f"share inversion did not converge in {max_iterations} iterations "
                           f"(max log-share error {error:.2e}, tolerance {tol:.0e})")
