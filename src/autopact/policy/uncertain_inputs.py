"""Uncertain inputs of a scenario: which input, its distribution and its cited reason.

An uncertain input is a named policy parameter (``policy_parameters.csv``), a calibration target
(``calibration_targets.csv``; drawing one re-calibrates demand), a numeric market assumption
(``autopact.data.assumptions``; also re-calibrates) or, on an estimated market, the estimated demand
parameters jointly. Normal inputs are truncated to the input's admissible range (a tariff >= 0, a
share in [0, 1], an elasticity < 0): the density is renormalised on that range
(``scipy.stats.truncnorm``). ``quantile`` is each distribution's inverse CDF; the draws, bands and
tornado charts built on it are in ``autopact.runs.uncertainty``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from autopact.data import policy_parameters
from autopact.data.assumptions import resolve
from autopact.data.inputs import MAX_EVALUATIONS, MAX_SEED, Strict, shown
from autopact.fit.calibration import load_targets

Kind = Literal["parameter", "target", "assumption", "estimate"]
SHARE_STATISTICS = ("bev_second_choice", "buyer_income_share", "bev_buyer_income_share")
REQUIRED = {"normal": ("sd",), "lognormal": ("log_sd",), "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high")}


class UncertainInput(Strict):
    """One uncertain input: exactly one of ``parameter``, ``target`` or ``assumption``, a distribution
    and its reason. ``mean`` (normal) and ``median`` (lognormal) default to the input's own value."""

    parameter: str | None = Field(None, description="a policy parameter, e.g. shipping_usd_per_vehicle")
    target: str | None = Field(None, description="a calibration target, e.g. own_elasticity_nissan_sentra")
    assumption: str | None = Field(None, description="a numeric market assumption, e.g. market_size_households")
    estimate: Literal["demand"] | None = Field(
        None, description="the estimated demand parameters of the scenario's estimation result, drawn jointly")
    distribution: Literal["normal", "lognormal", "uniform", "triangular", "estimation_covariance"]
    mean: float | None = None
    sd: float | None = Field(None, gt=0)
    median: float | None = Field(None, gt=0)
    log_sd: float | None = Field(None, gt=0)
    low: float | None = None
    mode: float | None = None
    high: float | None = None
    source: str = Field(min_length=1, description="why this range: a citation or a stated reason")

    @model_validator(mode="after")
    def _complete(self) -> "UncertainInput":
        named = [k for k in ("parameter", "target", "assumption", "estimate") if getattr(self, k)]
        if len(named) != 1:
            raise ValueError(f"name exactly one of parameter, target, assumption or estimate (got {named or 'none'})")
        if (self.estimate is None) != (self.distribution != "estimation_covariance"):
            raise ValueError("estimate: demand goes with distribution: estimation_covariance, and only with it")
        missing = [k for k in REQUIRED.get(self.distribution, ()) if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.distribution} distribution needs {', '.join(missing)}")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.mode is not None and not self.low <= self.mode <= self.high:
            raise ValueError(f"mode ({self.mode}) must lie between low ({self.low}) and high ({self.high})")
        return self

    @property
    def kind(self) -> Kind:
        if self.estimate:
            return "estimate"
        return "parameter" if self.parameter else "target" if self.target else "assumption"

    @property
    def name(self) -> str:
        return self.parameter or self.target or self.assumption or self.estimate  # type: ignore[return-value]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


class Uncertainty(Strict):
    """The scenario's uncertain inputs, the seed of their joint draws and the default number of draws."""

    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the joint draws, 0 to 2**63 - 1 (MAX_SEED)")
    draws: int = Field(200, ge=1, le=MAX_EVALUATIONS)
    inputs: list[UncertainInput] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> "Uncertainty":
        keys = [i.key for i in self.inputs]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"inputs: {', '.join(repeated)} appear more than once")
        return self


def domain(item: UncertainInput, central: float) -> tuple[float, float]:
    """The admissible range of an input: policy rules for parameters, the target's sign or [0, 1]."""
    if item.kind == "parameter":
        unit = str(policy_parameters().at[item.name, "unit"])
        is_share = "share" in unit or item.name.endswith(("_share", "_threshold"))
        return (0.0, 1.0) if is_share else (0.0, math.inf)
    if item.kind == "target":
        statistic = load_targets().set_index("name").at[item.name, "statistic"]
        if statistic in SHARE_STATISTICS:
            return (0.0, 1.0)
        return (-math.inf, 0.0) if central < 0 else (0.0, math.inf)
    return (1.0, math.inf)


