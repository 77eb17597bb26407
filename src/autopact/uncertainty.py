"""Uncertain inputs: distributions in scenario files, joint draws, bands and one-at-a-time sensitivity.

An uncertain input is a named policy parameter (``policy_parameters.csv``), a calibration target
(``calibration_targets.csv``; drawing one re-calibrates demand) or a numeric market assumption
(``autopact.assumptions``; also re-calibrates). Each carries a distribution and a cited reason.

Draws are by inversion: draw k of a run with seed s takes u_k ~ U(0,1)^n from
``numpy.random.default_rng([s, k])`` and sets input m to F_m^{-1}(u_km). A draw therefore depends
on (s, k) alone, not on which process computes it or in what order, so serial and distributed
runs give the same numbers to the bit. Inputs are independent. Normal draws are truncated to the
input's admissible range (a tariff >= 0, a share in [0, 1], an elasticity < 0): the density is
renormalised on that range (``scipy.stats.truncnorm``). Bands are the 5th, 50th and 95th
percentiles of each outcome across the draws (linear interpolation, ``numpy.percentile``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

Kind = Literal["parameter", "target", "assumption", "estimate"]
BAND_QUANTILES = {"p05": 5.0, "p50": 50.0, "p95": 95.0}
SHARE_STATISTICS = ("bev_second_choice", "buyer_income_share", "bev_buyer_income_share")
REQUIRED = {"normal": ("sd",), "lognormal": ("log_sd",), "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high")}


class UncertainInput(BaseModel):
    """One uncertain input: exactly one of ``parameter``, ``target`` or ``assumption``, a distribution
    and its reason. ``mean`` (normal) and ``median`` (lognormal) default to the input's own value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parameter: str | None = Field(None, description="a policy parameter, e.g. shipping_usd_per_vehicle")
    target: str | None = Field(None, description="a calibration target, e.g. own_elasticity_compact_car")
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


