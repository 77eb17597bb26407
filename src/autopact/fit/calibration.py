"""Calibration: fit demand's nonlinear parameters to published targets on one market-year.

Mean utilities are always inverted so predicted units equal observed units (Berry 1994); the
nonlinear parameters theta = (alpha, pi, sigma_bev, sigma_size, rho, bev_income) are then chosen by
weighted least squares on the relative distance between model statistics and targets,

    min_theta  sum_t w_t ((m_t(theta) - target_t) / |target_t|)^2,

the "calibrate to elasticity and diversion targets" practice of merger simulation (Werden and
Froeb 1994; Bjornerstedt and Verboven 2016). Marginal costs follow from Bertrand-Nash first-order
conditions at observed prices. Targets live in ``data/bundled/calibration_targets.csv``, each with
its source; users may pass their own table or fix parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autopact.data import Market, income_distribution, read_bundled
from autopact.fit.price_forms import FORMS, PriceForm
from autopact.fit.statistics import STATISTICS, CalibrationError, check_group, model_statistics
from autopact.model.demand import Demand, jacobian_parts, shares
from autopact.model.inversion import invert_shares
from autopact.model.households import Households, draw_households, income_correlated
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix

# The parameters of the default price form (``price_forms.FORMS``, "income"): alpha_i = alpha + pi / y_i.
PARAMETERS = FORMS["income"].parameters
# Internal scaling so every parameter the optimiser sees is of order one: alpha per $10,000.
SCALE = np.array(FORMS["income"].scale)
LOWER = np.array(FORMS["income"].lower)
UPPER = np.array(FORMS["income"].upper)
START = np.array(FORMS["income"].start)
SIZE_UNIT_SQFT = 100.0
# Households on which the nonlinear parameters are fitted, where the simulated market has fewer. The
# targets are statistics of few products' buyers (one nameplate's own-price elasticity, BEV buyers'
# incomes), so at the market's 1,000 households their simulation error is large, and an optimiser that
# reads them on those same households fits the error: the 2025 fit of Dec 2026 on 1,000 households read
# the Sentra's elasticity as -5.68, which 20,000 households put at -3.83 and three other seeds of 1,000
# at -3.41 to -3.69 (README, "Households: enough to fit on"). On 5,000 the fit's statistics lie within
# 6% of 20,000 households' (the Sentra's; the others within 3%). The market then takes the fitted
# parameters on its own households, its mean utilities inverted there so its shares are exact.
FIT_HOUSEHOLDS = 5000
# A Lerner index above this is flagged as implausible (a reporting convention, not an estimate:
# BLP 1995 and Grieco, Murry and Yurukoglu report average car markups well below one half).
IMPLAUSIBLE_LERNER = 0.5


def least_squares(*args: Any, **kwargs: Any) -> Any:
    """``scipy.optimize.least_squares``, imported when a calibration fits (a stored one does not):
    scipy.optimize takes a third of a second to import."""
    from scipy.optimize import least_squares as fit

    return fit(*args, **kwargs)


def load_targets(path: str | None = None) -> pd.DataFrame:
    """The calibration targets (bundled by default), validated: known statistic, finite value, source."""
    table = pd.read_csv(path) if path else read_bundled("calibration_targets.csv")
    label = path or "calibration_targets.csv"
    for column in ("name", "statistic", "group", "value", "weight", "source"):
        if column not in table.columns:
            raise CalibrationError(f"{label}: required column '{column}' is missing")
    for line, row in zip(range(2, len(table) + 2), table.itertuples()):
        if row.statistic not in STATISTICS:
            raise CalibrationError(f"{label}, line {line}, column 'statistic': unknown statistic "
                                   f"{row.statistic!r}; known: {', '.join(STATISTICS)}")
        for column in ("value", "weight"):
            number = pd.to_numeric(getattr(row, column), errors="coerce")
            if not np.isfinite(number) or (column == "weight" and number < 0) or (column == "value" and number == 0):
                raise CalibrationError(f"{label}, line {line}, column '{column}': bad value {getattr(row, column)!r}")
        if not str(row.source).strip() or str(row.source) == "nan":
            raise CalibrationError(f"{label}, line {line}, column 'source': every target needs a source")
        try:
            check_group(str(row.statistic), str(row.group))
        except CalibrationError as error:
            raise CalibrationError(f"{label}, line {line}, column 'group': {error}") from None
    return table


@dataclass(frozen=True)
class MarketArrays:
    """What the demand and supply kernels need from a Market, as arrays."""

    prices: np.ndarray
    shares: np.ndarray
    characteristics: np.ndarray  # (J, 2): BEV indicator, footprint in hundreds of square feet
    nests: np.ndarray
    nest_names: tuple[str, ...]
    owners: np.ndarray
    owner_names: tuple[str, ...]
    segment: np.ndarray
    powertrain: np.ndarray
    luxury: np.ndarray
    units: np.ndarray
    market_size: float
    product_ids: tuple[str, ...] = ()

    @classmethod
    def from_market(cls, market: Market) -> "MarketArrays":
        p = market.products
        nest_codes, nest_names = pd.factorize(p["segment"], sort=True)
        owner_codes, owner_names = pd.factorize(p["parent_company"], sort=True)
        luxury = p["luxury"].astype(str).str.lower().eq("true").to_numpy() if "luxury" in p.columns \
            else np.zeros(len(p), bool)
        footprint = p["footprint_sqft"].to_numpy(float) if "footprint_sqft" in p.columns else np.full(len(p), np.nan)
        if np.isnan(footprint).any():
            raise CalibrationError("calibration needs footprint_sqft for every product")
        return cls(prices=market.prices, shares=market.shares,
                   characteristics=np.column_stack([(p["powertrain"] == "BEV").to_numpy(float),
                                                    footprint / SIZE_UNIT_SQFT]),
                   nests=nest_codes, nest_names=tuple(nest_names), owners=owner_codes,
                   owner_names=tuple(owner_names), segment=p["segment"].to_numpy(str),
                   powertrain=p["powertrain"].to_numpy(str), luxury=luxury, units=market.units,
                   market_size=market.market_size, product_ids=tuple(p["product_id"].astype(str)))


def build_demand(parameters: dict[str, float], arrays: MarketArrays, households: Households,
                 form: str = "income") -> Demand:
    """The demand of ``parameters`` under a price form (``price_forms.FORMS``): the "income" form
    through Demand's pi / income, the others through household price deviations alpha_i - alpha.
    The BEV taste draws are correlated with log income by ``bev_income`` (``households.income_correlated``)."""
    nu = households.nu[:, :2]
    correlation = parameters.get("bev_income", 0.0)  # absent from a record of the earlier specification: 0
    if correlation:
        nu = np.column_stack([income_correlated(nu[:, 0], households.income, households.weights, correlation),
                              nu[:, 1]])
    taste = dict(sigma=np.array([parameters["sigma_bev"], parameters["sigma_size"]]), rho=parameters["rho"],
                 characteristics=arrays.characteristics, nests=arrays.nests, weights=households.weights,
                 income=households.income, nu=nu)
    if form == "income":
        return Demand(alpha=parameters["alpha"], pi=parameters["pi"], **taste)
    alpha = parameters["alpha"]
    return Demand(alpha=alpha, pi=0.0, price_deviation=FORMS[form].deviation(parameters, households), **taste)


def simulated_households(count: int, form: str, seed: int) -> Households:
    """``count`` seeded scrambled-Halton households from the Census income distribution, with the taste
    draws a price form needs (two, and its own price draws): the first n of any count are the same."""
    return draw_households(income_distribution(), count, tastes=2 + FORMS[form].price_draws, seed=seed)


def form_bounds(form: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parameter names, scale, lower and upper bounds (scaled) and start (scaled) of a price form."""
    if form not in FORMS:
        raise CalibrationError(f"unknown price form {form!r}; known: {', '.join(FORMS)}")
    f: PriceForm = FORMS[form]
    return f.parameters, np.array(f.scale), np.array(f.lower), np.array(f.upper), np.array(f.start)


