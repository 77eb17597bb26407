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
Standard errors: Var = (G'WG)^{-1} G'W S W G (G'WG)^{-1} / N over (theta, beta), robust or clustered S;
unadjusted, PyBLP's (G'WG)^{-1} / N with the step's W (in one step W = S^{-1}, the unadjusted S at the
estimate), which equals the sandwich only where W is proportional to S^{-1}.

With a supply side (X3), marginal costs c = p - markups(theta) from Bertrand-Nash FOCs enter
log(c) = X3 gamma + omega; markup derivatives in theta are analytic for RC logit and central
differences (with shares re-inverted) for RC nested logit.

Without nesting, each market's terms come from ``autopact.fit.rc_logit`` (one set of choice
probabilities for the inversion, d delta / d theta and the markups; the inversion started from
delta extrapolated along the last d delta / d theta; the markups' part of the gradient as an
adjoint); nested logit takes the general path of ``autopact.fit.market_terms``.
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
from autopact.fit import rc_logit
from autopact.fit.market_terms import demand_terms, expanded_nodes, nested_supply, share_gradient
from autopact.model.demand import Demand, _jacobian_parts
from autopact.model.inversion import invert_shares

FAILED_OBJECTIVE = 1e10  # the objective where the share inversion fails (its gradient: 0); never an estimate


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

    demand, _ = demand_terms(market, parameters, x2_names)
    alpha_i = -price_coefficient + demand.deviation
    if np.any(alpha_i <= 0):
        raise EstimationError(f"{int((alpha_i <= 0).sum())} of {len(alpha_i)} households have a non-positive "
                              "price sensitivity at these estimates; counterfactuals need every alpha_i > 0")
    alpha = float(market.weights @ alpha_i)
    return replace(demand, alpha=alpha, price_deviation=alpha_i - alpha, _cache={})


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
                "seconds": self.seconds,
                **({"standard_errors_note": self.details["standard_errors"]} if "standard_errors" in self.details else {})}


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
             initial_update: bool = False, ftol: float = 0.0, compiled: bool = True) -> EstimationResult:
    """GMM estimates; starting values are sigma (diagonal, K2), pi (K2 x D) and rho; zeros stay fixed.

    The optimiser settings (``optimizer``, ``gtol``, ``ftol``, ``max_iterations``, the bounds,
    ``costs_bounds`` and ``initial_update``) are PyBLP's, with its defaults: see
    ``autopact.fit.optimisation``. Raises ``OptimisationError`` (a ``ConvergenceError``) with
    the objective, gradient norm, iterations and parameters where the optimiser stopped when it
    does not converge. ``evaluate_only`` skips the optimisation and returns the objective,
    gradient and linear parameters at the starting values (one-step weights), marked
    ``converged=False``: a check, not an estimate. ``compiled`` (default True) computes the markups'
    terms of RC logit without nesting by numba's loops where numba is installed
    (``rc_logit.compiled_terms``); False, or numba missing, by numpy: the same estimates to rounding.
    """
    began = time.perf_counter()
    k2, d = len(problem.x2_names), len(problem.demographic_names)
    start = Parameters(np.zeros(k2) if sigma is None else np.diag(np.atleast_2d(sigma)).astype(float) if np.ndim(sigma) == 2
                       else np.asarray(sigma, float),
                       np.zeros((k2, d)) if pi is None else np.asarray(pi, float).reshape(k2, d), rho)
    if rho is not None and not problem.nested:
        raise EstimationError("rho needs a nesting_ids column")
    if not (np.isfinite(ftol) and ftol >= 0) or (ftol and optimizer != "l-bfgs-b"):
        raise EstimationError(f"optimization.ftol: a finite number >= 0, and 0 unless the optimizer is l-bfgs-b "
                              f"(optimizer {optimizer!r}), got {ftol!r}")
    x1, z, n = problem.x1, problem.z, len(problem.x1)
    supply = problem.x3 is not None
    # stacked linear system: y = [delta; cost target], X = diag(X1, X3), Z = diag(ZD, ZS)
    X = _block_diagonal(x1, problem.x3) if supply else x1
    Z = _block_diagonal(z, problem.zs) if supply else z
    W = _block_diagonal(*[np.linalg.inv(b.T @ b / n) for b in ([z, problem.zs] if supply else [z])])
    xz = X.T @ Z  # X'Z, once
    # per market: the last delta, its d delta / d theta ("slope") and theta (RC logit: the next inversion
    # starts from delta + slope (theta' - theta), with chord steps on the last ds/d delta, "factor"), and the
    # last markups (for the adjoint gradient)
    state: dict[str, Any] = {**{k: [None] * len(problem.markets)
                                for k in ("delta", "slope", "theta", "markups", "factor")},
                             "evaluations": 0,
                             "last_cost_target": np.full(2 * n, np.nan), "reverted_costs": 0}
    # without nesting, each market's theta-independent arrays for the fused terms, built once
    fused = None if rho is not None else \
        [rc_logit.LogitMarket.build(m, start, problem.x2_names, expanded_nodes(m, start), loops)
         for loops in [rc_logit.compiled_terms() if compiled else None] for m in problem.markets]
    prices = np.empty(n)
    for market in problem.markets:
        prices[market.rows] = market.prices
    cost_low, cost_high = (-np.inf, np.inf) if costs_bounds is None else \
        (-np.inf if costs_bounds[0] is None else costs_bounds[0], np.inf if costs_bounds[1] is None else costs_bounds[1])

    def targets(p: Parameters, want_gradient: bool, adjoint: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """y(theta) = [delta; log c or c] and dy/dtheta (analytic except rho). With ``adjoint`` (RC
        logit), the supply rows of dy/dtheta stay zero and ``state["pending"]`` keeps, per market,
        what ``gradient`` needs to add their part of the objective's gradient."""
        vector = p.vector()
        q = len(vector)
        y = np.empty((2 if supply else 1) * n)
        jac = np.zeros((len(y), q))
        state["pending"] = []
        markups_all, supplies = np.empty(n), []  # the markups, and each market's rows and dm / d theta
        for m, market in enumerate(problem.markets):
            dm = None
            if fused is not None:  # RC logit: one set of probabilities serves every term
                predicted = None if state["slope"][m] is None else \
                    state["delta"][m] + state["slope"][m] @ (vector - state["theta"][m])
                try:
                    d_m, d_jac, markups, state["factor"][m] = rc_logit.terms(
                        fused[m], p, state["delta"][m], want_gradient, supply, inversion_tol, predicted,
                        state["factor"][m])
                except ConvergenceError:
                    return np.full(len(y), np.nan), jac
                state["delta"][m], state["slope"][m], state["theta"][m] = d_m, d_jac if want_gradient else None, vector
                y[market.rows], jac[market.rows] = d_m, d_jac
                if supply and not adjoint:
                    dm = markups.derivatives(d_jac) if want_gradient else np.zeros_like(d_jac)
                state["markups"][m], markups = markups, markups.markups if supply else None
            else:
                demand, dv = demand_terms(market, p, problem.x2_names)
                try:
                    d_m, _ = invert_shares(market.shares, market.prices, demand, tol=inversion_tol,
                                           initial=state["delta"][m])
                except ConvergenceError:
                    return np.full(len(y), np.nan), jac
                state["delta"][m] = d_m
                y[market.rows] = d_m
                if want_gradient and len(dv):  # (the supply side reads d delta / d theta only with the gradient)
                    ones = np.ones_like(market.weights)
                    _, lam, gamma = _jacobian_parts(d_m, market.prices, demand, ones)
                    jac[market.rows, :len(dv)] = -np.linalg.solve(np.diag(lam) - gamma,
                                                                  share_gradient(d_m, market, demand, dv))
                if supply:
                    markups, dm = nested_supply(d_m, market, p, demand, problem.x2_names, want_gradient, inversion_tol)
            if supply:
                markups_all[market.rows] = markups
                supplies.append((m, market.rows, dm))
        if supply:
            costs = prices - markups_all
            # dy_j = scale_j dm_j: -1/c_j for log costs, -1 for linear; zero rows where PyBLP's costs_bounds
            # clip the cost and (log costs) where a non-positive cost keeps its last valid log value (PyBLP's
            # default error behaviour) rather than stopping the search
            clipped = (costs < cost_low) | (costs > cost_high)
            costs = np.clip(costs, cost_low, cost_high) if clipped.any() else costs
            if problem.costs_type == "log":
                bad = costs <= 0
                if bad.any():
                    y[n:] = np.where(bad, state["last_cost_target"][n:], np.log(np.where(bad, 1.0, costs)))
                    scale = np.where(bad | clipped, 0.0, -1 / np.where(bad, 1.0, costs))
                    state["reverted_costs"] += int(bad.sum())
                else:
                    y[n:] = np.log(costs)
                    scale = np.where(clipped, 0.0, -1 / costs)
            else:
                y[n:], scale = costs, np.where(clipped, 0.0, -1.0)
            for m, rows, dm in supplies:
                if dm is not None:
                    jac[n + rows, :dm.shape[1]] = scale[rows, None] * dm
                else:
                    state["pending"].append((m, n + rows, scale[rows]))
        y[:n], jac[:n] = problem.demean(y[:n]), problem.demean(jac[:n])
        if supply and np.all(np.isfinite(y[n:])):
            state["last_cost_target"] = y.copy()
        return y, jac

    def objective(theta: np.ndarray, W: np.ndarray, full: bool = False) -> tuple[float, np.ndarray]:
        """N g'W g (PyBLP's scale) and its gradient 2 N G'W g = 2 (dy/dtheta)' lambda with lambda =
        (I - X (X'ZWZ'X)^{-1} X'ZWZ')' Z W g. Without nesting, and unless ``full`` (which keeps the
        whole dy/dtheta for the standard errors), the markups' part comes as an adjoint: lambda's
        supply entries times dm/dtheta, with no J x Q derivatives of the markups formed."""
        state["evaluations"] += 1
        p = start.with_vector(theta)
        adjoint = fused is not None and supply and not full
        kept = state.get("terms_at")
        if kept is not None and np.array_equal(kept[0], theta):
            # RC logit at the last evaluation's theta (a GMM step's start, the final evaluation): its targets
            # serve again, since only the weights changed; ``full`` adds the markups' derivatives
            y, jac, state["pending"] = kept[1], kept[2], list(kept[3])
            if not adjoint and state["pending"]:
                jac = jac.copy()
                for m, rows, scale in state["pending"]:
                    dm = state["markups"][m].derivatives(state["slope"][m])
                    jac[rows, :dm.shape[1]] = scale[:, None] * dm
                state["pending"] = []
        else:
            y, jac = targets(p, True, adjoint)
            state["terms_at"] = (theta.copy(), y, jac, list(state["pending"])) if fused is not None else None
        state["failed"] = not np.all(np.isfinite(y))
        if state["failed"]:
            return FAILED_OBJECTIVE, np.zeros_like(theta)
        if p.rho is not None:  # d delta / d rho by a central difference of the inversion
            h = 1e-6
            up, _ = targets(start.with_vector(np.r_[theta[:-1], theta[-1] + h]), False)
            if theta[-1] - h >= 0.0:
                down, _ = targets(start.with_vector(np.r_[theta[:-1], theta[-1] - h]), False)
                jac[:, -1] = (up - down) / (2 * h)
            else:  # rho within h of 0, its lowest value (an optimiser's bound): a forward difference
                jac[:, -1] = (up - y) / h
            targets(p, False)  # restore warm starts at theta
        normal = xz @ W @ xz.T
        coefficients = np.linalg.solve(normal, xz @ W @ (Z.T @ y))
        residual = y - X @ coefficients
        g = Z.T @ residual / n
        if adjoint:
            moments = Z @ (W @ g)
            weights = moments - Z @ (W @ (xz.T @ np.linalg.solve(normal, X.T @ moments)))  # lambda
            gradient = 2 * jac.T @ weights
            for m, rows, scale in state["pending"]:
                gradient += 2 * state["markups"][m].gradient(state["slope"][m], scale * weights[rows])
        else:
            projector = jac - X @ np.linalg.solve(normal, xz @ W @ (Z.T @ jac))
            gradient = 2 * n * (Z.T @ projector / n).T @ W @ g
        state.update(coefficients=coefficients, residual=residual, last_delta=y[:n], jac=jac, at=(theta.copy(), W))
        return float(n * g @ W @ g), gradient

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
        last = state.get("at")
        if last is None or last[1] is not W or not np.array_equal(last[0], theta):
            objective(theta, W)  # the residuals at theta under the current weights (unless just evaluated there)
        return np.linalg.inv(_covariance_of_moments(*split(residuals()), weighting, problem.clusters))

    if initial_update:  # PyBLP's zeroth step: weights from the residuals at the starting values
        W = update_weights(theta)
    for step in range(steps):
        if len(theta):
            before = state["evaluations"]
            outcome = minimise(lambda t: objective(t, W), theta, limits, optimizer, gtol, max_iterations, ftol)
            theta, iterations = outcome.x, iterations + outcome.iterations
            if not outcome.accepted:
                evaluations = state["evaluations"] - before
                _stopped(outcome.message, step + 1, optimizer, objective(theta, W), theta, limits, labels,
                         iterations, evaluations)
        if step == 0 and steps == 2:
            W = update_weights(theta)  # the one-step residuals, for the two-step weights
    value, gradient = objective(theta, W, full=True)  # the whole dy/dtheta, for the standard errors
    if state["failed"] or not np.all(np.isfinite(gradient)):
        # the optimiser stopped where the share inversion failed (or its derivatives did): the failure value's
        # zero gradient looks stationary to it, so it is refused here, not reported as an estimate
        raise ConvergenceError(
            f"the optimiser stopped at {', '.join(f'{k}={v:.6g}' for k, v in zip(labels, theta))}, where the share "
            "inversion (or its derivatives) did not converge, so there is no estimate; try other starting values "
            "or a looser inversion_tol (e.g. 1e-12: the rounding floor of log shares can lie above 1e-14)")
    gradient = projected(gradient, theta, limits)  # a component pushing against an active bound does not count
    if len(theta) and np.max(np.abs(gradient)) > 1e-3 * max(1.0, value):
        _stopped("the projected gradient is above 1e-3 x max(1, objective)", steps, optimizer, (value, gradient), theta,
                 limits, labels, iterations, state["evaluations"])
    # standard errors over (theta, beta, gamma): G = [Z' dy/dtheta, -Z'X] / N
    G = np.column_stack([Z.T @ state["jac"] / n, -Z.T @ X / n])
    S = _covariance_of_moments(*split(residuals()), se_type, problem.clusters)
    if se_type == "unadjusted":  # PyBLP's: (G'WG)^-1 with the step's W, in a first step the inverse of this S
        covariance = np.linalg.inv(G.T @ (W if steps == 2 else np.linalg.inv(S)) @ G)
    else:
        bread = np.linalg.inv(G.T @ W @ G)
        covariance = bread @ G.T @ W @ S @ W @ G @ bread
    variance = np.diag(covariance) / n
    negative = variance < 0  # the sandwich is not positive definite there (a parameter near its bound, few markets)
    se = np.sqrt(np.where(negative, np.nan, variance))
    names = problem.x1_names + [f"gamma[{c}]" for c in problem.x3_names]
    details = {} if not negative.any() else {
        "standard_errors": "not defined (NaN) for " + ", ".join(np.array(labels + names)[negative]) + ": their "
                           "estimated variance is negative (the covariance is not positive definite at this optimum)"}
    return EstimationResult(labels, theta, state["coefficients"], names, se[:len(theta)], se[len(theta):],
                            value, float(np.max(np.abs(gradient))) if len(theta) else 0.0, True, iterations,
                            state["evaluations"], time.perf_counter() - began, W, residuals()[:n],
                            state["last_delta"], steps, details, parameters=start.with_vector(theta),
                            covariance=covariance / n)


def _stopped(reason: str, step: int, optimizer: str, at: tuple[float, np.ndarray], theta: np.ndarray,
             limits: list, labels: list[str], iterations: int, evaluations: int) -> None:
    """Raise the error that says where a GMM step's optimiser stopped."""
    value, gradient = at
    norm = float(np.max(np.abs(projected(gradient, theta, limits)))) if len(theta) else 0.0
    raise OptimisationError(reason, step=step, method=optimizer, objective=float(value), gradient_norm=norm,
                            iterations=iterations, evaluations=evaluations,
                            parameters=dict(zip(labels, map(float, theta))))