def check(item: UncertainInput, central: float, where: str) -> None:
    """Refuse a distribution whose support leaves the input's admissible range (names the field)."""
    lower, upper = domain(item, central)
    if item.distribution == "lognormal":
        if lower < 0:
            raise ValueError(f"{where}: a lognormal needs a positive quantity; {item.name} is negative (use normal or triangular)")
    elif item.distribution in ("uniform", "triangular"):
        if item.low < lower or item.high > upper:  # type: ignore[operator]
            raise ValueError(f"{where}: range [{item.low}, {item.high}] leaves the admissible range "
                             f"[{lower}, {upper}] of {item.name}")
    else:
        mean = central if item.mean is None else item.mean
        if not lower <= mean <= upper:
            raise ValueError(f"{where}.mean: {mean} is outside the admissible range [{lower}, {upper}] of {item.name}")


def quantile(item: UncertainInput, u: float, central: float) -> float:
    """F^{-1}(u) of the input's distribution (normal truncated to the admissible range)."""
    from scipy import stats  # here, not at the top: scipy.stats takes a third of a second to import

    if item.distribution == "normal":
        mean = central if item.mean is None else item.mean
        lower, upper = domain(item, central)
        a, b = (lower - mean) / item.sd, (upper - mean) / item.sd  # type: ignore[operator]
        return float(stats.truncnorm.ppf(u, a, b, loc=mean, scale=item.sd))
    if item.distribution == "lognormal":
        median = central if item.median is None else item.median
        return float(median * math.exp(item.log_sd * stats.norm.ppf(u)))  # type: ignore[operator]
    if item.distribution == "uniform":
        return float(item.low + u * (item.high - item.low))  # type: ignore[operator]
    width = item.high - item.low  # type: ignore[operator]
    return float(stats.triang.ppf(u, (item.mode - item.low) / width, loc=item.low, scale=width))  # type: ignore[operator]


def centrals(scenario: Any) -> dict[str, float]:
    """Each uncertain input's own value in the scenario: its parameter (with the scenario's
    overrides), its calibration target, or its market assumption. Unknown names raise ValueError."""
    table = policy_parameters()
    targets = load_targets().set_index("name")["value"]
    assumptions = resolve(scenario.assumptions)
    values = {}
    for k, item in enumerate(scenario.uncertainty.inputs):
        where = f"uncertainty.inputs[{k}]"
        if (item.kind == "estimate") != (scenario.estimation is not None):
            raise ValueError(f"{where}: " + ("an estimated market takes only 'estimate: demand' inputs (its "
                                             "parameters' covariance); policy parameters, targets and market "
                                             "assumptions belong to the 2025 market" if scenario.estimation is not None
                                             else "'estimate: demand' needs a scenario on an estimation result "
                                             "(the estimation field)"))
        if item.kind == "estimate":
            values[item.key] = 0.0  # the draws are deviations from the estimates, centred on them
            continue
        if item.kind == "parameter":
            if item.name not in table.index:
                raise ValueError(f"{where}.parameter: unknown parameter {shown(item.name)}; known: {', '.join(table.index)}")
            values[item.key] = float(scenario.parameters.get(item.name, table.at[item.name, "value"]))
        elif item.kind == "target":
            if item.name not in targets.index:
                raise ValueError(f"{where}.target: unknown target {shown(item.name)}; known: {', '.join(targets.index)}")
            values[item.key] = float(targets[item.name])
        else:
            value = assumptions[item.name].value if item.name in assumptions else None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                numeric = [a.name for a in assumptions.values() if isinstance(a.value, (int, float))]
                raise ValueError(f"{where}.assumption: {shown(item.name)} is not a numeric market assumption; "
                                 f"numeric ones: {', '.join(numeric)}")
            values[item.key] = float(value)
        check(item, values[item.key], where)
    return values


def apply(scenario: Any, values: dict[str, float]
          ) -> tuple[dict[str, Any], dict[str, float], dict[str, Any], dict[str, float]]:
    """A draw laid on a scenario: (scenario definition with parameter draws, target overrides,
    market-assumption overrides, estimated-parameter overrides)."""
    definition = scenario.model_dump(mode="json")
    targets, assumptions, estimates = {}, {}, {}
    for key, value in values.items():
        kind, name = key.split(":", 1)
        if kind == "estimate":
            estimates[name] = value
        elif kind == "parameter":
            definition["parameters"] = {**definition["parameters"], name: value}
        elif kind == "target":
            targets[name] = value
        else:
            assumptions[name] = round(value) if name in ("market_size_households", "market_total_units") else value
    return definition, targets, assumptions, estimates
