"""Share inversion: the mean utilities delta at which the demand of ``autopact.model.demand`` gives
observed market shares (Berry 1994 in closed form without random coefficients; BLP's contraction
with SQUAREM, or Newton's method on the log shares with the analytic Jacobian, with them)."""

from __future__ import annotations

import numpy as np

from autopact.errors import ConvergenceError
from autopact.model.demand import Demand, delta_jacobian_parts, shares


def invert_shares(observed: np.ndarray, prices: np.ndarray, demand: Demand, tol: float = 1e-13,
                  max_iterations: int = 5000, initial: np.ndarray | None = None,
                  method: str = "newton") -> tuple[np.ndarray, int]:
    """Mean utilities delta with s(delta) = observed shares; returns (delta, iterations).

    Without random coefficients the inversion is closed-form (Berry 1994):
        delta_j = log s_j - log s_0 - rho log s_{j|g}
    (two levels: - rho_w log s_{j|h} - rho log s_{h|g}, Verboven 1996).
    Otherwise ``method`` "contraction" iterates the BLP contraction
    delta <- delta + (1 - rho_w)(log s_obs - log s(delta)) accelerated by SQUAREM (Varadhan and
    Roland 2008); "newton" (default) takes Newton steps on log s(delta) = log s_obs with the
    analytic Jacobian ds/ddelta, halving a step that does not reduce the error and falling back to
    the contraction if Newton stalls. Both stop when max |log s_obs - log s(delta)| < tol.
    Raises ConvergenceError when the tolerance is not met.
    """
    if method not in ("newton", "contraction"):
        raise ValueError(f"method must be 'newton' or 'contraction', got {method!r}")
    observed = np.asarray(observed, float)
    log_obs = np.log(observed)
    closed = log_obs - np.log(1.0 - observed.sum())
    if demand.rho or demand.subnests is not None:
        nest = demand.nest_matrix
        nest_share = (observed @ nest) @ nest.T
        if demand.subnests is None:
            closed -= demand.rho * (log_obs - np.log(nest_share))
        else:
            sub = demand.subnest_matrix
            subnest_share = (observed @ sub) @ sub.T
            closed -= (demand.lowest_rho * (log_obs - np.log(subnest_share))
                       + demand.rho * (np.log(subnest_share) - np.log(nest_share)))
    if not demand.heterogeneous:
        return closed, 0
    step = 1.0 - demand.lowest_rho

    def contraction(d: np.ndarray) -> np.ndarray:
        return d + step * (log_obs - np.log(shares(d, prices, demand)))

    delta = closed if initial is None else np.asarray(initial, float)
    newton_steps = 0
    if method == "newton":
        delta, newton_steps, solved = _newton_inversion(log_obs, delta, prices, demand, tol)
        if solved:
            return delta, newton_steps
    for iteration in range(newton_steps + 1, max_iterations + 1):
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


def _newton_inversion(log_obs: np.ndarray, delta: np.ndarray, prices: np.ndarray, demand: Demand,
                      tol: float, max_steps: int = 50) -> tuple[np.ndarray, int, bool]:
    """Newton's method on log s(delta) = log s_obs: delta += (ds/ddelta)^{-1} (s (log s_obs - log s)).

    Returns (delta, steps, solved); unsolved when a halved step still fails to reduce the error.
    """
    s, lam, gamma = delta_jacobian_parts(delta, prices, demand)
    error = log_obs - np.log(s)
    for step in range(1, max_steps + 1):
        if np.max(np.abs(error)) < tol:
            return delta, step - 1, True
        try:
            direction = np.linalg.solve(np.diag(lam) - gamma, s * error)
        except np.linalg.LinAlgError:
            return delta, step, False
        length = 1.0
        for _ in range(8):
            candidate = delta + length * direction
            s_new, lam_new, gamma_new = delta_jacobian_parts(candidate, prices, demand)
            error_new = log_obs - np.log(s_new)
            if np.all(np.isfinite(error_new)) and np.max(np.abs(error_new)) < np.max(np.abs(error)):
                break
            length /= 2
        else:
            return delta, step, False
        delta, s, lam, gamma, error = candidate, s_new, lam_new, gamma_new, error_new
    return delta, max_steps, bool(np.max(np.abs(error)) < tol)