@dataclass
class CalibrationResult:
    """A calibrated market: parameters, mean utilities, costs, fit and diagnostics."""

    parameters: dict[str, float]
    fixed: dict[str, float]
    targets: pd.DataFrame
    achieved: np.ndarray
    delta: np.ndarray
    costs: np.ndarray
    markups: np.ndarray
    demand: Demand
    arrays: MarketArrays
    households: Households
    max_share_error: float
    optimizer: dict[str, Any]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    form: str = "income"
    # the households the parameters were fitted on and the mean utilities there (``FIT_HOUSEHOLDS``;
    # None where they are the market's own), and the targets' statistics on the market's households
    fit_households: Households | None = None
    fit_delta: np.ndarray | None = None
    market_achieved: np.ndarray | None = None

    @property
    def fit_draws(self) -> int:
        """How many households the parameters were fitted on."""
        return len(self.fit_state()[0].weights)

    def fit_state(self) -> tuple[Households, np.ndarray]:
        """The households the parameters were fitted on and the mean utilities there (the market's own where
        the fit used them)."""
        if self.fit_households is None:
            return self.households, self.delta
        return self.fit_households, self.fit_delta

    @property
    def xi(self) -> np.ndarray:
        """Mean utility net of price, delta_j + alpha p_j: what a counterfactual holds fixed."""
        return self.delta + self.demand.alpha * self.arrays.prices

    @property
    def ownership(self) -> np.ndarray:
        return ownership_matrix(self.arrays.owners)

    @property
    def market_size(self) -> float:
        """Potential market M in households (units = M x shares)."""
        return self.arrays.market_size

    def own_elasticities(self) -> np.ndarray:
        """e_jj = (Lambda_j - Gamma_jj) p_j / s_j."""
        s, lam, gamma = jacobian_parts(self.delta, self.arrays.prices, self.demand)
        return (lam - np.diag(gamma)) * self.arrays.prices / s

    def to_dict(self) -> dict[str, Any]:
        own = self.own_elasticities()
        lerner = self.markups / self.arrays.prices
        w = self.arrays.units
        by_segment = {}
        for segment in np.unique(self.arrays.segment):
            m = self.arrays.segment == segment
            by_segment[segment] = {
                "products": int(m.sum()),
                "own_elasticity_mean": float(np.average(own[m], weights=w[m])),
                "lerner_mean": float(np.average(lerner[m], weights=w[m])),
                "lerner_min": float(lerner[m].min()), "lerner_max": float(lerner[m].max()),
                "markup_mean_usd": float(np.average(self.markups[m], weights=w[m])),
            }
        quantiles = (5, 25, 50, 75, 95)
        return {
            "parameters": self.parameters,
            **({} if self.form == "income" else {"price_form": FORMS[self.form].text}),
            "fixed_parameters": self.fixed,
            "targets": [
                {"name": r.name, "statistic": r.statistic, "group": r.group, "target": float(r.value),
                 "achieved": float(a), "relative_gap": float((a - r.value) / abs(r.value)),
                 "weight": float(r.weight), "source": r.source}
                for r, a in zip(self.targets.itertuples(), self.achieved)],
            "max_share_error": self.max_share_error,
            "own_elasticity_distribution": {f"p{q:02d}": float(np.percentile(own, q)) for q in quantiles},
            "lerner_distribution": {f"p{q:02d}": float(np.percentile(lerner, q)) for q in quantiles},
            "by_segment": by_segment,
            "negative_cost_products": int((self.costs < 0).sum()),
            "warnings": self.warnings,
            "households": {"draws": int(len(self.households.weights)), "seed": self.households.seed,
                           "fit_draws": self.fit_draws, "income_source": income_distribution().source},
            **({} if self.market_achieved is None else {"achieved_on_market_households": dict(
                zip(self.targets["name"], self.market_achieved.tolist()))}),
            "optimizer": self.optimizer,
            "seconds": self.seconds,
        }


