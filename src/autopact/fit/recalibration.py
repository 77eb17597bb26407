"""Re-calibration to moved targets without a new fit: the first-order response of the calibrated
parameters to the targets (``parameter_response``, kept in the disk cache by ``stored_parameter_response``)
and the parameters it predicts (``linear_recalibration``), which target draws of an uncertainty run use
by default.
"""

from __future__ import annotations

import pickle
from typing import Any, Callable

import numpy as np
import pandas as pd

from autopact.data.cache import blas_signature, cached, value_digest
from autopact.fit.calibration import CalibrationResult, bound_side, form_bounds, build_demand, model_statistics
from autopact.model.inversion import invert_shares


def parameter_response(cal: CalibrationResult, step: float = 1e-4, hessian_step: float = 1e-3
                       ) -> tuple[list[str], np.ndarray]:
    """First-order response of the calibrated parameters to the targets, d theta / d target.

    At the optimum the weighted residuals r_t = c_t (m_t(theta) - target_t), c_t = sqrt(w_t)/|target_t|,
    satisfy F = J_r' r = 0 with J_r = diag(c) dm/dtheta. The implicit function theorem gives column t

        d theta / d target_t = H^{-1} J_r[t, :]' (r_t + c_t m_t) / target_t,   H = dF/dtheta,

    which is the familiar (J_r'J_r)^{-1} J_r' c when every target is hit. H is the full Hessian of
    half the squared residuals, J_r' J_r + sum_t r_t d^2 r_t / dtheta^2, a central difference of F
    (``hessian_step``): the Gauss-Newton J_r' J_r alone drops the residuals' curvature, which the
    bundled 2025 optimum, with residual targets, cannot afford (a 2.9% move of the compact-car target:
    linear over exact moves 0.51-1.05 and the wrong sign for bev_income by Gauss-Newton, 0.97-1.04 with
    H; ``tests/policy/test_uncertainty.py``; on the fit on 5,000 households the test reads the moved
    objective's gradient instead, since an exact re-fit stops short in that fit's flat valley). At an
    interior optimum that hits every target the two agree.
    Parameters fixed by the user or sitting at a bound are held (active constraints). dm/dtheta is
    a central difference of ``model_statistics`` with shares re-inverted at each step, on the households
    the parameters were fitted on (``CalibrationResult.fit_households``; one-sided
    where a step would cross a bound). Returns the moving parameters' names and the (parameters x
    targets) matrix in their natural units.
    """
    names, scale, lower, upper, _ = form_bounds(cal.form)
    x = np.array([cal.parameters[name] for name in names]) / scale
    moving = [i for i, name in enumerate(names)
              if name not in cal.fixed and bound_side(name, cal.parameters[name], cal.form) is None]
    targets = cal.targets
    t = targets["value"].to_numpy(float)
    c = np.sqrt(targets["weight"].to_numpy(float)) / np.abs(t)
    m = cal.achieved
    if not moving:  # every parameter fixed or at a bound: nothing moves with the targets
        return [], np.zeros((0, len(t)))

    # read on the households the parameters were fitted on, where the optimum's condition F = 0 holds
    households, start = cal.fit_state()

    def statistics(x_new: np.ndarray) -> np.ndarray:
        demand = build_demand(dict(zip(names, (x_new * scale).tolist())), cal.arrays, households, cal.form)
        delta, _ = invert_shares(cal.arrays.shares, cal.arrays.prices, demand, tol=1e-13, initial=start)
        return model_statistics(targets, delta, demand, cal.arrays)

    def span(at: np.ndarray, i: int, width: float) -> tuple[float, float]:
        """Central where both steps stay inside the bounds; one-sided (the same width) where a step
        would cross one: a parameter just off its bound (rho = 3e-6 with h = 1e-4) is no valid model below it."""
        h = width * max(abs(at[i]), 1.0)
        low, high = at[i] - h, at[i] + h
        if low < lower[i]:
            low, high = at[i], at[i] + 2 * h
        elif high > upper[i]:
            low, high = at[i] - 2 * h, at[i]
        return low, high

    def central_columns(function: Callable[[np.ndarray], np.ndarray], at: np.ndarray, width: float) -> np.ndarray:
        """The central (or one-sided, ``span``) differences of the vector ``function`` in each moving
        parameter at ``at``, one column each."""
        columns = []
        for i in moving:
            low, high = span(at, i, width)
            up, down = at.copy(), at.copy()
            up[i], down[i] = high, low
            columns.append((function(up) - function(down)) / (high - low))
        return np.column_stack(columns)

    def residual_jacobian(at: np.ndarray) -> np.ndarray:
        return c[:, None] * central_columns(statistics, at, step)

    def gradient(at: np.ndarray) -> np.ndarray:
        """F = J_r' r at ``at``."""
        return residual_jacobian(at).T @ (c * (statistics(at) - t))

    jac_r = residual_jacobian(x)
    hessian = central_columns(gradient, x, hessian_step)
    hessian = 0.5 * (hessian + hessian.T)
    response = np.linalg.solve(hessian, jac_r.T * ((c * (m - t) + c * m) / t)[None, :])
    return [names[i] for i in moving], response * scale[moving][:, None]


