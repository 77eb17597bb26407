"""Estimation: BLP-style GMM of logit, nested logit and random-coefficients (nested) logit demand.

Following Berry, Levinsohn and Pakes (1995) and PyBLP's conventions (Conlon and Gortmaker 2020),
so a PyBLP problem moves across with the same formulas and data columns:

    delta_jt(theta) = log-share inversion of s_jt at nonlinear parameters theta = (sigma, pi, rho)
    xi(theta)       = delta(theta) - X1 beta(theta),  beta(theta) = (X1'Z W Z'X1)^{-1} X1'Z W Z'delta
    g(theta)        = Z'xi / N,   objective q = N g' W g,  gradient 2 N G' W g, G = Z' M d delta / N,

where M = I - X1 (X1'ZWZ'X1)^{-1} X1'ZWZ' concentrates out beta and d delta/d theta =
-(ds/d delta)^{-1} ds/d theta (implicit function theorem) is analytic for sigma and pi; a central
difference of the inversion serves rho. Household coefficients on the X2 characteristics are
sigma_k nu_ik + sum_d pi_kd d_id. One-step GMM uses W = (Z'Z/N)^{-1}; two-step updates it to
the inverse of the (robust, unadjusted or clustered) moment covariance S at the one-step xi.
Standard errors: Var = (G'WG)^{-1} G'W S W G (G'WG)^{-1} / N over (theta, beta).

With a supply side (X3), marginal costs c = p - markups(theta) from Bertrand-Nash FOCs enter
log(c) = X3 gamma + omega; markup derivatives in theta are analytic for RC logit and central
differences (with shares re-inverted) for RC nested logit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from autopact.errors import ConvergenceError
from autopact.fit.optimisation import OptimisationError, minimise, parameter_limits, projected
from autopact.fit.problem import EstimationError, Market, Parameters, Problem
from autopact.model.demand import Demand, _jacobian_parts, individual_shares, invert_shares
from autopact.model.supply import Taxes, marginal_costs


def _demand(market: Market, p: Parameters, names: list[str]) -> tuple[Demand, np.ndarray, np.ndarray]:
    """Demand for one market and the derivative of utilities with respect to each free theta (Q, I, J)."""
    nodes = market.nodes
    if nodes.shape[1] != len(p.sigma):  # as PyBLP: the node columns go to the free sigmas, in order
        used = np.flatnonzero(p.sigma_free)
        if len(used) > nodes.shape[1]:
            raise EstimationError(f"agents: {len(used)} nonzero sigmas need as many nodes columns, got {nodes.shape[1]}")
        nodes = np.zeros((len(market.weights), len(p.sigma)))
        nodes[:, used] = market.nodes[:, :len(used)]
    coefficients = nodes * p.sigma + market.demographics @ p.pi.T  # (I, K2)
    price = names.index("prices") if "prices" in names else None
    others = [k for k in range(len(names)) if k != price]
    deviation = -coefficients[:, price] if price is not None else np.zeros(len(market.weights))
    demand = Demand(alpha=1.0, pi=0.0, sigma=np.ones(len(others)), rho=p.rho or 0.0,
                    characteristics=market.x2[:, others], nests=market.nests, weights=market.weights,
                    income=np.ones(len(market.weights)), nu=coefficients[:, others], price_deviation=deviation)
    # alpha=1 is a placeholder: delta is inverted directly and only alpha_i - alpha enters utilities.
    derivatives = [nodes[:, k][:, None] * market.x2[:, k][None, :] for k in np.flatnonzero(p.sigma_free)]
    derivatives += [market.demographics[:, d][:, None] * market.x2[:, k][None, :] for k, d in zip(*np.nonzero(p.pi_free))]
    # d alpha_i / d theta, with alpha_i = -(coefficient on price): nonzero only for price's sigma and pi
    zero = np.zeros(len(market.weights))
    dalpha = [-nodes[:, k] if k == price else zero for k in np.flatnonzero(p.sigma_free)]
    dalpha += [-market.demographics[:, d] if k == price else zero for k, d in zip(*np.nonzero(p.pi_free))]
    return demand, np.array(derivatives).reshape(len(derivatives), len(market.weights), len(market.shares)), \
        np.array(dalpha).reshape(len(dalpha), len(market.weights))


def market_demand(market: Market, parameters: Parameters, x2_names: list[str],
                  price_coefficient: float = 0.0) -> Demand:
    """One market's demand at estimated parameters, with its households' true price sensitivities.

    Household i's coefficient on price is b_i = beta_p + sigma_p nu_ip + sum_d pi_pd d_id (beta_p,
    ``price_coefficient``, is the X1 coefficient on prices, 0 when price enters through X2 only), so
    alpha_i = -b_i. The returned ``Demand`` has alpha = sum_i w_i alpha_i and price deviations
    alpha_i - alpha, so that delta_j = xi_j - alpha p_j, with xi_j the mean utility net of price,
    gives u_ij = xi_j - alpha_i p_j + mu_ij as estimated. Every alpha_i must be positive (demand
    falls with price for every household; consumer surplus divides by alpha_i).
    """
    from dataclasses import replace

    demand, _, _ = _demand(market, parameters, x2_names)
    alpha_i = -price_coefficient + demand.deviation
    if np.any(alpha_i <= 0):
        raise EstimationError(f"{int((alpha_i <= 0).sum())} of {len(alpha_i)} households have a non-positive "
                              "price sensitivity at these estimates; counterfactuals need every alpha_i > 0")
    alpha = float(market.weights @ alpha_i)
    return replace(demand, alpha=alpha, price_deviation=alpha_i - alpha, _cache={})


def _share_gradient(delta: np.ndarray, market: Market, demand: Demand, dv: np.ndarray) -> np.ndarray:
    """ds_j/d theta_q = sum_i w_i sum_l (ds_ij/dV_il) dV_il/d theta_q for each q (J, Q); one nesting level."""
    s, within, _ = individual_shares(delta, market.prices, demand)
    rho = demand.rho
    out = np.empty((len(delta), len(dv)))
    nest = demand.nest_matrix
    for q, v in enumerate(dv):
        total = (s * v).sum(axis=1, keepdims=True)
        term = v / (1 - rho) - total
        if rho:
            term -= rho / (1 - rho) * ((within * v) @ nest) @ nest.T
        out[:, q] = market.weights @ (s * term)
    return out


def _supply(delta: np.ndarray, delta_jac: np.ndarray, market: Market, demand: Demand, dv: np.ndarray,
            dalpha: np.ndarray, want_gradient: bool) -> tuple[np.ndarray, np.ndarray]:
    """Markups m = -(Omega o J^T)^{-1} s at observed prices and their total derivatives in theta.

    J_jk = sum_i w_i (-alpha_i) s_ij (1(j=k) - s_ik) (RC logit). Shares stay at their observed
    values as theta moves (delta is re-inverted), so (Omega o J^T) dm = -(Omega o dJ^T) m, with
    dJ from ds_ij = s_ij (dV_ij - sum_l s_il dV_il), dV = d delta + d mu, and d alpha_i.
    """
    s, _, _ = individual_shares(delta, market.prices, demand)
    alpha = demand.deviation  # price enters only through X2 here, so alpha_i is the household deviation
    a = market.weights * -alpha
    weighted = a[:, None] * s  # a_i s_ij
    jac = np.diag(a @ s) - weighted.T @ s
    matrix = market.ownership * jac.T
    markups = -np.linalg.solve(matrix, market.weights @ s)
    derivatives = np.zeros((len(delta), len(dv)))
    if want_gradient:
        rhs = np.empty((len(delta), len(dv)))
        for q in range(len(dv)):
            change = delta_jac[:, q][None, :] + dv[q]
            ds = s * (change - (s * change).sum(axis=1, keepdims=True))
            # dJ = diag(b s + a ds) - [(b s)'s + (a ds)'s + (a s)'ds], and (a ds)'s = ((a s)'ds)'
            cross = weighted.T @ ds
            diagonal, off = a @ ds, cross + cross.T
            if np.any(dalpha[q]):  # only parameters on price move alpha_i
                b = market.weights * -dalpha[q]
                diagonal = diagonal + b @ s
                off = off + (b[:, None] * s).T @ s
            rhs[:, q] = (market.ownership * (np.diag(diagonal) - off).T) @ markups
        derivatives = -np.linalg.solve(matrix, rhs)  # every parameter's derivative in one solve
    return markups, derivatives


def _nested_markups(delta: np.ndarray, market: Market, demand: Demand) -> np.ndarray:
    """RC nested logit markups at observed prices, -(Omega o (ds/dp)^T)^{-1} s (``autopact.model.supply.marginal_costs``),
    with each household's price sensitivity alpha_i (price enters through X2 only)."""
    from dataclasses import replace

    alpha_i = demand.deviation
    mean = float(market.weights @ alpha_i)
    true = replace(demand, alpha=mean, price_deviation=alpha_i - mean, _cache={})
    # utilities are unchanged: delta - alpha_i p = (delta - mean p) - (alpha_i - mean) p
    _, markups = marginal_costs(market.prices, delta - mean * market.prices, true, market.ownership,
                                Taxes.none(len(delta)))
    return markups