def calibrate(market: Market, targets: pd.DataFrame | None = None, fixed: dict[str, float] | None = None,
              draws: int = 1000, seed: int = 0, start: dict[str, float] | None = None,
              product_names: list[str] | None = None, form: str = "income",
              initial_delta: np.ndarray | None = None, fit_draws: int | None = None) -> CalibrationResult:
    """Calibrate demand to ``targets`` (bundled by default) with parameters in ``fixed`` held fixed.

    ``draws`` simulated households (seeded scrambled Halton) integrate over income and tastes;
    ``fit_draws`` (more than ``draws``) are the households the targets are read on, the first ``draws`` of
    them the market's own (one Halton sequence); ``autopact calibrate`` and ``calibrated_market`` use
    ``FIT_HOUSEHOLDS``. None reads them on the market's own ``draws``, whose simulation error the
    optimiser then fits (README, "Households: enough to fit on"): for small test markets and experiments;
    ``form`` names how price sensitivity depends on income (``price_forms.FORMS``).
    ``initial_delta`` (mean utilities of the same products under nearby parameters: a draw's
    central calibration) starts the first share inversion there instead of at the logit closed
    form; the inversion's tolerance, so the result, is the same.
    """
    names, scale, lower, upper, start_x = form_bounds(form)
    began = time.perf_counter()
    targets = load_targets() if targets is None else targets
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(names)
    if unknown:
        raise CalibrationError(f"unknown parameter(s) {sorted(unknown)}; known: {', '.join(names)}")
    if fit_draws is not None and (isinstance(fit_draws, bool) or not isinstance(fit_draws, (int, np.integer))
                                  or fit_draws < 1):
        raise CalibrationError(f"fit households must be a whole number from 1, got {fit_draws!r}")
    arrays = MarketArrays.from_market(market)
    households = simulated_households(draws, form, seed)
    separate = bool(fit_draws) and fit_draws > draws
    fitting = simulated_households(fit_draws, form, seed) if separate else households
    x0 = start_x.copy()
    for i, name in enumerate(names):
        if start and name in start:
            x0[i] = start[name] / scale[i]
    free = [i for i, name in enumerate(names) if name not in fixed]
    for name, value in fixed.items():
        i = names.index(name)
        low, high = lower[i] * scale[i], upper[i] * scale[i]
        slack = 1e-12 * max(abs(low), abs(high))  # a bound as printed (1e-07 for 1e-3 x 1e-4 = 1.0000000000000002e-07)
        if not low - slack <= value <= high + slack:
            raise CalibrationError(f"fixed {name}={value} is outside its bounds "
                                   f"[{lower[i] * scale[i]:g}, {upper[i] * scale[i]:g}]")
    weights = np.sqrt(targets["weight"].to_numpy(float))
    values = targets["value"].to_numpy(float)
    state = {"delta": None if initial_delta is None else np.asarray(initial_delta, float)}

    def parameters_of(x_free: np.ndarray) -> dict[str, float]:
        x = x0.copy()
        x[free] = x_free
        theta = dict(zip(names, (x * scale).tolist()))
        theta.update(fixed)
        return theta

    def residuals(x_free: np.ndarray) -> np.ndarray:
        demand = build_demand(parameters_of(x_free), arrays, fitting, form)
        delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-11, initial=state["delta"])
        state["delta"] = delta
        return weights * (model_statistics(targets, delta, demand, arrays) - values) / np.abs(values)

    if free:
        fit = least_squares(residuals, x0[free], bounds=(lower[free], upper[free]), method="trf",
                            x_scale="jac", diff_step=1e-4, xtol=1e-8, ftol=1e-10, max_nfev=400)
        optimizer = {"success": bool(fit.success), "message": fit.message, "evaluations": int(fit.nfev),
                     "objective": float(2 * fit.cost)}
        theta = parameters_of(fit.x)
    else:
        optimizer = {"success": True, "message": "all parameters fixed", "evaluations": 0, "objective": None}
        theta = parameters_of(np.array([]))
    fit_delta = market_achieved = None
    if separate:  # the targets as fitted, on the fit's households; the market on its own
        fit_demand = build_demand(theta, arrays, fitting, form)
        fit_delta, _ = invert_shares(arrays.shares, arrays.prices, fit_demand, tol=1e-13, initial=state["delta"])
        achieved = model_statistics(targets, fit_delta, fit_demand, arrays)
        state["delta"] = fit_delta
    demand = build_demand(theta, arrays, households, form)
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-13, initial=state["delta"])
    predicted = shares(delta, arrays.prices, demand)
    max_share_error = float(np.max(np.abs(predicted - arrays.shares) / arrays.shares))
    if separate:
        market_achieved = model_statistics(targets, delta, demand, arrays)
    else:
        achieved = model_statistics(targets, delta, demand, arrays)
    costs, markups = marginal_costs(arrays.prices, delta, demand, ownership_matrix(arrays.owners),
                                    Taxes.none(len(arrays.prices)))
    labels = product_names or list(market.products["product_id"])
    warnings = [f"negative marginal cost for {labels[j]}: ${costs[j]:,.0f} (price ${arrays.prices[j]:,.0f})"
                for j in np.flatnonzero(costs < 0)]
    lerner = markups / arrays.prices
    warnings += [f"implausible Lerner index {lerner[j]:.2f} (> {IMPLAUSIBLE_LERNER}) for {labels[j]}"
                 for j in np.flatnonzero(lerner > IMPLAUSIBLE_LERNER)]
    for row, value in zip(targets.itertuples(), achieved):
        gap = (value - row.value) / abs(row.value)
        if abs(gap) > 0.10 and row.weight > 0:
            warnings.append(f"target {row.name} missed by {gap:+.0%}: achieved {value:.3g}, target {row.value:.3g}")
        elif abs(gap) > 0.10:
            warnings.append(f"reference {row.name} (weight 0, not fitted) differs by {gap:+.0%}: model {value:.3g}, "
                            f"reference {row.value:.3g}")
    warnings += _bound_warnings(theta, [names[i] for i in free], form)
    if not optimizer["success"]:
        warnings.append(f"optimiser did not report success: {optimizer['message']}")
    return CalibrationResult(parameters=theta, fixed=fixed, targets=targets.reset_index(drop=True),
                             achieved=achieved, delta=delta, costs=costs, markups=markups, demand=demand,
                             arrays=arrays, households=households, max_share_error=max_share_error,
                             optimizer=optimizer, seconds=time.perf_counter() - began, warnings=warnings, form=form,
                             fit_households=None if fitting is households else fitting, fit_delta=fit_delta,
                             market_achieved=market_achieved)


def bound_side(name: str, value: float, form: str = "income") -> str | None:
    """'lower' or 'upper' when a parameter sits at that bound (within 1e-6 of its scale), else None."""
    names, scale, lower, upper, _ = form_bounds(form)
    i = names.index(name)
    for bound, side in ((lower[i], "lower"), (upper[i], "upper")):
        if abs(value - bound * scale[i]) <= 1e-6 * max(abs(bound * scale[i]), scale[i]):
            return side
    return None


def _bound_warnings(theta: dict[str, float], names: list[str], form: str = "income") -> list[str]:
    out = []
    _, scale, lower, upper, _ = form_bounds(form)
    every = FORMS[form].parameters
    for name in names:
        side = bound_side(name, theta[name], form)
        if side:
            i = every.index(name)
            bound = (lower if side == "lower" else upper)[i] * scale[i]
            out.append(f"parameter {name} is at its {side} bound ({bound:g}): the targets push it beyond the "
                       "admissible range")
    return out