def linear_recalibration(cal: CalibrationResult, response: tuple[list[str], np.ndarray],
                         targets: pd.DataFrame) -> dict[str, float]:
    """Parameters after the targets move from ``cal.targets`` to ``targets``: theta + (d theta/d t) dt,
    kept within bounds (``parameter_response`` gives d theta / d t)."""
    names, matrix = response
    shift = matrix @ (targets["value"].to_numpy(float) - cal.targets["value"].to_numpy(float))
    theta = dict(cal.parameters)
    every, scale, lower, upper, _ = form_bounds(cal.form)
    for name, d in zip(names, shift):
        i = every.index(name)
        theta[name] = float(np.clip(theta[name] + d, lower[i] * scale[i], upper[i] * scale[i]))
    return theta


def response_key(cal: CalibrationResult, step: float = 1e-4, hessian_step: float = 1e-3) -> dict[str, Any]:
    """The disk-cache key of ``parameter_response(cal, step, hessian_step)``: the SHA-256 of everything
    it reads (``autopact.data.cache.value_digest``: values only, as ``autopact.simulate.solve_key``): the price form,
    parameters, held parameters, targets and their statistics at the optimum, the market's arrays, the
    households the parameters were fitted on with the mean utilities there, and the two steps; with the
    BLAS libraries and their thread counts (``blas_signature``), which round its products. The package's
    code and library versions are added by ``autopact.data.cache``."""
    households, start = cal.fit_state()
    inputs = value_digest((cal.form, sorted(cal.parameters.items()), sorted(cal.fixed.items()),
                           cal.targets.to_csv(index=False), cal.achieved, cal.arrays, households, start,
                           float(step), float(hessian_step)))
    return {"inputs": inputs, "blas": blas_signature()}


def stored_parameter_response(cal: CalibrationResult, step: float = 1e-4, hessian_step: float = 1e-3
                              ) -> tuple[list[str], np.ndarray]:
    """``parameter_response``, kept in the disk cache (``autopact.data.cache``) under ``response_key``.

    It reads the target statistics about 80 times on the fit's 5,000 households (about 20 s on a 2-core
    machine), and every run with draws of a target or a market assumption on the same calibration
    needs the same matrix: a later run reads it, the same numbers to the bit
    (``tests/policy/test_uncertainty.py``). Inputs that cannot be keyed are computed."""
    try:
        key = response_key(cal, step, hessian_step)
    except (ValueError, TypeError, pickle.PicklingError, RecursionError):
        return parameter_response(cal, step, hessian_step)
    return cached("parameter-response", key, lambda: parameter_response(cal, step, hessian_step))