def _supply_nested(delta: np.ndarray, market: Market, p: Parameters, demand: Demand, names: list[str],
                   want_gradient: bool, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Markups with nesting and their total derivatives in the sigma and pi entries by central
    differences (shares re-inverted at each step; rho's column comes from the caller's central
    difference of all targets)."""
    markups = _nested_markups(delta, market, demand)
    free = len(p.vector()) - 1  # the sigma and pi entries (rho is last)
    derivatives = np.zeros((len(delta), free))
    if want_gradient:
        theta = p.vector()
        for q in range(free):
            h = 1e-6 * max(1.0, abs(theta[q]))
            sides = []
            for step in (h, -h):
                moved = p.with_vector(theta + step * np.eye(len(theta))[q])
                demand_q, _, _ = _demand(market, moved, names)
                delta_q, _ = invert_shares(market.shares, market.prices, demand_q, tol=tol, initial=delta)
                sides.append(_nested_markups(delta_q, market, demand_q))
            derivatives[:, q] = (sides[0] - sides[1]) / (2 * h)
    return markups, derivatives


@dataclass
class EstimationResult:
    """Estimates, standard errors and diagnostics (never returned for a failed optimisation)."""

    labels: list[str]
    theta: np.ndarray
    beta: np.ndarray
    beta_labels: list[str]
    theta_se: np.ndarray
    beta_se: np.ndarray
    objective: float
    gradient_norm: float
    converged: bool
    iterations: int
    evaluations: int
    seconds: float
    W: np.ndarray
    xi: np.ndarray
    delta: np.ndarray
    steps: int
    details: dict[str, Any] = field(default_factory=dict)
    parameters: Parameters | None = None  # the estimated sigma, pi, rho with their free patterns
    covariance: np.ndarray | None = None  # Var of (theta, beta, gamma), already divided by N

    def to_dict(self) -> dict[str, Any]:
        return {"nonlinear": {k: {"estimate": float(v), "se": float(e)} for k, v, e in
                              zip(self.labels, self.theta, self.theta_se)},
                "linear": {k: {"estimate": float(v), "se": float(e)} for k, v, e in
                           zip(self.beta_labels, self.beta, self.beta_se)},
                "objective": self.objective, "gradient_norm": self.gradient_norm, "converged": self.converged,
                "iterations": self.iterations, "evaluations": self.evaluations, "steps": self.steps,
                "seconds": self.seconds}


def _covariance_of_moments(residuals: list[np.ndarray], instruments: list[np.ndarray], kind: str,
                           clusters: np.ndarray | None) -> np.ndarray:
    """Covariance S of the per-product moments [z_D xi, z_S omega] (PyBLP's conventions): unadjusted
    blocks cov(e_a, e_b) Z_a'Z_b / N, or robust (centred) u'u / N, or clustered sums of u."""
    n = len(residuals[0])
    if kind == "unadjusted":
        def covariance(a: np.ndarray, b: np.ndarray) -> float:
            return float(a @ b / n - a.mean() * b.mean())
        return np.block([[covariance(ea, eb) * (za.T @ zb) / n for eb, zb in zip(residuals, instruments)]
                         for ea, za in zip(residuals, instruments)])
    g = np.column_stack([z * e[:, None] for e, z in zip(residuals, instruments)])
    g = g - g.mean(axis=0)
    if kind == "clustered":
        if clusters is None:
            raise EstimationError("clustered weighting needs a clustering_ids column")
        g = pd.DataFrame(g).groupby(clusters).sum().to_numpy()
    return g.T @ g / n


def _block_diagonal(*blocks: np.ndarray) -> np.ndarray:
    from scipy.linalg import block_diag

    return block_diag(*blocks)


def estimate(problem: Problem, sigma: np.ndarray | None = None, pi: np.ndarray | None = None,
             rho: float | None = None, method: Literal["1s", "2s"] = "2s",
             weighting: Literal["robust", "unadjusted", "clustered"] = "robust",
             se_type: Literal["robust", "unadjusted", "clustered"] = "robust",
             gtol: float = 1e-8, inversion_tol: float = 1e-14, max_iterations: int = 1000,
             evaluate_only: bool = False, optimizer: Literal["l-bfgs-b", "bfgs", "trust-constr"] = "l-bfgs-b",
             sigma_bounds: tuple[Any, Any] | None = None, pi_bounds: tuple[Any, Any] | None = None,
             rho_bounds: tuple[Any, Any] | None = None, costs_bounds: tuple[Any, Any] | None = None,
             initial_update: bool = False) -> EstimationResult:
    """GMM estimates; starting values are sigma (diagonal, K2), pi (K2 x D) and rho; zeros stay fixed.

    The optimiser settings (``optimizer``, ``gtol``, ``max_iterations``, the bounds,
    ``costs_bounds`` and ``initial_update``) are PyBLP's, with its defaults: see
    ``autopact.fit.optimisation``. Raises ``OptimisationError`` (a ``ConvergenceError``) with
    the objective, gradient norm, iterations and parameters where the optimiser stopped when it
    does not converge. ``evaluate_only`` skips the optimisation and returns the objective,
    gradient and linear parameters at the starting values (one-step weights), marked
    ``converged=False``: a check, not an estimate.
    """
    began = time.perf_counter()
    k2, d = len(problem.x2_names), len(problem.demographic_names)
    start = Parameters(np.zeros(k2) if sigma is None else np.diag(np.atleast_2d(sigma)).astype(float) if np.ndim(sigma) == 2
                       else np.asarray(sigma, float),
                       np.zeros((k2, d)) if pi is None else np.asarray(pi, float).reshape(k2, d), rho)
    if rho is not None and not problem.nested:
        raise EstimationError("rho needs a nesting_ids column")
    x1, z, n = problem.x1, problem.z, len(problem.x1)
    supply = problem.x3 is not None
    # stacked linear system: y = [delta; cost target], X = diag(X1, X3), Z = diag(ZD, ZS)
    X = _block_diagonal(x1, problem.x3) if supply else x1
    Z = _block_diagonal(z, problem.zs) if supply else z
    W = _block_diagonal(*[np.linalg.inv(b.T @ b / n) for b in ([z, problem.zs] if supply else [z])])
    state: dict[str, Any] = {"delta": [None] * len(problem.markets), "evaluations": 0,
                             "last_cost_target": np.full(2 * n, np.nan), "reverted_costs": 0}
    cost_low, cost_high = (-np.inf, np.inf) if costs_bounds is None else \
        (-np.inf if costs_bounds[0] is None else costs_bounds[0], np.inf if costs_bounds[1] is None else costs_bounds[1])

    def targets(p: Parameters, want_gradient: bool) -> tuple[np.ndarray, np.ndarray]:
        """y(theta) = [delta; log c or c] and dy/dtheta (analytic except rho)."""
        q = len(p.vector())
        y = np.empty((2 if supply else 1) * n)
        jac = np.zeros((len(y), q))
        for m, market in enumerate(problem.markets):
            demand, dv, dalpha = _demand(market, p, problem.x2_names)
            try:
                d_m, _ = invert_shares(market.shares, market.prices, demand, tol=inversion_tol,
                                       initial=state["delta"][m])
            except ConvergenceError:
                return np.full(len(y), np.nan), jac
            state["delta"][m] = d_m
            y[market.rows] = d_m
            d_jac = np.zeros((len(d_m), q))
            if want_gradient and len(dv):  # (the supply side reads d delta / d theta only with the gradient)
                ones = np.ones_like(market.weights)
                _, lam, gamma = _jacobian_parts(d_m, market.prices, demand, ones)
                d_jac[:, :len(dv)] = -np.linalg.solve(np.diag(lam) - gamma, _share_gradient(d_m, market, demand, dv))
                jac[market.rows] = d_jac
            if supply:
                if p.rho is not None:
                    markups, dm = _supply_nested(d_m, market, p, demand, problem.x2_names, want_gradient,
                                                 inversion_tol)
                else:
                    markups, dm = _supply(d_m, d_jac, market, demand, dv, dalpha, want_gradient)
                costs = market.prices - markups
                rows = n + market.rows
                clipped = (costs < cost_low) | (costs > cost_high)  # PyBLP's costs_bounds: clip, zero Jacobian rows
                if clipped.any():
                    costs, dm = np.clip(costs, cost_low, cost_high), np.where(clipped[:, None], 0.0, dm)
                if problem.costs_type == "log":
                    # PyBLP's default error behaviour: a non-positive cost keeps its last valid log
                    # value (and a zero derivative) rather than stopping the search
                    bad = costs <= 0
                    with np.errstate(invalid="ignore", divide="ignore"):
                        y[rows] = np.where(bad, state["last_cost_target"][rows], np.log(np.where(bad, 1.0, costs)))
                        jac[rows, :len(dv)] = np.where(bad[:, None], 0.0, -dm / costs[:, None])
                    state["reverted_costs"] += int(bad.sum())
                else:
                    y[rows], jac[rows, :len(dv)] = costs, -dm
        y[:n], jac[:n] = problem.demean(y[:n]), problem.demean(jac[:n])
        if supply and np.all(np.isfinite(y[n:])):
            state["last_cost_target"] = y.copy()
        return y, jac

    def objective(theta: np.ndarray, W: np.ndarray) -> tuple[float, np.ndarray]:
        state["evaluations"] += 1
        p = start.with_vector(theta)
        y, jac = targets(p, True)
        if not np.all(np.isfinite(y)):
            return 1e10, np.zeros_like(theta)
        if p.rho is not None:  # d delta / d rho by a central difference of the inversion
            h = 1e-6
            up, _ = targets(start.with_vector(np.r_[theta[:-1], theta[-1] + h]), False)
            down, _ = targets(start.with_vector(np.r_[theta[:-1], theta[-1] - h]), False)
            jac[:, -1] = (up - down) / (2 * h)
            targets(p, False)  # restore warm starts at theta
        xz = X.T @ Z
        coefficients = np.linalg.solve(xz @ W @ xz.T, xz @ W @ (Z.T @ y))
        residual = y - X @ coefficients
        g = Z.T @ residual / n
        projector = jac - X @ np.linalg.solve(xz @ W @ xz.T, xz @ W @ (Z.T @ jac))
        G = Z.T @ projector / n
        state.update(coefficients=coefficients, residual=residual, last_delta=y[:n], jac=jac)
        return float(n * g @ W @ g), 2 * n * G.T @ W @ g  # PyBLP's scale: N g'Wg

    def residuals() -> np.ndarray:
        """The structural errors of the last successful evaluation; an error, not a KeyError, when every
        evaluation so far failed (the share inversion did not converge at the starting values)."""
        if "residual" not in state:
            raise ConvergenceError("the share inversion did not converge at the starting values (sigma, pi, rho), "
                                   "so there are no residuals; check the shares and try smaller starting values")
        return state["residual"]

    def split(residual: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return ([residual[:n], residual[n:]], [z, problem.zs]) if supply else ([residual], [z])

    if evaluate_only:
        value, gradient = objective(start.vector(), W)
        residuals()  # an error here if the inversion failed
        return EstimationResult(start.labels(problem), start.vector(), state["coefficients"],
                                problem.x1_names + [f"gamma[{c}]" for c in problem.x3_names],
                                np.full(len(start.vector()), np.nan), np.full(len(state["coefficients"]), np.nan),
                                value, float(np.max(np.abs(gradient))) if len(gradient) else 0.0, False, 0, 1,
                                time.perf_counter() - began, W, residuals()[:n], state["last_delta"], 0,
                                {"gradient": gradient})
    labels = start.labels(problem)
    limits = parameter_limits(labels, start.vector(), np.shape(sigma) if sigma is not None else (k2,),
                              start.sigma_free, np.shape(pi) if pi is not None else (k2, d), start.pi_free,
                              rho is not None, optimizer, sigma_bounds, pi_bounds, rho_bounds)
    theta = start.vector()
    steps = 2 if method == "2s" else 1
    iterations = 0

    def update_weights(theta: np.ndarray) -> np.ndarray:
        objective(theta, W)  # the residuals at theta under the current weights
        return np.linalg.inv(_covariance_of_moments(*split(residuals()), weighting, problem.clusters))

    if initial_update:  # PyBLP's zeroth step: weights from the residuals at the starting values
        W = update_weights(theta)
    for step in range(steps):
        if len(theta):
            before = state["evaluations"]
            outcome = minimise(lambda t: objective(t, W), theta, limits, optimizer, gtol, max_iterations)
            theta, iterations = outcome.x, iterations + outcome.iterations
            if not outcome.accepted:
                evaluations = state["evaluations"] - before
                _stopped(outcome.message, step + 1, optimizer, objective(theta, W), theta, limits, labels,
                         iterations, evaluations)
        if step == 0 and steps == 2:
            W = update_weights(theta)  # the one-step residuals, for the two-step weights
    value, gradient = objective(theta, W)
    gradient = projected(gradient, theta, limits)  # a component pushing against an active bound does not count
    if len(theta) and np.max(np.abs(gradient)) > 1e-3 * max(1.0, value):
        _stopped("the projected gradient is above 1e-3 x max(1, objective)", steps, optimizer, (value, gradient), theta,
                 limits, labels, iterations, state["evaluations"])
    # standard errors over (theta, beta, gamma): G = [Z' dy/dtheta, -Z'X] / N
    G = np.column_stack([Z.T @ state["jac"] / n, -Z.T @ X / n])
    S = _covariance_of_moments(*split(residuals()), se_type, problem.clusters)
    bread = np.linalg.inv(G.T @ W @ G)
    covariance = bread if se_type == "unadjusted" and method == "2s" and weighting == "unadjusted" else \
        bread @ G.T @ W @ S @ W @ G @ bread
    se = np.sqrt(np.diag(covariance) / n)
    names = problem.x1_names + [f"gamma[{c}]" for c in problem.x3_names]
    return EstimationResult(labels, theta, state["coefficients"], names, se[:len(theta)], se[len(theta):],
                            value, float(np.max(np.abs(gradient))) if len(theta) else 0.0, True, iterations,
                            state["evaluations"], time.perf_counter() - began, W, residuals()[:n],
                            state["last_delta"], steps, parameters=start.with_vector(theta),
                            covariance=covariance / n)


def _stopped(reason: str, step: int, optimizer: str, at: tuple[float, np.ndarray], theta: np.ndarray,
             limits: list, labels: list[str], iterations: int, evaluations: int) -> None:
    """Raise the error that says where a GMM step's optimiser stopped."""
    value, gradient = at
    norm = float(np.max(np.abs(projected(gradient, theta, limits)))) if len(theta) else 0.0
    raise OptimisationError(reason, step=step, method=optimizer, objective=float(value), gradient_norm=norm,
                            iterations=iterations, evaluations=evaluations,
                            parameters=dict(zip(labels, map(float, theta))))
