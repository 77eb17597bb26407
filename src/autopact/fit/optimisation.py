"""The outer loop of GMM estimation with PyBLP's optimiser settings: method, tolerance, iteration
limit and parameter bounds, plus the two ``Problem.solve`` options the BLP 1995 tutorial uses.

Everything here follows PyBLP 1.3.0 (Conlon and Gortmaker 2020), ``Problem.solve`` and
``pyblp/configurations/optimization.py``, so that a PyBLP call moves across unchanged:

- ``optimization``: ``method`` is ``l-bfgs-b`` (PyBLP's default, with ``ftol`` 0), ``bfgs`` or
  ``trust-constr`` (with scipy's BFGS approximation of the Hessian, as PyBLP passes it);
  ``gtol`` is the optimiser's gradient tolerance (PyBLP's default 1e-8) and ``max_iterations``
  its iteration limit (scipy's ``maxiter``; autopact's default 1000, L-BFGS-B evaluations
  10 times that). ``ftol`` is L-BFGS-B's tolerance on the relative reduction of the objective
  (scipy's ``ftol``): 0 by default, as PyBLP's default ``Optimization('l-bfgs-b', {'ftol': 0,
  'gtol': 1e-8})``; PyBLP's ``Optimization('l-bfgs-b', {'gtol': g})`` without ``ftol`` runs
  with scipy's default, ``SCIPY_FTOL``, which is what moves it across. BFGS ignores bounds
  in PyBLP; here bounds given with it are refused.
- ``sigma_bounds``, ``pi_bounds``, ``rho_bounds``: ``[lb, ub]``, each the shape of the
  starting ``sigma`` (``pi``, ``rho``), ``null`` for no bound. PyBLP's defaults, which apply
  only with a method that supports bounds: the diagonal of sigma is bounded below by
  min(0, start), rho lies in [min(0, start), max(0.99, start)], pi is unbounded.
- ``costs_bounds``: ``[lb, ub]`` for marginal costs with a supply side; a cost outside is
  clipped and its rows of the Jacobian are zero (PyBLP's ``costs_bounds``).
- ``initial_update``: before the first GMM step, update the weighting matrix at the starting
  parameters (PyBLP's ``initial_update``, its "zeroth step").

An optimiser that stops short (its iteration limit, a failed line search that leaves a large
gradient) raises ``OptimisationError``, a ``ConvergenceError`` that says the objective, the
gradient norm and where it stopped: iterations, evaluations and the parameter values. PyBLP
reports such a stop and returns the estimates; autopact refuses them, and also refuses a stop
whose projected gradient is above 1e-3 x max(1, objective) (a bound counts as active within 1e-6
of it). L-BFGS-B lands on an active bound; trust-constr's interior-point iterates can stop short
of one (scipy's barrier), which that check then refuses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo, field_validator
from scipy.optimize import BFGS, Bounds, minimize

from autopact.errors import ConvergenceError
from autopact.fit.problem import EstimationError

METHODS = ("l-bfgs-b", "bfgs", "trust-constr")
SCIPY_FTOL = 2.220446049250313e-09  # scipy's default ftol of L-BFGS-B (1e7 x machine epsilon)
BOUNDED = {"l-bfgs-b", "trust-constr"}
SOLVE_KEYS = ("optimization", "sigma_bounds", "pi_bounds", "rho_bounds", "costs_bounds", "initial_update")


class OptimisationError(ConvergenceError):
    """The optimiser of a GMM step stopped before it converged; the numbers say where."""

    def __init__(self, reason: str, *, step: int, method: str, objective: float, gradient_norm: float,
                 iterations: int, evaluations: int, parameters: dict[str, float]) -> None:
        self.step, self.method, self.objective, self.gradient_norm = step, method, objective, gradient_norm
        self.iterations, self.evaluations, self.parameters = iterations, evaluations, parameters
        values = ", ".join(f"{k}={v:.6g}" for k, v in parameters.items())
        super().__init__(f"GMM step {step} did not converge ({method}: {reason}): stopped after {iterations} "
                         f"iterations and {evaluations} objective evaluations at objective {objective:.6g}, "
                         f"gradient norm {gradient_norm:.3g}, parameters {values}; raise "
                         "optimization.max_iterations, loosen optimization.gtol or start elsewhere")


class Optimization(BaseModel):
    """``optimization:`` in an estimation config (PyBLP's ``Optimization(method, {'gtol': ...})``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["l-bfgs-b", "bfgs", "trust-constr"] = "l-bfgs-b"
    gtol: float = Field(1e-8, gt=0, description="gradient tolerance of the optimiser")
    max_iterations: int = Field(1000, ge=1, strict=True, description="the optimiser's iteration limit")
    ftol: float = Field(0.0, ge=0, description="L-BFGS-B's tolerance on the objective's relative reduction")

    @field_validator("gtol", "ftol")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("ftol")
    @classmethod
    def _lbfgsb_only(cls, value: float, info: ValidationInfo) -> float:
        if value and info.data.get("method", "l-bfgs-b") != "l-bfgs-b":
            raise ValueError(f"only l-bfgs-b has an ftol (scipy's {info.data['method']} has none); leave it out or 0")
        return value


Limit = float | None


class SolveOptions(BaseModel):
    """The config keys of ``SOLVE_KEYS``, validated (shapes against sigma and pi are checked by
    ``parameter_limits``, which knows them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    optimization: Optimization = Optimization()
    sigma_bounds: tuple[Any, Any] | None = None
    pi_bounds: tuple[Any, Any] | None = None
    rho_bounds: tuple[Limit, Limit] | None = None
    costs_bounds: tuple[Limit, Limit] | None = None
    initial_update: StrictBool = False

    @field_validator("sigma_bounds", "pi_bounds")
    @classmethod
    def _numbers(cls, bounds: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
        if bounds is not None:
            try:
                for side in bounds:
                    _as_array(side, "bounds")
            except EstimationError:
                raise ValueError("must be [lower, upper] of numbers or null, each shaped as the starting values") from None
        return bounds

    @field_validator("rho_bounds", "costs_bounds")
    @classmethod
    def _ordered(cls, bounds: tuple[Limit, Limit] | None) -> tuple[Limit, Limit] | None:
        if bounds is not None:
            low, high = (-math.inf if bounds[0] is None else bounds[0]), (math.inf if bounds[1] is None else bounds[1])
            if math.isnan(low) or math.isnan(high) or low >= high:
                raise ValueError("must be [lower, upper] with lower < upper (null for none)")
        return bounds


def solve_options(settings: dict[str, Any], name: str) -> dict[str, Any]:
    """Keyword arguments of ``estimate`` from a config's ``SOLVE_KEYS``; bad values raise
    ``EstimationError`` naming the file, the field and the value."""
    given = {k: settings[k] for k in SOLVE_KEYS if settings.get(k) is not None}
    try:
        options = SolveOptions(**given)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        why = problem["msg"].removeprefix("Value error, ")
        raise EstimationError(f"{name}: {where}: {why}, got {problem.get('input')!r}") from None
    o = options.optimization
    return {"optimizer": o.method, "gtol": o.gtol, "ftol": o.ftol, "max_iterations": o.max_iterations,
            "sigma_bounds": options.sigma_bounds, "pi_bounds": options.pi_bounds, "rho_bounds": options.rho_bounds,
            "costs_bounds": options.costs_bounds, "initial_update": options.initial_update}


def _as_array(values: Any, field: str) -> np.ndarray:
    """Bounds as floats, ``None`` (YAML ``null``) as NaN for 'no bound'."""
    try:
        array = np.array(values, dtype=object)
        return np.where(array == None, np.nan, array).astype(float)  # noqa: E711 - elementwise
    except (TypeError, ValueError):
        raise EstimationError(f"{field}: bounds must be numbers or null, got {values!r}") from None


def _side(bounds: tuple[Any, Any] | None, index: int, shape: tuple[int, ...], field: str, fill: float) -> np.ndarray:
    if bounds is None:
        return np.full(shape, fill)
    side = _as_array(bounds[index], field)
    if side.shape != shape:
        raise EstimationError(f"{field}: {'lower' if index == 0 else 'upper'} bound has shape {side.shape}, "
                              f"the starting values have {shape}")
    return np.where(np.isnan(side), fill, side)


def parameter_limits(labels: list[str], start: np.ndarray, sigma_shape: tuple[int, ...], sigma_free: np.ndarray,
                     pi_shape: tuple[int, ...], pi_free: np.ndarray, has_rho: bool, optimizer: str,
                     sigma_bounds: tuple[Any, Any] | None = None, pi_bounds: tuple[Any, Any] | None = None,
                     rho_bounds: tuple[Any, Any] | None = None) -> list[tuple[float | None, float | None]]:
    """(lower, upper) for each free parameter, in ``Parameters.vector`` order, as PyBLP sets them.

    ``sigma_shape`` is the shape the starting sigma was given in (a K2 x K2 matrix or the K2
    diagonal); ``sigma_free`` and ``pi_free`` mark the free entries.
    """
    given = {"sigma_bounds": sigma_bounds, "pi_bounds": pi_bounds, "rho_bounds": rho_bounds}
    if optimizer not in BOUNDED:
        named = [k for k, v in given.items() if v is not None]
        if named:
            raise EstimationError(f"{named[0]}: optimizer {optimizer!r} does not support bounds (PyBLP ignores them); "
                                  f"use one of {sorted(BOUNDED)} or drop the bounds")
        return [(None, None)] * len(labels)
    low_s, high_s = (_side(sigma_bounds, i, sigma_shape, "sigma_bounds", f) for i, f in ((0, -np.inf), (1, np.inf)))
    if len(sigma_shape) == 2:
        low_s, high_s = np.diag(low_s), np.diag(high_s)
    low_p, high_p = (_side(pi_bounds, i, pi_shape, "pi_bounds", f) for i, f in ((0, -np.inf), (1, np.inf)))
    low_p, high_p = low_p.reshape(pi_free.shape), high_p.reshape(pi_free.shape)
    lows = [low_s[sigma_free], low_p[pi_free]]
    highs = [high_s[sigma_free], high_p[pi_free]]
    if has_rho:  # PyBLP's default: [min(0, start), max(0.99, start)]
        rho = float(start[-1])
        rho_low, rho_high = (min(0.0, rho), max(0.99, rho)) if rho_bounds is None else \
            (-np.inf if rho_bounds[0] is None else rho_bounds[0], np.inf if rho_bounds[1] is None else rho_bounds[1])
        lows.append(np.array([rho_low]))
        highs.append(np.array([rho_high]))
    low, high = np.concatenate(lows), np.concatenate(highs)
    if sigma_bounds is None:  # PyBLP: the free diagonal entries bounded below by min(0, start)
        n_sigma = int(sigma_free.sum())
        low[:n_sigma] = np.minimum(0.0, start[:n_sigma])
    outside = np.flatnonzero((start < low) | (start > high))
    if len(outside):
        i = outside[0]
        raise EstimationError(f"{labels[i].split('[')[0]}_bounds: the starting value {start[i]:g} of {labels[i]} is "
                              f"outside its bounds [{low[i]:g}, {high[i]:g}]")
    return [(None if np.isneginf(lo) else float(lo), None if np.isposinf(hi) else float(hi)) for lo, hi in zip(low, high)]


@dataclass
class Outcome:
    """Where one optimisation stopped."""

    x: np.ndarray
    iterations: int
    accepted: bool  # converged, or a stop that the projected-gradient check may still accept
    message: str


def minimise(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray,
             limits: list[tuple[float | None, float | None]], optimizer: str, gtol: float, max_iterations: int,
             ftol: float = 0.0) -> Outcome:
    """Run scipy's ``minimize`` with the objective's analytic gradient and PyBLP's options
    (``ftol``: L-BFGS-B's only; see the module's docstring).

    A stop that is not convergence but not a failure either (L-BFGS-B's abnormal line-search
    termination, BFGS's precision loss) is accepted here; the caller then checks the
    projected gradient, as PyBLP reports it.
    """
    if optimizer == "l-bfgs-b":
        result = minimize(objective, theta, jac=True, method="L-BFGS-B", bounds=limits,
                          options={"gtol": gtol, "ftol": ftol, "maxiter": max_iterations, "maxfun": 10 * max_iterations})
        accepted = bool(result.success) or "ABNORMAL" in str(result.message)
    elif ftol:
        raise EstimationError(f"optimization.ftol: only l-bfgs-b has an ftol (scipy's {optimizer} has none), got {ftol!r}")
    elif optimizer == "bfgs":
        result = minimize(objective, theta, jac=True, method="BFGS", options={"gtol": gtol, "maxiter": max_iterations})
        accepted = bool(result.success) or result.status == 2  # 2: precision loss in the line search
    elif optimizer == "trust-constr":
        low = [-np.inf if lo is None else lo for lo, _ in limits]
        high = [np.inf if hi is None else hi for _, hi in limits]
        result = minimize(objective, theta, jac=True, hess=BFGS(), method="trust-constr", bounds=Bounds(low, high),
                          options={"gtol": gtol, "maxiter": max_iterations})
        accepted = bool(result.success)
    else:
        raise EstimationError(f"optimization.method: unknown optimizer {optimizer!r}; known: {', '.join(METHODS)}")
    return Outcome(np.asarray(result.x, float), int(result.nit), accepted, str(result.message))


def projected(gradient: np.ndarray, theta: np.ndarray, limits: list[tuple[float | None, float | None]]) -> np.ndarray:
    """The gradient without components that push against an active bound (PyBLP's projected gradient).

    A bound counts as active within 1e-6 of it (relative to the bound, at least absolute): the
    interior-point iterates of trust-constr approach a bound without reaching it; L-BFGS-B's
    land on it.
    """
    out = np.array(gradient, float)
    for i, (low, high) in enumerate(limits):
        if (low is not None and theta[i] <= low + 1e-6 * max(1.0, abs(low)) and out[i] > 0) or \
                (high is not None and theta[i] >= high - 1e-6 * max(1.0, abs(high)) and out[i] < 0):
            out[i] = 0.0
    return out