class Uncertainty(BaseModel):
    """The scenario's uncertain inputs, the seed of their joint draws and the default number of draws."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, ge=0)
    draws: int = Field(200, ge=1)
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
        from autopact.policy import policy_parameters

        unit = str(policy_parameters().at[item.name, "unit"])
        is_share = "share" in unit or item.name.endswith(("_share", "_threshold"))
        return (0.0, 1.0) if is_share else (0.0, math.inf)
    if item.kind == "target":
        from autopact.calibration import load_targets

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


def draw_values(uncertainty: Uncertainty, centrals: dict[str, float], draw: int, seed: int,
                estimates: tuple[list[str], np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """Draw ``draw`` of the joint distribution: {input key: value}; depends only on (seed, draw).

    An ``estimate: demand`` input draws the estimated parameters jointly, theta = theta_hat + L z
    with L L' their covariance and z ~ N(0, I) from ``default_rng([seed, draw, 1])``; its values
    are keyed ``estimate:<parameter label>``. ``estimates`` is (labels, theta_hat, L).
    """
    u = np.random.default_rng([seed, draw]).random(len(uncertainty.inputs))
    values = {}
    for item, u_m in zip(uncertainty.inputs, u):
        if item.kind == "estimate":
            if estimates is None:
                raise ValueError("an estimate input needs the estimation result's covariance")
            labels, mean, chol = estimates
            z = np.random.default_rng([seed, draw, 1]).standard_normal(len(labels))
            values.update({f"estimate:{label}": float(v) for label, v in zip(labels, mean + chol @ z)})
        else:
            values[item.key] = quantile(item, float(u_m), centrals[item.key])
    return values


def flatten(tree: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], float | None]:
    """Leaves of a nested dict of numbers, keyed by their path."""
    if isinstance(tree, dict):
        out: dict[tuple[str, ...], float | None] = {}
        for key, value in tree.items():
            out.update(flatten(value, prefix + (str(key),)))
        return out
    return {prefix: None if tree is None else float(tree)}


def unflatten(leaves: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in leaves.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def bands(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """p05, p50 and p95 of every leaf of the ``change`` documents of the draws (same nesting).

    A leaf missing from a draw (e.g. a firm absent when an entrant is barred) counts as 0, as in
    ``outcomes.difference``; a leaf that is None in every draw gets None bands.
    """
    flat = [flatten(c) for c in changes]
    paths = list(dict.fromkeys(p for f in flat for p in f))
    out = {}
    for path in paths:
        values = np.array([v for f in flat if (v := f.get(path, 0.0)) is not None], float)
        out[path] = ({k: float(np.percentile(values, q)) for k, q in BAND_QUANTILES.items()} if len(values)
                     else {k: None for k in BAND_QUANTILES})
    return unflatten(out)


def centrals(scenario: Any) -> dict[str, float]:
    """Each uncertain input's own value in the scenario: its parameter (with the scenario's
    overrides), its calibration target, or its market assumption. Unknown names raise ValueError."""
    from autopact.assumptions import resolve
    from autopact.calibration import load_targets
    from autopact.policy import policy_parameters

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
                raise ValueError(f"{where}.parameter: unknown parameter {item.name!r}; known: {', '.join(table.index)}")
            values[item.key] = float(scenario.parameters.get(item.name, table.at[item.name, "value"]))
        elif item.kind == "target":
            if item.name not in targets.index:
                raise ValueError(f"{where}.target: unknown target {item.name!r}; known: {', '.join(targets.index)}")
            values[item.key] = float(targets[item.name])
        else:
            value = assumptions[item.name].value if item.name in assumptions else None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                numeric = [a.name for a in assumptions.values() if isinstance(a.value, (int, float))]
                raise ValueError(f"{where}.assumption: {item.name!r} is not a numeric market assumption; "
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


def node(tree: dict[str, Any] | None, path: str) -> Any:
    """The entry at ``path`` ("units_by_nationality/China") of a nested document, {} where absent."""
    found: Any = tree or {}
    for part in path.split("/"):
        found = found.get(part, {}) if isinstance(found, dict) else {}
    return found


def leaf(tree: dict[str, Any], path: str) -> float | None:
    """The number at ``path`` ("units_by_nationality/China") of a metrics document; a key missing
    from a dict counts as 0 (as in ``outcomes.difference``), a missing metric raises KeyError."""
    node: Any = tree
    parts = path.split("/")
    for k, part in enumerate(parts):
        if not isinstance(node, dict):
            raise KeyError(path)
        if part not in node:
            if k == 0:
                raise KeyError(f"unknown outcome {path!r}; outcomes are metric paths such as "
                               "consumer_surplus_usd or units_by_nationality/China")
            return 0.0
        node = node[part]
    return None if node is None else float(node)


def default_outcomes(scenario: Any) -> list[str]:
    """Units by owners' nationality (China, US), consumer surplus, US assembly jobs and the US
    partner's profit (the first entrant's partner, or the firm launching a new product)."""
    partners = [e.partner for e in scenario.entrants if e.partner] + [p.firm for p in scenario.new_products]
    outcomes = ["units_by_nationality/China", "units_by_nationality/US", "consumer_surplus_usd", "us_assembly_jobs"]
    return outcomes + ([f"profit_by_firm_usd/{partners[0]}"] if partners else [])


def sensitivity_plan(uncertainty: Uncertainty, central_values: dict[str, float]) -> list[tuple[str, float, float]]:
    """(input key, value at its 5th percentile, value at its 95th) for each uncertain input (a joint
    ``estimate`` input has no single percentile and is left to --draws)."""
    return [(item.key, quantile(item, 0.05, central_values[item.key]), quantile(item, 0.95, central_values[item.key]))
            for item in uncertainty.inputs if item.kind != "estimate"]


def tornado(central: dict[str, Any], plan: list[tuple[str, float, float]], low: list[dict[str, Any] | None],
            high: list[dict[str, Any] | None], outcomes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each outcome, each input's swing: the outcome's change with the input at its 5th and at its
    95th percentile (all others at their own values), sorted by |swing|, largest first. A run that
    failed to converge gives None and sorts last."""
    chart = {}
    for outcome in outcomes:
        rows = []
        for (key, value_low, value_high), lo, hi in zip(plan, low, high):
            y_low = None if lo is None else leaf(lo, outcome)
            y_high = None if hi is None else leaf(hi, outcome)
            swing = None if y_low is None or y_high is None else y_high - y_low
            rows.append({"input": key, "input_p05": value_low, "input_p95": value_high, "outcome_at_p05": y_low,
                         "outcome_at_p95": y_high, "swing": swing})
        rows.sort(key=lambda r: -abs(r["swing"]) if r["swing"] is not None else float("inf"))
        chart[outcome] = {"central": leaf(central, outcome), "inputs": rows}
    return chart
