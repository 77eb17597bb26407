"""Errors that autopact raises instead of returning a result that is not one."""


class ConvergenceError(RuntimeError):
    """An iterative solver (share inversion, equilibrium prices, calibration) did not reach its tolerance."""


class ScenarioError(ValueError):
    """A scenario (or a market it names) is invalid; the message names the field and the bad value."""


class EstimationError(ValueError):
    """Bad estimation input: a formula, a column or a starting value (``autopact.fit.problem``, which
    re-exports it; here so that a run can catch it without loading the estimation machinery and patsy)."""
