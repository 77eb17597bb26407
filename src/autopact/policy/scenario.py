"""Scenario files: a policy regime and which Chinese makers enter the US, how and with whom.

A scenario is YAML validated by pydantic: unknown fields, negative tariffs, bad shares, numbers that
are not finite (NaN, infinities), prices beyond ``MAX_PRICE_USD`` and unknown models, makers or firms
are refused with a message naming the field and the value. The file is read within the limits of
``autopact.data.inputs`` (size, YAML aliases). A scenario
never executes code; it reads no file other than itself, except a saved estimation result that
its ``estimation`` field names. Every lever has a documented default: the tariff rates and cost
components are the named parameters of ``data/bundled/policy_parameters.csv`` (each with its
source), overridable under ``parameters``.

By default a scenario runs on the calibrated 2025 market. With ``estimation`` it runs instead on
one market of an estimation's data at the estimated parameters (``autopact.fit.estimated``); the
levers that need the 2025 data (entrants, new products, quotas, the connected-vehicle rule, local
production, policy parameters, market assumptions) are then refused with the field named.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_serializer, model_validator

from autopact.data.assumptions import AssumptionError, resolve
from autopact.data.inputs import MAX_PRICE_USD, Strict, clipped, first_error, load_yaml, shown
from autopact.data.tables import BUNDLED_YEARS, policy_parameter_units
from autopact.errors import ScenarioError
from autopact.fit.estimated import Estimation
from autopact.policy.dated_fields import POLICY_YEARS, DatedParameter
from autopact.policy.lever_fields import Quota, TariffRule
from autopact.policy.scenario_levers import (ConnectedVehicleRule, Credit, Entrant, LocalProduction, Merger, NewProduct,
                                             Synergy)
from autopact.policy.uncertain_inputs import Uncertainty, centrals

POSITIVE_PARAMETERS = ("fx_cny_per_usd", "vehicles_per_assembly_worker")
# Shares that must lie strictly inside (0, 1): a quantile whose normal score is finite.
OPEN_SHARE_PARAMETERS = ("launch_appeal_quantile",)
# Parameters that count whole years, with their (lowest, highest) value and why.
WHOLE_YEAR_PARAMETERS = {
    "section_232_rate_year": (1962, 2261, "Section 232 dates from the Trade Expansion Act of 1962; "
                                          "2261 is the last whole year a pandas date holds"),
    "entrant_years_on_sale": (1, 99, "the launch year counts as year 1; the last band of the launch term "
                                     "(policy/launch.py) ends at year 99"),
}


# levers that need the 2025 market's data, refused on an estimated market
LEVERS_2025 = ("parameters", "quotas", "connected_vehicle_rule", "local_production", "entrants", "new_products",
               "assumptions", "year", "dated_parameters", "policy_year", "baseline_year", "paths",
               "battery_pack_price_change_usd_per_kwh")


class Scenario(Strict):
    """A policy scenario, compared with its baseline (the 2025 market, or an estimated one) in the same run."""

    name: str = Field(min_length=1)
    description: str = ""
    year: int = 2025
    parameters: dict[str, float] = Field(default_factory=dict)
    extra_tariffs: list[TariffRule] = Field(default_factory=list)
    quotas: list[Quota] = Field(default_factory=list)
    connected_vehicle_rule: ConnectedVehicleRule = ConnectedVehicleRule()
    local_production: LocalProduction = LocalProduction()
    entrants: list[Entrant] = Field(default_factory=list)
    new_products: list[NewProduct] = Field(default_factory=list)
    synergies: list[Synergy] = Field(default_factory=list)
    mergers: list[Merger] = Field(default_factory=list)
    credits: list[Credit] = Field(default_factory=list)
    estimation: Estimation | None = None
    assumptions: dict[str, Any] = Field(default_factory=dict)
    uncertainty: Uncertainty = Field(
        default_factory=Uncertainty, description="uncertain inputs with distributions, for --draws and sensitivity")
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named overlays on this scenario, each run and ranked (partner comparison)")
    dated_parameters: list[DatedParameter] = Field(
        default_factory=list, description="policy parameters in force for dated spans (autopact.policy.dated)")
    policy_year: int | None = Field(
        None, description="the year at which the scenario's dated levers and the bundled policy timeline are "
                          "evaluated (default: baseline_year, else the data year)")
    baseline_year: int | None = Field(
        None, description="the baseline it is compared with: the calibrated data year (absent) or a later year, "
                          "the data year's market carried there by the bundled policy timeline")
    paths: dict[str, float] = Field(
        default_factory=dict, description="quantile in [0, 1] of each exogenous path (exogenous_paths.csv) between its "
                                          "low and high values, for every year (default: the central path)")
    battery_pack_price_change_usd_per_kwh: float = Field(
        0.0, ge=-108, le=MAX_PRICE_USD, description="change of the battery pack price from 2025 in dollars per kWh "
        "on every incumbent BEV's marginal cost (x its battery_kwh); -108 takes 2025's $108 average to zero. A year "
        "after 2025 adds its exogenous path's change (autopact.policy.dated)")

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, values: dict[str, float]) -> dict[str, float]:
        known = policy_parameter_units()
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown parameter {shown(name)}; known: {', '.join(known)}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"parameter {name} must be a finite number >= 0, got {value}")
            unit = known[name]
            if ("share" in unit or name.endswith(("_share", "_threshold"))) and value > 1:
                raise ValueError(f"parameter {name} is a share and must not exceed 1, got {value}")
            if name in OPEN_SHARE_PARAMETERS and not 0 < value < 1:
                raise ValueError(f"parameter {name} is a quantile and must lie strictly between 0 and 1, got {value}")
            if name in POSITIVE_PARAMETERS and value == 0:
                raise ValueError(f"parameter {name} must be positive, got {value}")
            if name in WHOLE_YEAR_PARAMETERS:
                low, high, reason = WHOLE_YEAR_PARAMETERS[name]
                if value != int(value) or not low <= value <= high:
                    raise ValueError(f"parameter {name} must be a whole number from {low} to {high} ({reason}), "
                                     f"got {value}")
        return values

    @field_validator("dated_parameters")
    @classmethod
    def _known_dated_parameters(cls, values: list[DatedParameter]) -> list[DatedParameter]:
        for k, item in enumerate(values):
            try:
                cls._known_parameters({item.name: item.value})
            except ValueError as error:
                raise ValueError(f"[{k}] {error}") from None
        return values

    @field_validator("paths")
    @classmethod
    def _known_paths(cls, values: dict[str, float]) -> dict[str, float]:
        from autopact.data.paths import PATHS

        for name, quantile in values.items():
            if name not in PATHS:
                raise ValueError(f"unknown exogenous path {shown(name)}; known: {', '.join(PATHS)}")
            if not 0 <= quantile <= 1:
                raise ValueError(f"paths.{name}: a quantile must lie in [0, 1], got {quantile}")
        return values

    @field_validator("policy_year", "baseline_year")
    @classmethod
    def _policy_year(cls, value: int | None) -> int | None:
        low, high = POLICY_YEARS
        if value is not None and not low <= value <= high:
            raise ValueError(f"must be a year from {low} (the data year) to {high} (the projection horizon), got {value}")
        return value

    @model_serializer(mode="wrap")
    def _without_absent_dates(self, handler):
        """The new, dated fields are left out of the JSON while unused: an undated scenario's
        document (and the golden results) stays what it was."""
        data = handler(self)
        if isinstance(data, dict):
            for key in ("dated_parameters", "policy_year", "baseline_year", "paths", "battery_pack_price_change_usd_per_kwh"):
                if data.get(key) in (None, [], {}, 0.0):
                    data.pop(key, None)
        return data

    @field_validator("assumptions")
    @classmethod
    def _known_assumptions(cls, values: dict[str, Any]) -> dict[str, Any]:
        try:
            resolve(values)
        except AssumptionError as error:
            raise ValueError(str(error)) from None
        return values

    @model_validator(mode="after")
    def _distinct_entrants(self) -> "Scenario":
        seen = set()
        for k, e in enumerate(self.entrants):
            if e.candidate in seen:
                raise ValueError(f"entrants[{k}].candidate: {shown(e.candidate)} enters twice")
            seen.add(e.candidate)
        for label, overlay in self.variants.items():
            for field_name in ("assumptions", "year", "variants", "estimation", "baseline_year", "policy_year"):
                if isinstance(overlay, dict) and field_name in overlay:
                    raise ValueError(f"variants.{clipped(label)}.{field_name}: a variant shares its scenario's market; "
                                     "set this in a scenario of its own")
        self._valid_variants()
        if self.estimation is not None:
            self._estimated_levers()
        elif self.year not in BUNDLED_YEARS:
            raise ValueError(f"year: no bundled market for {shown(self.year)}; "
                             f"bundled: {', '.join(map(str, BUNDLED_YEARS))}")
        if self.policy_year is not None and self.baseline_year is not None and self.policy_year < self.baseline_year:
            raise ValueError(f"policy_year: {self.policy_year} is before baseline_year {self.baseline_year}; a "
                             "scenario is evaluated at its baseline's year or later")
        if self.uncertainty.inputs:
            centrals(self)
        return self

    def _valid_variants(self) -> None:
        """Each variant laid over the scenario validates as a scenario of its own, now rather than when
        it runs: a variant's NaN or bad name is refused with the file, before any work."""
        if not self.variants:
            return
        base = self.model_dump(exclude={"variants"})
        for label, overlay in self.variants.items():
            unknown = set(overlay) - set(type(self).model_fields)  # the dump leaves unused dated fields out
            if unknown:
                raise ValueError(f"variants.{clipped(label)}: unknown field(s) {shown(sorted(map(str, unknown)))}")
            try:
                Scenario.model_validate({**base, **overlay, "name": f"{self.name}/{label}"})
            except ValidationError as error:
                raise ValueError(first_error(error, f"variants.{clipped(label)}")) from None

    def _estimated_levers(self) -> None:
        """Refuse, naming the field, the levers an estimated market cannot carry."""
        defaults = Scenario(name="defaults")
        for name in LEVERS_2025:
            if name in self.model_fields_set and getattr(self, name) != getattr(defaults, name):
                raise ValueError(f"{name}: needs the 2025 market data, so it is not available on an estimated "
                                 f"market (estimation.result {shown(self.estimation.result)}); levers there: "
                                 "extra_tariffs (by origin or nationality), synergies, mergers")
        for k, rule in enumerate(self.extra_tariffs):
            for name in ("powertrain", "segment"):
                if getattr(rule, name):
                    raise ValueError(f"extra_tariffs[{k}].{name}: the estimation data have no {name}; "
                                     "filter by origin or nationality")
            if not self.estimation.origins:
                raise ValueError(f"extra_tariffs[{k}]: a tariff falls on imports, so the estimated market needs "
                                 "estimation.origin_column and estimation.origins (assembly country and "
                                 "nationality of each origin value)")
        for k, synergy in enumerate(self.synergies):
            if synergy.powertrain:
                raise ValueError(f"synergies[{k}].powertrain: the estimation data have no powertrain")


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario names and their YAML files."""
    folder = resources.files("autopact").joinpath("scenarios")
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


def parse_scenario(data: Any, label: str) -> Scenario:
    """A validated scenario from a parsed definition; ScenarioError (one line: the field, the
    message, the value cut short) for the first problem."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: a scenario must be a mapping of fields, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(first_error(error, label)) from None


def load_scenario(name_or_path: str) -> Scenario:
    """A bundled scenario by name, or a YAML file by path."""
    bundled = bundled_scenarios()
    path = bundled.get(name_or_path, Path(name_or_path))
    if not path.exists():
        raise ScenarioError(f"no bundled scenario or file named {shown(name_or_path)}; "
                            f"bundled: {', '.join(sorted(bundled))}")
    data = load_yaml(path, ScenarioError)
    scenario = parse_scenario(data, path.name)
    if scenario.estimation is not None:  # a saved result's relative path is relative to the scenario file
        from autopact.fit.saved import BUNDLED  # here: the estimation machinery loads for such scenarios only

        result = scenario.estimation.result
        if result not in BUNDLED and not Path(result).is_absolute() and (path.parent / result).exists():
            estimation = scenario.estimation.model_copy(update={"result": str(path.parent / result)})
            scenario = scenario.model_copy(update={"estimation": estimation})
    return scenario
